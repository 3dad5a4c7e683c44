//! schema.json → [`Topics`] (PROTOCOL §3) and [`Schema`], the handle that reloads it.
//!
//! A topic *name* (`input/pepeunit`) stands for a list of *physical* MQTT topics; publishing goes from a
//! name to its list, dispatching goes from an incoming physical topic back to its name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::file_backed::FileBacked;
use crate::json::{decode_object, kind};

/// The four sections of schema.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// Platform commands the unit receives (`update/pepeunit`, …).
    InputBaseTopic,
    /// What the unit reports to the platform (`state/pepeunit`, `log/pepeunit`).
    OutputBaseTopic,
    /// The developer's inputs, each fed by one or more physical topics.
    InputTopic,
    /// The developer's outputs.
    OutputTopic,
}

impl Section {
    /// Every section, platform sections first (the order in which [`Topics::lookup`] resolves clashes).
    pub const ALL: [Section; 4] = [
        Section::InputBaseTopic,
        Section::OutputBaseTopic,
        Section::InputTopic,
        Section::OutputTopic,
    ];

    /// The section's key in schema.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::InputBaseTopic => "input_base_topic",
            Section::OutputBaseTopic => "output_base_topic",
            Section::InputTopic => "input_topic",
            Section::OutputTopic => "output_topic",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One section: topic name → its physical topics.
pub type TopicMap = BTreeMap<String, Vec<String>>;

/// What [`Topics::find_topic_by_unit_node`] compares with the search value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchBy {
    /// The unit node uuid: the 2nd level of a physical topic (`domain/<uuid>/…`).
    UnitNodeUuid,
    /// The whole physical topic.
    FullName,
}

impl SearchBy {
    fn matches(self, topic: &str, search_value: &str) -> bool {
        match self {
            SearchBy::UnitNodeUuid => topic.split('/').nth(1) == Some(search_value),
            SearchBy::FullName => topic == search_value,
        }
    }
}

/// The developer sections [`Topics::find_topic_by_unit_node`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchScope {
    /// `input_topic`, then `output_topic`.
    #[default]
    All,
    /// `input_topic` only.
    Input,
    /// `output_topic` only.
    Output,
}

impl SearchScope {
    fn sections(self) -> &'static [Section] {
        match self {
            SearchScope::All => &[Section::InputTopic, Section::OutputTopic],
            SearchScope::Input => &[Section::InputTopic],
            SearchScope::Output => &[Section::OutputTopic],
        }
    }
}

/// The parsed schema.json: four sections (a missing one is empty) and a reverse index of its topics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topics {
    /// Indexed in [`Section::ALL`] order.
    sections: [TopicMap; 4],
    /// Physical topic → where it is listed; built once so dispatching a message is O(1).
    /// The names are shared with every message dispatched under them (no allocation per message).
    by_topic: HashMap<String, (Section, Arc<str>)>,
}

impl Topics {
    /// Parses schema.json text (or either HTTP body shape of PROTOCOL §7); `source_name` is named in
    /// errors. Keys other than the four sections are ignored.
    pub fn parse(text: &str, source_name: &str) -> Result<Topics> {
        let object = decode_object(text, source_name)?;
        let mut sections: [TopicMap; 4] = Default::default();
        for (map, section) in sections.iter_mut().zip(Section::ALL) {
            if let Some(value) = object.get(section.as_str()) {
                *map = topic_map(value, section, source_name)?;
            }
        }
        let mut by_topic = HashMap::new();
        for (map, section) in sections.iter().zip(Section::ALL) {
            for (name, topics) in map {
                for topic in topics {
                    by_topic
                        .entry(topic.clone())
                        .or_insert_with(|| (section, Arc::from(name.as_str())));
                }
            }
        }
        Ok(Topics { sections, by_topic })
    }

    /// One section's names and topics.
    pub fn section(&self, section: Section) -> &TopicMap {
        &self.sections[section as usize]
    }

    /// The platform commands the unit receives.
    pub fn input_base_topic(&self) -> &TopicMap {
        self.section(Section::InputBaseTopic)
    }

    /// The unit's reports to the platform.
    pub fn output_base_topic(&self) -> &TopicMap {
        self.section(Section::OutputBaseTopic)
    }

    /// The developer's inputs.
    pub fn input_topic(&self) -> &TopicMap {
        self.section(Section::InputTopic)
    }

    /// The developer's outputs.
    pub fn output_topic(&self) -> &TopicMap {
        self.section(Section::OutputTopic)
    }

    /// The section and name listing `physical_topic`, to dispatch an incoming message.
    ///
    /// If a topic is listed more than once, the first listing wins in [`Section::ALL`] order, then by
    /// name: a platform command is never mistaken for a developer input.
    pub fn lookup(&self, physical_topic: &str) -> Option<(Section, &str)> {
        self.route(physical_topic)
            .map(|(section, name)| (section, &**name))
    }

    /// [`Topics::lookup`] with the name as the runtime hands it to handlers.
    pub(crate) fn route(&self, physical_topic: &str) -> Option<(Section, &Arc<str>)> {
        self.by_topic
            .get(physical_topic)
            .map(|(section, name)| (*section, name))
    }

    /// The name of the first developer topic (in `scope`, names in sorted order) whose physical topics
    /// match `search_value`, like the Python client's `find_topic_by_unit_node`.
    pub fn find_topic_by_unit_node(
        &self,
        search_value: &str,
        by: SearchBy,
        scope: SearchScope,
    ) -> Option<&str> {
        scope
            .sections()
            .iter()
            .flat_map(|&section| self.section(section))
            .find(|(_, topics)| topics.iter().any(|t| by.matches(t, search_value)))
            .map(|(name, _)| name.as_str())
    }

    /// Every physical topic the unit subscribes to (`input_base_topic` and `input_topic`), each once.
    pub fn input_subscriptions(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        [Section::InputBaseTopic, Section::InputTopic]
            .into_iter()
            .flat_map(|section| self.section(section).values().flatten())
            .map(String::as_str)
            .filter(|topic| seen.insert(*topic))
            .collect()
    }

    /// The physical topics a publish to `name` goes to: `output_topic[name]`, else
    /// `output_base_topic[name]`.
    pub fn output_targets(&self, name: &str) -> Result<&[String]> {
        self.output_topic()
            .get(name)
            .or_else(|| self.output_base_topic().get(name))
            .map(Vec::as_slice)
            .ok_or_else(|| Error::UnknownTopicName {
                name: name.to_owned(),
                section: "output_topic or output_base_topic".to_owned(),
            })
    }
}

/// One schema.json section: an object of name → list of topic strings.
fn topic_map(value: &Value, section: Section, source_name: &str) -> Result<TopicMap> {
    let Value::Object(names) = value else {
        return Err(invalid_schema(
            source_name,
            format!(
                "{section}: expected an object of topic name -> [topics], found {}",
                kind(value)
            ),
        ));
    };
    names
        .iter()
        .map(|(name, topics)| {
            let place = format!("{section}[{name:?}]");
            Ok((name.clone(), string_list(topics, &place, source_name)?))
        })
        .collect()
}

/// A JSON list of strings at `place` (named in the error).
fn string_list(value: &Value, place: &str, source_name: &str) -> Result<Vec<String>> {
    let Value::Array(items) = value else {
        return Err(invalid_schema(
            source_name,
            format!("{place}: expected a list of strings, found {}", kind(value)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err(invalid_schema(
                source_name,
                format!("{place}[{i}]: expected a string, found {}", kind(other)),
            )),
        })
        .collect()
}

fn invalid_schema(source_name: &str, reason: String) -> Error {
    Error::InvalidSchema {
        source_name: source_name.to_owned(),
        reason,
    }
}

/// The unit's topics: the current [`Topics`] and the schema.json they come from.
///
/// Cheap to clone and shareable between threads; every clone sees a reload. Read a consistent
/// snapshot with [`Schema::current`].
#[derive(Debug, Clone)]
pub struct Schema(Arc<FileBacked<Topics>>);

impl Schema {
    /// Reads schema.json at `path`.
    pub fn load(path: impl Into<PathBuf>) -> Result<Schema> {
        FileBacked::load(path.into(), Topics::parse).map(|inner| Schema(Arc::new(inner)))
    }

    /// Starts from `topics`; [`Schema::update_from_file`] will read `path`.
    pub fn from_topics(topics: Topics, path: impl Into<PathBuf>) -> Schema {
        Schema(Arc::new(FileBacked::new(
            topics,
            path.into(),
            Topics::parse,
        )))
    }

    /// The topics in force now; they do not change under the caller when the file is reloaded.
    pub fn current(&self) -> Arc<Topics> {
        self.0.current()
    }

    /// The schema.json this handle reads.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Re-reads schema.json. If it is missing or invalid, the error names the file and the previous
    /// topics stay in force.
    pub fn update_from_file(&self) -> Result<()> {
        self.0.reload()
    }

    /// Puts `topics` in force (e.g. a schema downloaded from the backend).
    pub fn replace(&self, topics: Topics) {
        self.0.replace(topics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_listed_twice_resolves_to_the_platform_section_first() {
        let text = r#"{"input_topic": {"a": ["d/x"]}, "input_base_topic": {"z": ["d/x"]}}"#;
        let topics = Topics::parse(text, "test").unwrap();
        assert_eq!(topics.lookup("d/x"), Some((Section::InputBaseTopic, "z")));
    }

    #[test]
    fn sections_are_indexed_in_all_order() {
        for (i, section) in Section::ALL.into_iter().enumerate() {
            assert_eq!(section as usize, i);
        }
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Schema>();
    }
}

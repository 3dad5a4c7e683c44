//! schema.json and schema_example.json (PROTOCOL §3) against the interop vectors.

mod support;

use std::collections::HashSet;

use pepeunit::Error;
use pepeunit::schema::{Schema, SearchBy, SearchScope, Section, TopicMap, Topics};
use serde_json::Value;
use support::{TempDir, vector};

fn read(rel: &str) -> String {
    std::fs::read_to_string(vector(rel)).unwrap()
}

fn raw(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap()
}

fn topics(rel: &str) -> Topics {
    Topics::parse(&read(rel), rel).unwrap()
}

/// A section of the raw file as a `TopicMap` (empty when the file lacks it).
fn raw_section(file: &Value, section: Section) -> TopicMap {
    file.get(section.as_str())
        .map(|value| serde_json::from_value(value.clone()).unwrap())
        .unwrap_or_default()
}

fn assert_invalid_schema(text: &str, place: &str) {
    match Topics::parse(text, "schema.json") {
        Err(Error::InvalidSchema {
            source_name,
            reason,
        }) => {
            assert_eq!(source_name, "schema.json");
            assert!(reason.contains(place), "{reason:?} does not name {place}");
        }
        other => panic!("{text}: expected InvalidSchema, got {other:?}"),
    }
}

#[test]
fn every_topic_of_the_full_schema_looks_up_to_its_name() {
    let file = raw("schema/schema.json");
    let topics = topics("schema/schema.json");
    for section in Section::ALL {
        assert_eq!(
            topics.section(section),
            &raw_section(&file, section),
            "{section}"
        );
        for (name, physical) in topics.section(section) {
            for topic in physical {
                assert_eq!(
                    topics.lookup(topic),
                    Some((section, name.as_str())),
                    "{topic}"
                );
            }
        }
    }
    let input = &topics.input_topic()["input/pepeunit"];
    assert_eq!(
        input.len(),
        2,
        "the vector's input/pepeunit has two physical topics"
    );
    for topic in input {
        assert_eq!(
            topics.lookup(topic),
            Some((Section::InputTopic, "input/pepeunit"))
        );
    }
    assert_eq!(topics.lookup("unit.example.com/not-a-topic"), None);
    assert_eq!(
        topics.input_base_topic(),
        topics.section(Section::InputBaseTopic)
    );
    assert_eq!(
        topics.output_base_topic(),
        topics.section(Section::OutputBaseTopic)
    );
    assert_eq!(topics.output_topic(), topics.section(Section::OutputTopic));
}

#[test]
fn missing_sections_are_empty() {
    let file = raw("schema/schema_minimal.json");
    let topics = topics("schema/schema_minimal.json");
    let mut empty = 0;
    for section in Section::ALL {
        if file.get(section.as_str()).is_none() {
            assert!(topics.section(section).is_empty(), "{section}");
            empty += 1;
        } else {
            assert_eq!(topics.section(section), &raw_section(&file, section));
        }
    }
    assert!(empty > 0, "the minimal vector should lack a section");
    assert!(topics.input_subscriptions().is_empty());
}

#[test]
fn the_backend_1_0_body_equals_the_file() {
    assert!(raw("schema/schema_response_backend_1_0.json").is_string());
    let body = Topics::parse(&read("schema/schema_response_backend_1_0.json"), "schema").unwrap();
    assert_eq!(
        body,
        Topics::parse(&read("schema/schema.json"), "schema").unwrap()
    );
}

#[test]
fn find_topic_by_unit_node_searches_the_developer_sections_in_scope() {
    let topics = topics("schema/schema.json");
    let uuid_of = |topic: &str| topic.split('/').nth(1).unwrap().to_owned();
    let input = &topics.input_topic()["input/pepeunit"];
    let output = &topics.output_topic()["output/pepeunit"][0];

    for topic in input {
        for (by, value) in [
            (SearchBy::UnitNodeUuid, uuid_of(topic)),
            (SearchBy::FullName, topic.clone()),
        ] {
            for scope in [SearchScope::All, SearchScope::Input] {
                assert_eq!(
                    topics.find_topic_by_unit_node(&value, by, scope),
                    Some("input/pepeunit")
                );
            }
            assert_eq!(
                topics.find_topic_by_unit_node(&value, by, SearchScope::Output),
                None
            );
        }
    }
    for (by, value) in [
        (SearchBy::UnitNodeUuid, uuid_of(output)),
        (SearchBy::FullName, output.clone()),
    ] {
        for scope in [SearchScope::All, SearchScope::Output] {
            assert_eq!(
                topics.find_topic_by_unit_node(&value, by, scope),
                Some("output/pepeunit")
            );
        }
        assert_eq!(
            topics.find_topic_by_unit_node(&value, by, SearchScope::Input),
            None
        );
    }
    // A full topic is not a uuid, and the platform sections are out of every scope.
    assert_eq!(
        topics.find_topic_by_unit_node(output, SearchBy::UnitNodeUuid, SearchScope::All),
        None
    );
    let state = &topics.output_base_topic()["state/pepeunit"][0];
    assert_eq!(
        topics.find_topic_by_unit_node(state, SearchBy::FullName, SearchScope::All),
        None
    );
    assert_eq!(
        topics.find_topic_by_unit_node(
            "00000000-0000-0000-0000-000000000000",
            SearchBy::UnitNodeUuid,
            SearchScope::default()
        ),
        None
    );
}

#[test]
fn output_targets_prefer_output_topic_then_base() {
    let topics = topics("schema/schema.json");
    let file = raw("schema/schema.json");
    let list = |section: &str, name: &str| -> Vec<String> {
        serde_json::from_value(file[section][name].clone()).unwrap()
    };
    assert_eq!(
        topics.output_targets("output/pepeunit").unwrap(),
        list("output_topic", "output/pepeunit")
    );
    assert_eq!(
        topics.output_targets("state/pepeunit").unwrap(),
        list("output_base_topic", "state/pepeunit")
    );
    for unknown in ["input/pepeunit", "no/such"] {
        match topics.output_targets(unknown) {
            Err(Error::UnknownTopicName { name, .. }) => assert_eq!(name, unknown),
            other => panic!("{unknown}: expected UnknownTopicName, got {other:?}"),
        }
    }
    let shadowed = Topics::parse(
        r#"{"output_topic": {"n": ["d/a"]}, "output_base_topic": {"n": ["d/b"]}}"#,
        "x",
    )
    .unwrap();
    assert_eq!(shadowed.output_targets("n").unwrap(), ["d/a"]);
}

#[test]
fn input_subscriptions_cover_base_and_developer_inputs_once() {
    let topics = topics("schema/schema.json");
    let subscriptions = topics.input_subscriptions();
    let expected: HashSet<&str> = [Section::InputBaseTopic, Section::InputTopic]
        .into_iter()
        .flat_map(|s| topics.section(s).values().flatten().map(String::as_str))
        .collect();
    assert_eq!(
        subscriptions.iter().copied().collect::<HashSet<_>>(),
        expected
    );
    assert_eq!(subscriptions.len(), expected.len());

    let shared = Topics::parse(
        r#"{"input_topic": {"a": ["d/x", "d/y"], "b": ["d/x"]}, "output_topic": {"o": ["d/o"]}}"#,
        "x",
    )
    .unwrap();
    assert_eq!(shared.input_subscriptions(), ["d/x", "d/y"]);
}

#[test]
fn malformed_schemas_name_the_place() {
    assert_invalid_schema(r#"{"input_topic": ["input/pepeunit"]}"#, "input_topic");
    assert_invalid_schema(r#"{"output_base_topic": null}"#, "output_base_topic");
    assert_invalid_schema(
        r#"{"output_topic": {"output/pepeunit": ["d/a", 5]}}"#,
        r#"output_topic["output/pepeunit"][1]"#,
    );
    assert_invalid_schema(r#"{"input_topic": {"in": "d/a"}}"#, r#"input_topic["in"]"#);
    for text in ["not json", "[]", "\"{\"", ""] {
        match Topics::parse(text, "schema.json") {
            Err(Error::InvalidJson { source_name, .. }) => assert_eq!(source_name, "schema.json"),
            other => panic!("{text:?}: expected InvalidJson, got {other:?}"),
        }
    }
}

#[test]
fn a_broken_reload_keeps_the_old_topics() {
    let dir = TempDir::new("schema-reload");
    let path = dir.copy_vector("schema/schema.json", "schema.json");
    let schema = Schema::load(&path).unwrap();
    let reader = schema.clone();
    assert_eq!(schema.path(), path);
    let before = schema.current();

    std::fs::write(&path, r#"{"input_topic": ["x"]}"#).unwrap();
    let err = schema.update_from_file().unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(schema.current(), before);

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(schema.update_from_file(), Err(Error::Io { .. })));
    assert_eq!(schema.current(), before);

    std::fs::write(&path, read("schema/schema_minimal.json")).unwrap();
    schema.update_from_file().unwrap();
    assert_eq!(*reader.current(), topics("schema/schema_minimal.json"));
    assert!(reader.current().input_topic().is_empty() && !before.input_topic().is_empty());

    schema.replace(topics("schema/schema.json"));
    assert_eq!(reader.current(), before);
    let fresh = Schema::from_topics(Topics::default(), dir.path().join("other.json"));
    assert!(fresh.current().input_subscriptions().is_empty());
}

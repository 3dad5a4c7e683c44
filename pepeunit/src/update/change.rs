//! What a reload of env.json and schema.json changed: the env keys ([`EnvChange`]) and the input
//! subscriptions ([`SchemaChange`]). Every reload — an env, schema or program update, a `reset` in
//! `ReloadOnly` mode — is described by these two, and the MQTT runtime follows them (unsubscribe,
//! subscribe, reconnect).

/// The env.json keys whose change needs a new MQTT connection.
const CONNECTION_KEYS: [&str; 4] = [
    "PU_MQTT_HOST",
    "PU_MQTT_PORT",
    "PU_AUTH_TOKEN",
    "PU_MQTT_KEEPALIVE",
];

/// What replacing env.json changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvChange {
    /// The keys (current names) whose value changed, appeared or disappeared; never their values.
    pub changed_keys: Vec<String>,
}

impl EnvChange {
    /// The broker host, port, token or keepalive changed: the MQTT connection must be made again.
    pub fn needs_reconnect(&self) -> bool {
        self.connection_keys().next().is_some()
    }

    /// The changed keys that the MQTT connection is made with.
    pub(crate) fn connection_keys(&self) -> impl Iterator<Item = &str> {
        self.changed_keys
            .iter()
            .map(String::as_str)
            .filter(|key| CONNECTION_KEYS.contains(key))
    }
}

/// How the unit's subscriptions must change after schema.json was replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaChange {
    /// Physical topics to subscribe to (new in `input_base_topic` or `input_topic`).
    pub subscribe: Vec<String>,
    /// Physical topics to unsubscribe from (gone from both).
    pub unsubscribe: Vec<String>,
}

#[cfg(any(feature = "mqtt", feature = "rest"))]
pub(crate) use loaded::Loaded;

#[cfg(any(feature = "mqtt", feature = "rest"))]
mod loaded {
    use std::collections::HashSet;
    use std::sync::Arc;

    use serde_json::Value;

    use super::{EnvChange, SchemaChange};
    use crate::schema::{Schema, Topics};
    use crate::settings::{Env, Settings};

    /// The env.json and schema.json in force before a reload, to tell afterwards what it changed.
    pub(crate) struct Loaded {
        env: Arc<Env>,
        topics: Arc<Topics>,
    }

    impl Loaded {
        /// What is in force now.
        pub(crate) fn take(settings: &Settings, schema: &Schema) -> Loaded {
            Loaded {
                env: settings.current(),
                topics: schema.current(),
            }
        }

        /// What the env in force now changed since [`Loaded::take`].
        pub(crate) fn env_change(&self, settings: &Settings) -> EnvChange {
            let as_object = |env: &Env| match serde_json::to_value(env) {
                Ok(Value::Object(object)) => object,
                _ => serde_json::Map::new(),
            };
            let (old, new) = (as_object(&self.env), as_object(&settings.current()));
            let mut changed_keys: Vec<String> = new
                .iter()
                .filter(|(key, value)| old.get(*key) != Some(*value))
                .map(|(key, _)| key.clone())
                .chain(old.keys().filter(|key| !new.contains_key(*key)).cloned())
                .collect();
            changed_keys.sort();
            EnvChange { changed_keys }
        }

        /// What the schema in force now changed since [`Loaded::take`].
        pub(crate) fn schema_change(&self, schema: &Schema) -> SchemaChange {
            let new_topics = schema.current();
            let (old, new) = (
                self.topics.input_subscriptions(),
                new_topics.input_subscriptions(),
            );
            let (old_set, new_set): (HashSet<&str>, HashSet<&str>) =
                (old.iter().copied().collect(), new.iter().copied().collect());
            let only = |list: &[&str], other: &HashSet<&str>| {
                list.iter()
                    .filter(|topic| !other.contains(*topic))
                    .map(|topic| (*topic).to_owned())
                    .collect()
            };
            SchemaChange {
                subscribe: only(&new, &old_set),
                unsubscribe: only(&old, &new_set),
            }
        }
    }
}

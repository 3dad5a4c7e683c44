//! Stored states (`#[pepeunit::state(stored)]`, cargo feature `rest`): kept in the unit's state
//! storage (PROTOCOL §7) as one JSON object keyed by each type's key, `{"Plug": {"on": true}}`, so that
//! several stored types share it.
//!
//! Loaded once before the first handler runs: an empty storage leaves every state at `Default`; an
//! unreachable storage, or a value that no longer deserializes (the program changed the type), leaves
//! it at `Default` with a Warning naming why, and what was stored is kept until that state changes.
//! Saved after a change whose serialized form differs from the last one saved: one save in flight,
//! at most one a second, the latest value wins; flushed on a clean stop and before a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use super::{Slot, UnitState};
use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::settings::short_type_name;

/// The backend refuses a state storage longer than this (in characters) with a 422.
const MAX_STORAGE_CHARS: usize = 1_000_000;

/// Saves closer together than this are coalesced into one.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// What a stored state's type needs: it is saved as JSON and read back.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is `stored` but cannot be saved and read back as JSON",
    label = "`stored` needs `serde::Serialize` and `serde::Deserialize`",
    note = "derive them: `#[derive(Default, serde::Serialize, serde::Deserialize)]`"
)]
pub trait Storable: Serialize + DeserializeOwned {}

impl<T: Serialize + DeserializeOwned> Storable for T {}

/// Where a stored state is kept: its key in the storage's object and its JSON conversions.
pub struct StoredAs<T> {
    key: &'static str,
    save: fn(&T) -> serde_json::Result<Value>,
    load: fn(Value) -> serde_json::Result<T>,
}

impl<T> StoredAs<T> {
    /// Kept under `key` (what `#[pepeunit::state(stored)]` gives: the type's name, or `stored = "key"`).
    pub const fn new(key: &'static str) -> Self
    where
        T: Storable,
    {
        StoredAs {
            key,
            save: to_value::<T>,
            load: serde_json::from_value::<T>,
        }
    }
}

/// `serde_json::to_value` for a reference, as a `fn(&T)` pointer.
fn to_value<T: Serialize>(value: &T) -> serde_json::Result<Value> {
    serde_json::to_value(value)
}

/// A stored state as the saver sees it, whatever its type.
trait Kept: Send + Sync {
    fn key(&self) -> &'static str;
    /// The type's name, for the log.
    fn name(&self) -> String;
    /// Whether a handler changed it since it was loaded.
    fn changed(&self) -> bool;
    fn value(&self) -> serde_json::Result<Value>;
    /// Replaces the value with the stored one (not a change).
    fn load(&self, value: Value) -> serde_json::Result<()>;
}

struct KeptState<T> {
    slot: Arc<Slot<T>>,
    stored: StoredAs<T>,
}

impl<T: UnitState> Kept for KeptState<T> {
    fn key(&self) -> &'static str {
        self.stored.key
    }

    fn name(&self) -> String {
        short_type_name::<T>()
    }

    fn changed(&self) -> bool {
        self.slot.changed.load(Ordering::Acquire)
    }

    fn value(&self) -> serde_json::Result<Value> {
        (self.stored.save)(&self.slot.lock())
    }

    fn load(&self, value: Value) -> serde_json::Result<()> {
        *self.slot.lock() = (self.stored.load)(value)?;
        Ok(())
    }
}

/// The stored states of one client and their saver.
#[derive(Default)]
pub(crate) struct StoredStates {
    kept: Mutex<Vec<Arc<dyn Kept>>>,
    /// Woken by every change of a stored state.
    saver: Arc<Notify>,
    /// The storage's object as last loaded or saved; locked for a whole save, so one is in flight.
    saved: tokio::sync::Mutex<Map<String, Value>>,
    /// Set once loaded: nothing is saved before, which would overwrite what was stored.
    loaded: AtomicBool,
}

impl StoredStates {
    /// What a stored state's slot wakes when it changes.
    pub(super) fn saver(&self) -> Arc<Notify> {
        self.saver.clone()
    }

    pub(super) fn add<T: UnitState>(&self, slot: Arc<Slot<T>>, stored: StoredAs<T>) {
        self.kept().push(Arc::new(KeptState { slot, stored }));
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Kept>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads every stored state made so far and starts the saver; later calls do nothing. A stored
    /// state on a client without REST is an error naming it.
    pub(crate) async fn load(self: &Arc<Self>, client: &PepeunitClient) -> Result<()> {
        let kept = self.kept().clone();
        let Some(first) = kept.first() else {
            return Ok(());
        };
        let rest = client
            .rest_api()
            .map_err(|_| Error::StoredStateWithoutRest {
                state: first.name(),
            })?;
        if self.loaded.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let names = || {
            let names: Vec<String> = kept.iter().map(|k| k.name()).collect();
            names.join(", ")
        };
        let document = match rest.get_state_storage().await.map_err(|e| e.to_string()) {
            Ok(text) => parse(&text),
            Err(e) => Err(format!("the state storage could not be read ({e})")),
        };
        let document = document.unwrap_or_else(|why| {
            client.logger().warning(format!(
                "Stored states {} start from their default: {why}; what is stored stays until they change",
                names()
            ));
            Map::new()
        });
        for state in &kept {
            let Some(value) = document.get(state.key()) else {
                continue;
            };
            if let Err(e) = state.load(value.clone()) {
                client.logger().warning(format!(
                    "Stored state {} starts from its default: its stored value under \"{}\" no longer reads ({e}); \
                     it stays until the state changes",
                    state.name(),
                    state.key()
                ));
            }
        }
        *self.saved.lock().await = document;
        let (stored, client) = (self.clone(), client.clone());
        tokio::spawn(async move {
            loop {
                stored.saver.notified().await;
                stored.save(&client).await;
                tokio::time::sleep(SAVE_INTERVAL).await;
            }
        });
        Ok(())
    }

    /// Saves the states changed since the last save, if their serialized form differs from it (after
    /// the save in flight, if any). Failures are logged.
    pub(crate) async fn save(&self, client: &PepeunitClient) {
        if !self.loaded.load(Ordering::Acquire) {
            return;
        }
        let mut saved = self.saved.lock().await;
        let mut document = saved.clone();
        let kept = self.kept().clone();
        for state in kept.iter().filter(|state| state.changed()) {
            match state.value() {
                Ok(value) => {
                    document.insert(state.key().to_owned(), value);
                }
                Err(e) => client
                    .logger()
                    .error(format!("Stored state {} not saved: {e}", state.name())),
            }
        }
        if document == *saved {
            return;
        }
        let text = Value::Object(document.clone()).to_string();
        let chars = text.chars().count();
        if chars > MAX_STORAGE_CHARS {
            client.logger().error(format!(
                "Stored states not saved: {chars} characters, over the state storage's limit of {MAX_STORAGE_CHARS}"
            ));
            return;
        }
        let sent = match client.rest_api() {
            Ok(rest) => rest.set_state_storage(&text).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => *saved = document,
            Err(e) => client
                .logger()
                .error(format!("Stored states not saved: {e}")),
        }
    }
}

/// The storage's text as the object of stored states; empty: none stored yet.
fn parse(text: &str) -> std::result::Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    serde_json::from_str(text)
        .map_err(|e| format!("the state storage is not a JSON object of stored states ({e})"))
}

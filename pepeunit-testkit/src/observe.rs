//! What the instance sees on the broker: every message, and the backend's checks of state and log
//! messages (§6), with each rejection recorded and its reason.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::Notify;

use super::units::{Registry, UpdateStatus};
use pepeunit::LogLevel;

/// One message seen on the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The physical topic.
    pub topic: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl Observed {
    /// The payload as UTF-8 text, if it is.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

/// Which backend rule a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// A `state/pepeunit` message that is not a JSON object.
    InvalidState,
    /// A `state/pepeunit` message sooner than `PU_STATE_SEND_INTERVAL` after the last accepted one.
    StateTooSoon,
    /// A `log/pepeunit` message with an invalid entry (the whole message is dropped).
    InvalidLog,
}

/// A message the backend would have dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The unit that sent it.
    pub unit_uuid: String,
    /// The topic it came on.
    pub topic: String,
    /// The payload, as (lossy) text.
    pub payload: String,
    /// The rule broken.
    pub kind: RejectionKind,
    /// Why, in words.
    pub reason: String,
}

/// Everything recorded, in arrival order.
#[derive(Default)]
pub(crate) struct Recorded {
    pub(crate) messages: Vec<Observed>,
    /// Accepted states (unit uuid, normalized state).
    pub(crate) states: Vec<(String, Value)>,
    /// Accepted log entries (unit uuid, entry).
    pub(crate) logs: Vec<(String, Value)>,
    pub(crate) rejections: Vec<Rejection>,
    cursors: HashMap<String, usize>,
}

/// The recording, with a wake-up for waiters.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) inner: Mutex<Recorded>,
    notify: Notify,
}

impl Recorder {
    /// Locks the recording (a poisoned lock still holds valid data: every update is one push).
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for the next item after the cursor `key`; `find(recorded, from)` returns the
    /// index and value of the first match at or after `from`. The cursor moves past what is returned.
    pub(crate) async fn next<T>(
        &self,
        key: &str,
        timeout: Duration,
        find: impl Fn(&Recorded, usize) -> Option<(usize, T)>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut rec = self.lock();
                let from = rec.cursors.get(key).copied().unwrap_or(0);
                if let Some((index, value)) = find(&rec, from) {
                    rec.cursors.insert(key.to_string(), index + 1);
                    return Some(value);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Records one message and applies the backend's rules to unit state and log messages.
    pub(crate) fn on_publish(&self, registry: &Mutex<Registry>, topic: String, payload: Vec<u8>) {
        let levels: Vec<&str> = topic.split('/').collect();
        let base = match levels.as_slice() {
            [_, "output_base_topic", uuid, purpose, "pepeunit"] => {
                Some((uuid.to_string(), *purpose))
            }
            _ => None,
        };
        let mut registry = registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut rec = self.lock();
        if let Some((uuid, purpose)) = base
            && let Some(record) = registry.units.get_mut(&uuid)
        {
            let text = String::from_utf8_lossy(&payload).into_owned();
            let reject = |kind, reason: String| Rejection {
                unit_uuid: uuid.clone(),
                topic: topic.clone(),
                payload: text.clone(),
                kind,
                reason,
            };
            match purpose {
                "state" => {
                    let interval = record
                        .env
                        .get("PU_STATE_SEND_INTERVAL")
                        .and_then(Value::as_u64)
                        .unwrap_or(60);
                    let now = Instant::now();
                    match normalize_state(&payload) {
                        Err(reason) => rec
                            .rejections
                            .push(reject(RejectionKind::InvalidState, reason)),
                        Ok(_)
                            if record.last_state.as_ref().is_some_and(|(_, at)| {
                                now.duration_since(*at) < Duration::from_secs(interval)
                            }) =>
                        {
                            let reason = format!(
                                "sooner than PU_STATE_SEND_INTERVAL ({interval} s) after the last accepted state"
                            );
                            rec.rejections
                                .push(reject(RejectionKind::StateTooSoon, reason));
                        }
                        Ok(state) => {
                            if let Some(commit) =
                                state.get("pu_commit_version").and_then(Value::as_str)
                            {
                                record.current_commit = Some(commit.to_string());
                                if matches!(&record.update_status, UpdateStatus::RequestSent { target } if target == commit)
                                {
                                    record.update_status = UpdateStatus::Success {
                                        commit: commit.to_string(),
                                    };
                                }
                            }
                            record.last_state = Some((state.clone(), now));
                            rec.states.push((uuid.clone(), state));
                        }
                    }
                }
                "log" => match validate_log(&payload) {
                    Ok(entries) => {
                        record.logs.extend(entries.iter().cloned());
                        rec.logs
                            .extend(entries.into_iter().map(|e| (uuid.clone(), e)));
                    }
                    Err(reason) => rec
                        .rejections
                        .push(reject(RejectionKind::InvalidLog, reason)),
                },
                _ => {}
            }
        }
        super::reach::record_node_value(&mut registry, &topic, &payload);
        rec.messages.push(Observed { topic, payload });
        drop(rec);
        drop(registry);
        self.notify.notify_waiters();
    }
}

/// The state the backend stores from a `state/pepeunit` payload: the §6 keys only, numbers kept only as
/// JSON numbers, `statvfs`/`ifconfig` only as arrays, `pu_commit_version` only as a string (else null).
pub(crate) fn normalize_state(payload: &[u8]) -> Result<Value, String> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| format!("state is not JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("state is not a JSON object".into());
    };
    let mut state = Map::new();
    for (key, value) in object {
        let keep = match key.as_str() {
            "millis" | "mem_free" | "mem_alloc" | "freq" => value.is_number(),
            "statvfs" | "ifconfig" => value.is_array(),
            "pu_commit_version" => value.is_string(),
            _ => continue,
        };
        state.insert(key, if keep { value } else { Value::Null });
    }
    Ok(Value::Object(state))
}

/// The entries of a `log/pepeunit` payload (one object or an array of them), or why the backend drops
/// the whole message.
pub(crate) fn validate_log(payload: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| format!("log is not JSON: {e}"))?;
    let entries = match value {
        Value::Array(entries) => entries,
        entry @ Value::Object(_) => vec![entry],
        _ => return Err("log is neither an object nor an array of objects".into()),
    };
    for (i, entry) in entries.iter().enumerate() {
        let Some(object) = entry.as_object() else {
            return Err(format!("entry {i} is not an object"));
        };
        let level = object.get("level").and_then(Value::as_str);
        if level.and_then(|l| l.parse::<LogLevel>().ok()).is_none() {
            return Err(format!(
                "entry {i}: level must be one of Debug, Info, Warning, Error, Critical"
            ));
        }
        if !object.get("text").is_some_and(Value::is_string) {
            return Err(format!("entry {i}: text must be a string"));
        }
        match object.get("create_datetime") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if is_iso8601(s) => {}
            Some(_) => {
                return Err(format!(
                    "entry {i}: create_datetime is not an ISO 8601 datetime"
                ));
            }
        }
    }
    Ok(entries)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]][Z|±HH:MM]`, with real month/day/hour/minute ranges.
fn is_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date_ok = b.len() >= 16
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && num(0..4).is_some()
        && num(5..7).is_some_and(|m| (1..=12).contains(&m))
        && num(8..10).is_some_and(|d| (1..=31).contains(&d))
        && num(11..13).is_some_and(|h| h < 24)
        && num(14..16).is_some_and(|m| m < 60);
    if !date_ok {
        return false;
    }
    let mut rest = &s[16..];
    if let Some(sec) = rest.strip_prefix(':') {
        let digits = sec
            .get(..2)
            .filter(|d| d.bytes().all(|c| c.is_ascii_digit()));
        if digits
            .and_then(|d| d.parse::<u32>().ok())
            .is_none_or(|v| v > 59)
        {
            return false;
        }
        rest = &sec[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            rest = &frac[n..];
        }
    }
    match rest.as_bytes() {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_accepts_backend_forms_and_refuses_others() {
        for ok in [
            "2025-04-08T11:27:52.044394",
            "2025-04-08T11:27:52",
            "2025-04-08 11:27",
            "2025-04-08T11:27:52+03:00",
            "2025-04-08T11:27:52Z",
        ] {
            assert!(is_iso8601(ok), "{ok}");
        }
        for bad in [
            "2025-13-08T11:27:52",
            "yesterday",
            "2025-04-08",
            "2025-04-08T11:27:52.",
            "2025-04-08T25:00:00",
        ] {
            assert!(!is_iso8601(bad), "{bad}");
        }
    }
}

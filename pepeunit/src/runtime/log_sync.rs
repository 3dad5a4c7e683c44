//! `log_sync` payloads: the whole log as JSON arrays, none over the packet limit (PROTOCOL §5, §6).

use crate::logger::LogEntry;

/// Appended to the text of an entry cut short to fit a message.
pub const TRUNCATED: &str = "…[truncated]";

/// Splits `entries` (oldest first) into JSON arrays of at most `limit` bytes each, keeping their order.
///
/// An entry that alone would not fit has its text cut (at a character boundary) and [`TRUNCATED`]
/// appended, rather than being dropped; only a `limit` too small for an entry with an empty text can
/// give a longer array. An empty log gives no payload.
pub fn split_log(entries: &[LogEntry], limit: usize) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for entry in entries {
        let mut json = entry.to_json();
        if json.len() + 2 > limit {
            json = truncated(entry, limit.saturating_sub(2));
        }
        let separator = usize::from(current.len() > 1);
        if current.len() > 1 && current.len() + separator + json.len() + 1 > limit {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// `entry` as JSON of at most `max` bytes (when an empty text fits), its text cut to the longest
/// prefix that fits with [`TRUNCATED`] appended (binary search: escapes make the JSON length of a
/// prefix unpredictable).
fn truncated(entry: &LogEntry, max: usize) -> String {
    let with_prefix = |len: usize| {
        let mut cut = entry.clone();
        cut.text = format!("{}{TRUNCATED}", &entry.text[..len]);
        cut.to_json()
    };
    let (mut fits, mut too_long) = (0, entry.text.len());
    while too_long - fits > 1 {
        let mut mid = (fits + too_long) / 2;
        while !entry.text.is_char_boundary(mid) {
            mid -= 1;
        }
        if mid == fits {
            break;
        }
        if with_prefix(mid).len() <= max {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    let json = with_prefix(fits);
    if json.len() <= max {
        return json;
    }
    let mut empty = entry.clone();
    empty.text.clear();
    empty.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_level::LogLevel;

    fn entry(i: usize, text: String) -> LogEntry {
        LogEntry {
            level: LogLevel::Info,
            text,
            create_datetime: format!("2025-01-01T00:00:{:02}.000000+00:00", i % 60),
        }
    }

    #[test]
    fn arrays_stay_under_the_limit_and_keep_every_entry_in_order() {
        let entries: Vec<_> = (0..500)
            .map(|i| entry(i, format!("entry {i} {}", "x\"é".repeat(i % 17))))
            .collect();
        let payloads = split_log(&entries, 1000);
        assert!(payloads.len() > 10);
        let mut back = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= 1000, "{}", payload.len());
            back.extend(serde_json::from_str::<Vec<LogEntry>>(payload).unwrap());
        }
        assert_eq!(back, entries);
    }

    #[test]
    fn an_entry_too_big_for_one_message_is_truncated_not_dropped() {
        let entries = vec![
            entry(1, "small".into()),
            entry(2, "é\"".repeat(2000)),
            entry(3, "after".into()),
        ];
        let payloads = split_log(&entries, 300);
        let back: Vec<LogEntry> = payloads
            .iter()
            .flat_map(|p| {
                assert!(p.len() <= 300, "{}", p.len());
                serde_json::from_str::<Vec<LogEntry>>(p).unwrap()
            })
            .collect();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], entries[0]);
        assert!(back[1].text.ends_with(TRUNCATED));
        assert!(
            entries[1]
                .text
                .starts_with(back[1].text.strip_suffix(TRUNCATED).unwrap())
        );
        assert_eq!(back[2], entries[2]);
    }

    #[test]
    fn an_empty_log_gives_no_payload() {
        assert!(split_log(&[], 1000).is_empty());
    }
}

//! The unit logger against real files: vector formats, the length cap, compaction, the level filter,
//! the sink, reset/replace, reopening and crash leftovers.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use pepeunit::logger::{LogEntry, Logger, LoggerConfig, max_lines_on_disk};
use pepeunit::{Error, LogLevel};
use serde_json::Value;
use support::{TempDir, vector};

fn config(min_level: LogLevel, max_length: usize) -> LoggerConfig {
    LoggerConfig {
        min_level,
        max_length,
    }
}

/// The five entries of the log vectors, as the NDJSON vector spells them.
fn vector_values() -> Vec<Value> {
    std::fs::read_to_string(vector("log/log_ndjson.json"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn as_values(entries: &[LogEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

/// The raw lines of the file (every one newline-terminated, or the test fails).
fn raw_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "unterminated line in {text:?}"
    );
    text.lines().map(str::to_string).collect()
}

/// The file's entries; every line must be a valid entry.
fn file_entries(path: &Path) -> Vec<LogEntry> {
    raw_lines(path)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn texts(entries: &[LogEntry]) -> Vec<String> {
    entries.iter().map(|e| e.text.clone()).collect()
}

fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("entry {i}")).collect()
}

/// A sink that records the texts it receives.
fn recording_sink(logger: &Logger) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    logger.set_sink(Some(Arc::new(move |entry: &LogEntry| {
        sink_seen.lock().unwrap().push(entry.text.clone());
    })));
    seen
}

#[test]
fn both_vector_formats_read_to_the_same_entries() {
    let expected = vector_values();
    let legacy: Vec<Value> =
        serde_json::from_slice(&std::fs::read(vector("log/log_legacy_array.json")).unwrap())
            .unwrap();
    assert_eq!(legacy, expected, "the two vectors disagree");
    assert_eq!(expected.len(), 5);

    for rel in ["log/log_ndjson.json", "log/log_legacy_array.json"] {
        let dir = TempDir::new("logger-vectors");
        let path = dir.copy_vector(rel, "log.json");
        let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
        assert_eq!(as_values(&logger.get_full_log()), expected, "{rel}");
        logger.flush().unwrap();
        assert_eq!(as_values(&file_entries(&path)), expected, "{rel} on disk");
    }
}

#[test]
fn lines_keep_the_python_field_order() {
    let dir = TempDir::new("logger-order");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    logger.info("hello");
    let line = &raw_lines(&path)[0];
    let position = |key: &str| line.find(&format!("\"{key}\"")).unwrap();
    assert!(position("level") < position("text"), "{line}");
    assert!(position("text") < position("create_datetime"), "{line}");
}

#[test]
fn keeps_the_newest_max_length_entries_in_order() {
    let dir = TempDir::new("logger-cap");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, config(LogLevel::Debug, 64)).unwrap();
    for text in numbered(0..192) {
        logger.info(text);
    }
    assert_eq!(texts(&logger.get_full_log()), numbered(128..192));
    logger.flush().unwrap();
    assert_eq!(texts(&file_entries(&path)), numbered(128..192));
    assert_eq!(logger.write_errors(), 0);
}

/// Appends `appends` entries, checking every few appends that the file stays within `bound` lines, and
/// that compaction did happen.
fn assert_file_bounded(max_length: usize, appends: usize, bound: usize) {
    let dir = TempDir::new("logger-bound");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, config(LogLevel::Debug, max_length)).unwrap();
    for (i, text) in numbered(0..appends).into_iter().enumerate() {
        logger.info(text);
        if i % 16 == 0 || i + 1 == appends {
            let lines = raw_lines(&path).len();
            assert!(lines <= bound, "{lines} lines after {} appends", i + 1);
        }
    }
    let entries = file_entries(&path);
    assert!(entries.len() >= max_length && entries.len() < appends);
    // Whatever was compacted away, the file ends with the log.
    let log = logger.get_full_log();
    assert_eq!(entries[entries.len() - log.len()..], log[..]);
}

#[test]
fn file_never_exceeds_its_bound() {
    for max_length in [8, 64, 1024] {
        let bound = max_lines_on_disk(max_length);
        assert!(bound <= max_length + max_length.max(256));
        assert_file_bounded(max_length, 3 * bound + 5, bound);
    }
}

#[test]
fn entries_below_min_level_are_neither_stored_nor_sent() {
    let dir = TempDir::new("logger-level");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, config(LogLevel::Warning, 64)).unwrap();
    let seen = recording_sink(&logger);
    logger.debug("d");
    logger.info("i");
    logger.warning("w");
    logger.error("e");
    logger.critical("c");
    logger.log(LogLevel::Info, "i2");
    let levels: Vec<LogLevel> = logger.get_full_log().iter().map(|e| e.level).collect();
    assert_eq!(
        levels,
        [LogLevel::Warning, LogLevel::Error, LogLevel::Critical]
    );
    assert_eq!(*seen.lock().unwrap(), ["w", "e", "c"]);
    assert_eq!(texts(&file_entries(&path)), ["w", "e", "c"]);
}

#[test]
fn file_only_entries_are_stored_but_not_sent() {
    let dir = TempDir::new("logger-file-only");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    let seen = recording_sink(&logger);
    logger.info("sent");
    logger.file_only().warning("kept");
    logger.error("sent too");
    assert_eq!(*seen.lock().unwrap(), ["sent", "sent too"]);
    assert_eq!(texts(&logger.get_full_log()), ["sent", "kept", "sent too"]);
    logger.set_sink(None);
    logger.info("after");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn a_sink_that_logs_does_not_recurse() {
    let dir = TempDir::new("logger-recursion");
    let logger = Logger::open(dir.path().join("log.json"), LoggerConfig::default()).unwrap();
    let calls = Arc::new(Mutex::new(0));
    let (inner, sink_calls) = (logger.clone(), calls.clone());
    logger.set_sink(Some(Arc::new(move |entry: &LogEntry| {
        *sink_calls.lock().unwrap() += 1;
        inner.warning(format!("echo: {}", entry.text));
    })));
    logger.info("x");
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!(texts(&logger.get_full_log()), ["x", "echo: x"]);
    // The sink holds a handle: remove it so the log can close.
    logger.set_sink(None);
}

#[test]
fn a_panicking_sink_does_not_reach_the_caller() {
    let dir = TempDir::new("logger-panic");
    let logger = Logger::open(dir.path().join("log.json"), LoggerConfig::default()).unwrap();
    logger.set_sink(Some(Arc::new(|_: &LogEntry| panic!("sink failure"))));
    logger.info("first");
    logger.info("second");
    assert_eq!(texts(&logger.get_full_log()), ["first", "second"]);
}

#[test]
fn set_config_takes_effect() {
    let dir = TempDir::new("logger-config");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, config(LogLevel::Debug, 10)).unwrap();
    for text in numbered(0..10) {
        logger.debug(text);
    }
    logger.set_config(config(LogLevel::Info, 4));
    assert_eq!(texts(&logger.get_full_log()), numbered(6..10));
    logger.debug("dropped");
    logger.info("kept");
    assert_eq!(
        texts(&logger.get_full_log()),
        ["entry 7", "entry 8", "entry 9", "kept"]
    );
    logger.flush().unwrap();
    assert_eq!(texts(&file_entries(&path)), texts(&logger.get_full_log()));
}

#[test]
fn reset_empties_memory_and_file() {
    let dir = TempDir::new("logger-reset");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    logger.info("a");
    logger.info("b");
    logger.reset().unwrap();
    assert!(logger.get_full_log().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    logger.info("c");
    assert_eq!(texts(&file_entries(&path)), ["c"]);
    assert_eq!(texts(&logger.get_full_log()), ["c"]);
}

#[test]
fn replace_from_file_takes_a_valid_file() {
    for rel in ["log/log_ndjson.json", "log/log_legacy_array.json"] {
        let dir = TempDir::new("logger-replace");
        let path = dir.path().join("log.json");
        let new_file = dir.copy_vector(rel, "new_log.json");
        let logger = Logger::open(&path, config(LogLevel::Debug, 3)).unwrap();
        logger.info("old");
        logger.replace_from_file(&new_file).unwrap();
        let newest = vector_values()[2..].to_vec();
        assert_eq!(as_values(&logger.get_full_log()), newest, "{rel}");
        assert_eq!(as_values(&file_entries(&path)), newest, "{rel} on disk");
        logger.info("next");
        assert_eq!(file_entries(&path).last().unwrap().text, "next");
    }
}

#[test]
fn replace_from_file_refuses_an_invalid_file_and_keeps_the_log() {
    let dir = TempDir::new("logger-replace-bad");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    logger.info("kept 1");
    logger.info("kept 2");
    let before = std::fs::read(&path).unwrap();

    let mut lines = raw_lines(&vector("log/log_ndjson.json"));
    lines[2] = lines[2].replace("\"Warning\"", "\"Verbose\"");
    let bad_ndjson = dir.path().join("bad_ndjson.json");
    std::fs::write(&bad_ndjson, lines.join("\n")).unwrap();
    let bad_array = dir.path().join("bad_array.json");
    let legacy = std::fs::read_to_string(vector("log/log_legacy_array.json")).unwrap();
    std::fs::write(&bad_array, &legacy[..legacy.len() / 2]).unwrap();

    for (bad, where_) in [(&bad_ndjson, "line 3"), (&bad_array, "line ")] {
        let err = logger.replace_from_file(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidJson { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&bad.display().to_string()), "{message}");
        assert!(message.contains(where_), "{message}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(texts(&logger.get_full_log()), ["kept 1", "kept 2"]);
    }
    let missing = dir.path().join("missing.json");
    let err = logger.replace_from_file(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn reopening_continues_the_log() {
    let dir = TempDir::new("logger-reopen");
    let path = dir.path().join("log.json");
    let first = Logger::open(&path, config(LogLevel::Debug, 5)).unwrap();
    for text in numbered(0..3) {
        first.info(text);
    }
    drop(first);
    let second = Logger::open(&path, config(LogLevel::Debug, 5)).unwrap();
    assert_eq!(texts(&second.get_full_log()), numbered(0..3));
    for text in numbered(3..7) {
        second.info(text);
    }
    assert_eq!(texts(&second.get_full_log()), numbered(2..7));
    drop(second);
    // Dropping the last handle trims the file to exactly the log.
    assert_eq!(texts(&file_entries(&path)), numbered(2..7));
}

#[test]
fn a_crashed_run_loses_nothing_it_logged() {
    let dir = TempDir::new("logger-crash");
    let path = dir.path().join("log.json");
    let crashed = Logger::open(&path, config(LogLevel::Debug, 4)).unwrap();
    for text in numbered(0..10) {
        crashed.info(text);
    }
    // A crash: no drop, no flush.
    std::mem::forget(crashed);
    let next = Logger::open(&path, config(LogLevel::Debug, 4)).unwrap();
    assert_eq!(texts(&next.get_full_log()), numbered(6..10));
}

#[test]
fn a_half_written_last_line_is_dropped() {
    let dir = TempDir::new("logger-half-line");
    let path = dir.copy_vector("log/log_ndjson.json", "log.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"level": "Info", "te"#);
    std::fs::write(&path, bytes).unwrap();

    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    assert_eq!(as_values(&logger.get_full_log()), vector_values());
    logger.info("after the crash");
    // The new line is not glued to the broken one: every line of the file is a valid entry.
    let on_disk = file_entries(&path);
    assert_eq!(as_values(&on_disk[..5]), vector_values());
    assert_eq!(on_disk[5].text, "after the crash");
    assert_eq!(on_disk.len(), 6);
}

#[test]
fn a_broken_legacy_array_is_refused_naming_the_file() {
    let dir = TempDir::new("logger-bad-legacy");
    let path = dir.path().join("log.json");
    std::fs::write(&path, r#"[{"level": "Info", "text": "a", "create_"#).unwrap();
    let err = Logger::open(&path, LoggerConfig::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidJson { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn failed_writes_are_counted_and_recovered() {
    let dir = TempDir::new("logger-write-errors");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, LoggerConfig::default()).unwrap();
    // A directory in the way: neither an append nor an atomic rewrite can write log.json.
    std::fs::create_dir(&path).unwrap();
    logger.info("lost 1");
    logger.info("lost 2");
    assert_eq!(logger.write_errors(), 2);
    assert_eq!(texts(&logger.get_full_log()), ["lost 1", "lost 2"]);
    assert!(logger.flush().is_err());
    std::fs::remove_dir(&path).unwrap();
    logger.info("back");
    assert_eq!(logger.write_errors(), 2);
    assert_eq!(texts(&file_entries(&path)), ["lost 1", "lost 2", "back"]);
}

#[test]
fn handles_log_concurrently_from_threads() {
    let dir = TempDir::new("logger-threads");
    let path = dir.path().join("log.json");
    let logger = Logger::open(&path, config(LogLevel::Debug, 1000)).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    logger.info(format!("thread {t} entry {i}"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let mut logged = texts(&logger.get_full_log());
    assert_eq!(texts(&file_entries(&path)), logged);
    logged.sort();
    logged.dedup();
    assert_eq!(logged.len(), 1000);
}

#[test]
fn timestamps_have_the_python_shape() {
    let dir = TempDir::new("logger-timestamps");
    let logger = Logger::open(dir.path().join("log.json"), LoggerConfig::default()).unwrap();
    logger.info("now");
    let stamp = logger.get_full_log()[0].create_datetime.clone();
    // 2025-11-12T19:40:53.000123+00:00
    assert_eq!(stamp.len(), 32, "{stamp}");
    assert!(stamp.ends_with("+00:00"), "{stamp}");
    let fields: Vec<u32> = stamp[..26]
        .split(['-', 'T', ':', '.'])
        .map(|field| field.parse().unwrap())
        .collect();
    let separators: String = stamp[..26]
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .collect();
    assert_eq!(separators, "--T::.", "{stamp}");
    let [year, month, day, hour, minute, second, _micros] = fields[..] else {
        panic!("{stamp}");
    };
    assert!(year >= 2025 && (1..=12).contains(&month) && (1..=31).contains(&day));
    assert!(hour < 24 && minute < 60 && second < 60, "{stamp}");
}

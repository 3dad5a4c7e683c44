//! The unit's log (PROTOCOL §6, §11): the black box kept in log.json and the fan-out of each entry to a
//! sink (the MQTT layer publishes it on `log/pepeunit`).
//!
//! # File format
//! log.json is NDJSON, one `{"level": …, "text": …, "create_datetime": …}` per line, oldest first, with
//! timestamps in the Python client's form `2025-11-12T19:40:53.000123+00:00`. A legacy file holding one JSON
//! array is read too, and rewritten as NDJSON on the first write.
//!
//! # Why appends are O(1)
//! The newest `max_length` entries live in memory; the log *is* those entries, and [`Logger::get_full_log`]
//! never reads the file. Each entry is appended to the file as one line with a single `write(2)` on a file
//! opened with `O_APPEND`: no re-read, no rewrite and no fsync per line (the Python client's durability: a
//! process crash loses nothing already logged). When the file reaches [`max_lines_on_disk`] lines
//! (`max_length + max(max_length, MIN_COMPACTION_SLACK)`: twice `max_length` from 256 up, `max_length + 256`
//! below) it is compacted to the in-memory entries through a temp file and a rename
//! (`files::write_atomic_unsynced`: atomic against a crash; no fsync, the same durability as the appends). So
//! the file holds at most that many lines, at least `max_length` once that many were logged; the log is its
//! newest `max_length` lines, and [`Logger::flush`] (also run, best effort, when the last handle is dropped)
//! trims it to exactly the log, durably (`files::write_atomic`).
//!
//! A write that fails (disk full, …) is counted in [`Logger::write_errors`] and the file is rewritten
//! from memory, at once and then on each entry until that succeeds; logging itself never returns an error
//! or panics.
//!
//! One [`Logger`] per file: several processes appending to the same log.json are not supported.
//!
//! # Sinks and recursion
//! The sink is called after the entry is stored, outside the logger's lock, so it may log. To keep a
//! logging sink from recursing forever, entries logged on the sink's own thread while it runs are stored
//! but not given to the sink (as if logged through [`Logger::file_only`]). A sink that hands entries to
//! another thread which logs about them must use a `file_only` handle there. A panicking sink is contained:
//! the entry stays stored and the panic goes no further. Entries logged concurrently from several threads
//! may reach the sink in a different order than the file's. A sink that holds a [`Logger`] keeps the log
//! open (a reference cycle) until it is removed with `set_sink(None)`.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{parent_dir, remove_stale_temps, write_atomic, write_atomic_unsynced};
use crate::log_level::LogLevel;

/// One log entry, serialized with the Python client's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// How serious the entry is.
    pub level: LogLevel,
    /// The message.
    pub text: String,
    /// When it was logged: ISO 8601 UTC, e.g. `2025-11-12T19:40:53.000123+00:00`.
    pub create_datetime: String,
}

impl LogEntry {
    /// The entry as the JSON object the backend expects on `log/pepeunit` (and log.json holds per line).
    pub fn to_json(&self) -> String {
        let mut buf = Vec::new();
        self.write_json(&mut buf);
        // serde_json writes UTF-8 only.
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Appends the entry's JSON to `buf`.
    fn write_json(&self, buf: &mut Vec<u8>) {
        // A struct of strings and a unit enum always serializes, and writing to a Vec cannot fail.
        serde_json::to_writer(buf, self).expect("a LogEntry serializes"); // ok: see above
    }
}

/// What the logger keeps: set from `PU_MIN_LOG_LEVEL` and `PU_MAX_LOG_LENGTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerConfig {
    /// Entries below this level are neither stored nor sent.
    pub min_level: LogLevel,
    /// How many of the newest entries the log keeps (0 is treated as 1).
    pub max_length: usize,
}

impl Default for LoggerConfig {
    /// The env.json defaults of PROTOCOL §1: `Debug`, 64 entries.
    fn default() -> Self {
        LoggerConfig {
            min_level: LogLevel::Debug,
            max_length: 64,
        }
    }
}

/// The fewest lines appended between two compactions of log.json, whatever `max_length` is.
///
/// A compaction costs a file creation and a rename (tens of microseconds, more under I/O load, and a
/// flash write); at `max_length` 64 compacting every 64 lines held logging under 200,000 entries/s.
pub const MIN_COMPACTION_SLACK: usize = 256;

/// How many lines log.json may reach before it is compacted back to the newest `max_length`.
pub fn max_lines_on_disk(max_length: usize) -> usize {
    max_length + max_length.max(MIN_COMPACTION_SLACK)
}

/// Receives every stored entry that is not `file_only` (the MQTT layer's hook).
pub type LogSink = Arc<dyn Fn(&LogEntry) + Send + Sync>;

/// A handle on the unit's log; clones are cheap and share the same log.
#[derive(Clone)]
pub struct Logger {
    state: Arc<Mutex<State>>,
    file_only: bool,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Logger")
            .field("path", &state.path)
            .field("config", &state.config)
            .field("file_only", &self.file_only)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// Opens the log at `path`, reading what a previous run left there (missing is fine: it is created
    /// on the first entry). Fails if the file cannot be read or is a broken legacy JSON array.
    pub fn open(path: impl Into<PathBuf>, config: LoggerConfig) -> Result<Logger> {
        let path = path.into();
        let dir = parent_dir(&path);
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir, e))?;
        remove_stale_temps(&path);
        let (entries, lines_on_disk, dirty) = match fs::read(&path) {
            Ok(bytes) => {
                let parsed = parse_log(&bytes, &path, false)?;
                (parsed.entries, parsed.lines, !parsed.clean)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => (Vec::new(), 0, false),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut state = State {
            path,
            config: normalized(config),
            entries: entries.into(),
            file: None,
            lines_on_disk,
            dirty,
            line_buf: Vec::new(),
            sink: None,
            write_errors: 0,
        };
        state.trim_memory();
        Ok(Logger {
            state: Arc::new(Mutex::new(state)),
            file_only: false,
        })
    }

    /// Logs `text` at `Debug`.
    pub fn debug(&self, text: impl Into<String>) {
        self.log(LogLevel::Debug, text);
    }

    /// Logs `text` at `Info`.
    pub fn info(&self, text: impl Into<String>) {
        self.log(LogLevel::Info, text);
    }

    /// Logs `text` at `Warning`.
    pub fn warning(&self, text: impl Into<String>) {
        self.log(LogLevel::Warning, text);
    }

    /// Logs `text` at `Error`.
    pub fn error(&self, text: impl Into<String>) {
        self.log(LogLevel::Error, text);
    }

    /// Logs `text` at `Critical`.
    pub fn critical(&self, text: impl Into<String>) {
        self.log(LogLevel::Critical, text);
    }

    /// Stores an entry (unless below the minimum level) and gives it to the sink; never fails.
    pub fn log(&self, level: LogLevel, text: impl Into<String>) {
        let mut state = self.lock();
        if level < state.config.min_level {
            return;
        }
        let entry = LogEntry {
            level,
            text: text.into(),
            create_datetime: utc_timestamp(SystemTime::now()),
        };
        let delivery = match &state.sink {
            Some(sink) if !self.file_only && !IN_SINK.get() => Some((sink.clone(), entry.clone())),
            _ => None,
        };
        state.store(entry);
        drop(state);
        if let Some((sink, entry)) = delivery {
            IN_SINK.set(true);
            let _ = panic::catch_unwind(AssertUnwindSafe(|| sink(&entry)));
            IN_SINK.set(false);
        }
    }

    /// A handle on the same log whose entries are stored but not given to the sink (Python's
    /// `file_only=True`): for messages that must not go out, e.g. about the transport itself.
    pub fn file_only(&self) -> Logger {
        Logger {
            state: self.state.clone(),
            file_only: true,
        }
    }

    /// Applies new settings (after env.json was reloaded); a smaller `max_length` drops the oldest entries.
    pub fn set_config(&self, config: LoggerConfig) {
        let mut state = self.lock();
        state.config = normalized(config);
        state.trim_memory();
    }

    /// Sets or removes the sink that receives each stored entry.
    pub fn set_sink(&self, sink: Option<LogSink>) {
        self.lock().sink = sink;
    }

    /// The log: the newest `max_length` entries, oldest first.
    pub fn get_full_log(&self) -> Vec<LogEntry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Empties the log, in memory and on disk.
    pub fn reset(&self) -> Result<()> {
        self.lock().replace_entries(VecDeque::new())
    }

    /// Replaces the log with the entries of `new_file` (NDJSON or a legacy JSON array), keeping the newest
    /// `max_length`. A file with any invalid entry is refused with its name and line, and the log is
    /// left as it was.
    pub fn replace_from_file(&self, new_file: &Path) -> Result<()> {
        let bytes = fs::read(new_file).map_err(|e| Error::io(new_file, e))?;
        let parsed = parse_log(&bytes, new_file, true)?;
        let mut state = self.lock();
        let mut entries: VecDeque<LogEntry> = parsed.entries.into();
        let excess = entries.len().saturating_sub(state.config.max_length);
        entries.drain(..excess);
        state.replace_entries(entries)
    }

    /// Rewrites the file to exactly the log (durably); cheap when the file already is exactly the log.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.lock();
        if state.needs_compaction() {
            return state.compact(Durability::PowerLossSafe);
        }
        match &state.file {
            Some(file) => file.sync_data().map_err(|e| Error::io(&state.path, e)),
            None => Ok(()),
        }
    }

    /// How many entries could not be written to the file (they are still in the log in memory).
    pub fn write_errors(&self) -> u64 {
        self.lock().write_errors
    }

    /// The state, even if a panic poisoned the lock: its invariants hold between statements.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

thread_local! {
    /// Set while a sink runs on this thread: entries logged meanwhile are not given to the sink.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Everything behind the lock.
struct State {
    path: PathBuf,
    config: LoggerConfig,
    /// The log: the newest `config.max_length` entries.
    entries: VecDeque<LogEntry>,
    /// log.json opened for appending, once something was appended since the last rewrite.
    file: Option<File>,
    /// Lines in the file, when not `dirty`.
    lines_on_disk: usize,
    /// The file may not end with the log (legacy, bad lines, a failed write): rewrite before appending.
    dirty: bool,
    /// Reused buffer for one encoded line.
    line_buf: Vec<u8>,
    sink: Option<LogSink>,
    write_errors: u64,
}

impl State {
    /// Adds `entry` to the log and the file; a write failure is counted, never returned.
    fn store(&mut self, entry: LogEntry) {
        let appended = !self.dirty && self.append_line(&entry).is_ok();
        self.entries.push_back(entry);
        self.trim_memory();
        if appended {
            self.lines_on_disk += 1;
        }
        let max_length = self.config.max_length;
        let full = self.lines_on_disk >= max_lines_on_disk(max_length);
        let compacted = (!appended || full) && self.compact(Durability::CrashSafe).is_ok();
        if !appended && !compacted {
            self.write_errors += 1;
        }
    }

    /// Appends one NDJSON line with a single write.
    fn append_line(&mut self, entry: &LogEntry) -> std::io::Result<()> {
        self.line_buf.clear();
        encode_line(entry, &mut self.line_buf);
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&self.path)?,
            ),
        };
        file.write_all(&self.line_buf)
    }

    fn trim_memory(&mut self) {
        while self.entries.len() > self.config.max_length {
            self.entries.pop_front();
        }
    }

    /// Whether the file differs from the log (more lines, or unknown content).
    fn needs_compaction(&self) -> bool {
        self.dirty || self.lines_on_disk != self.entries.len()
    }

    /// Atomically rewrites the file with exactly the log.
    fn compact(&mut self, durability: Durability) -> Result<()> {
        // The append handle would point at the replaced file.
        self.file = None;
        let mut bytes = Vec::new();
        for entry in &self.entries {
            encode_line(entry, &mut bytes);
        }
        let result = match durability {
            Durability::CrashSafe => write_atomic_unsynced(&self.path, &bytes),
            Durability::PowerLossSafe => write_atomic(&self.path, &bytes),
        };
        self.dirty = result.is_err();
        if result.is_ok() {
            self.lines_on_disk = self.entries.len();
        }
        result
    }

    /// Makes `entries` the log, in memory and on disk; on failure the log is unchanged.
    fn replace_entries(&mut self, entries: VecDeque<LogEntry>) -> Result<()> {
        let old = std::mem::replace(&mut self.entries, entries);
        let result = self.compact(Durability::PowerLossSafe);
        if result.is_err() {
            self.entries = old;
        }
        result
    }
}

/// How hard a rewrite of log.json tries to survive.
#[derive(Clone, Copy)]
enum Durability {
    /// Survives a process crash (temp file + rename): for the frequent compactions while logging.
    CrashSafe,
    /// Also survives a power loss (fsyncs): for flush, replace and the final trim.
    PowerLossSafe,
}

impl Drop for State {
    /// Best-effort trim of the file to exactly the log when the last handle goes.
    fn drop(&mut self) {
        if self.needs_compaction() {
            let _ = self.compact(Durability::PowerLossSafe);
        }
    }
}

fn normalized(config: LoggerConfig) -> LoggerConfig {
    LoggerConfig {
        max_length: config.max_length.max(1),
        ..config
    }
}

/// Appends `entry` as one JSON line to `buf`.
fn encode_line(entry: &LogEntry, buf: &mut Vec<u8>) {
    entry.write_json(buf);
    buf.push(b'\n');
}

/// Entries read from a log file.
struct Parsed {
    entries: Vec<LogEntry>,
    /// Newline-terminated lines in the file (meaningful when `clean`).
    lines: usize,
    /// The file is exactly NDJSON of `entries`, every line newline-terminated.
    clean: bool,
}

/// Reads NDJSON or a legacy JSON array. `strict` refuses any invalid line; otherwise invalid lines (a
/// half-written last line after a crash) are skipped and the file is marked for rewriting.
fn parse_log(bytes: &[u8], source: &Path, strict: bool) -> Result<Parsed> {
    let invalid = |reason: String| Error::InvalidJson {
        source_name: source.display().to_string(),
        reason,
    };
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        let entries: Vec<LogEntry> = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not a JSON array of log entries: {e}")))?;
        return Ok(Parsed {
            entries,
            lines: 0,
            clean: false,
        });
    }
    let mut parsed = Parsed {
        entries: Vec::new(),
        lines: 0,
        clean: bytes.is_empty() || bytes.ends_with(b"\n"),
    };
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(entry) => parsed.entries.push(entry),
            Err(e) if strict => {
                return Err(invalid(format!(
                    "line {} is not a log entry: {e}",
                    index + 1
                )));
            }
            Err(_) => parsed.clean = false,
        }
    }
    parsed.lines = bytes.iter().filter(|&&b| b == b'\n').count();
    parsed.clean &= parsed.lines == parsed.entries.len();
    Ok(parsed)
}

/// `t` as ISO 8601 UTC with microseconds and `+00:00`, the form of Python's `datetime.isoformat()`.
/// A clock before 1970 (unset device clock) reads as the epoch.
fn utc_timestamp(t: SystemTime) -> String {
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let second_of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
        since_epoch.subsec_micros()
    )
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm,
/// restricted to days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> String {
        utc_timestamp(UNIX_EPOCH + Duration::new(secs, micros * 1000 + 999))
    }

    #[test]
    fn formats_known_instants_like_python_isoformat() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(at(1_762_976_453, 123), "2025-11-12T19:40:53.000123+00:00");
        // 2000 is a leap year (divisible by 400), 2024 an ordinary one, 2100 is not a leap year.
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00.000000+00:00");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999+00:00");
        assert_eq!(at(1_709_164_800, 0), "2024-02-29T00:00:00.000000+00:00");
        assert_eq!(at(1_735_689_599, 0), "2024-12-31T23:59:59.000000+00:00");
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59.000000+00:00");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000+00:00");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000+00:00");
    }

    #[test]
    fn clock_before_the_epoch_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(utc_timestamp(before), "1970-01-01T00:00:00.000000+00:00");
    }
}

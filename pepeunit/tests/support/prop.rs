//! A small deterministic property runner for hostile inputs: a seeded splitmix64 generator, mutations
//! of valid inputs (bit flips, byte stores, truncation, deletion, insertion, duplication; JSON values
//! swapped for values of other types) and a bounded loop that runs fixed cases first, then random ones.
//!
//! Every run prints one line per property (cases run, seed, time). A failure names the property, the
//! case, the seed and the input; `PEPEUNIT_PROP_SEED=<seed>` replays the run, `PEPEUNIT_PROP_SCALE=<n>`
//! multiplies the random cases for a longer hunt.

use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// The seed when `PEPEUNIT_PROP_SEED` is unset: runs are reproducible by default.
const DEFAULT_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// A property stops drawing random cases after this long (it says so), so a slow machine stays bounded.
const TIME_BUDGET: Duration = Duration::from_secs(60);

/// splitmix64: tiny, fast, and every seed gives a full-period stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The run's seed: `PEPEUNIT_PROP_SEED` (decimal or `0x` hex) or the fixed default.
pub fn seed() -> u64 {
    let Ok(text) = std::env::var("PEPEUNIT_PROP_SEED") else {
        return DEFAULT_SEED;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("PEPEUNIT_PROP_SEED={text} is not a number"))
}

/// `cases` random cases, times `PEPEUNIT_PROP_SCALE` when set.
fn scaled(cases: usize) -> usize {
    let scale = std::env::var("PEPEUNIT_PROP_SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1);
    cases * scale
}

/// Bytes that parsers treat specially.
const INTERESTING: &[u8] = &[
    0, 0xff, 0x7f, 0x80, b'"', b'{', b'}', b'[', b'.', b'\\', b'\n', b'/',
];

/// `input` with one to four random edits; some of them change the length.
pub fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = if rng.below(2) == 0 {
                    *rng.pick(INTERESTING)
                } else {
                    rng.next_u64() as u8
                };
            }
            2 => out.truncate(rng.below(len + 1)),
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                out.drain(from..to);
            }
            4 => {
                let at = rng.below(len + 1);
                let count = 1 + rng.below(16);
                let extra = rng.bytes(count);
                out.splice(at..at, extra);
            }
            5 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                let copy = out[from..to].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            // A run of the same byte: lengths, counts and offsets of binary formats go huge or zero.
            _ if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(8)).min(len);
                let byte = if rng.below(2) == 0 { 0xff } else { 0 };
                out[at..end].fill(byte);
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out
}

/// A JSON value of a random type, sometimes extreme (huge numbers, empty or odd strings, nesting).
pub fn any_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(*rng.pick(&[0i64, -1, 1, i64::MIN, i64::MAX, 65536, 1_000_000_000_000])),
        3 => json!(*rng.pick(&[0.5f64, -0.0, 1e300, -1e-300, 3.0])),
        4 => json!(u64::MAX),
        5 => Value::String(
            rng.pick(&[
                "",
                " ",
                "0",
                "-1",
                "1e3",
                "true",
                "null",
                "é\u{0}\u{ffff}",
                "../x",
                "a/b/c/d/e/f",
            ])
            .to_string(),
        ),
        6 => Value::Array(
            (0..rng.below(3))
                .map(|_| any_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut object = Map::new();
            for i in 0..rng.below(3) {
                object.insert(format!("k{i}"), any_value(rng, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// `value` with one to three structural edits: a value replaced by one of another type, a key removed
/// or added, an array emptied; they reach nested objects and arrays too.
pub fn mutate_json(rng: &mut Rng, value: &Value) -> Value {
    let mut out = value.clone();
    for _ in 0..1 + rng.below(3) {
        edit_somewhere(rng, &mut out, 0);
    }
    out
}

fn edit_somewhere(rng: &mut Rng, value: &mut Value, depth: usize) {
    let descend = rng.below(3) != 0;
    match value {
        Value::Object(object) if !object.is_empty() => {
            let key = object.keys().nth(rng.below(object.len())).cloned();
            let Some(key) = key else { return };
            match rng.below(6) {
                0 => {
                    object.remove(&key);
                }
                1 => {
                    object.insert(format!("X{}", rng.below(100)), any_value(rng, depth));
                }
                _ if descend => edit_somewhere(rng, &mut object[&key], depth + 1),
                _ => object[&key] = any_value(rng, depth),
            }
        }
        Value::Array(items) if !items.is_empty() => match rng.below(4) {
            0 => items.clear(),
            1 => items.push(any_value(rng, depth)),
            _ => {
                let at = rng.below(items.len());
                if descend {
                    edit_somewhere(rng, &mut items[at], depth + 1);
                } else {
                    items[at] = any_value(rng, depth);
                }
            }
        },
        _ => *value = any_value(rng, depth),
    }
}

/// A property: what it is called, its fixed cases (the known malformed corpus and valid seeds) and how
/// many random cases to draw.
pub struct Property<'a, I> {
    pub name: &'a str,
    pub fixed: Vec<I>,
    pub random: usize,
}

/// What a checked case came to: accepted or refused (both fine, the property decides which), or
/// pending when the outcome is checked after the run (payloads sent to a running unit).
pub enum Verdict {
    Accepted,
    Refused,
    Pending,
}

impl<I: Debug> Property<'_, I> {
    /// Runs `check` on every fixed case, then on `random` inputs drawn by `generate`, each from its own
    /// generator (seeded from the run's seed and the case number, so one case replays alone). A panic
    /// or an `Err` from `check` fails the test, naming the case, the seed and the input. Returns the
    /// number of cases run.
    pub fn run(
        self,
        mut generate: impl FnMut(&mut Rng) -> I,
        mut check: impl FnMut(&I) -> Result<Verdict, String>,
    ) -> usize {
        let seed = seed();
        let started = Instant::now();
        let fixed = self.fixed.len();
        let random = scaled(self.random);
        let mut refused = 0;
        let mut pending = 0;
        let mut cases = 0;
        let mut out_of_time = false;
        let inputs = self
            .fixed
            .into_iter()
            .map(Some)
            .chain((0..random).map(|_| None));
        for (index, fixed_input) in inputs.enumerate() {
            if fixed_input.is_none() && started.elapsed() > TIME_BUDGET {
                out_of_time = true;
                break;
            }
            let case_seed = seed ^ (index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93);
            let input = fixed_input.unwrap_or_else(|| generate(&mut Rng::new(case_seed)));
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
            let failure = match outcome {
                Ok(Ok(Verdict::Refused)) => {
                    refused += 1;
                    None
                }
                Ok(Ok(Verdict::Pending)) => {
                    pending += 1;
                    None
                }
                Ok(Ok(Verdict::Accepted)) => None,
                Ok(Err(why)) => Some(why),
                // The panic hook has printed the message and location above.
                Err(_) => Some("panicked (see the message above)".to_owned()),
            };
            if let Some(why) = failure {
                let kind = if index < fixed { "fixed" } else { "random" };
                let shown = format!("{input:?}");
                let shown: String = shown.chars().take(600).collect();
                panic!(
                    "property {}: {kind} case {index} failed: {why}\n  replay: PEPEUNIT_PROP_SEED={seed:#x}\n  input: {shown}",
                    self.name
                );
            }
            cases += 1;
        }
        println!(
            "property {}: {cases} cases ({fixed} fixed + {} random), {}, seed {seed:#x}, {} ms{}",
            self.name,
            cases - fixed,
            if pending > 0 {
                format!("{pending} checked after the run")
            } else {
                format!("{refused} refused")
            },
            started.elapsed().as_millis(),
            if out_of_time {
                " (stopped at the time budget)"
            } else {
                ""
            }
        );
        cases
    }
}

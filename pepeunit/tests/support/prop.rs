//! Hostile inputs on proptest: strategies that edit valid inputs (bit flips, byte stores, truncation,
//! deletion, insertion, duplication, runs of 0x00/0xff; in JSON, values swapped for values of other
//! types, keys removed or added, arrays emptied or grown, at any depth), and [`Property::run`], which
//! checks a property's fixed cases (the known malformed corpus and valid seeds), then proptest's
//! random ones.
//!
//! A failing random case is shrunk (fewer and smaller edits, simpler values) and its seed is saved in
//! `tests/<test file>.proptest-regressions`, which is committed: every later run replays it first.
//! `PROPTEST_CASES=<n>` sets every property's random case count for a longer hunt,
//! `PROPTEST_RNG_SEED=<n>` fixes the seed (random per run otherwise).

use std::cell::Cell;
use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use serde_json::{Map, Value, json};

/// Bytes that parsers treat specially.
const INTERESTING: &[u8] = &[
    0, 0xff, 0x7f, 0x80, b'"', b'{', b'}', b'[', b'.', b'\\', b'\n', b'/',
];

/// Strings that parsers of numbers, booleans, paths and text treat specially.
const ODD_STRINGS: &[&str] = &[
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
];

/// One edit of a byte string. Positions are drawn as [`Index`]es, made concrete against the length
/// the input has when the edit applies; an edit that needs a byte of an empty input appends one.
#[derive(Debug, Clone)]
pub enum Edit {
    FlipBit {
        at: Index,
        bit: u8,
    },
    Store {
        at: Index,
        byte: u8,
    },
    Truncate {
        at: Index,
    },
    Delete {
        at: Index,
        len: usize,
    },
    Insert {
        at: Index,
        bytes: Vec<u8>,
    },
    Duplicate {
        from: Index,
        len: usize,
        at: Index,
    },
    /// A run of the same byte: lengths, counts and offsets of binary formats go huge or zero.
    Fill {
        at: Index,
        len: usize,
        byte: u8,
    },
}

impl Edit {
    fn apply(&self, out: &mut Vec<u8>) {
        let len = out.len();
        if len == 0 {
            match *self {
                Edit::FlipBit { bit, .. } => out.push(1 << bit),
                Edit::Store { byte, .. } | Edit::Fill { byte, .. } => out.push(byte),
                Edit::Delete { .. } | Edit::Duplicate { .. } => out.push(0),
                Edit::Truncate { .. } => {}
                Edit::Insert { ref bytes, .. } => out.extend_from_slice(bytes),
            }
            return;
        }
        match self {
            Edit::FlipBit { at, bit } => out[at.index(len)] ^= 1 << bit,
            Edit::Store { at, byte } => out[at.index(len)] = *byte,
            Edit::Truncate { at } => out.truncate(at.index(len + 1)),
            Edit::Delete { at, len: count } => {
                let from = at.index(len);
                out.drain(from..(from + count).min(len));
            }
            Edit::Insert { at, bytes } => {
                let at = at.index(len + 1);
                out.splice(at..at, bytes.iter().copied());
            }
            Edit::Duplicate {
                from,
                len: count,
                at,
            } => {
                let from = from.index(len);
                let copy = out[from..(from + count).min(len)].to_vec();
                let at = at.index(len + 1);
                out.splice(at..at, copy);
            }
            Edit::Fill {
                at,
                len: count,
                byte,
            } => {
                let at = at.index(len);
                out[at..(at + count).min(len)].fill(*byte);
            }
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![select(INTERESTING), any::<u8>()];
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Edit::FlipBit { at, bit }),
        (any::<Index>(), byte).prop_map(|(at, byte)| Edit::Store { at, byte }),
        any::<Index>().prop_map(|at| Edit::Truncate { at }),
        (any::<Index>(), 1..=16usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<Index>(), vec(any::<u8>(), 1..=16))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<Index>(), 1..=64usize, any::<Index>()).prop_map(|(from, len, at)| Edit::Duplicate {
            from,
            len,
            at
        }),
        (
            any::<Index>(),
            1..=8usize,
            prop_oneof![Just(0u8), Just(0xff)]
        )
            .prop_map(|(at, len, byte)| Edit::Fill { at, len, byte }),
    ]
}

/// One of `seeds` with one to four edits; some of them change the length.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (select(seeds), vec(edit(), 1..=4)).prop_map(|(mut bytes, edits)| {
        for edit in &edits {
            edit.apply(&mut bytes);
        }
        bytes
    })
}

/// [`mutated`] for text parsers: the edited bytes as text, invalid UTF-8 as replacement characters.
pub fn mutated_text(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let seeds = seeds.into_iter().map(String::into_bytes).collect();
    mutated(seeds).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// A JSON value of any type, sometimes extreme (huge numbers, empty or odd strings, nesting).
pub fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        select(&[0i64, -1, 1, i64::MIN, i64::MAX, 65536, 1_000_000_000_000][..])
            .prop_map(|n| json!(n)),
        select(&[0.5f64, -0.0, 1e300, -1e-300, 3.0][..]).prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        select(ODD_STRINGS).prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            vec(inner, 0..3).prop_map(|items| {
                let keyed = items.into_iter().enumerate();
                Value::Object(
                    keyed
                        .map(|(i, v)| (format!("k{i}"), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// What a [`JsonEdit`] does where it lands.
#[derive(Debug, Clone)]
enum JsonOp {
    /// The value there becomes the edit's value.
    Replace,
    /// In an object: one key removed.
    RemoveKey(Index),
    /// In an object: a key `X<n>` added with the edit's value.
    AddKey(u8),
    /// In an array: emptied.
    Clear,
    /// In an array: the edit's value appended.
    Push,
}

/// A structural edit: walks down `path` (each step picks a member of a non-empty object or array),
/// then applies `op`; an op that does not fit the value found replaces it with `value`.
#[derive(Debug, Clone)]
pub struct JsonEdit {
    path: Vec<Index>,
    op: JsonOp,
    value: Value,
}

impl JsonEdit {
    fn apply(&self, root: &mut Value) {
        let node = descend(root, &self.path);
        match (&self.op, &mut *node) {
            (JsonOp::RemoveKey(which), Value::Object(object)) if !object.is_empty() => {
                let key = object.keys().nth(which.index(object.len())).cloned();
                if let Some(key) = key {
                    object.remove(&key);
                }
            }
            (JsonOp::AddKey(n), Value::Object(object)) => {
                object.insert(format!("X{}", n % 100), self.value.clone());
            }
            (JsonOp::Clear, Value::Array(items)) => items.clear(),
            (JsonOp::Push, Value::Array(items)) => items.push(self.value.clone()),
            _ => *node = self.value.clone(),
        }
    }
}

/// The value `path` leads to from `node`, stopping early at a scalar or an empty container.
fn descend<'a>(node: &'a mut Value, path: &[Index]) -> &'a mut Value {
    let Some((step, rest)) = path.split_first() else {
        return node;
    };
    let len = match node {
        Value::Object(object) => object.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if len == 0 {
        return node;
    }
    let at = step.index(len);
    let child = match node {
        Value::Object(object) => object.values_mut().nth(at),
        Value::Array(items) => items.get_mut(at),
        _ => None,
    };
    descend(child.expect("a member below the length"), rest)
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let op = prop_oneof![
        Just(JsonOp::Replace),
        any::<Index>().prop_map(JsonOp::RemoveKey),
        any::<u8>().prop_map(JsonOp::AddKey),
        Just(JsonOp::Clear),
        Just(JsonOp::Push),
    ];
    (vec(any::<Index>(), 0..4), op, any_value()).prop_map(|(path, op, value)| JsonEdit {
        path,
        op,
        value,
    })
}

/// One of `seeds` with one to three structural edits.
pub fn mutated_json(seeds: Vec<Value>) -> impl Strategy<Value = Value> {
    (select(seeds), vec(json_edit(), 1..=3)).prop_map(|(mut value, edits)| {
        for edit in &edits {
            edit.apply(&mut value);
        }
        value
    })
}

/// A property: what it is called, its fixed cases (the known malformed corpus and valid seeds) and how
/// many random cases proptest draws.
pub struct Property<'a, I> {
    pub name: &'a str,
    pub fixed: Vec<I>,
    pub random: u32,
}

/// What a checked case came to: accepted or refused (both fine, the property decides which), or
/// pending when the outcome is checked after the run (payloads sent to a running unit).
pub enum Verdict {
    Accepted,
    Refused,
    Pending,
}

impl<I: Debug> Property<'_, I> {
    /// Runs `check` on every fixed case, then on proptest's random cases from `strategy`, failures
    /// persisted beside `source_file` (the test's `file!()`). A panic or an `Err` from `check` fails
    /// the test, naming the property and the input (a random one shrunk first). Returns the number of
    /// cases run.
    pub fn run<S: Strategy<Value = I>>(
        self,
        source_file: &'static str,
        strategy: S,
        check: impl Fn(&I) -> Result<Verdict, String>,
    ) -> usize {
        let started = Instant::now();
        let (refused, pending, cases) = (Cell::new(0), Cell::new(0), Cell::new(0));
        let counted = |input: &I| {
            let verdict = check(input)?;
            match verdict {
                Verdict::Refused => refused.set(refused.get() + 1),
                Verdict::Pending => pending.set(pending.get() + 1),
                Verdict::Accepted => {}
            }
            cases.set(cases.get() + 1);
            Ok(())
        };
        let fixed = self.fixed.len();
        for (index, input) in self.fixed.iter().enumerate() {
            let failure = match panic::catch_unwind(AssertUnwindSafe(|| counted(input))) {
                Ok(Ok(())) => continue,
                Ok(Err(why)) => why,
                // The panic hook has printed the message and location above.
                Err(_) => "panicked (see the message above)".to_owned(),
            };
            panic!(
                "property {}: fixed case {index} failed: {failure}\n  input: {}",
                self.name,
                shown(input)
            );
        }
        let mut runner = TestRunner::new(config(self.random, source_file));
        let outcome = runner.run(&strategy, |input| {
            counted(&input).map_err(TestCaseError::fail)
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => panic!(
                "property {}: random case failed: {why}\n  minimal input: {}",
                self.name,
                shown(&input)
            ),
            Err(TestError::Abort(why)) => panic!("property {}: aborted: {why}", self.name),
        }
        let cases = cases.get();
        println!(
            "property {}: {cases} cases ({fixed} fixed + {} random), {}, {} ms",
            self.name,
            cases - fixed,
            match pending.get() {
                0 => format!("{} refused", refused.get()),
                n => format!("{n} checked after the run"),
            },
            started.elapsed().as_millis(),
        );
        cases
    }
}

/// `random` cases (or `PROPTEST_CASES`), failures persisted as `<source_file>.proptest-regressions`.
fn config(random: u32, source_file: &'static str) -> Config {
    let defaults = Config::default();
    let cases = match std::env::var_os("PROPTEST_CASES") {
        Some(_) => defaults.cases,
        None => random,
    };
    Config {
        cases,
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..defaults
    }
}

/// An input as a failure shows it: its `Debug`, cut at 600 characters.
fn shown(input: &impl Debug) -> String {
    format!("{input:?}").chars().take(600).collect()
}

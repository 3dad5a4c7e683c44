//! Compile-time behaviour of the macros: the precise error of each mistake, pinned by trybuild
//! (`ui/fail`, `ui/examples`). What must compile (`ui/pass`) is a test target of this crate each (see
//! Cargo.toml), built with the workspace and run by cargo test, so no case ever runs a unit; with only
//! compile_fail cases, trybuild's build of the dependencies is a `cargo check` and the cases are checked
//! in one cargo run.
//!
//! The `ui/examples` cases are compiled against the `schema_example.json` and `env_example.json` of
//! their directory, which the macros are pointed at with `PEPEUNIT_UNIT_DIR`; the other cases see no
//! example files (trybuild compiles them in its generated project, which has none). The error of a
//! flag whose feature is off cannot be reached here (this crate's `pepeunit` has those features): the
//! macro crate's unit tests cover it.

use std::path::Path;

/// The directory the macros read a unit's files from (see `pepeunit-macros/src/unit_dir.rs`).
const UNIT_DIR: &str = "PEPEUNIT_UNIT_DIR";

#[test]
fn ui() {
    every_pass_case_is_a_target();
    // SAFETY (both calls): this is the binary's only test and nothing else in the process touches the
    // environment while it runs; trybuild's cargo children get a copy of it.
    unsafe { std::env::remove_var(UNIT_DIR) };
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui/examples");
    unsafe { std::env::set_var(UNIT_DIR, examples) };
    trybuild::TestCases::new().compile_fail("tests/ui/examples/*.rs");
}

/// A pass case that Cargo.toml does not list would never be compiled.
fn every_pass_case_is_a_target() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let mut cases: Vec<String> = std::fs::read_dir(crate_dir.join("tests/ui/pass"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no pass case found");
    for case in cases {
        let path = format!("path = \"tests/ui/pass/{case}\"");
        assert!(
            manifest.contains(&path),
            "tests/ui/pass/{case} is not a test target: add to ui/Cargo.toml\n\n[[test]]\nname = \"{}\"\n{path}\nharness = false\n",
            case.trim_end_matches(".rs")
        );
    }
}

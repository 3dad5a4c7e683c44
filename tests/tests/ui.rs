//! Compile-time behaviour of the macros, pinned by trybuild: what compiles (`ui/pass`, executed, so no
//! case ever runs a unit), and the precise error of each mistake (`ui/fail`, `ui/schema`).
//!
//! `ui/schema` cases are compiled with a `schema_example.json` in the crate directory, which for
//! trybuild is its generated project (`<target>/tests/trybuild/pepeunit-tests`); the other cases
//! without one. The error of a flag whose feature is off cannot be reached here (this crate's
//! `pepeunit` has both features): the macro crate's unit tests cover it.

use std::path::PathBuf;

/// `schema_example.json` of trybuild's project directory.
fn schema_example() -> PathBuf {
    // target/debug/deps/ui-… → target
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    target.join("tests/trybuild/pepeunit-tests/schema_example.json")
}

#[test]
fn ui() {
    let schema = schema_example();
    let _ = std::fs::remove_file(&schema);
    {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/pass/*.rs");
        cases.compile_fail("tests/ui/fail/*.rs");
    }
    std::fs::create_dir_all(schema.parent().unwrap()).unwrap();
    std::fs::write(&schema, include_str!("ui/schema_example.json")).unwrap();
    trybuild::TestCases::new().compile_fail("tests/ui/schema/*.rs");
    std::fs::remove_file(&schema).unwrap();
}

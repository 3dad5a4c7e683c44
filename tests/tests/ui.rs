//! Compile-time behaviour of the macros, pinned by trybuild: what compiles (`ui/pass`, executed, so no
//! case ever runs a unit), and the precise error of each mistake (`ui/fail`, `ui/schema`).
//!
//! `ui/examples` cases are compiled with the `schema_example.json` and `env_example.json` of that
//! directory in the crate directory, which for trybuild is its generated project
//! (`<target>/tests/trybuild/pepeunit-tests`); the other cases without them. The error of a flag whose feature is off cannot be reached here (this crate's
//! `pepeunit` has both features): the macro crate's unit tests cover it.

use std::path::PathBuf;

const EXAMPLES: [(&str, &str); 2] = [
    (
        "schema_example.json",
        include_str!("ui/examples/schema_example.json"),
    ),
    (
        "env_example.json",
        include_str!("ui/examples/env_example.json"),
    ),
];

/// trybuild's project directory.
fn project_dir() -> PathBuf {
    // target/debug/deps/ui-… → target
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    target.join("tests/trybuild/pepeunit-tests")
}

#[test]
fn ui() {
    let project = project_dir();
    for (name, _) in EXAMPLES {
        let _ = std::fs::remove_file(project.join(name));
    }
    {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/pass/*.rs");
        cases.compile_fail("tests/ui/fail/*.rs");
    }
    std::fs::create_dir_all(&project).unwrap();
    for (name, text) in EXAMPLES {
        std::fs::write(project.join(name), text).unwrap();
    }
    {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/examples/pass/*.rs");
        cases.compile_fail("tests/ui/examples/*.rs");
    }
    for (name, _) in EXAMPLES {
        std::fs::remove_file(project.join(name)).unwrap();
    }
}

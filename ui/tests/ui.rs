//! Compile-time behaviour of the macros, pinned by trybuild: what compiles (`ui/pass`, executed, so no
//! case ever runs a unit), and the precise error of each mistake (`ui/fail`, `ui/examples`).
//!
//! The `ui/examples` cases are compiled against the `schema_example.json` and `env_example.json` of
//! their directory, which the macros are pointed at with `PEPEUNIT_UNIT_DIR`; the other cases see no
//! example files (trybuild compiles them in its generated project, which has none). The error of a
//! flag whose feature is off cannot be reached here (this crate's `pepeunit` has those features): the
//! macro crate's unit tests cover it.

/// The directory the macros read a unit's files from (see `pepeunit-macros/src/unit_dir.rs`).
const UNIT_DIR: &str = "PEPEUNIT_UNIT_DIR";

#[test]
fn ui() {
    // SAFETY (every call): this is the binary's only test and nothing else in the process touches the
    // environment while it runs; trybuild's cargo children get a copy of it.
    unsafe { std::env::remove_var(UNIT_DIR) };
    // The cases are compiled, run once and never debugged: without debuginfo, trybuild's build of the
    // dependencies and each case's link take far less.
    unsafe { std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "false") };
    {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/pass/*.rs");
        cases.compile_fail("tests/ui/fail/*.rs");
    }
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui/examples");
    unsafe { std::env::set_var(UNIT_DIR, examples) };
    {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/examples/pass/*.rs");
        cases.compile_fail("tests/ui/examples/*.rs");
    }
}

//! Where the macros read the unit crate's own files at compile time (`schema_example.json`,
//! `env_example.json`, files that `main`'s options name): the crate's directory, or
//! `PEPEUNIT_UNIT_DIR` when it is set (a relative path is taken from the crate's directory).
//!
//! The variable is for harnesses that compile a unit's source inside a crate of their own making:
//! trybuild compiles every case in its generated project, so the UI tests point the macros at their
//! example files with it instead of writing into that project.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

/// The variable that moves the unit's directory.
const VARIABLE: &str = "PEPEUNIT_UNIT_DIR";

/// The path of `name` in the unit's directory; `None` outside cargo (no `CARGO_MANIFEST_DIR`).
pub(crate) fn file(name: &str) -> Option<PathBuf> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let dir = match std::env::var_os(VARIABLE) {
        Some(dir) => manifest_dir.join(Path::new(&dir)),
        None => manifest_dir,
    };
    Some(dir.join(name))
}

/// Makes cargo rebuild the unit when the variable is set, changed or unset: rustc records the
/// `option_env!` read as an input of the crate, which a proc macro's own read is not.
pub(crate) fn track() -> TokenStream {
    quote!(
        const _: ::core::option::Option<&str> = ::core::option_env!(#VARIABLE);
    )
}

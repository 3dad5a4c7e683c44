//! The unit crate's `schema_example.json` (at `CARGO_MANIFEST_DIR`), read at compile time to check
//! `#[input]` names and the `rest` flag against it.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::Value;

/// The sections of `schema_example.json` the macros check against.
pub(crate) struct SchemaExample {
    path: PathBuf,
    /// `input_base_topic`: the platform commands the unit takes.
    pub(crate) input_base_topic: Vec<String>,
    /// `input_topic`: the developer's input names.
    pub(crate) input_topic: Vec<String>,
}

impl SchemaExample {
    /// The crate's file, `Ok(None)` when it has none; an unreadable or invalid file is an error.
    pub(crate) fn load() -> syn::Result<Option<SchemaExample>> {
        let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
            return Ok(None);
        };
        let path = PathBuf::from(dir).join("schema_example.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(error(format!("cannot read {}: {e}", path.display()))),
        };
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| error(format!("{} is not valid JSON: {e}", path.display())))?;
        let names = |section: &str| -> syn::Result<Vec<String>> {
            match json.get(section) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(name) => Ok(name.clone()),
                        _ => Err(error(format!(
                            "{}: `{section}` must list strings",
                            path.display()
                        ))),
                    })
                    .collect(),
                Some(_) => Err(error(format!(
                    "{}: `{section}` must be a list",
                    path.display()
                ))),
            }
        };
        Ok(Some(SchemaExample {
            input_base_topic: names("input_base_topic")?,
            input_topic: names("input_topic")?,
            path,
        }))
    }

    /// Makes cargo rebuild the unit when the file changes.
    pub(crate) fn track(&self) -> TokenStream {
        let path = self.path.to_string_lossy();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    }
}

fn error(message: String) -> syn::Error {
    syn::Error::new(Span::call_site(), message)
}

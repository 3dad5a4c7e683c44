//! JSON text as the backend's Python `json.dumps` writes it: `", "` and `": "` separators and non-ASCII
//! escaped as `\uXXXX`, so commands and backend-1.0 bodies are byte-for-byte what a real instance sends.

use std::io;

use serde_json::Value;
use serde_json::ser::{Formatter, Serializer};

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?; // ok: ASCII fits one byte
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` as Python's `json.dumps(value)` text.
pub(crate) fn dumps(value: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    // Serializing a Value into a Vec cannot fail, and the formatter writes ASCII only.
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_python_separators_and_ascii_escapes() {
        let value = serde_json::json!({"COMMAND": "EnvUpdate", "list": [1, "é😀"]});
        assert_eq!(
            dumps(&value),
            r#"{"COMMAND": "EnvUpdate", "list": [1, "\u00e9\ud83d\ude00"]}"#
        );
    }
}

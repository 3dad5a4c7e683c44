//! Declared outputs: what an output function returns becomes the payload published to its
//! `output_topic` name, through [`IntoPayload`].

use std::fmt;

use bytes::Bytes;
use serde::Serialize;

use super::extract::Json;

/// A value an output function may return to have it published.
///
/// Implemented for the integer and float types and `bool` (their text: `21.5`, `true`), `String` and
/// `&'static str`, [`Json<T>`] (`T` serialized), `Vec<u8>` and [`Bytes`] (as they are),
/// `Option<T>` (`None`: nothing is published this time) and `Result<T, E: Display>` (`Err`: logged as
/// the function's failure, nothing published). Implement it for a type of your own to return it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be published by a `#[pepeunit::output]` function",
    label = "`{Self}` does not implement `pepeunit::IntoPayload`",
    note = "an output may return a number, `bool`, `String`, `&'static str`, `Json<T>`, `Vec<u8>`, \
            `Bytes`, `Option<T>` (None: nothing this time) or `Result<T, E: Display>`; \
            or implement `pepeunit::IntoPayload` for your type"
)]
pub trait IntoPayload: Send + 'static {
    /// The bytes to publish, `Ok(None)` to publish nothing this time, or the failure to log.
    fn into_payload(self) -> Result<Option<Bytes>, String>;
}

impl IntoPayload for String {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        Ok(Some(Bytes::from(self)))
    }
}

impl IntoPayload for &'static str {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        Ok(Some(Bytes::from_static(self.as_bytes())))
    }
}

impl IntoPayload for Vec<u8> {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        Ok(Some(Bytes::from(self)))
    }
}

impl IntoPayload for Bytes {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        Ok(Some(self))
    }
}

impl<T: Serialize + Send + 'static> IntoPayload for Json<T> {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        serde_json::to_vec(&self.0)
            .map(|json| Some(Bytes::from(json)))
            .map_err(|e| format!("cannot serialize the value as JSON: {e}"))
    }
}

impl<T: IntoPayload> IntoPayload for Option<T> {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        self.map_or(Ok(None), IntoPayload::into_payload)
    }
}

impl<T: IntoPayload, E: fmt::Display + Send + 'static> IntoPayload for Result<T, E> {
    fn into_payload(self) -> Result<Option<Bytes>, String> {
        self.map_err(|e| e.to_string())?.into_payload()
    }
}

/// Numbers and `bool` as their text.
macro_rules! display_payload {
    ($($t:ty),*) => {$(
        impl IntoPayload for $t {
            fn into_payload(self) -> Result<Option<Bytes>, String> {
                Ok(Some(Bytes::from(self.to_string())))
            }
        }
    )*};
}

display_payload!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool
);

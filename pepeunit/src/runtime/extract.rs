//! Typed inputs: what an `#[pepeunit::input]` function's arguments are made from. Each argument type
//! implements [`FromMessage`]; a message one of them cannot be made from is [`Rejected`] — logged at
//! `Warning` and skipped, never an error of the unit (a linked unit or a person sent something else).

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::Message;
use crate::client::PepeunitClient;
use crate::json::read_text_as;
use crate::settings::short_type_name;

/// Longest part of a payload quoted in a rejection: enough to recognise it, never a whole large one.
const QUOTED_PAYLOAD: usize = 32;

/// A value an input function's argument is made from: the unit, the message or its payload.
///
/// Implemented for [`PepeunitClient`], [`Message`], [`Topic`], `&str` and `String` (UTF-8 text),
/// the integer and float types and `bool` (the trimmed text, read by the rules of env values: `7`,
/// `"7"`, `2.5`, `true`), [`Json<T>`], and the raw bytes as `&[u8]`, `Vec<u8>` or [`Bytes`]. Implement
/// it for a type of your own to take it as an argument; return [`Rejected`] for a payload that is not
/// one (it is logged and the function is not called).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a `#[pepeunit::input]` function",
    label = "not made from a message: `{Self}` does not implement `pepeunit::FromMessage`",
    note = "an input takes any of: `PepeunitClient`, `Message`, `Topic`, `&str`, `String`, a number, \
            `bool`, `Json<T>`, `&[u8]`, `Vec<u8>`, `Bytes`; or implement `pepeunit::FromMessage` for your type"
)]
pub trait FromMessage<'a>: Sized {
    /// Makes the value from `message` (which arrived for `unit`), or says why it cannot.
    fn from_message(unit: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected>;
}

/// Makes an input argument of type `T` (what `#[pepeunit::input]` calls for each argument).
pub fn extract<'a, T: FromMessage<'a>>(
    unit: &'a PepeunitClient,
    message: &'a Message,
) -> Result<T, Rejected> {
    T::from_message(unit, message)
}

/// Why a message could not be made into an argument: the expected type and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    expected: String,
    reason: String,
}

impl Rejected {
    /// A rejection of a message that is not a `T`, for `reason` (quote at most a short part of the
    /// payload: [`Rejected::quote`]).
    pub fn new<T>(reason: impl Into<String>) -> Self {
        Rejected {
            expected: short_type_name::<T>(),
            reason: reason.into(),
        }
    }

    /// The payload as it may appear in a reason: its first 32 characters (lossy UTF-8), with the
    /// total size when it is longer.
    pub fn quote(payload: &[u8]) -> String {
        let text = String::from_utf8_lossy(payload);
        match text.char_indices().nth(QUOTED_PAYLOAD) {
            Some((end, _)) => format!("`{}…` ({} bytes)", &text[..end], payload.len()),
            None => format!("`{text}`"),
        }
    }

    /// The type the argument has.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// Why the message is not one.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a `{}`: {}", self.expected, self.reason)
    }
}

/// The payload as JSON: `Json<T>` is made from a message whose text deserializes into `T`, and an
/// output returning `Json<T>` publishes `T` serialized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

/// The physical topic a message arrived on (one input name may stand for several: its own node and
/// linked units' outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(pub String);

impl Deref for Topic {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> FromMessage<'a> for PepeunitClient {
    fn from_message(unit: &'a PepeunitClient, _: &'a Message) -> Result<Self, Rejected> {
        Ok(unit.clone())
    }
}

impl<'a> FromMessage<'a> for Message {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        Ok(message.clone())
    }
}

impl<'a> FromMessage<'a> for Topic {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        Ok(Topic(message.topic.clone()))
    }
}

impl<'a> FromMessage<'a> for &'a str {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        text::<Self>(message)
    }
}

impl<'a> FromMessage<'a> for String {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        text::<Self>(message).map(str::to_owned)
    }
}

impl<'a> FromMessage<'a> for &'a [u8] {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        Ok(&message.payload)
    }
}

impl<'a> FromMessage<'a> for Vec<u8> {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        Ok(message.payload.to_vec())
    }
}

impl<'a> FromMessage<'a> for Bytes {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        Ok(message.payload.clone())
    }
}

impl<'a, T: DeserializeOwned> FromMessage<'a> for Json<T> {
    fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
        serde_json::from_slice(&message.payload)
            .map(Json)
            .map_err(|e| {
                Rejected::new::<Self>(format!("{e}, in {}", Rejected::quote(&message.payload)))
            })
    }
}

/// The payload as UTF-8, or a rejection for a `T` made from text.
fn text<T>(message: &Message) -> Result<&str, Rejected> {
    std::str::from_utf8(&message.payload).map_err(|e| {
        Rejected::new::<T>(format!(
            "not UTF-8 text ({e}): {}",
            Rejected::quote(&message.payload)
        ))
    })
}

/// Numbers and `bool` from the trimmed text, by the rules of env values.
macro_rules! from_text_value {
    ($($t:ty),*) => {$(
        impl<'a> FromMessage<'a> for $t {
            fn from_message(_: &'a PepeunitClient, message: &'a Message) -> Result<Self, Rejected> {
                let text = text::<Self>(message)?;
                read_text_as(text).ok_or_else(|| {
                    Rejected::new::<Self>(format!("cannot read {}", Rejected::quote(text.as_bytes())))
                })
            }
        }
    )*};
}

from_text_value!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool
);

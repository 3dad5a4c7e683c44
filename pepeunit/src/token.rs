//! The unit token (PROTOCOL §2): the unit learns its own uuid from the JWT payload.
//!
//! The signature is the backend's business; a unit cannot check it and does not need to. Every error
//! names what is wrong with the token's *shape* and never contains the token or any part of it, since
//! the token is the unit's password.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Error, Result};

/// base64url that takes the payload with or without `=` padding, as JWT libraries differ on it.
const BASE64URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The `uuid` claim of a unit token `header.payload.signature`, without checking the signature.
pub fn unit_uuid_from_token(token: &str) -> Result<String> {
    let invalid = |reason: &str| Error::InvalidToken(reason.to_owned());
    if token.is_empty() {
        return Err(invalid("empty"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = parts.as_slice() else {
        return Err(Error::InvalidToken(format!(
            "expected 3 dot-separated parts, found {}",
            parts.len()
        )));
    };
    let bytes = BASE64URL_ANY_PADDING
        .decode(payload)
        .map_err(|_| invalid("payload is not base64url"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("payload is not JSON"))?;
    let claims = claims
        .as_object()
        .ok_or_else(|| invalid("payload is not a JSON object"))?;
    match claims.get("uuid") {
        None => Err(invalid("no uuid claim")),
        Some(serde_json::Value::String(uuid)) => Ok(uuid.clone()),
        Some(_) => Err(invalid("uuid claim is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_payload(payload: &str) -> String {
        format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")
    }

    #[test]
    fn padded_and_unpadded_payloads_decode_alike() {
        let padded = base64::engine::general_purpose::URL_SAFE.encode(br#"{"uuid":"u-1"}"#);
        let unpadded = padded.trim_end_matches('=');
        assert_ne!(padded, unpadded, "the test needs a payload that pads");
        for payload in [unpadded, padded.as_str()] {
            assert_eq!(
                unit_uuid_from_token(&token_with_payload(payload)).unwrap(),
                "u-1"
            );
        }
    }

    #[test]
    fn a_json_payload_that_is_not_an_object_is_refused() {
        let payload = BASE64URL_ANY_PADDING.encode(b"[1,2]");
        let err = unit_uuid_from_token(&token_with_payload(&payload)).unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }
}

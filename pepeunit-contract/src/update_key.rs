//! The minisign public key a unit trusts for its compiled updates (PROTOCOL §8a), parsed once for both
//! sides: `pepeunit-macros` checks the key file when the unit compiles, `pepeunit` reads the key it
//! embeds when it runs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A minisign ed25519 public key, as `minisign -G` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinisignPublicKey {
    /// The key line: base64 of the algorithm (`Ed`), the key id and the key.
    pub base64: String,
    /// The key id minisign prints (and every signature by the key carries), in hex as minisign shows it.
    pub key_id: String,
}

/// The decoded key line's length: 2 bytes algorithm, 8 bytes key id, 32 bytes ed25519 key.
const KEY_LEN: usize = 2 + 8 + 32;

/// Parses a minisign public key file's text: an `untrusted comment:` line, then the base64 key line.
/// The error says what is wrong (never with the file's name: the caller knows it).
pub fn parse_minisign_public_key(text: &str) -> Result<MinisignPublicKey, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let expected =
        "a minisign public key file has an `untrusted comment:` line and a base64 key line";
    let comment = lines.next().ok_or_else(|| format!("empty: {expected}"))?;
    if !comment.starts_with("untrusted comment:") {
        return Err(format!("the first line is not a comment: {expected}"));
    }
    if comment.contains("secret key") {
        return Err("this is a minisign secret key: the unit needs the public key (minisign -G writes it to the .pub file)".into());
    }
    let line = lines
        .next()
        .ok_or_else(|| format!("no key line: {expected}"))?;
    let bytes = STANDARD
        .decode(line)
        .map_err(|e| format!("the key line is not base64 ({e})"))?;
    if bytes.len() != KEY_LEN {
        return Err(format!(
            "the key line holds {} bytes, a minisign public key {KEY_LEN}",
            bytes.len()
        ));
    }
    if &bytes[..2] != b"Ed" {
        return Err("the key is not a minisign ed25519 key (algorithm `Ed`)".into());
    }
    if lines.next().is_some() {
        return Err(format!("text after the key line: {expected}"));
    }
    // minisign shows the id as a little-endian 64-bit number.
    let key_id = bytes[2..10]
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(MinisignPublicKey {
        base64: line.to_owned(),
        key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "untrusted comment: minisign public key AAAC4791ACC4BD95\nRWSVvcSskUesqkY+DJK9/mHUmosxFa+5VVhZXKSCjzrZuPFrPWUb0ai3\n";

    #[test]
    fn a_minisign_public_key_is_read_with_its_id() {
        let key = parse_minisign_public_key(KEY).unwrap();
        assert_eq!(key.key_id, "AAAC4791ACC4BD95");
        assert_eq!(
            key.base64,
            "RWSVvcSskUesqkY+DJK9/mHUmosxFa+5VVhZXKSCjzrZuPFrPWUb0ai3"
        );
    }

    #[test]
    fn malformed_keys_are_refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            (
                "RWSVvcSskUesqkY+DJK9/mHUmosxFa+5VVhZXKSCjzrZuPFrPWUb0ai3",
                "not a comment",
            ),
            ("untrusted comment: x\n", "no key line"),
            ("untrusted comment: x\n!!!", "not base64"),
            ("untrusted comment: x\nRWQf6LRC", "holds 6 bytes"),
            (
                "untrusted comment: minisign encrypted secret key\nRWQ=",
                "secret key",
            ),
            (
                "untrusted comment: x\nWGSVvcSskUesqkY+DJK9/mHUmosxFa+5VVhZXKSCjzrZuPFrPWUb0ai3",
                "ed25519",
            ),
            (&format!("{KEY}extra"), "text after"),
        ];
        for (text, reason) in cases {
            let error = parse_minisign_public_key(text).unwrap_err();
            assert!(error.contains(reason), "{text:?}: {error}");
        }
    }
}

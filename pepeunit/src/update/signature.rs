//! The author's signature of a compiled update (PROTOCOL §8a, cargo feature `rest`): a minisign
//! signature at `<COMPILED_FIRMWARE_LINK>.minisig` whose trusted comment names the asset and the
//! commit, so that neither a changed binary, nor an older signed one, nor another platform's is run.
//! The key is the unit's own (compiled in by `#[pepeunit::main(update_key = "…")]` or given to the
//! builder): nothing the instance serves can change it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use minisign_verify::{Error as MinisignError, PublicKey, Signature};

use crate::error::{Error, Result};

/// The largest signature file fetched: a minisign signature is under 1 KiB.
pub(crate) const MAX_SIGNATURE_BYTES: usize = 64 * 1024;

/// The minisign public key a unit accepts compiled updates from.
#[derive(Clone)]
pub struct UpdateKey {
    key: PublicKey,
    key_id: String,
}

impl UpdateKey {
    /// The key of a minisign public key file's text (`minisign -G` writes it: a comment line and the
    /// key line). The error says what is wrong with it.
    pub fn from_minisign(text: &str) -> Result<UpdateKey> {
        let invalid = |reason: String| Error::Update(format!("update key: {reason}"));
        let parsed =
            pepeunit_contract::update_key::parse_minisign_public_key(text).map_err(invalid)?;
        let key = PublicKey::from_base64(&parsed.base64).map_err(|e| invalid(e.to_string()))?;
        Ok(UpdateKey {
            key,
            key_id: parsed.key_id,
        })
    }

    /// The key id, as minisign prints it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Checks that `signature` (a `.minisig` file's text) is this key's signature of the file at
    /// `path`, made for `signed_for`. The file is read in chunks, never whole into memory.
    pub fn verify_file(&self, path: &Path, signature: &str, signed_for: &SignedFor) -> Result<()> {
        self.refusal(path, signature, signed_for)
            .map_err(|reason| Error::Signature {
                url: path.display().to_string(),
                reason,
            })
    }

    /// Why the signature is refused, if it is.
    pub(crate) fn refusal(
        &self,
        path: &Path,
        signature: &str,
        signed_for: &SignedFor,
    ) -> std::result::Result<(), String> {
        let signature = Signature::decode(signature)
            .map_err(|_| "unreadable: not a minisign signature".to_owned())?;
        let mut verifier = self
            .key
            .verify_stream(&signature)
            .map_err(|e| self.reason(e))?;
        let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut chunk = vec![0; 64 * 1024];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => verifier.update(&chunk[..n]),
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        verifier.finalize().map_err(|e| self.reason(e))?;
        // Only now is the trusted comment the author's.
        signed_for.check(signature.trusted_comment())
    }

    fn reason(&self, error: MinisignError) -> String {
        match error {
            MinisignError::UnexpectedKeyId => {
                format!(
                    "signed by another key than the unit's update key {}",
                    self.key_id
                )
            }
            MinisignError::InvalidSignature => {
                "bad signature: the binary is not the one the key signed".into()
            }
            MinisignError::UnsupportedLegacyMode => {
                "a legacy (not prehashed) signature: sign with minisign 0.8 or later".into()
            }
            other => format!("unreadable: {other}"),
        }
    }
}

impl fmt::Debug for UpdateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateKey")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// What a signature must have been made for: its trusted comment is
/// `pepeunit asset=<asset> commit=<commit>` (PROTOCOL §8a).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFor {
    /// The release asset's name: the last segment of `COMPILED_FIRMWARE_LINK`.
    pub asset: String,
    /// The `PU_COMMIT_VERSION` of the update command being applied.
    pub commit: String,
}

impl SignedFor {
    /// What a compiled update from `link` to `commit` must be signed for.
    pub fn update(link: &str, commit: &str) -> SignedFor {
        let path = without_secrets(link);
        SignedFor {
            asset: path.rsplit('/').next().unwrap_or_default().to_owned(),
            commit: commit.to_owned(),
        }
    }

    /// The trusted comment a release signs its asset with.
    pub fn trusted_comment(&self) -> String {
        format!("pepeunit asset={} commit={}", self.asset, self.commit)
    }

    fn check(&self, trusted: &str) -> std::result::Result<(), String> {
        let field = |name: &str| {
            trusted
                .split(' ')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        if !trusted.starts_with("pepeunit ") {
            return Err(format!(
                "the trusted comment {trusted:?} is not `{}`",
                self.trusted_comment()
            ));
        }
        match (field("asset"), field("commit")) {
            (Some(asset), _) if asset != self.asset => {
                Err(format!("signed for asset {asset}, not {}", self.asset))
            }
            (_, Some(commit)) if commit != self.commit => Err(format!(
                "signed for commit {commit}, not {} (an older release replayed?)",
                self.commit
            )),
            (Some(_), Some(_)) => Ok(()),
            _ => Err(format!(
                "the trusted comment {trusted:?} is not `{}`",
                self.trusted_comment()
            )),
        }
    }
}

/// The signature URL of the binary at `url` as an error shows it: `<url>.minisig` without secrets.
pub(crate) fn shown_signature_url(url: &str) -> String {
    format!("{}.minisig", without_secrets(url))
}

/// `url` without query, fragment or credentials: what an error may show of a download link.
pub(crate) fn without_secrets(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asset_is_the_links_last_segment_and_secrets_stay_out() {
        let link =
            "https://user:secret@example.com/o/r/releases/download/v2/unit-x86_64?token=secret#x";
        assert_eq!(
            without_secrets(link),
            "https://example.com/o/r/releases/download/v2/unit-x86_64"
        );
        let signed_for = SignedFor::update(link, "abc");
        assert_eq!(signed_for.asset, "unit-x86_64");
        assert_eq!(
            signed_for.trusted_comment(),
            "pepeunit asset=unit-x86_64 commit=abc"
        );
    }

    #[test]
    fn a_trusted_comment_for_another_asset_or_commit_is_refused() {
        let signed_for = SignedFor {
            asset: "unit-x86_64".into(),
            commit: "abc".into(),
        };
        assert_eq!(
            signed_for.check("pepeunit asset=unit-x86_64 commit=abc"),
            Ok(())
        );
        for (comment, reason) in [
            (
                "pepeunit asset=unit-aarch64 commit=abc",
                "signed for asset unit-aarch64",
            ),
            (
                "pepeunit asset=unit-x86_64 commit=old",
                "signed for commit old",
            ),
            ("pepeunit asset=unit-x86_64", "is not `pepeunit"),
            ("timestamp:1 file:unit-x86_64", "is not `pepeunit"),
        ] {
            let error = signed_for.check(comment).unwrap_err();
            assert!(error.contains(reason), "{comment}: {error}");
        }
    }
}

//! Signed releases (PROTOCOL §8a): minisign key pairs made with the `minisign` command, and what
//! [`crate::Instance::publish_signed`] serves beside a compiled binary — a good signature, or one of
//! the ways a release can be wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// What a signed release serves at `<asset>` and `<asset>.minisig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// The binary, signed by the instance's key for its asset and commit.
    Signed,
    /// The signature of the binary, served with one byte of the binary flipped.
    Tampered,
    /// The binary, signed for its asset and commit by a key the unit does not know.
    OtherKey,
    /// The binary with no `.minisig` (a 404).
    Unsigned,
    /// The binary with a `.minisig` that is not a minisign signature.
    Unreadable,
    /// The binary, signed for another commit (an older release replayed).
    OtherCommit(String),
    /// The binary, signed for another asset (another platform's signature).
    OtherAsset(String),
}

/// A minisign key pair without a password, in a directory of the instance.
pub(crate) struct Signer {
    secret: PathBuf,
    public: String,
}

impl Signer {
    /// Makes a key pair `<dir>/<name>.key` and `<name>.pub`.
    pub(crate) fn generate(dir: &Path, name: &str) -> Result<Signer> {
        let secret = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        minisign(&[
            "-G".as_ref(),
            "-W".as_ref(),
            "-f".as_ref(),
            "-p".as_ref(),
            public.as_os_str(),
            "-s".as_ref(),
            secret.as_os_str(),
        ])?;
        let public = std::fs::read_to_string(&public).map_err(|e| Error::io(&public, e))?;
        Ok(Signer { secret, public })
    }

    /// The public key file's text (what a unit compiles in as `update_key.pub`).
    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// The `.minisig` of `bytes` with `trusted_comment`, as `minisign -S` writes it.
    pub(crate) fn sign(&self, bytes: &[u8], trusted_comment: &str) -> Result<Vec<u8>> {
        let file = self
            .secret
            .with_file_name(format!("signing-{}", crate::units::random_commit()?));
        std::fs::write(&file, bytes).map_err(|e| Error::io(&file, e))?;
        let signature = file.with_extension("minisig");
        let signed = minisign(&[
            "-S".as_ref(),
            "-s".as_ref(),
            self.secret.as_os_str(),
            "-m".as_ref(),
            file.as_os_str(),
            "-x".as_ref(),
            signature.as_os_str(),
            "-t".as_ref(),
            trusted_comment.as_ref(),
        ])
        .and_then(|()| std::fs::read(&signature).map_err(|e| Error::io(&signature, e)));
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&signature);
        signed
    }
}

fn minisign(args: &[&std::ffi::OsStr]) -> Result<()> {
    let output = Command::new("minisign")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("minisign (needed for the testkit's signed releases)", e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::io(
        "minisign",
        std::io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
    ))
}

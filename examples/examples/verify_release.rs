//! Checks a signed release as a unit would (PROTOCOL §8a): every asset in a directory against its
//! `<asset>.minisig`, with the unit's update key, for a commit. `scripts/check-template` runs it on what
//! the template's `.github/sign-release` produced; a developer can run it on a downloaded release.
//!
//! Run: `verify_release <update_key.pub> <dir> <commit>`; exits 1 naming the first asset refused.

use std::path::PathBuf;

use pepeunit::update::{SignedFor, UpdateKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, dir, commit] = args.as_slice() else {
        return Err("usage: verify_release <update_key.pub> <dir> <commit>".into());
    };
    let key = UpdateKey::from_minisign(&std::fs::read_to_string(key)?)?;
    let mut assets: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    assets.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        !name.ends_with(".minisig") && name != "SHA256SUMS"
    });
    assets.sort();
    if assets.is_empty() {
        return Err(format!("{dir}: no asset").into());
    }
    for asset in assets {
        let name = asset.file_name().unwrap_or_default().to_string_lossy();
        let signed_for = SignedFor {
            asset: name.to_string(),
            commit: commit.clone(),
        };
        let signature = std::fs::read_to_string(format!("{}.minisig", asset.display()))?;
        key.verify_file(&asset, &signature, &signed_for)?;
        println!(
            "verify_release: {name}: signed by {} for {commit}",
            key.key_id()
        );
    }
    Ok(())
}

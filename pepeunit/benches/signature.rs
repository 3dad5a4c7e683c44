//! What verifying a compiled update's signature (PROTOCOL §8a) adds to the update: the time
//! [`UpdateKey::verify_file`] takes for a 5 MiB binary, streamed from disk (BLAKE2b of the file, then
//! two ed25519 checks).
//!
//! `cargo bench -p pepeunit --features rest --bench signature` prints the median, fastest and slowest
//! of 21 runs. The key pair and the signature are made with the `minisign` command, as a release
//! workflow makes them.

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pepeunit::update::{SignedFor, UpdateKey};

/// The binary's size: a typical stripped unit is 2–6 MiB.
const SIZE: usize = 5 * 1024 * 1024;
const RUNS: usize = 21;

fn minisign(args: &[&str], dir: &Path) -> Result<(), Box<dyn Error>> {
    let status = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("minisign {args:?}: {status}").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("pepeunit-bench-signature-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // xorshift64: incompressible bytes, like a binary.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let binary: Vec<u8> = (0..SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.join("unit"), &binary)?;
    let signed_for = SignedFor {
        asset: "unit".into(),
        commit: "2222222222222222222222222222222222222222".into(),
    };
    minisign(&["-G", "-W", "-f", "-p", "key.pub", "-s", "key.sec"], &dir)?;
    minisign(
        &[
            "-S",
            "-s",
            "key.sec",
            "-m",
            "unit",
            "-t",
            &signed_for.trusted_comment(),
        ],
        &dir,
    )?;
    let key = UpdateKey::from_minisign(&std::fs::read_to_string(dir.join("key.pub"))?)?;
    let signature = std::fs::read_to_string(dir.join("unit.minisig"))?;

    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            key.verify_file(&dir.join("unit"), &signature, &signed_for)
                .map(|()| start.elapsed())
        })
        .collect::<Result<_, _>>()?;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "signature: verify a {} MiB binary: median {:.2} ms, fastest {:.2} ms, slowest {:.2} ms ({RUNS} runs)",
        SIZE / (1024 * 1024),
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1]),
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

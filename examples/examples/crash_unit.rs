//! The unit program of the crash-safety test (`pepeunit/tests/crash_safety.rs`): it writes the unit's
//! files in a loop through the library, so the test can kill it (SIGKILL) at any point and check what
//! the next start finds. No network: each mode only touches files.
//!
//! Its version is fixed at build time (`UNIT_VERSION=v2 cargo build --example crash_unit`).
//!
//! `crash_unit MODE DIR [ARGS]`, DIR holding env.json, schema.json and log.json:
//! - `log`: logs `seq N` forever, N following the last entry of the log.
//! - `files ENV_A ENV_B SCHEMA_A SCHEMA_B`: replaces env.json and schema.json with A, then B, forever.
//! - `swap ARCHIVE_A ARCHIVE_B`: applies update archive A, then B, forever (no restart).
//! - `check`: starts (the checks of `ClientBuilder::build`), logs one entry and exits.
//! - `run`: starts, prints `started VERSION PID` and stays up.
//! - `update NEW_BINARY NEW_ENV`: replaces its own executable with NEW_BINARY and env.json with
//!   NEW_ENV (keeping copies), then execs the new binary under the start-up guard, with the grace
//!   period `CRASH_UNIT_GRACE_MS`. The new binary is started with the same arguments; NEW_BINARY is
//!   gone by then, so it runs as `run`. With `CRASH_UNIT_EXIT=VERSION`, that version exits (code 3)
//!   right after its start instead.
//!
//! With `CRASH_UNIT_STALL=VERSION:MS`, that version sleeps MS milliseconds before it starts (before it
//! reaches the library): a slow or hung start.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pepeunit::client::PepeunitClient;
use pepeunit::update::firmware::{self, ReplacedExecutable};
use pepeunit::update::{RestartMode, UpdateOptions};

/// The version compiled in.
const VERSION: &str = match option_env!("UNIT_VERSION") {
    Some(version) => version,
    None => "dev",
};

fn main() -> pepeunit::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| PathBuf::from(args.get(i).map_or("", String::as_str));
    let (mode, dir) = (args.get(1).map_or("", String::as_str), arg(2));
    if let Some(ms) = std::env::var("CRASH_UNIT_STALL")
        .ok()
        .and_then(|v| v.strip_prefix(&format!("{VERSION}:"))?.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let client = PepeunitClient::builder(
        dir.join("env.json"),
        dir.join("schema.json"),
        dir.join("log.json"),
    )
    .restart_mode(RestartMode::None)
    .build()?;
    match mode {
        "log" => {
            let last = client
                .logger()
                .get_full_log()
                .last()
                .and_then(|entry| entry.text.strip_prefix("seq ")?.parse::<u64>().ok());
            for seq in last.map_or(0, |n| n + 1).. {
                client.logger().info(format!("seq {seq}"));
            }
            Ok(())
        }
        "files" => loop {
            for (env, schema) in [(arg(3), arg(5)), (arg(4), arg(6))] {
                client.update_env_from_file(&env)?;
                client.update_schema_from_file(&schema)?;
            }
        },
        "swap" => loop {
            for archive in [arg(3), arg(4)] {
                client.update_device_program(&archive)?;
            }
        },
        "check" => {
            client
                .logger()
                .info(format!("crash_unit {VERSION} checked"));
            Ok(())
        }
        "update" if arg(3).exists() => update(&client, &dir, &arg(3), &arg(4)),
        "run" | "update" => {
            if std::env::var("CRASH_UNIT_EXIT").is_ok_and(|v| v == VERSION) {
                std::process::exit(3);
            }
            client
                .logger()
                .info(format!("crash_unit {VERSION} started"));
            let mut out = std::io::stdout();
            let _ = writeln!(out, "started {VERSION} {}", std::process::id());
            let _ = out.flush();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        _ => Err(pepeunit::Error::Update(format!("unknown mode {mode:?}"))),
    }
}

/// What the REST layer does for a compiled update, without the download: keep copies of env.json and
/// schema.json, install the new env.json, swap the executable, restart under the guard.
fn update(client: &PepeunitClient, dir: &Path, new: &Path, new_env: &Path) -> pepeunit::Result<()> {
    let exe = std::env::current_exe().map_err(|e| pepeunit::Error::io("current_exe", e))?;
    let mut replaced = ReplacedExecutable::beside(&exe);
    replaced.keep_copy(&dir.join("env.json"))?;
    replaced.keep_copy(&dir.join("schema.json"))?;
    let env = fs::read(new_env).map_err(|e| pepeunit::Error::io(new_env, e))?;
    // Whole or not at all, as the library writes it: a kill here must leave one of the two env.json.
    let temp = dir.join(".env.json.new");
    fs::write(&temp, &env).map_err(|e| pepeunit::Error::io(&temp, e))?;
    fs::rename(&temp, dir.join("env.json")).map_err(|e| pepeunit::Error::io(&temp, e))?;
    firmware::replace_exe(&exe, new, &replaced.backup)?;
    let _ = client.logger().flush();
    let grace = std::env::var("CRASH_UNIT_GRACE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(
            UpdateOptions::default().startup_grace,
            Duration::from_millis,
        );
    firmware::restart_guarded(RestartMode::ExecInPlace, &replaced, grace)
}

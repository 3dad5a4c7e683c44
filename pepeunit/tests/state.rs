//! The state message (PROTOCOL §6): the backend's rules for its JSON, and its values checked against a
//! second source on this host (/proc/meminfo, `stat -f`, `ip`).

mod support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use pepeunit::state::{StateProbe, SystemState, get_system_state};
use serde_json::Value;

/// The checks the backend applies to a state (PROTOCOL §6): known keys only, numbers as JSON numbers,
/// statvfs an array of 10 integers, ifconfig an array of 4 strings, pu_commit_version present.
fn assert_backend_accepts(json: &str, commit_version: &str) -> serde_json::Map<String, Value> {
    let Value::Object(state) = serde_json::from_str(json).unwrap() else {
        panic!("state is not a JSON object: {json}");
    };
    for (key, value) in &state {
        match key.as_str() {
            "millis" | "mem_free" | "mem_alloc" | "freq" => {
                assert!(value.is_u64(), "{key} is not a JSON integer: {value}")
            }
            "statvfs" => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("statvfs is not an array: {value}"));
                assert_eq!(items.len(), 10, "{value}");
                assert!(items.iter().all(Value::is_u64), "{value}");
            }
            "ifconfig" => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("ifconfig is not an array: {value}"));
                assert_eq!(items.len(), 4, "{value}");
                for item in items {
                    let text = item
                        .as_str()
                        .unwrap_or_else(|| panic!("ifconfig item is not a string: {item}"));
                    text.parse::<Ipv4Addr>()
                        .unwrap_or_else(|_| panic!("ifconfig item {text:?} is not IPv4"));
                }
            }
            "pu_commit_version" => assert_eq!(value, commit_version),
            other => panic!("unexpected key {other} in {json}"),
        }
    }
    assert!(state.contains_key("pu_commit_version"), "{json}");
    state
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `MemTotal` of /proc/meminfo in bytes, when this host has it.
fn meminfo_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs a command and returns its stdout, or `None` (with a notice) when it is not available.
fn run(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
        _ => {
            println!(
                "NOTICE: `{program} {}` is not available; skipping that cross-check",
                args.join(" ")
            );
            None
        }
    }
}

#[test]
fn a_read_state_passes_the_backend_rules() {
    let dir = support::TempDir::new("state-json");
    let before = now_millis();
    let state = StateProbe::new().read(dir.path(), "0123abcd");
    let after = now_millis();

    let json = state.to_json();
    let fields = assert_backend_accepts(&json, "0123abcd");
    assert_eq!(fields["statvfs"].as_array().unwrap().len(), 10, "{json}");
    let millis = state.millis.unwrap();
    assert!(
        (before..=after).contains(&millis),
        "millis {millis} is not Unix epoch ms in {before}..={after}"
    );
    assert_eq!(serde_json::from_str::<SystemState>(&json).unwrap(), state);
}

#[test]
fn memory_matches_proc_meminfo() {
    let dir = support::TempDir::new("state-mem");
    let state = StateProbe::new().read(dir.path(), "v");
    let Some(total) = meminfo_total() else {
        println!("NOTICE: no /proc/meminfo; only checking that memory is reported consistently");
        assert_eq!(state.mem_free.is_some(), state.mem_alloc.is_some());
        return;
    };
    let (free, alloc) = (state.mem_free.unwrap(), state.mem_alloc.unwrap());
    assert!(free > 0 && alloc > 0, "free {free}, alloc {alloc}");
    assert!(free <= total, "free {free} > MemTotal {total}");
    let sum = free + alloc;
    assert!(
        sum.abs_diff(total) <= total / 100,
        "free + alloc = {sum}, MemTotal = {total}"
    );
}

#[test]
fn freq_is_whole_megahertz_in_hz_when_known() {
    let dir = support::TempDir::new("state-freq");
    let state = StateProbe::new().read(dir.path(), "v");
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if cpuinfo.lines().any(|l| l.starts_with("cpu MHz")) {
        assert!(
            state.freq.is_some(),
            "/proc/cpuinfo has cpu MHz but freq is missing"
        );
    }
    if let Some(hz) = state.freq {
        assert_eq!(hz % 1_000_000, 0, "freq {hz} is not MHz converted to Hz");
        assert!(
            (1_000_000..=10_000_000_000).contains(&hz),
            "freq {hz} Hz is implausible"
        );
    }
}

#[test]
fn statvfs_matches_stat_f() {
    let dir = support::TempDir::new("state-statvfs");
    let [
        bsize,
        frsize,
        blocks,
        bfree,
        bavail,
        files,
        ffree,
        favail,
        _flag,
        namemax,
    ] = StateProbe::new().read(dir.path(), "v").statvfs.unwrap();
    assert!(bsize > 0 && frsize > 0 && namemax > 0);
    assert!(
        blocks >= bfree && bfree >= bavail,
        "blocks {blocks}, bfree {bfree}, bavail {bavail}"
    );
    assert!(
        files >= ffree && ffree >= favail,
        "files {files}, ffree {ffree}, favail {favail}"
    );

    let dir_arg = dir.path().to_str().unwrap();
    let Some(out) = run("stat", &["-f", "-c", "%S %b %c %l", dir_arg]) else {
        return;
    };
    let theirs: Vec<u64> = out.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(
        theirs,
        [frsize, blocks, files, namemax],
        "stat -f says {out}"
    );
    assert_eq!(blocks * frsize, theirs[0] * theirs[1]);
}

#[test]
fn ifconfig_matches_the_ip_command() {
    let dir = support::TempDir::new("state-ifconfig");
    let state = StateProbe::new().read(dir.path(), "v");
    let Some(route) = run("ip", &["-4", "route", "show", "default"]) else {
        return;
    };
    let route: Vec<&str> = route.split_whitespace().collect();
    let after = |word: &str| route.iter().position(|w| *w == word).map(|i| route[i + 1]);
    let (Some(gateway), Some(dev)) = (after("via"), after("dev")) else {
        println!("NOTICE: no IPv4 default route; ifconfig must be absent");
        assert_eq!(state.ifconfig, None);
        return;
    };
    let [ip, mask, our_gateway, dns] = state
        .ifconfig
        .expect("a default route exists but ifconfig is missing");
    assert_eq!(our_gateway, gateway);

    let addr = run("ip", &["-4", "-o", "addr", "show", "dev", dev]).unwrap();
    let cidr = addr
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap();
    let (their_ip, prefix) = cidr.split_once('/').unwrap();
    assert_eq!(ip, their_ip);
    let ones: u32 = mask.parse::<Ipv4Addr>().unwrap().to_bits().count_ones();
    assert_eq!(ones.to_string(), prefix, "mask {mask} vs /{prefix}");

    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap();
    assert!(
        resolv
            .lines()
            .any(|l| l.split_whitespace().eq(["nameserver", dns.as_str()])),
        "dns {dns}"
    );
}

#[test]
fn missing_fields_are_omitted_not_null() {
    let bare = SystemState {
        millis: None,
        mem_free: None,
        mem_alloc: None,
        freq: None,
        statvfs: None,
        ifconfig: None,
        pu_commit_version: "abc".into(),
    };
    assert_eq!(bare.to_json(), r#"{"pu_commit_version":"abc"}"#);
    let partial = SystemState {
        freq: Some(240_000_000),
        ..bare.clone()
    };
    assert_eq!(
        partial.to_json(),
        r#"{"freq":240000000,"pu_commit_version":"abc"}"#
    );
}

#[test]
fn legacy_commit_version_key_is_read() {
    let state: SystemState =
        serde_json::from_str(r#"{"millis": 5, "commit_version": "old"}"#).unwrap();
    assert_eq!(
        (state.millis, state.pu_commit_version.as_str()),
        (Some(5), "old")
    );
    assert!(state.to_json().contains(r#""pu_commit_version":"old""#));
}

#[test]
fn a_missing_program_dir_gives_no_statvfs_and_no_panic() {
    let dir = support::TempDir::new("state-missing");
    let missing = dir.path().join("not/there");
    let state = get_system_state(&missing, "v9");
    assert_eq!(state.statvfs, None);
    assert!(state.millis.is_some());
    let fields = assert_backend_accepts(&state.to_json(), "v9");
    assert!(!fields.contains_key("statvfs"));
}

#[test]
fn one_probe_reads_twice() {
    let dir = support::TempDir::new("state-twice");
    let mut probe = StateProbe::new();
    let first = probe.read(dir.path(), "first");
    let second = probe.read(Path::new(dir.path()), "second");
    assert_backend_accepts(&first.to_json(), "first");
    assert_backend_accepts(&second.to_json(), "second");
    for state in [&first, &second] {
        assert!(state.millis.is_some() && state.statvfs.is_some());
    }
    assert_eq!(first.mem_free.is_some(), second.mem_free.is_some());
    assert_eq!(first.freq.is_some(), second.freq.is_some());
    assert_eq!(
        first.statvfs.unwrap()[2],
        second.statvfs.unwrap()[2],
        "f_blocks changed"
    );
}

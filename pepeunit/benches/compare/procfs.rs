//! What Linux says about a process in /proc: CPU time, memory, context switches, threads, descriptors.

use std::time::{Duration, Instant};

/// A point-in-time reading of one process.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    at: Instant,
    cpu_ticks: u64,
    voluntary_switches: u64,
}

impl Sample {
    /// Reads `pid` now; `None` once the process is gone.
    pub fn take(pid: u32) -> Option<Sample> {
        Some(Sample {
            at: Instant::now(),
            cpu_ticks: cpu_ticks(pid)?,
            voluntary_switches: voluntary_switches(pid),
        })
    }

    /// CPU seconds used between `self` and `later`.
    pub fn cpu_seconds(&self, later: &Sample) -> f64 {
        later.cpu_ticks.saturating_sub(self.cpu_ticks) as f64 / ticks_per_second()
    }

    /// CPU used between `self` and `later`, in % of one core.
    pub fn cpu_percent(&self, later: &Sample) -> f64 {
        self.cpu_seconds(later) * 100.0 / elapsed(self, later).as_secs_f64().max(1e-9)
    }

    /// Voluntary context switches per second between `self` and `later`, all threads.
    pub fn switches_per_second(&self, later: &Sample) -> f64 {
        later
            .voluntary_switches
            .saturating_sub(self.voluntary_switches) as f64
            / elapsed(self, later).as_secs_f64().max(1e-9)
    }
}

fn elapsed(a: &Sample, b: &Sample) -> Duration {
    b.at - a.at
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// utime + stime of `pid` (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesized command name: state is field 3, utime 14, stime 15.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A `/proc/<pid>/status` field in KiB (VmRSS, VmHWM) or as a count.
pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_value(&status, field)
}

fn status_value(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resident memory of `pid`, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    status_field(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0
}

/// Voluntary context switches of every live thread of `pid` (/proc/<pid>/status counts the main
/// thread only).
pub fn voluntary_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .filter_map(|status| status_value(&status, "voluntary_ctxt_switches"))
        .sum()
}

/// Open file descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The pid of our child process whose command name is `name` (the testkit's mosquitto).
pub fn child_named(name: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let comm = stat
                .find('(')
                .zip(stat.rfind(')'))
                .map(|(a, b)| &stat[a + 1..b]);
            let ppid = stat
                .get(stat.rfind(')').unwrap_or(0) + 2..)
                .and_then(|rest| rest.split_whitespace().nth(1));
            comm == Some(name) && ppid == Some(me.as_str())
        })
}

/// Anonymous memory of `pid` (heap, stacks: smaps_rollup `Anonymous`), in MiB: what the program
/// allocated, without the pages of its binary and libraries (file-backed, shareable, dropped first
/// under memory pressure).
pub fn anonymous_mib(pid: u32) -> f64 {
    let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return 0.0;
    };
    status_value(&rollup, "Anonymous").unwrap_or(0) as f64 / 1024.0
}

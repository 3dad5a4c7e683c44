//! The unit's system state, sent on `state/pepeunit` (PROTOCOL §6).
//!
//! The backend shows these numbers on the unit's page and learns from `pu_commit_version` that an update
//! succeeded. Every field except `pu_commit_version` is optional: a value this host cannot tell is left
//! out of the JSON rather than sent as null or invented.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sysinfo::{MemoryRefreshKind, NetworkData, Networks, System};

/// One state message, field for field as the backend reads it (PROTOCOL §6).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SystemState {
    /// Unix time in milliseconds (what the Python client sends; MicroPython sends its uptime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// Memory available to programs, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_free: Option<u64>,
    /// Memory in use (total − available), in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_alloc: Option<u64>,
    /// CPU frequency in Hz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freq: Option<u64>,
    /// statvfs(3) of the program's filesystem in MicroPython's order: f_bsize, f_frsize, f_blocks,
    /// f_bfree, f_bavail, f_files, f_ffree, f_favail, f_flag, f_namemax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statvfs: Option<[u64; 10]>,
    /// IPv4 ip, netmask, gateway and dns of the default route's interface, as MicroPython's ifconfig().
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifconfig: Option<[String; 4]>,
    /// `PU_COMMIT_VERSION` of the running program; always sent (accepts the legacy `commit_version`).
    #[serde(alias = "commit_version")]
    pub pu_commit_version: String,
}

impl SystemState {
    /// The JSON object to publish on `state/pepeunit`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializes") // ok: only integers and strings, no map keys
    }
}

/// Reads the system state repeatedly, reusing sysinfo's buffers and refreshing only what the state
/// needs (memory, CPU frequency, interface addresses).
#[derive(Debug)]
pub struct StateProbe {
    /// `None` when sysinfo cannot be initialised on this platform: the memory and frequency are then omitted.
    system: Option<System>,
    /// `None` when sysinfo cannot list interfaces here: ifconfig is then omitted.
    networks: Option<Networks>,
}

impl Default for StateProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl StateProbe {
    /// A probe with nothing loaded yet; the first [`StateProbe::read`] fills it.
    pub fn new() -> StateProbe {
        StateProbe {
            system: System::new().ok(),
            networks: Networks::new().ok(),
        }
    }

    /// The current state of this host for a program living in `program_dir`.
    pub fn read(&mut self, program_dir: &Path, commit_version: &str) -> SystemState {
        let (mem_free, mem_alloc) = self.memory().unzip();
        SystemState {
            millis: epoch_millis(),
            mem_free,
            mem_alloc,
            freq: self.cpu_freq_hz(),
            statvfs: statvfs(program_dir),
            ifconfig: self.ifconfig(),
            pu_commit_version: commit_version.to_owned(),
        }
    }

    /// (available, total − available) in bytes, the Python client's psutil semantics.
    fn memory(&mut self) -> Option<(u64, u64)> {
        let system = self.system.as_mut()?;
        system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let total = system.total_memory();
        let available = system.available_memory();
        (total > 0).then(|| (available, total.saturating_sub(available)))
    }

    /// The first CPU's frequency; sysinfo reports MHz and 0 when it cannot tell.
    fn cpu_freq_hz(&mut self) -> Option<u64> {
        let system = self.system.as_mut()?;
        system.refresh_cpu_frequency();
        let mhz = system.cpus().first()?.frequency();
        mhz.checked_mul(1_000_000).filter(|&hz| hz > 0)
    }

    /// [ip, mask, gateway, dns] of the default route; `None` unless all four are known.
    fn ifconfig(&mut self) -> Option<[String; 4]> {
        let (iface, gateway) = default_route(&std::fs::read_to_string("/proc/net/route").ok()?)?;
        let dns = first_ipv4_nameserver(&std::fs::read_to_string("/etc/resolv.conf").ok()?)?;
        let networks = self.networks.as_mut()?;
        networks.refresh(true);
        let (ip, mask) = ipv4_network(networks.get(OsStr::new(&iface))?)?;
        Some([ip, mask, gateway, dns].map(|addr| addr.to_string()))
    }
}

/// The state of this host right now, with a one-off probe (keep a [`StateProbe`] to send it periodically).
pub fn get_system_state(program_dir: &Path, commit_version: &str) -> SystemState {
    StateProbe::new().read(program_dir, commit_version)
}

fn epoch_millis() -> Option<u64> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since_epoch.as_millis()).ok()
}

/// statvfs(3) of the filesystem holding `dir`; `None` when the call fails (e.g. `dir` does not exist).
#[cfg(unix)]
fn statvfs(dir: &Path) -> Option<[u64; 10]> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and outlives the call; `stat` is writable memory of the type
    // statvfs(3) fills, and nothing reads it before the return code says it was filled.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised the whole struct.
    let s = unsafe { stat.assume_init() };
    // The libc field types differ between platforms (u32 or u64), hence the widening casts.
    #[allow(clippy::unnecessary_cast)]
    Some([
        s.f_bsize as u64,
        s.f_frsize as u64,
        s.f_blocks as u64,
        s.f_bfree as u64,
        s.f_bavail as u64,
        s.f_files as u64,
        s.f_ffree as u64,
        s.f_favail as u64,
        s.f_flag as u64,
        s.f_namemax as u64,
    ])
}

/// Without statvfs(3) the field is simply omitted.
#[cfg(not(unix))]
fn statvfs(_dir: &Path) -> Option<[u64; 10]> {
    None
}

/// The interface and gateway of the lowest-metric default route in a `/proc/net/route` table.
fn default_route(table: &str) -> Option<(String, Ipv4Addr)> {
    const RTF_UP: u32 = 0x1;
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [iface, dest, gateway, flags, _, _, metric, mask, ..] = cols.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let is_default = *dest == "00000000" && *mask == "00000000" && flags & RTF_UP != 0;
            // The kernel prints the raw network-order address as a host-order hex number.
            let gateway = Ipv4Addr::from(u32::from_str_radix(gateway, 16).ok()?.to_ne_bytes());
            let metric: u32 = metric.parse().ok()?;
            is_default.then(|| (metric, iface.to_string(), gateway))
        })
        .min_by_key(|(metric, _, _)| *metric)
        .map(|(_, iface, gateway)| (iface, gateway))
}

/// The first IPv4 `nameserver` of a resolv.conf (ifconfig is an IPv4 tuple, so IPv6 servers are skipped).
fn first_ipv4_nameserver(resolv_conf: &str) -> Option<Ipv4Addr> {
    resolv_conf.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "nameserver" {
            return None;
        }
        words.next()?.parse().ok()
    })
}

/// The first IPv4 address of an interface and its netmask.
fn ipv4_network(data: &NetworkData) -> Option<(Ipv4Addr, Ipv4Addr)> {
    data.ip_networks().iter().find_map(|net| match net.addr {
        std::net::IpAddr::V4(ip) if net.prefix <= 32 => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            Some((ip, Ipv4Addr::from(mask)))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_picks_the_lowest_metric_default_and_decodes_the_gateway() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                     eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                     eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     down0\t00000000\t01010101\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";
        let expected_gateway = if cfg!(target_endian = "little") {
            Ipv4Addr::new(192, 0, 2, 1)
        } else {
            Ipv4Addr::new(1, 2, 0, 192)
        };
        assert_eq!(
            default_route(table),
            Some(("eth0".to_string(), expected_gateway))
        );
    }

    #[test]
    fn no_default_route_is_none() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(default_route(table), None);
        assert_eq!(default_route(""), None);
    }

    #[test]
    fn first_ipv4_nameserver_skips_comments_and_ipv6() {
        let conf = "# generated\nsearch lan\nnameserver fe80::1\nnameserver 10.0.0.53\nnameserver 8.8.8.8\n";
        assert_eq!(
            first_ipv4_nameserver(conf),
            Some(Ipv4Addr::new(10, 0, 0, 53))
        );
        assert_eq!(
            first_ipv4_nameserver("; nameserver 1.1.1.1\noptions ndots:1\n"),
            None
        );
    }
}

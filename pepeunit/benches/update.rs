//! Applying a large update: time taken, and peak memory that must not grow with the archive size
//! (the archive is streamed, never held in memory).
//!
//! `cargo bench -p pepeunit --bench update` prints one line per case. Peak memory is the process's
//! resident high-water mark (`VmHWM`), reset just before the apply through `/proc/self/clear_refs`.
//! With `PEPEUNIT_BENCH_PYTHON` set to a Python that has `pepeunit-client`, the reference client
//! applies the same program too (what its `update_device_program` does: `FileManager.extract_tar_gz`
//! into a temp dir, then `copy_directory_contents`), in a fresh process whose peak RSS is its
//! `ru_maxrss`. It only reads zlib streams with a 512-byte window (`wbits=9`, the backend's), so it
//! gets the same tar recompressed that way first, outside the timing.

use std::error::Error;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use pepeunit::update::{UpdateOptions, update_device_program};

/// Files in each generated program.
const FILES: u64 = 40;

/// Pseudo-random bytes, half of each KiB incompressible and half repetitive text (like a real program:
/// binaries and data next to sources), generated on the fly.
struct ProgramData {
    left: u64,
    offset: u64,
    state: u64,
}

impl Read for ProgramData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        const TEXT: &[u8] = b"def on_message(unit, msg):\n    unit.logger.info(msg.payload)\n";
        let n = buf.len().min(self.left.try_into().unwrap_or(usize::MAX));
        for byte in &mut buf[..n] {
            *byte = if self.offset % 1024 < 512 {
                // xorshift64
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                self.state as u8
            } else {
                TEXT[(self.offset % TEXT.len() as u64) as usize]
            };
            self.offset += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes a zlib-compressed (wbits 15, default level) tar of [`FILES`] files totalling `unpacked`
/// bytes to `path`, streaming: the program is never in memory.
fn build_archive(path: &Path, unpacked: u64) -> io::Result<()> {
    let encoder = ZlibEncoder::new(BufWriter::new(File::create(path)?), Compression::default());
    let mut tar = tar::Builder::new(encoder);
    let size = unpacked / FILES;
    for i in 0..FILES {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        let data = ProgramData {
            left: size,
            offset: 0,
            state: 0x9e37_79b9_7f4a_7c15 ^ (i + 1),
        };
        tar.append_data(&mut header, format!("src/module_{i:02}.bin"), data)?;
    }
    tar.into_inner()?.finish()?.into_inner()?.sync_all()
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> Result<u64, Box<dyn Error>> {
    let status = fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("{field} not in /proc/self/status"))?;
    let kib = line[field.len()..].trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn run_case(work: &Path, unpacked: u64) -> Result<(), Box<dyn Error>> {
    let archive = work.join(format!("update-{unpacked}.tgz"));
    let program = work.join(format!("program-{unpacked}"));
    build_archive(&archive, unpacked)?;
    fs::create_dir(&program)?;
    let archive_size = fs::metadata(&archive)?.len();

    fs::write("/proc/self/clear_refs", "5")?;
    let rss_before = status_kib("VmRSS:")?;
    let start = Instant::now();
    let report = update_device_program(&archive, &program, &UpdateOptions::default())?;
    let elapsed = start.elapsed();
    let peak = status_kib("VmHWM:")?;

    println!(
        "update {:6.1} MiB archive ({} files, {:6.1} MiB unpacked): {:6.3} s, \
         peak RSS {:5.1} MiB (RSS before {:5.1} MiB)",
        mib(archive_size),
        report.added.len(),
        mib(unpacked),
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
    );
    let python = match std::env::var("PEPEUNIT_BENCH_PYTHON") {
        Ok(python) => {
            let (seconds, peak_mib) =
                python_apply(&python, &archive, &work.join("python-program"))?;
            println!(
                "python reference, same program: {seconds:6.3} s, peak RSS {peak_mib:5.1} MiB (whole process)"
            );
            format!("{seconds:.2} s, peak RSS {peak_mib:.1} MiB")
        }
        Err(_) => "not run".into(),
    };
    // The summary row of scripts/benchmarks' table.
    println!(
        "| 5. update, {:.0} MiB archive ({:.0} MiB unpacked): time, peak RSS | {:.2} s, peak RSS {:.1} MiB | {python} | | |",
        mib(archive_size),
        mib(unpacked),
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
    );
    fs::remove_file(&archive)?;
    fs::remove_dir_all(&program)?;
    Ok(())
}

/// Runs the Python client's update steps on `archive` (recompressed with `wbits=9` first) into
/// `program`; returns seconds and the process's peak RSS in MiB.
fn python_apply(
    python: &str,
    archive: &Path,
    program: &Path,
) -> Result<(f64, f64), Box<dyn Error>> {
    const RECOMPRESS: &str = "import sys, zlib\n\
        data = zlib.decompress(open(sys.argv[1], 'rb').read())\n\
        c = zlib.compressobj(6, zlib.DEFLATED, 9)\n\
        open(sys.argv[2], 'wb').write(c.compress(data) + c.flush())\n";
    const APPLY: &str = "import os, resource, sys, tempfile, time\n\
        from pepeunit_client.file_manager import FileManager\n\
        archive, program = sys.argv[1], sys.argv[2]\n\
        start = time.perf_counter()\n\
        with tempfile.TemporaryDirectory(dir=os.path.dirname(archive)) as extracted:\n\
        \x20   FileManager.extract_tar_gz(archive, extracted)\n\
        \x20   FileManager.copy_directory_contents(extracted, program)\n\
        elapsed = time.perf_counter() - start\n\
        print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n";
    let archive9 = archive.with_extension("wbits9");
    let status = Command::new(python)
        .args(["-c", RECOMPRESS])
        .arg(archive)
        .arg(&archive9)
        .status()?;
    if !status.success() {
        return Err("recompressing for the python reference failed".into());
    }
    fs::create_dir_all(program)?;
    let output = Command::new(python)
        .args(["-c", APPLY])
        .arg(&archive9)
        .arg(program)
        .output()?;
    fs::remove_file(&archive9)?;
    fs::remove_dir_all(program)?;
    if !output.status.success() {
        return Err(format!(
            "python reference failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let text = String::from_utf8(output.stdout)?;
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(seconds)), Some(Ok(peak))) => Ok((seconds, peak)),
        _ => Err(format!("python reference printed {text:?}").into()),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let work: PathBuf =
        std::env::temp_dir().join(format!("pepeunit-bench-update-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    // ~5 MB and ~50 MB archives (half of the data compresses away).
    let result = [10_000_000, 100_000_000]
        .into_iter()
        .try_for_each(|unpacked| run_case(&work, unpacked));
    fs::remove_dir_all(&work)?;
    result
}

//! The unit programs under comparison, run as their own processes on a unit's files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pepeunit::client::PepeunitClient;
use pepeunit::update::RestartMode;

/// The reference client's side of every measurement (`unit.py`), written next to the units.
const PYTHON_UNIT: &str = include_str!("unit.py");

/// A unit program: ours (a compiled binary) or the reference Python client running `unit.py`.
#[derive(Clone, Debug)]
pub enum Program {
    Ours(PathBuf),
    Python {
        interpreter: PathBuf,
        script: PathBuf,
    },
}

impl Program {
    /// The reference client under `interpreter`, its script written into `dir`.
    pub fn python(interpreter: PathBuf, dir: &Path) -> Program {
        let script = dir.join("unit.py");
        std::fs::write(&script, PYTHON_UNIT).expect("write unit.py");
        Program::Python {
            interpreter,
            script,
        }
    }

    /// The echo unit on the files in `unit_dir`, logging to `log`.
    pub fn echo(&self, unit_dir: &Path, log: &Path) -> Command {
        match self {
            Program::Ours(binary) => {
                let mut command = Command::new(binary);
                command.current_dir(unit_dir).env("PEPEUNIT_LOG", log);
                command
            }
            Program::Python { .. } => self.python_mode("echo", unit_dir, log),
        }
    }

    /// `unit.py MODE UNIT_DIR LOG` (Python only).
    pub fn python_mode(&self, mode: &str, unit_dir: &Path, log: &Path) -> Command {
        let Program::Python {
            interpreter,
            script,
        } = self
        else {
            unreachable!("python_mode on our program")
        };
        let mut command = Command::new(interpreter);
        command.arg(script).arg(mode).arg(unit_dir).arg(log);
        command
    }
}

/// Spawns `command` with stdin closed, stdout piped and stderr shown.
pub fn spawn(mut command: Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

/// SIGTERM, then SIGKILL if it is still running after 5 s.
pub fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Our client (imperative API) on the unit files in `dir`, calling `on_input` for every input
/// message; the caller runs its main cycle.
pub fn counting_client(dir: &Path, on_input: impl Fn() + Send + Sync + 'static) -> PepeunitClient {
    let client = PepeunitClient::builder(
        dir.join("env.json"),
        dir.join("schema.json"),
        dir.join("log.json"),
    )
    .mqtt(true)
    .restart_mode(RestartMode::None)
    .build()
    .unwrap_or_else(|e| panic!("client on {}: {e}", dir.display()));
    client
        .set_input_message_handler(move |_, _| {
            on_input();
            async {}
        })
        .expect("input handler");
    client
}

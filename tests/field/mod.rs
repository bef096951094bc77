//! A kit for field tests: a real `rampdeck` driver process on a plan in a
//! temporary directory, its journal, the kill switch from another process,
//! and `rampdeck verify` at the end. Waits poll the journal with a bound;
//! nothing sleeps and hopes.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The rollback hook used by field plans: records its argv and
/// RAMPDECK_REASON into the file named by its first argument.
pub const RECORD_ARGV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hooks/record-argv.sh");

/// One rollout in a temporary directory of its own.
pub struct Field {
    pub dir: tempfile::TempDir,
    pub id: String,
}

impl Drop for Field {
    /// A test that fails half-way must not leave its driver running (a
    /// hang-up or a lost test harness does not stop a driver, by design).
    fn drop(&mut self) {
        let dir = self.path().display().to_string();
        for pid in processes_with(&dir) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Field {
    pub fn new(id: &str) -> Self {
        Field {
            dir: tempfile::tempdir().unwrap(),
            id: id.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The environment every rampdeck process of this rollout shares.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("XDG_DATA_HOME", self.path().join("data"))
            .env("RAMPDECK_RUNTIME_DIR", self.path().join("run"))
            .env("HOME", self.path())
    }

    /// A `rampdeck` command with this rollout's environment.
    pub fn rampdeck(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampdeck"));
        cmd.args(args);
        self.env(&mut cmd);
        cmd
    }

    /// Writes the plan and returns its path.
    pub fn plan(&self, text: &str) -> PathBuf {
        let config = self.path().join("plan.toml");
        std::fs::write(&config, text).unwrap();
        config
    }

    /// `rampdeck run --headless` on the plan, once its first step entered.
    pub fn start_headless(&self, config: &Path) -> Child {
        let mut child = self
            .rampdeck(&["run", "--headless", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count("step_entered") == 0 {
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the driver ended before its first step ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                Instant::now() < deadline,
                "no step_entered in\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        child
    }

    pub fn journal(&self) -> PathBuf {
        self.path().join(format!("data/rampdeck/{}.jsonl", self.id))
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(self.journal()).unwrap_or_default()
    }

    pub fn count(&self, action: &str) -> usize {
        self.text()
            .matches(&format!("\"action\":\"{action}\""))
            .count()
    }

    /// Waits until the journal holds a record of `action`.
    pub fn wait_for(&self, action: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count(action) == 0 {
            assert!(
                Instant::now() < deadline,
                "no {action} within {within:?} in\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `rampdeck rollback ID --reason REASON`, as a person types it.
    pub fn rollback(&self, reason: &str) -> Output {
        self.rampdeck(&["rollback", &self.id, "--reason", reason])
            .output()
            .unwrap()
    }

    /// `rampdeck verify` on the journal must pass: the chain holds, and
    /// the journal is closed (0) when its rollout ended, open (4) when the
    /// driver runs or was stopped before the end.
    pub fn verify(&self) {
        let out = self
            .rampdeck(&["verify"])
            .arg(self.journal())
            .output()
            .unwrap();
        let closed = self.count("rollout_ended") > 0;
        assert_eq!(
            out.status.code(),
            Some(if closed { 0 } else { 4 }),
            "verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// SIGTERM, then the process's output.
pub fn stop(child: Child) -> Output {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    child.wait_with_output().unwrap()
}

/// Waits for a child with a bound; kills it if the bound passes.
pub fn wait_with_timeout(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "process did not end within {within:?}; stdout:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.wait_with_output().unwrap()
}

/// The peak resident memory of a live process, in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// Pids of live processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Zombies are gone in all but name.
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie
            && String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        {
            out.push(pid);
        }
    }
    out
}

/// Serves HTTP on loopback as a hostile source does: every request gets
/// `head`, then `chunk` written again and again (with `pause` between)
/// until the client goes away. Returns the URL.
pub fn hostile_http(head: &'static str, chunk: &'static [u8], pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                // The request's head ends with an empty line.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while conn.write_all(chunk).is_ok() {
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
            });
        }
    });
    format!("http://{addr}/metrics")
}

/// Serves HTTP on loopback as a hung source does: it accepts, reads the
/// request, and never answers. Returns the URL.
pub fn silent_http() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("http://{addr}/api")
}

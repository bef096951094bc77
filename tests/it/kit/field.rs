//! A real rollout in a temporary directory of its own: a `rampdeck` driver
//! process on a plan, its journal, the kill switch from another process,
//! and `rampdeck verify` at the end. Waits poll the journal with a bound;
//! nothing sleeps and hopes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{journal, proc};

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
        proc::kill_processes_with(&self.path().display().to_string());
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

    /// `rampdeck ARGS` with this rollout's environment, as uid/gid 65534
    /// with no other groups (a second person on the host).
    pub fn as_nobody(&self, args: &[&str]) -> Output {
        let mut cmd = proc::as_nobody(proc::RAMPDECK);
        cmd.args(args);
        self.env(&mut cmd);
        cmd.output()
            .expect("setpriv (util-linux) runs a client as another user")
    }

    /// A `rampdeck` command with this rollout's environment.
    pub fn rampdeck(&self, args: &[&str]) -> Command {
        let mut cmd = proc::rampdeck(args);
        self.env(&mut cmd);
        cmd
    }

    /// Writes the plan and returns its path.
    pub fn plan(&self, text: &str) -> PathBuf {
        let config = self.path().join("plan.toml");
        std::fs::write(&config, text).unwrap();
        config
    }

    /// `rampdeck run --headless` on the plan, not waited on.
    pub fn spawn_headless(&self, config: &Path) -> Child {
        self.rampdeck(&["run", "--headless", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `rampdeck run --headless` on the plan, once its first step entered.
    pub fn start_headless(&self, config: &Path) -> Child {
        let mut child = self.spawn_headless(config);
        let deadline = Instant::now() + journal::WAIT;
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

    /// The rollout's socket.
    pub fn socket(&self) -> PathBuf {
        self.path().join(format!("run/{}.sock", self.id))
    }

    pub fn text(&self) -> String {
        journal::text(&self.journal())
    }

    /// The journal's records, parsed.
    pub fn records(&self) -> Vec<serde_json::Value> {
        journal::records(&self.journal())
    }

    pub fn count(&self, action: &str) -> usize {
        journal::count(&self.journal(), action)
    }

    /// Waits until the journal holds a record of `action`.
    pub fn wait_for(&self, action: &str, within: Duration) -> serde_json::Value {
        journal::wait_record(&self.journal(), action, within)
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
        journal::verify(&self.journal());
    }

    /// Sends one raw line on the rollout's socket as a view would, and
    /// returns the first notice (or bye) the driver answers with.
    pub fn raw_command(&self, line: &str) -> String {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let mut r = BufReader::new(s);
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = r.read_line(&mut buf).unwrap();
            assert!(n > 0, "closed without an answer");
            let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
            match v["type"].as_str() {
                Some("notice") => return v["text"].as_str().unwrap().to_owned(),
                Some("bye") => return v["reason"].as_str().unwrap().to_owned(),
                _ => {}
            }
        }
    }
}

//! An SSH link that drops never leaves a canary unguarded (issue 9, item
//! 1), tested the way it happens on a bastion: a real `sshd` on loopback
//! (its own host key, port and authorized key), `ssh -tt` running
//! `rampdeck run` in the remote pty, and the ssh client SIGKILLed so that
//! the link drops and sshd closes the pty under the cockpit (stdout and
//! stderr both). Afterwards the driver is alive, `operator_detached` is
//! journaled, `rampdeck attach` from a second ssh session shows it, a
//! breach still rolls back, and the journal verifies.
//!
//! Needs Debian's `openssh-server` and `openssh-client` (`.ci/run`
//! installs them).

#![allow(clippy::unwrap_used)]

use crate::kit::pty;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::field::{Field, RECORD_ARGV};

const SSHD: &str = "/usr/sbin/sshd";

fn need(program: &str) {
    let found = Path::new(program).is_absolute() && Path::new(program).exists()
        || Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is missing: apt-get install openssh-server openssh-client (.ci/run does)"
    );
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real sshd on a free loopback port that lets this user in with one key.
struct Sshd {
    child: Child,
    port: u16,
    key: PathBuf,
    user: String,
}

impl Sshd {
    fn start(dir: &Path) -> Sshd {
        need(SSHD);
        need("ssh");
        need("ssh-keygen");
        let host_key = dir.join("host_key");
        let key = dir.join("client_key");
        keygen(&host_key);
        keygen(&key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(dir.join("client_key.pub"), &authorized).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if nix::unistd::geteuid().is_root() {
            // sshd's privilege-separation directory.
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
                 AuthorizedKeysFile {auth}\nStrictModes no\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin yes\nX11Forwarding no\nPrintMotd no\nLogLevel ERROR\n",
                host = host_key.display(),
                pid = dir.join("sshd.pid").display(),
                auth = authorized.display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .map(|u| u.name)
            .unwrap();
        let sshd = Sshd {
            child,
            port,
            key,
            user,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }

    /// `ssh -tt` arguments that run `remote` (a shell command line).
    fn args(&self, remote: &str) -> Vec<String> {
        let mut a: Vec<String> = ["-tt", "-i"].map(String::from).to_vec();
        a.push(self.key.display().to_string());
        a.extend(["-p".to_string(), self.port.to_string()]);
        for o in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
        ] {
            a.extend(["-o".to_string(), o.to_string()]);
        }
        a.push(format!("{}@127.0.0.1", self.user));
        a.push(remote.to_string());
        a
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The remote command line: this rollout's environment, then rampdeck, run
/// by the login shell as a person types it (the shell stays its parent and
/// the session's leader, which is how a terminal library is left waiting on
/// a hung-up stdin).
fn remote(f: &Field, args: &str) -> String {
    format!(
        "cd '{dir}' && env XDG_DATA_HOME='{dir}/data' RAMPDECK_RUNTIME_DIR='{dir}/run' HOME='{dir}' TERM=xterm-256color '{bin}' {args}; echo \"rampdeck exited with $?\"",
        dir = f.path().display(),
        bin = crate::kit::proc::RAMPDECK,
    )
}

/// The pid of the `rampdeck run` driving `config`.
fn driver_pid(config: &Path) -> Option<i32> {
    let needle = format!("run --config {}", config.display());
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        (cmd.starts_with(crate::kit::proc::RAMPDECK) && cmd.contains(&needle)).then_some(pid)
    })
}

/// CPU time (user + system) a process has used, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; 12 and 13 after the name.
    fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
}

fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
}

#[test]
fn an_ssh_link_dropping_leaves_the_driver_guarding_the_canary() {
    let f = Field::new("shop-ssh");
    // sshd's sessions (this same user) reach everything inside.
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(f.path());
    let err = f.path().join("err");
    std::fs::write(&err, "0.01\n").unwrap();
    let config = f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"

[sources.script]
kind = "command"
interval = "1s"
timeout = "900ms"

[[metrics]]
id = "err"
source = "script"
command = ["cat", "{err}"]
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}

[[triggers]]
name = "errors"
metric = "err"
consecutive = 1

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["{RECORD_ARGV}", "{out}", "{{actor}}", "{{reason}}"]
timeout = "5s"
"#,
        id = f.id,
        err = err.display(),
        out = f.path().join("rollback").display(),
    ));

    // The operator drives the rollout from the cockpit over ssh.
    let run = remote(&f, &format!("run --config '{}'", config.display()));
    let args = sshd.args(&run);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let operator = pty::Term::start_program("ssh", &args, 120, 40, &[], f.path());
    f.wait_for("step_entered", Duration::from_secs(30));
    operator.wait_for("step 1/1", Duration::from_secs(20));
    let pid = driver_pid(&config).expect("the driver runs on the ssh host");

    // The link drops: the ssh client dies, sshd closes the pty.
    let ssh_pid = operator.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(ssh_pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    f.wait_for("operator_detached", Duration::from_secs(15));
    // The cockpit's last writes to the closed terminal (stderr included)
    // must not have ended it: it writes to its log file instead, and is
    // alive once it does (and after the CPU window below, and it is still
    // the one that rolls back at the end).
    let log = f.path().join(format!("data/rampdeck/{}.driver.log", f.id));
    crate::kit::wait_for_file(&log, Duration::from_secs(15));
    assert!(alive(pid), "the driver died with its terminal");
    // Nor may the lost terminal keep it busy: an idle driver polling one
    // source uses a few ticks in 3 s; a spinning event reader uses ~300.
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 60,
        "the detached driver used {used} ticks of CPU in 3 s"
    );
    assert!(alive(pid), "the driver died with its terminal");
    assert!(log.exists(), "output goes to {}", log.display());
    drop(operator);

    // A second ssh session attaches and sees what happened.
    let attach = remote(&f, &format!("attach {}", f.id));
    let args = sshd.args(&attach);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let view = pty::Term::start_program("ssh", &args, 120, 40, &[], f.path());
    view.wait_for("operator_detached", Duration::from_secs(20));

    // A breach afterwards still rolls back, seen live over ssh.
    std::fs::write(&err, "0.5\n").unwrap();
    f.wait_for("trigger_rollback", Duration::from_secs(15));
    f.wait_for("rolled_back", Duration::from_secs(15));
    assert!(f.path().join("rollback").exists(), "the rollback hook ran");
    view.wait_for("ROLLED BACK", Duration::from_secs(15));

    // The driver ends on its own once the rollout is over, and leaves no
    // lock or socket behind.
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        assert!(Instant::now() < deadline, "the driver did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(f.path().join("run"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the runtime dir: {left:?}");
    f.verify();
}

//! `rampdeck` processes and children of this test binary: spawning, bounded
//! waits, stopping, measuring one child's memory, and killing leftovers.

use std::ffi::OsStr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `rampdeck` binary cargo built for these tests.
pub const RAMPDECK: &str = env!("CARGO_BIN_EXE_rampdeck");

/// A `rampdeck` command with `args`.
pub fn rampdeck(args: &[&str]) -> Command {
    let mut cmd = Command::new(RAMPDECK);
    cmd.args(args);
    cmd
}

/// `rampdeck run --headless --config CONFIG EXTRA...` with its data,
/// runtime directory and home in `dir`, to its end: (exit code, stdout,
/// stderr).
pub fn run_headless(
    dir: &std::path::Path,
    config: &std::path::Path,
    extra: &[&str],
) -> (i32, String, String) {
    let out = rampdeck(&[])
        .args(["run", "--headless", "--config"])
        .arg(config)
        .args(extra)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.join("run"))
        .env("HOME", dir)
        .output()
        .unwrap_or_else(|e| panic!("rampdeck run: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A finished process's exit code and output, for an assertion message.
pub fn said(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// SIGTERM, then the process's output.
pub fn stop(child: Child) -> Output {
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    child.wait_with_output().unwrap()
}

/// Sends `sig` to a child (it may have ended already).
pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, sig);
}

/// Waits for a child with a bound; kills it and panics (with its stdout)
/// if the bound passes.
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

/// Waits for a child's exit code with a bound (-1 for a signal); kills it
/// and panics if the bound passes.
pub fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Runs `rampdeck ARGS` to its end and returns its output with its own
/// peak resident memory, in KiB.
///
/// Measured by GNU time (`/usr/bin/time -f %M`), a small process that
/// forks the child and waits for it. Neither `RUSAGE_CHILDREN` nor our own
/// `wait4` would do: this test binary spawns with `CLONE_VM`, and Linux
/// charges the spawning process's (here: every test's) resident memory to
/// the child's `ru_maxrss` at its exec.
pub fn rampdeck_with_peak_rss(args: &[&OsStr]) -> (Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(RAMPDECK)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("GNU time (/usr/bin/time, Debian package time) runs the child");
    let text = std::fs::read_to_string(&report).unwrap();
    // A child that failed adds a "Command exited with non-zero status" line.
    let kib = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no peak RSS from time: {text}"));
    (out, kib)
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

/// SIGKILLs every live process whose command line contains `needle` (a
/// test's own temporary directory: leftovers of a test that failed).
pub fn kill_processes_with(needle: &str) {
    for pid in processes_with(needle) {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The name libtest knows test `name` of `module` (its `module_path!()`)
/// by, in this one test binary: the module path without the crate.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

/// This test binary, set to run exactly one of its tests (`--exact`,
/// one thread, output shown) — a child process for what a test must do
/// in a process of its own (another uid, an environment, a crash).
pub fn this_test_binary(module: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        "--exact",
        &test_name(module, name),
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Runs test `name` of `module` again in a child process with `envs` set
/// (and `flag`) and asserts it passed there. Returns `true` when already
/// running in that child. The environment of this process is never
/// changed: other tests share it.
pub fn rerun_in_child(flag: &str, module: &str, name: &str, envs: &[(&str, String)]) -> bool {
    if std::env::var_os(flag).is_some() {
        return true;
    }
    let out = this_test_binary(module, name)
        .env(flag, "1")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("re-run test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// `program` run as uid/gid 65534 ("nobody") with no other groups, through
/// `setpriv` (util-linux): another user, for real, to the kernel's peer
/// credentials.
pub fn as_nobody(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program);
    cmd
}

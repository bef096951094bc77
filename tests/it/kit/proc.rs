//! `rampdeck` processes and children of this test binary: spawning, bounded
//! waits, stopping, measuring one child's memory, and killing leftovers.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `rampdeck` binary cargo built for these tests.
pub const RAMPDECK: &str = env!("CARGO_BIN_EXE_rampdeck");

/// A `rampdeck` command with `args`.
pub fn rampdeck(args: &[&str]) -> Command {
    let mut cmd = Command::new(RAMPDECK);
    cmd.args(args);
    cmd
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

/// Runs `cmd` to its end and returns its output with the peak resident
/// memory of that one child, in KiB (`wait4`'s rusage: this child alone,
/// whatever other tests of this process run at the same time).
// The child is reaped by `wait4` below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn output_with_peak_rss(cmd: &mut Command) -> (Output, u64) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let mut out = Vec::new();
    let _ = stdout.read_to_end(&mut out);
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std reaps only in
    // wait/try_wait, which are never called on it); both pointers are to
    // live locals of the right types.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    let output = Output {
        status: ExitStatus::from_raw(status),
        stdout: out,
        stderr: err.join().unwrap(),
    };
    // Linux reports ru_maxrss in KiB.
    (output, u64::try_from(usage.ru_maxrss).unwrap())
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

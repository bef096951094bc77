//! A reason's size or content, and an identity without a passwd entry,
//! never stop a rollback (issue 9, items 2 and 7). Each test drives a real
//! headless driver whose canary breaches on command, a real rollback hook
//! that records what it was given, and real `rampdeck rollback` processes
//! or raw socket clients; each ends with `rampdeck verify`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ID: &str = "shop-reasons";

/// A plan holding at 10 % whose rollback hook records its argv and
/// RAMPDECK_REASON (tests/hooks/record-argv.sh) into `dir/rollback`.
fn plan(dir: &Path) -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hooks/record-argv.sh");
    let text = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{ID}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"
gate = "auto"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["{script}", "{out}", "{{actor}}", "{{reason}}"]
timeout = "5s"
"#,
        out = dir.join("rollback").display()
    );
    let config = dir.join("plan.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn env(cmd: &mut Command, dir: &Path) {
    cmd.env("XDG_DATA_HOME", dir.join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.join("run"))
        .env("HOME", dir);
}

fn start(dir: &Path) -> Child {
    let config = plan(dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampdeck"));
    cmd.args(["run", "--headless", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env(&mut cmd, dir);
    let child = cmd.spawn().unwrap();
    wait_for(dir, "step_entered");
    child
}

fn journal(dir: &Path) -> PathBuf {
    dir.join(format!("data/rampdeck/{ID}.jsonl"))
}

fn text(dir: &Path) -> String {
    std::fs::read_to_string(journal(dir)).unwrap_or_default()
}

fn count(dir: &Path, action: &str) -> usize {
    text(dir)
        .matches(&format!("\"action\":\"{action}\""))
        .count()
}

fn wait_for(dir: &Path, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(dir, action) == 0 {
        assert!(Instant::now() < deadline, "no {action} in\n{}", text(dir));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rollback(dir: &Path, reason: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampdeck"));
    cmd.args(["rollback", ID, "--reason", reason]);
    env(&mut cmd, dir);
    cmd.output().unwrap()
}

fn verify(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampdeck"))
        .arg("verify")
        .arg(journal(dir))
        .output()
        .unwrap();
    // A rollout that ended closed its journal (0); one still running, or
    // stopped before it ended, leaves it open (4). Either way the chain holds.
    let closed = std::fs::read_to_string(journal(dir))
        .unwrap_or_default()
        .contains("\"action\":\"rollout_ended\"");
    assert_eq!(
        out.status.code(),
        Some(if closed { 0 } else { 4 }),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The rollback hook's recorded argv (actor, reason) and RAMPDECK_REASON.
fn hook_saw(dir: &Path) -> (Vec<String>, String) {
    let argv = std::fs::read(dir.join("rollback")).unwrap();
    let args = argv
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let env = std::fs::read_to_string(dir.join("rollback.env-reason")).unwrap();
    (args, env)
}

/// Sends one raw line on the rollout's socket as a view would, and returns
/// the first notice (or bye) the driver answers with.
fn raw_command(dir: &Path, line: &str) -> String {
    let sock = dir.join(format!("run/{ID}.sock"));
    let mut s = UnixStream::connect(&sock).unwrap();
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

fn stop(child: Child) -> Output {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    child.wait_with_output().unwrap()
}

#[test]
fn a_5000_character_reason_is_refused_up_front_and_a_short_one_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let child = start(dir.path());
    let before = count(dir.path(), "rollback");

    let out = rollback(dir.path(), &"x".repeat(5000));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a refused reason exits non-zero");
    assert!(
        stderr.contains("5000 bytes") && stderr.contains("4096"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rollback started"));
    // An escape sequence in a reason would reach every viewer's terminal.
    let out = rollback(dir.path(), "oops \u{1b}[2J");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("U+001B"));
    // A NUL cannot be an argv element; a raw client sends one on the socket.
    let nul = r#"{"type":"command","command":"rollback","reason":"a\u0000b"}"#;
    let answer = raw_command(dir.path(), nul);
    assert!(
        answer.starts_with("refused") && answer.contains("U+0000"),
        "{answer}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(dir.path(), "rollback"), before, "nothing journaled");
    assert_eq!(count(dir.path(), "refused"), 0, "nothing journaled");

    let out = rollback(dir.path(), "errors doubled, see INC-42");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(dir.path(), "rolled_back");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let (args, env) = hook_saw(dir.path());
    assert_eq!(args[1], "errors doubled, see INC-42");
    assert_eq!(env, "errors doubled, see INC-42");
    verify(dir.path());
}

/// A reason within the limit but longer than a hook takes reaches the
/// hook cut (and saying so); the rollback runs.
#[test]
fn a_long_reason_reaches_the_hook_cut_and_the_rollback_runs() {
    let dir = tempfile::tempdir().unwrap();
    let child = start(dir.path());
    let reason = "é".repeat(2000); // 4000 bytes
    let out = rollback(dir.path(), &reason);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(dir.path(), "rolled_back");
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(3));
    let (args, env) = hook_saw(dir.path());
    assert!(args[1].len() <= 1024, "{}", args[1].len());
    assert!(args[1].ends_with("(cut from 4000 bytes)"), "{}", args[1]);
    assert_eq!(env, args[1]);
    // The journal keeps the whole reason.
    assert!(text(dir.path()).contains(&reason));
    assert_eq!(count(dir.path(), "failed"), 0, "{}", text(dir.path()));
    verify(dir.path());
}

/// A driver run by a uid with no passwd entry (as containers run) journals
/// `uid:N` and its hooks still run with that actor (issue 9, item 7).
#[test]
fn a_uid_without_a_passwd_entry_still_rolls_back() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run the driver as a uid with no passwd entry");
        return;
    }
    let uid = 54_321;
    assert!(
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .unwrap()
            .is_none(),
        "uid {uid} has a passwd entry here"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = plan(dir.path());
    nix::unistd::chown(dir.path(), Some(uid.into()), Some(uid.into())).unwrap();
    nix::unistd::chown(&config, Some(uid.into()), Some(uid.into())).unwrap();
    let spawn = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampdeck"));
        cmd.args(args)
            .uid(uid)
            .gid(uid)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        env(&mut cmd, dir.path());
        cmd
    };
    let child = spawn(&["run", "--headless", "--config", config.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_for(dir.path(), "step_entered");
    let out = spawn(&["rollback", ID, "--reason", "container test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(dir.path(), "rolled_back");
    let out = stop(child);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let journal = text(dir.path());
    assert!(
        journal.contains(&format!("\"user\":\"uid:{uid}\"")),
        "{journal}"
    );
    assert!(!journal.contains("invalid actor"), "{journal}");
    let (args, _) = hook_saw(dir.path());
    assert_eq!(args[0], format!("uid:{uid}"));
    verify(dir.path());
}

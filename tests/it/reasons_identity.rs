//! A reason's size or content, and an identity without a passwd entry,
//! never stop a rollback (issue 9, items 2 and 7). Each test drives a real
//! headless driver whose canary breaches on command, a real rollback hook
//! that records what it was given, and real `rampdeck rollback` processes
//! or raw socket clients; each ends with `rampdeck verify`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::kit::field::{Field, RECORD_ARGV};
use crate::kit::journal::WAIT;
use crate::kit::proc;

const ID: &str = "shop-reasons";

/// A plan holding at 10 % whose rollback hook records its argv and
/// RAMPDECK_REASON (tests/hooks/record-argv.sh) into `dir/rollback`.
fn plan(f: &Field) -> PathBuf {
    let script = RECORD_ARGV;
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
        out = f.path().join("rollback").display()
    );
    f.plan(&text)
}

fn start(f: &Field) -> Child {
    f.start_headless(&plan(f))
}

/// The rollback hook's recorded argv (actor, reason) and RAMPDECK_REASON.
fn hook_saw(f: &Field) -> (Vec<String>, String) {
    let argv = std::fs::read(f.path().join("rollback")).unwrap();
    let args = argv
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let env = std::fs::read_to_string(f.path().join("rollback.env-reason")).unwrap();
    (args, env)
}

#[test]
fn a_5000_character_reason_is_refused_up_front_and_a_short_one_rolls_back() {
    let f = Field::new(ID);
    let child = start(&f);
    let before = f.count("rollback");

    let out = f.rollback(&"x".repeat(5000));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a refused reason exits non-zero");
    assert!(
        stderr.contains("5000 bytes") && stderr.contains("4096"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rollback started"));
    // An escape sequence in a reason would reach every viewer's terminal.
    let out = f.rollback("oops \u{1b}[2J");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("U+001B"));
    // A NUL cannot be an argv element; a raw client sends one on the socket.
    let nul = r#"{"type":"command","command":"rollback","reason":"a\u0000b"}"#;
    let answer = f.raw_command(nul);
    assert!(
        answer.starts_with("refused") && answer.contains("U+0000"),
        "{answer}"
    );

    // Nothing of the refused three was journaled: the driver journals in
    // the order it handles, so once the valid rollback below is journaled,
    // a record of any of them would already be there before it.
    let out = f.rollback("errors doubled, see INC-42");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.wait_for("rolled_back", WAIT);
    assert_eq!(f.count("rollback"), before + 1, "nothing refused journaled");
    assert_eq!(f.count("refused"), 0, "nothing journaled");
    let first_rollback = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "rollback")
        .unwrap();
    assert_eq!(first_rollback["reason"], "errors doubled, see INC-42");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let (args, env) = hook_saw(&f);
    assert_eq!(args[1], "errors doubled, see INC-42");
    assert_eq!(env, "errors doubled, see INC-42");
    f.verify();
}

/// A reason within the limit but longer than a hook takes reaches the
/// hook cut (and saying so); the rollback runs.
#[test]
fn a_long_reason_reaches_the_hook_cut_and_the_rollback_runs() {
    let f = Field::new(ID);
    let child = start(&f);
    let reason = "é".repeat(2000); // 4000 bytes
    let out = f.rollback(&reason);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.wait_for("rolled_back", WAIT);
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(3));
    let (args, env) = hook_saw(&f);
    assert!(args[1].len() <= 1024, "{}", args[1].len());
    assert!(args[1].ends_with("(cut from 4000 bytes)"), "{}", args[1]);
    assert_eq!(env, args[1]);
    // The journal keeps the whole reason.
    assert!(f.text().contains(&reason));
    assert_eq!(f.count("failed"), 0, "{}", f.text());
    f.verify();
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
    let f = Field::new(ID);
    let config = plan(&f);
    nix::unistd::chown(f.path(), Some(uid.into()), Some(uid.into())).unwrap();
    nix::unistd::chown(&config, Some(uid.into()), Some(uid.into())).unwrap();
    let spawn = |args: &[&str]| {
        let mut cmd = proc::rampdeck(args);
        cmd.uid(uid)
            .gid(uid)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        f.env(&mut cmd);
        cmd
    };
    let child = spawn(&["run", "--headless", "--config", config.to_str().unwrap()])
        .spawn()
        .unwrap();
    f.wait_for("step_entered", WAIT);
    let out = spawn(&["rollback", ID, "--reason", "container test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.wait_for("rolled_back", WAIT);
    let out = proc::stop(child);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let journal = f.text();
    assert!(
        journal.contains(&format!("\"user\":\"uid:{uid}\"")),
        "{journal}"
    );
    assert!(!journal.contains("invalid actor"), "{journal}");
    let (args, _) = hook_saw(&f);
    assert_eq!(args[0], format!("uid:{uid}"));
    f.verify();
}

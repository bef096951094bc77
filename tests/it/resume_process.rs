//! A driver killed mid-ramp (SIGKILL: no chance to journal anything) and
//! started again on the same plan resumes from its journal (issue 9, item
//! 5): `resumed` is journaled, the idempotent set_weight re-asserts the
//! confirmed weight (never a lower or a higher one), and the journal
//! verifies. A journal whose rollout ended refuses a second rollout.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::kit::journal::{self, action};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A two-step plan with a fixed id whose set_weight appends the weight it
/// is given to `weights` (one line per run).
fn plan(dir: &Path, first_hold: &str) -> PathBuf {
    plan_with_id(dir, first_hold, "id = \"shop-resume\"")
}

fn plan_with_id(dir: &Path, first_hold: &str, id: &str) -> PathBuf {
    let weights = dir.join("weights");
    let text = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
{id}

[[steps]]
name = "first"
weight = 10
hold = "{first_hold}"
gate = "auto"

[[steps]]
name = "half"
weight = 50
hold = "1h"
gate = "auto"

[hooks.set_weight]
command = ["sh", "-c", "echo \"$1\" >> {weights}", "set-weight", "{{weight}}"]
timeout = "5s"
idempotent = true
"#,
        weights = weights.display()
    );
    let config = dir.join("plan.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn start(dir: &Path, config: &Path) -> Child {
    crate::kit::proc::rampdeck(&[])
        .args(["run", "--headless", "--config"])
        .arg(config)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.join("run"))
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn journal_of(dir: &Path) -> PathBuf {
    dir.join("data/rampdeck/shop-resume.jsonl")
}

fn weights(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("weights"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_driver_killed_at_50_percent_resumes_there_without_re_ramping() {
    let dir = tempfile::tempdir().unwrap();
    let config = plan(dir.path(), "1s");
    let mut first = start(dir.path(), &config);
    wait_for(dir.path(), "step 2 entered", 1, |r| {
        action(r) == "step_entered" && r["step"] == 1
    });
    first.kill().unwrap(); // SIGKILL: the driver journals nothing more.
    first.wait().unwrap();
    assert_eq!(weights(dir.path()), ["10", "50"]);
    let before = records(dir.path()).len();

    let second = start(dir.path(), &config);
    wait_for(dir.path(), "resumed", 1, |r| action(r) == "resumed");
    wait_for(dir.path(), "step 2 entered again", 2, |r| {
        action(r) == "step_entered" && r["step"] == 1
    });
    let all = records(dir.path());
    let resumed = all.iter().find(|r| action(r) == "resumed").unwrap();
    assert_eq!(resumed["step"], 1, "{resumed}");
    assert_eq!(resumed["weight"], 50, "{resumed}");
    let reason = resumed["reason"].as_str().unwrap();
    assert!(reason.contains("step 2 (50 %)"), "{reason}");
    // Nothing after the resume started a new rollout.
    assert!(
        all[before..].iter().all(|r| action(r) != "rollout_started"),
        "a second rollout_started"
    );
    // The weight was re-asserted at 50 %, never lowered to 10 % again.
    assert_eq!(weights(dir.path()), ["10", "50", "50"]);

    let pid = nix::unistd::Pid::from_raw(i32::try_from(second.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = second.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("resumed from the journal"), "{stdout}");
    verify(dir.path());
}

#[test]
fn a_journal_whose_rollout_ended_refuses_a_second_rollout_naming_a_new_id() {
    let dir = tempfile::tempdir().unwrap();
    let config = plan(dir.path(), "1s");
    let first = start(dir.path(), &config);
    wait_for(dir.path(), "step 2 entered", 1, |r| {
        action(r) == "step_entered" && r["step"] == 1
    });
    // A person rolls it back: the rollout is over.
    let out = crate::kit::proc::rampdeck(&[])
        .args(["rollback", "shop-resume", "--reason", "done for today"])
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.path().join("run"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    // Rolled back by set_weight 0 (the plan has no rollback hook).
    assert_eq!(weights(dir.path()), ["10", "50", "0"]);
    let before = std::fs::read(journal_of(dir.path())).unwrap();

    let again = start(dir.path(), &config).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already ended"), "{stderr}");
    assert!(stderr.contains("id = \"shop-resume-2\""), "{stderr}");
    // Refused before anything was written: no hook ran, no record added.
    assert_eq!(weights(dir.path()), ["10", "50", "0"]);
    assert_eq!(std::fs::read(journal_of(dir.path())).unwrap(), before);
    verify(dir.path());
}

/// Without `id` each run gets a dated id; a second run after a crash still
/// finds the unfinished rollout of this service and resumes it.
#[test]
fn a_plan_without_an_id_resumes_its_unfinished_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let config = plan_with_id(dir.path(), "1s", "");
    let journals = dir.path().join("data/rampdeck");
    // The journals (beside them: the flight recording, `.rec.jsonl.live`).
    let find = || -> Vec<PathBuf> {
        std::fs::read_dir(&journals)
            .map(|d| {
                d.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut first = start(dir.path(), &config);
    let deadline = Instant::now() + Duration::from_secs(20);
    while weights(dir.path()).len() < 2 {
        assert!(Instant::now() < deadline, "never reached 50 %");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // A new second of the clock: a new dated id would be a new file.
    std::thread::sleep(Duration::from_millis(1100));
    let second = start(dir.path(), &config);
    while weights(dir.path()).len() < 3 {
        assert!(Instant::now() < deadline, "never re-asserted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(second.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    second.wait_with_output().unwrap();
    let files = find();
    assert_eq!(files.len(), 1, "one journal: {files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(text.matches("\"action\":\"rollout_started\"").count(), 1);
    assert_eq!(text.matches("\"action\":\"resumed\"").count(), 1);
    assert_eq!(weights(dir.path()), ["10", "50", "50"]);
}

/// Waits until the journal holds `n` records satisfying `pred`.
fn wait_for(dir: &Path, what: &str, n: usize, pred: impl Fn(&serde_json::Value) -> bool) {
    journal::wait_nth(&journal_of(dir), what, n, journal::WAIT, pred);
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    journal::records(&journal_of(dir))
}

fn verify(dir: &Path) {
    journal::verify(&journal_of(dir));
}

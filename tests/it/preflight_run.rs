//! Pre-flight through the real binary (issue 13): a failing automatic
//! check stops `rampdeck run --headless` with exit 2 naming the item; a
//! passing check plus `--preflight-confirmed-by` starts the rollout, and
//! its journal records both.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::kit::journal;

/// Writes the plan (with `check.sh` exiting `exit`) and runs it headless.
fn run(dir: &Path, exit: i32, extra: &[&str]) -> (i32, String, String) {
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho checking migrations\nexit {exit}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plan = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
checklist = ["release notes reviewed"]

[[preflight]]
title = "migrations are backward compatible"
owner = "dana"
check = {{ command = ["{}"], timeout = "10s" }}

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"
"#,
        script.display()
    );
    let config = dir.join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    crate::kit::proc::run_headless(dir, &config, extra)
}

#[test]
fn a_failing_check_stops_the_run_naming_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let confirm = ["--preflight-confirmed-by", "carol", "--reason", "ok"];
    let (code, stdout, stderr) = run(dir.path(), 3, &confirm);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("migrations are backward compatible"),
        "{stderr}"
    );
    assert!(stderr.contains("check failed"), "{stderr}");
    let path = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "preflight_check",
        journal::WAIT,
    );
    // The check's record says it failed, and nothing started after it.
    assert_eq!(journal::count(&path, "rollout_started"), 0);
    let records = journal::records(&path);
    let check = records
        .iter()
        .find(|r| journal::action(r) == "preflight_check")
        .unwrap();
    assert_eq!(check["detail"]["ok"], false, "{check}");
    // The journal says why the driver stopped.
    let stopped = records
        .iter()
        .find(|r| journal::action(r) == "driver_stopped")
        .unwrap();
    let why = stopped.to_string();
    assert!(why.contains("not started: pre-flight not done"), "{why}");
}

#[test]
fn manual_items_unconfirmed_stop_the_run_saying_how_to_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(dir.path(), 0, &[]);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("release notes reviewed"), "{stderr}");
    assert!(stderr.contains("--preflight-confirmed-by"), "{stderr}");
}

#[test]
fn a_passing_check_and_a_confirmation_start_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let confirm = ["--preflight-confirmed-by", "carol", "--reason", "ok"];
    let (code, stdout, stderr) = run(dir.path(), 0, &confirm);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let path = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "rollout_started",
        journal::WAIT,
    );
    let records = journal::records(&path);
    let check = records
        .iter()
        .find(|r| journal::action(r) == "preflight_check")
        .unwrap();
    assert!(check.to_string().contains("checking migrations"), "{check}");
    let confirmed = records
        .iter()
        .find(|r| journal::action(r) == "preflight_confirmed")
        .unwrap();
    assert!(confirmed.to_string().contains("carol"), "{confirmed}");
    let order: Vec<&str> = records.iter().map(journal::action).collect();
    let at = |a: &str| order.iter().position(|x| *x == a).unwrap();
    // Checks run in tasks of their own: the confirmation typed on the
    // command line may come first; both come before the start.
    assert!(at("preflight_check") < at("rollout_started"));
    assert!(at("preflight_confirmed") < at("rollout_started"));
}

//! Headless runs end with the documented exit codes: 4 when a hook failed
//! and a human must act, or when paused longer than --max-pause; 2 for a
//! broken plan. (0 and 3 are covered by the demo in demo_headless.rs.)

#![allow(clippy::unwrap_used)]

use crate::kit::journal;

fn run(plan: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let out = crate::kit::proc::rampdeck(&[])
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .args(extra)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.path().join("run"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEAD: &str = r#"
[rollout]
service = "shop"
strategy = "canary"

[[steps]]
name = "canary"
weight = 10
hold = "1h"
gate = "auto"
"#;

#[test]
fn a_failed_traffic_hook_stops_with_4() {
    let plan = format!(
        "{HEAD}\n[hooks.set_weight]\ncommand = [\"sh\", \"-c\", \"echo no cluster >&2; exit 7\"]\ntimeout = \"5s\"\n"
    );
    let (code, stdout, stderr) = run(&plan, &[]);
    assert_eq!(code, 4, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("set_weight FAILED") || stdout.contains("exit 7"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().starts_with("journal: "),
        "{stdout}"
    );
}

#[test]
fn paused_past_max_pause_stops_with_4() {
    // A smoke check that fails pauses the rollout for a human.
    let plan = format!(
        "{HEAD}\n[[hooks.on_step_enter]]\ncommand = [\"sh\", \"-c\", \"exit 1\"]\ntimeout = \"5s\"\n"
    );
    let (code, stdout, stderr) = run(&plan, &["--max-pause", "1s"]);
    assert_eq!(code, 4, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("check_failed_pause"), "{stdout}");
    assert!(stdout.contains("--max-pause"), "{stdout}");
}

#[test]
fn a_broken_plan_exits_2_with_file_line_and_column() {
    let plan = HEAD.replace("weight = 10", "weight = 110");
    let (code, _stdout, stderr) = run(&plan, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("plan.toml:"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
}

#[test]
fn a_missing_secret_is_a_config_error_before_anything_runs() {
    let plan = format!(
        "{HEAD}\n[sources.prom]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:9\"\nauth = {{ bearer = {{ token_env = \"RAMPDECK_TEST_NO_SUCH_VAR\" }} }}\n\n[[metrics]]\nid = \"err\"\nsource = \"prom\"\nquery = 'x{{version=\"{{cohort}}\"}}'\nbaseline = \"none\"\nbad = \"up\"\nthreshold = {{ limit = 0.1 }}\n"
    );
    let (code, stdout, stderr) = run(&plan, &[]);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("RAMPDECK_TEST_NO_SUCH_VAR"), "{stderr}");
    assert!(stdout.is_empty(), "nothing ran: {stdout}");
}

/// Every stop signal a person or a supervisor sends to a headless driver
/// ends it the same way: a `driver_stopped` record that names the signal,
/// exit 4, and no lock or socket left behind (issue 9, item 8).
#[test]
fn stop_signals_are_journaled_and_leave_no_lock_or_socket() {
    use nix::sys::signal::Signal;
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("plan.toml");
        std::fs::write(&config, HEAD).unwrap();
        let run_dir = dir.path().join("run");
        let child = crate::kit::proc::rampdeck(&[])
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("RAMPDECK_RUNTIME_DIR", &run_dir)
            .env("HOME", dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let journal_dir = dir.path().join("data/rampdeck");
        let journal = journal::wait_for_journal_in(&journal_dir, "step_entered", journal::WAIT);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, sig).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(4), "{sig}: {stdout}");
        let text = std::fs::read_to_string(&journal).unwrap();
        let stops: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\"action\":\"driver_stopped\""))
            .collect();
        assert_eq!(stops.len(), 1, "{sig}: one stop record in\n{text}");
        assert!(stops[0].contains(sig.as_str()), "{sig}: {}", stops[0]);
        let left: Vec<_> = std::fs::read_dir(&run_dir)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sig}: left in the runtime dir: {left:?}");
        let verify = crate::kit::proc::rampdeck(&[])
            .arg("verify")
            .arg(&journal)
            .output()
            .unwrap();
        // The chain holds; the rollout never ended, so the journal is open.
        assert_eq!(verify.status.code(), Some(4), "{sig}: the journal verifies");
    }
}

/// A plan whose canary breaches at once (a command source reading `err`)
/// and whose rollback hook is `rollback` (argv), retried every second.
fn breaching_plan(dir: &std::path::Path, rollback: &[&str]) -> String {
    std::fs::write(dir.join("err"), "0.5\n").unwrap();
    let argv: Vec<String> = rollback.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"{HEAD}
[sources.script]
kind = "command"
interval = "1s"
timeout = "900ms"

[[metrics]]
id = "err"
source = "script"
command = ["cat", "{err}"]
bad = "up"
threshold = {{ limit = 0.05 }}

[[triggers]]
name = "errors"
metric = "err"
consecutive = 1

[hooks]
rollback_retry = "1s"

[hooks.rollback]
command = [{argv}]
timeout = "5s"
retries = 0
"#,
        err = dir.join("err").display(),
        argv = argv.join(", ")
    )
}

/// A rollback that fails is not given up (issue 9, item 6): the driver
/// stays up in `failed`, retries on its own (each attempt printed and
/// journaled), and ends rolled back (exit 3) once an attempt succeeds.
#[test]
fn a_failed_rollback_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hooks/flaky.sh");
    let plan = breaching_plan(dir.path(), &[script, count.to_str().unwrap()]);
    let config = dir.path().join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let out = crate::kit::proc::rampdeck(&[])
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.path().join("run"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "rolled back in the end:\n{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "3");
    assert_eq!(
        stdout.matches("ROLLBACK FAILED").count(),
        2,
        "two failed attempts shown:\n{stdout}"
    );
    assert!(
        stdout.contains("retrying the rollback (attempt 2)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("retrying the rollback (attempt 3)"),
        "{stdout}"
    );
    let journal = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "rolled_back",
        journal::WAIT,
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.matches("\"action\":\"rollback_retry\"").count(), 2);
    let verify = crate::kit::proc::rampdeck(&[])
        .arg("verify")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(verify.status.success(), "the journal verifies");
}

/// While a rollback keeps failing the driver keeps trying until a person
/// stops it: then exit 4, with the stop journaled after the attempts.
#[test]
fn a_rollback_that_always_fails_keeps_trying_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hooks/always-fail.sh");
    let plan = breaching_plan(dir.path(), &[script, runs.to_str().unwrap()]);
    let config = dir.path().join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let child = crate::kit::proc::rampdeck(&[])
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.path().join("run"))
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&runs).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollback was not retried"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("ROLLBACK FAILED"), "{stdout}");
    let journal = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "driver_stopped",
        journal::WAIT,
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.matches("\"action\":\"rollback_retry\"").count() >= 2,
        "{text}"
    );
    assert!(!text.contains("\"action\":\"rolled_back\""));
}

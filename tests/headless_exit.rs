//! Headless runs end with the documented exit codes: 4 when a hook failed
//! and a human must act, or when paused longer than --max-pause; 2 for a
//! broken plan. (0 and 3 are covered by the demo in demo_headless.rs.)

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn run(plan: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rampdeck"))
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

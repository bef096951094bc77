//! Blue-green and rolling through the real binary, headless (issue 14):
//! real hook processes see the switch, the scale-down and the batches with
//! their `{batch}` and `{instances}`; the journal records `switched`,
//! `scaled_down` and `batch_done` and verifies; the summary lists them
//! under their steps.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::kit::journal;

/// A hook script that appends its name and arguments to `calls.log`.
fn recorder(dir: &Path) -> String {
    let script = dir.join("hook.sh");
    let log = dir.join("calls.log");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn run(dir: &Path, plan: &str) -> (i32, String) {
    let config = dir.join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let (code, stdout, stderr) = crate::kit::proc::run_headless(dir, &config, &[]);
    (code, stdout + &stderr)
}

const METRIC: &str = r#"
[sources.cmd]
kind = "command"
interval = "1s"

[[metrics]]
id = "err"
source = "cmd"
command = ["sh", "-c", "echo 0.01"]
baseline = "none"
bad = "up"
threshold = { limit = 0.05 }
from_weight = 0
"#;

#[test]
fn blue_green_switches_scales_down_then_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let hook = recorder(dir.path());
    let plan = format!(
        r#"
[rollout]
service = "shop"
strategy = "blue-green"

[blue_green]
scale_down_delay = "2s"
{METRIC}
[[steps]]
name = "preview"
weight = 0
hold = "1s"

[[steps]]
name = "switch"
weight = 100
hold = "1s"

[hooks.switch]
command = ["{hook}", "switch", "{{weight}}"]
[hooks.rollback]
command = ["{hook}", "switch-back"]
[hooks.scale_down]
command = ["{hook}", "scale-down"]
[hooks.redeploy]
command = ["{hook}", "redeploy"]
"#
    );
    let (code, said) = run(dir.path(), &plan);
    assert_eq!(code, 0, "{said}");
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(calls, "switch 100\nscale-down\n", "{said}");
    let path =
        journal::wait_for_journal_in(&dir.path().join("data/rampdeck"), "promoted", journal::WAIT);
    let order: Vec<String> = journal::records(&path)
        .iter()
        .map(|r| journal::action(r).to_string())
        .collect();
    let at = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(at("switched") < at("scaled_down"), "{order:?}");
    assert!(at("scaled_down") < at("promoted"), "{order:?}");
    let md = std::fs::read_to_string(path.with_extension("summary.md")).unwrap();
    assert!(
        md.contains("switched: all traffic on the new stack"),
        "{md}"
    );
    assert!(md.contains("scaled_down: old stack scaled down"), "{md}");
    let verify = crate::kit::proc::rampdeck(&[])
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(verify.status.success());
}

#[test]
fn rolling_runs_its_batches_with_their_instances() {
    let dir = tempfile::tempdir().unwrap();
    let hook = recorder(dir.path());
    let plan = format!(
        r#"
[rollout]
service = "shop"
strategy = "rolling"

[rolling]
instances = 4
{METRIC}
[[steps]]
name = "b1"
batch = 1
hold = "1s"

[[steps]]
name = "b2"
batch = "50%"
hold = "1s"

[[steps]]
name = "b3"
batch = 1
hold = "1s"

[hooks.set_weight]
command = ["{hook}", "batch", "{{batch}}", "{{instances}}", "{{weight}}"]
"#
    );
    let (code, said) = run(dir.path(), &plan);
    assert_eq!(code, 0, "{said}");
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(
        calls, "batch 1 1 25\nbatch 2 3 75\nbatch 3 4 100\n",
        "{said}"
    );
    let path =
        journal::wait_for_journal_in(&dir.path().join("data/rampdeck"), "promoted", journal::WAIT);
    assert_eq!(journal::count(&path, "batch_done"), 3);
    let md = std::fs::read_to_string(path.with_extension("summary.md")).unwrap();
    assert!(
        md.contains("batch 3 of 3 done: 1 more, 4 of 4 instances"),
        "{md}"
    );
}

#[test]
fn a_metric_query_asks_for_the_current_steps_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("asked.log");
    // The command source's argv gets `{cohort_name}` as $0: the log keeps
    // which cohort each poll asked about.
    let plan = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"

[sources.cmd]
kind = "command"
interval = "1s"

[[metrics]]
id = "err"
source = "cmd"
command = ["sh", "-c", "echo \"cohort=$0\" >> '{log}'; echo 0.01", "{{cohort_name}}"]
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}

[[steps]]
name = "staff"
weight = 10
cohort = "employees"
hold = "4s"

[[steps]]
name = "beta"
weight = 100
cohort = "beta"
hold = "3s"
"#,
        log = log.display()
    );
    let (code, said) = run(dir.path(), &plan);
    assert_eq!(code, 0, "{said}");
    let asked = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = asked.lines().collect();
    let last_staff = lines.iter().rposition(|l| *l == "cohort=employees");
    let first_beta = lines.iter().position(|l| *l == "cohort=beta");
    assert!(
        matches!((last_staff, first_beta), (Some(s), Some(b)) if s < b),
        "employees while the first step ran, then beta:\n{asked}"
    );
    assert!(
        lines
            .iter()
            .all(|l| matches!(*l, "cohort=" | "cohort=employees" | "cohort=beta")),
        "{asked}"
    );
}

//! Approvals across a driver's restart (issue 13): a real headless driver
//! killed with SIGKILL after uid 65534 approved; restarted on the same
//! plan it still counts that approval (a second one by the same person is
//! refused: one person counts once); restarted on a changed plan it drops
//! it, journaled as `approvals_invalidated`, and the person may approve
//! again.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Output};
use std::time::Duration;

use crate::kit::field::Field;
use crate::kit::{journal, proc};

const WAIT: Duration = Duration::from_secs(20);

fn plan(f: &Field, last_hold: &str) -> std::path::PathBuf {
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"
session_group = "nogroup"

[[steps]]
name = "canary"
weight = 10
hold = "1s"
gate = "manual"
approvals = {{ from = ["nobody", "@deployers"], count = 2 }}

[[steps]]
name = "full"
weight = 100
hold = "{last_hold}"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true
"#,
        id = f.id
    ))
}

fn approve_as_nobody(f: &Field, reason: &str) -> Output {
    let mut cmd = proc::as_nobody(proc::RAMPDECK);
    cmd.args(["approve", &f.id, "1", "--reason", reason]);
    f.env(&mut cmd);
    cmd.output()
        .expect("setpriv (util-linux) runs a client as another user")
}

/// The `n`th `awaiting_approval` of the journal.
fn awaiting(f: &Field, n: usize) {
    journal::wait_nth(&f.journal(), "awaiting_approval", n, WAIT, |r| {
        r["action"] == "awaiting_approval"
    });
}

fn kill(mut driver: Child) {
    driver.kill().unwrap(); // SIGKILL: nothing more is journaled.
    driver.wait().unwrap();
}

#[test]
fn an_approval_survives_a_restart_on_the_same_plan_and_not_on_a_changed_one() {
    let f = Field::new("shop-approvals-restart");
    let config = plan(&f, "1h");
    let driver = f.spawn_headless(&config);
    awaiting(&f, 1);
    let first = approve_as_nobody(&f, "dashboards clean");
    assert_eq!(first.status.code(), Some(0), "{}", proc::said(&first));
    let approval = journal::wait_record(&f.journal(), "approval", WAIT);
    assert!(approval["detail"]["plan_hash"].as_str().is_some());
    kill(driver);

    // The same plan: the approval still counts.
    let driver = f.spawn_headless(&config);
    awaiting(&f, 2);
    let again = approve_as_nobody(&f, "again");
    assert_eq!(again.status.code(), Some(4), "{}", proc::said(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("counts once"),
        "{}",
        proc::said(&again)
    );
    assert_eq!(f.count("approvals_invalidated"), 0, "{}", f.text());
    kill(driver);

    // A changed plan: the approval is dropped, and said why.
    let config = plan(&f, "2h");
    let driver = f.spawn_headless(&config);
    let dropped = journal::wait_record(&f.journal(), "approvals_invalidated", WAIT);
    let why = dropped["reason"].as_str().unwrap();
    assert!(
        why.contains("the plan changed since nobody (step 1) approved"),
        "{dropped}"
    );
    assert_eq!(dropped["detail"]["dropped"][0]["user"], "nobody");
    awaiting(&f, 3);
    let anew = approve_as_nobody(&f, "checked the new plan");
    assert_eq!(anew.status.code(), Some(0), "{}", proc::said(&anew));
    let counted = journal::wait_nth(&f.journal(), "the new approval", 2, WAIT, |r| {
        r["action"] == "approval"
    });
    assert!(
        counted["reason"]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 approvals"),
        "{counted}"
    );
    proc::stop(driver);
    f.verify();
}

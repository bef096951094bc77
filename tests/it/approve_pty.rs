//! A second person approves through `rampdeck approve` while the cockpit
//! shows it (issue 13): the real binary's cockpit in a pseudo-terminal,
//! driven by root, on a step whose approvers are `nobody` and
//! `@deployers`; `rampdeck approve` run as uid 65534 (through `setpriv`,
//! another user to the kernel's peer credentials). The screen, the exit
//! codes and the journal are checked; waits are bounded.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::kit::field::Field;
use crate::kit::{journal, proc, pty};

/// Generous: the debug binary on a loaded 2-core machine.
const SCREEN: Duration = Duration::from_secs(20);

fn plan(f: &Field) -> std::path::PathBuf {
    // setpriv'd processes must reach the runtime dir inside.
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
approvals = {{ from = ["nobody", "@deployers"], count = 1 }}

[[steps]]
name = "half"
weight = 50
hold = "1h"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true
"#,
        id = f.id
    ))
}

#[test]
fn a_second_user_approves_from_a_shell_while_the_cockpit_shows_it() {
    let f = Field::new("shop-pty-approve");
    let config = plan(&f);
    let data = f.path().join("data").display().to_string();
    let run = f.path().join("run").display().to_string();
    let home = f.path().display().to_string();
    let env = [
        ("XDG_DATA_HOME", data.as_str()),
        ("RAMPDECK_RUNTIME_DIR", run.as_str()),
        ("HOME", home.as_str()),
    ];
    let config = config.display().to_string();
    let mut t = pty::Term::start(&["run", "--config", &config], 160, 45, &env, f.path());
    journal::wait_record(&f.journal(), "awaiting_approval", SCREEN);
    let s = t.wait_for("AWAITING APPROVAL", SCREEN);
    assert!(s.contains("0 of 1 approvals"), "{s}");
    assert!(s.contains("1 more from nobody, @deployers"), "{s}");
    // root drives and is not an approver: the cockpit does not offer `a`.
    assert!(!s.contains("a approve"), "{s}");

    // An approval naming another step is refused and not counted.
    let late = f.as_nobody(&["approve", &f.id, "2", "--reason", "meant for step 2"]);
    assert_eq!(late.status.code(), Some(4), "{}", proc::said(&late));
    let err = String::from_utf8_lossy(&late.stderr);
    assert!(
        err.contains("names step 2 but the rollout is at step 1"),
        "{}",
        proc::said(&late)
    );
    let refused = journal::wait_record(&f.journal(), "refused", SCREEN);
    assert_eq!(refused["actor"]["uid"], 65534, "{refused}");
    assert_eq!(f.count("approval"), 0);

    // nobody approves step 1, by number, from their own shell.
    let ok = f.as_nobody(&["approve", &f.id, "1", "--reason", "dashboards clean"]);
    assert_eq!(ok.status.code(), Some(0), "{}", proc::said(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).starts_with("approve: accepted"),
        "{}",
        proc::said(&ok)
    );

    // The cockpit shows who approved, and the step advanced. (The record
    // with the reason may have scrolled out of the short log by then: the
    // approve line says who, the journal below says why.)
    let s = t.wait_until("the approval and step 2 on screen", SCREEN, |s| {
        s.contains("step 2/2")
            && s.lines()
                .any(|l| l.contains("nobody") && l.contains("approve") && l.contains("1 of 1"))
    });
    assert!(
        s.lines()
            .any(|l| l.contains("nobody") && l.contains("approve") && l.contains("1 of 1")),
        "{s}"
    );
    assert!(s.contains("✔ canary"), "step 1 done on the ramp:\n{s}");
    assert!(!s.contains("0 of 1 approvals"), "{s}");
    let records = f.records();
    let approval = records.iter().find(|r| r["action"] == "approval").unwrap();
    assert_eq!(approval["actor"]["user"], "nobody");
    assert_eq!(approval["actor"]["uid"], 65534);
    assert_eq!(approval["reason"], "1 of 1 approvals: dashboards clean");
    assert!(approval["detail"]["plan_hash"].as_str().is_some());
    let approve = records.iter().find(|r| r["action"] == "approve").unwrap();
    assert_eq!(approve["actor"]["user"], "nobody");
    journal::wait_until(&f.journal(), "step 2 entered", SCREEN, |r| {
        r["action"] == "step_entered" && r["step"] == 1
    });

    // Quit the cockpit (it asks first); the journal's chain holds.
    t.send("q");
    t.wait_for("Quit the cockpit?", SCREEN);
    t.send("y");
    t.wait_exit(SCREEN);
    f.verify();
}

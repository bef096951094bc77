//! `rampdeck pause|resume|promote|approve` from another shell (issue 10,
//! "From another shell", and item 1's "a way past a manual step"): a real
//! headless driver, real `rampdeck` processes as root and, through
//! `setpriv`, as uid 65534; what each exits with and what the journal
//! holds. Waits poll the journal with a bound.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::kit::field::Field;
use crate::kit::proc;

/// A rollout whose first step is manual, with `approve` needing a reason,
/// that uid 65534 ("nobody", group "nogroup") may watch; `drivers` extra.
fn manual_plan(f: &Field, hold: &str, extra_rollout: &str) -> std::path::PathBuf {
    // setpriv'd processes must reach the runtime dir inside.
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"
session_group = "nogroup"
{extra_rollout}

[[steps]]
name = "canary"
weight = 10
hold = "{hold}"
gate = "manual"

[[steps]]
name = "full"
weight = 100
hold = "1h"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[ui]
reason_required = ["rollback", "promote_full", "approve"]
"#,
        id = f.id
    ))
}

#[test]
fn a_manual_step_is_approved_from_another_shell_and_others_are_refused() {
    let f = Field::new("shop-approve");
    let config = manual_plan(&f, "4s", "");
    let driver = f.start_headless(&config);
    let id = f.id.clone();

    // Too early: the engine's own refusal, in its words, exit 4.
    let out = f
        .rampdeck(&["approve", &id, "--reason", "too early"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", proc::said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hold not over yet") && err.contains("use promote to skip"),
        "{err}"
    );

    f.wait_for("awaiting_approval", Duration::from_secs(20));

    // A required reason missing: refused by the CLI before anything is
    // sent, so the journal does not change at all.
    let before = f.text();
    let out = f.rampdeck(&["approve", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", proc::said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a reason is required for approve") && err.contains("--reason"),
        "{err}"
    );
    assert_eq!(f.text(), before, "a refused reason changed the journal");

    // The driver applies the same rule to anything on its socket.
    let refused_before = f.count("refused");
    let notice = f.raw_command(r#"{"type":"command","command":"approve","reason":"  "}"#);
    assert!(
        notice.contains("a reason is required for approve"),
        "{notice}"
    );
    assert_eq!(f.count("refused"), refused_before);
    assert_eq!(f.count("approve"), 0);

    // A viewer (uid 65534, not in drivers) is refused, and that is
    // journaled with its own uid.
    let out = f.as_nobody(&["approve", &id, "--reason", "not mine to approve"]);
    assert_eq!(out.status.code(), Some(4), "{}", proc::said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused") && err.contains("may not approve"),
        "{err}"
    );
    let refusal = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "refused" && r["actor"]["uid"] == 65534)
        .unwrap_or_else(|| panic!("no refusal of uid 65534 in\n{}", f.text()));
    assert_eq!(refusal["detail"]["command"], "approve");
    assert_eq!(refusal["detail"]["their_reason"], "not mine to approve");
    assert_eq!(f.count("approve"), 0);

    // The driver's user approves from another shell: exit 0, journaled
    // with its identity and reason, and traffic moves to the next step.
    let out = f
        .rampdeck(&["approve", &id, "--reason", "CHG-4821 signed off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", proc::said(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("approve: accepted; the rollout is") && stdout.contains("step 2"),
        "{stdout}"
    );
    let approve = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "approve")
        .unwrap();
    assert_eq!(approve["actor"]["uid"], 0);
    assert_eq!(approve["reason"], "CHG-4821 signed off");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f
        .records()
        .iter()
        .any(|r| r["action"] == "step_entered" && r["weight"] == 100)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "step 2 not entered:\n{}",
            f.text()
        );
        std::thread::sleep(Duration::from_millis(25));
    }

    let _ = proc::stop(driver);
    f.verify();
}

#[test]
fn pause_resume_and_promote_full_from_another_shell_with_a_second_driver() {
    let f = Field::new("shop-verbs");
    let config = manual_plan(&f, "1h", "drivers = [\"root\", \"nobody\"]");
    let driver = f.start_headless(&config);
    let id = f.id.clone();

    // Pause: any driver may, without taking control.
    let out = f.as_nobody(&["pause", &id, "--reason", "looking at p95"]);
    assert_eq!(out.status.code(), Some(0), "{}", proc::said(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PAUSED by nobody: looking at p95"),
        "{}",
        proc::said(&out)
    );
    // Twice: the engine says why not.
    let out = f.rampdeck(&["pause", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", proc::said(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already paused by nobody"),
        "{}",
        proc::said(&out)
    );

    // Resume needs control: a second driver is told how to take it.
    let out = f.as_nobody(&["resume", &id]);
    assert_eq!(out.status.code(), Some(4), "{}", proc::said(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("add --take-control"),
        "{}",
        proc::said(&out)
    );
    let out = f.as_nobody(&["resume", &id, "--take-control", "--reason", "p95 fine"]);
    assert_eq!(out.status.code(), Some(0), "{}", proc::said(&out));
    let taken = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "control_taken")
        .unwrap();
    assert_eq!(taken["actor"]["uid"], 65534);
    let resume = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "resume")
        .unwrap();
    assert_eq!(resume["actor"]["uid"], 65534);

    // promote --full needs a reason by the plan, then goes to 100 %.
    let out = f.as_nobody(&["promote", &id, "--full"]);
    assert_eq!(out.status.code(), Some(2), "{}", proc::said(&out));
    let out = f.as_nobody(&["promote", "--full", &id, "-r", "ship it"]);
    assert_eq!(out.status.code(), Some(0), "{}", proc::said(&out));
    let full = f
        .records()
        .into_iter()
        .find(|r| r["action"] == "promote_full")
        .unwrap();
    assert_eq!(full["reason"], "ship it");
    let out = proc::wait_with_timeout(driver, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "promoted: exit 0");
    f.verify();
}

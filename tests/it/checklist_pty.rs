//! The cockpit's pre-flight list in a real pseudo-terminal (issue 13): a
//! 5,000-character note typed at once into the tick dialog is read whole
//! (not stalled after the first 1,024 bytes), held at the limit and said,
//! never a panic or a lost record; the pty closing (SIGHUP, stderr
//! included) while the list shows leaves the driver running (it used to
//! end without a record), and the journal verifies.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::kit::field::Field;
use crate::kit::{journal, pty};

/// Generous: the debug binary on a loaded 2-core machine.
const SCREEN: Duration = Duration::from_secs(30);

fn plan(f: &Field) -> std::path::PathBuf {
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"

[[preflight]]
title = "backout steps written"
[[preflight]]
title = "on-call told"

[[steps]]
name = "canary"
weight = 10
hold = "1h"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true
"#,
        id = f.id
    ))
}

#[test]
fn a_long_note_is_held_at_the_limit_and_a_hang_up_on_the_preflight_list_keeps_the_driver() {
    let f = Field::new("shop-pty-preflight");
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
    t.wait_for("backout steps written", SCREEN);
    t.send("t");
    t.wait_for("note (optional)", SCREEN);
    // 5,000 characters as typed (in pieces, as a terminal delivers them).
    for _ in 0..50 {
        t.send(&"n".repeat(100));
    }
    t.wait_for("at most 4096 bytes", Duration::from_secs(120));
    t.send("\r");
    let confirmed = journal::wait_record(&f.journal(), "preflight_confirmed", SCREEN);
    let kept = confirmed.to_string().matches('n').count();
    assert!((4000..=4200).contains(&kept), "{kept} n kept: {confirmed}");
    assert_eq!(f.count("rollout_started"), 0);

    // The pty closes while the list shows: the driver runs on, unattended.
    t.wait_for("on-call told", SCREEN);
    t.hang_up();
    f.wait_for("operator_detached", SCREEN);
    // The driver did not end with its screen: a driver ticks the last
    // item from a shell, and it is recorded.
    let out = f
        .rampdeck(&["tick", &f.id, "--item", "2", "--reason", "paged"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\njournal:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        f.text()
    );
    journal::wait_nth(&f.journal(), "the second confirmation", 2, SCREEN, |r| {
        r["action"] == "preflight_confirmed"
    });
    // The ticking driver's shell was the view in control while it was
    // connected: the ramp starts at its first step and goes no further.
    f.wait_for("step_entered", SCREEN);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(f.count("step_entered"), 1, "{}", f.text());
    let out = f.rollback("abandon").status;
    assert!(out.success());
    f.wait_for("rollout_ended", SCREEN);
    f.verify();
}

/// The pty closes while the cockpit observes at 100 % (unattended =
/// hold): the period passes and nothing is promoted (no on_finish hook
/// runs with no one there); a rollback from a shell then acts, and does
/// not find the rollout promoted under it.
#[test]
fn a_hang_up_while_observing_holds_the_promotion_and_a_rollback_still_acts() {
    let f = Field::new("shop-pty-observe");
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.on_finish]
command = ["touch", "{finished}"]

[exit]
observe = "3s"
"#,
        id = f.id,
        finished = f.path().join("finished").display(),
    ));
    let data = f.path().join("data").display().to_string();
    let run = f.path().join("run").display().to_string();
    let home = f.path().display().to_string();
    let env = [
        ("XDG_DATA_HOME", data.as_str()),
        ("RAMPDECK_RUNTIME_DIR", run.as_str()),
        ("HOME", home.as_str()),
    ];
    let config = config.display().to_string();
    let t = pty::Term::start(&["run", "--config", &config], 160, 45, &env, f.path());
    f.wait_for("observation_started", SCREEN);
    t.hang_up();
    f.wait_for("operator_detached", SCREEN);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(f.count("promoted"), 0, "{}", f.text());
    assert!(
        !f.path().join("finished").exists(),
        "on_finish ran unattended"
    );
    let out = f.rollback("held overnight: backing out");
    assert!(
        out.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        f.text()
    );
    f.wait_for("rolled_back", SCREEN);
    f.wait_for("rollout_ended", SCREEN);
    assert_eq!(f.count("promoted"), 0, "{}", f.text());
    f.verify();
}

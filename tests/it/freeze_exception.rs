//! A freeze exception granted from the approver's own shell (issue 13):
//! a dated freeze starts while a real headless rollout runs and holds its
//! ramp; the driver cannot grant its own exception over the socket; uid
//! 65534 (through `setpriv`) grants it with `rampdeck approve ROLLOUT
//! --freeze-exception`, journaled with the identity the peer credentials
//! prove; then the held step may be approved again.
//!
//! Freezes are minute-grained, so the rollout starts just before the next
//! minute and the test waits (bounded) for the freeze to begin.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use chrono::{Timelike, Utc};

use crate::kit::field::Field;
use crate::kit::{journal, proc};

#[test]
fn the_approver_grants_a_freeze_exception_as_themselves_and_the_driver_cannot() {
    let f = Field::new("shop-freeze-peer");
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The next whole minute, with a few seconds to start before it.
    let now = Utc::now();
    let skip = if now.second() >= 55 { 2 } else { 1 };
    let from = (now + chrono::Duration::minutes(skip))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let to = from + chrono::Duration::hours(1);
    let fmt = "%Y-%m-%d %H:%M";
    let config = f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"
session_group = "nogroup"

[[freezes]]
from = "{from}"
to = "{to}"
description = "test freeze"

[[steps]]
name = "canary"
weight = 10
hold = "1s"
gate = "manual"

[[steps]]
name = "full"
weight = 100
hold = "1h"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true
"#,
        id = f.id,
        from = from.format(fmt),
        to = to.format(fmt),
    ));
    let driver = f.start_headless(&config);
    let wait = Duration::from_secs(150);
    let closed = journal::wait_record(&f.journal(), "window_closed", wait);
    assert!(
        closed["reason"]
            .as_str()
            .unwrap()
            .contains("holds at this step"),
        "{closed}"
    );
    // Held: the manual step cannot be approved inside the freeze.
    let held = f
        .rampdeck(&["approve", &f.id, "--reason", "ready"])
        .output()
        .unwrap();
    assert_eq!(held.status.code(), Some(4), "{}", proc::said(&held));

    // The driver (root) cannot grant its own exception over the socket.
    let own = f
        .rampdeck(&["approve", &f.id, "--freeze-exception", "--reason", "mine"])
        .output()
        .unwrap();
    assert_eq!(own.status.code(), Some(4), "{}", proc::said(&own));
    assert!(
        String::from_utf8_lossy(&own.stderr).contains("drives this rollout"),
        "{}",
        proc::said(&own)
    );
    // Nor without a reason: nothing is sent.
    let bare = f.as_nobody(&["approve", &f.id, "--freeze-exception"]);
    assert_eq!(bare.status.code(), Some(2), "{}", proc::said(&bare));
    assert_eq!(f.count("freeze_exception"), 0);

    // uid 65534 grants it from their own shell.
    let ok = f.as_nobody(&[
        "approve",
        &f.id,
        "--freeze-exception",
        "--reason",
        "INC-12 fix tonight",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", proc::said(&ok));
    let granted = journal::wait_record(&f.journal(), "freeze_exception", wait);
    assert_eq!(granted["actor"]["uid"], 65534, "{granted}");
    assert_eq!(granted["detail"]["identity"], "peer");
    assert_eq!(granted["detail"]["approver"], "nobody");
    assert_eq!(granted["detail"]["reason"], "INC-12 fix tonight");

    // Inside the exception the held step may be approved.
    let go = f
        .rampdeck(&["approve", &f.id, "--reason", "ready"])
        .output()
        .unwrap();
    assert_eq!(go.status.code(), Some(0), "{}", proc::said(&go));
    journal::wait_until(&f.journal(), "step 2 entered", wait, |r| {
        r["action"] == "step_entered" && r["step"] == 1
    });
    proc::stop(driver);
    f.verify();
}

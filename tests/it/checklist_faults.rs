//! Checklist faults through the real binary (issue 13), as they happen in
//! the field: exit checks that print without end, hang past their timeout
//! leaving a grandchild on their pipes, or probe a server whose body never
//! ends; a rollback typed while they run acts at once; a breach during the
//! observation rolls back; `rampdeck tick` with a 5,000-character note and
//! from someone who is not a driver. Every journal verifies.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::kit::field::{Field, RECORD_ARGV};
use crate::kit::{http, proc};

/// A one-step plan at 100 % observed for an hour, with a command source
/// reading `err` (a breach above 0.05 rolls back) and `exit_items`.
fn observed_plan(f: &Field, exit_items: &str) -> std::path::PathBuf {
    // setpriv'd processes must reach the runtime dir inside.
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = f.path().join("err");
    std::fs::write(&err, "0.01\n").unwrap();
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"
session_group = "nogroup"

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"

[sources.script]
kind = "command"
interval = "1s"
timeout = "900ms"

[[metrics]]
id = "err"
source = "script"
command = ["cat", "{err}"]
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}

[[triggers]]
name = "errors"
metric = "err"
consecutive = 1

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["{RECORD_ARGV}", "{out}", "{{actor}}", "{{reason}}"]
timeout = "5s"

[exit]
observe = "1h"
{exit_items}
"#,
        id = f.id,
        err = err.display(),
        out = f.path().join("rollback").display(),
    ))
}

/// The output kept of each exit check: at most ~500 characters.
fn assert_bounded_checks(f: &Field) {
    for r in f.records() {
        if r["action"] == "exit_check" {
            let out = r["detail"]["output"].as_str().unwrap_or("");
            assert!(out.chars().count() <= 520, "{} chars: {r}", out.len());
        }
        assert!(
            r.to_string().len() < 8 * 1024,
            "a record of {} bytes",
            r.to_string().len()
        );
    }
}

#[test]
fn hostile_exit_checks_are_bounded_and_a_rollback_while_they_run_acts_at_once() {
    let f = Field::new("shop-exit-hostile");
    let endless = http::hostile_http(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n",
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        Duration::ZERO,
    );
    let items = format!(
        r#"
[[exit.items]]
title = "prints without end"
check = {{ command = ["yes", "smoke"], timeout = "3s" }}
[[exit.items]]
title = "hangs with a grandchild"
check = {{ command = ["sh", "-c", "setsid sleep 120 & sleep 120"], timeout = "30s" }}
[[exit.items]]
title = "probe with an endless body"
check = {{ http = "{endless}", status = 200, timeout = "3s" }}
"#
    );
    let config = observed_plan(&f, &items);
    let mut child = f.spawn_headless(&config);
    f.wait_for("observation_started", Duration::from_secs(30));
    // The endless printer and the endless body are cut at their timeout.
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.count("exit_check") < 2 {
        assert!(Instant::now() < deadline, "checks not cut:\n{}", f.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_bounded_checks(&f);
    // The hanging check still runs (30 s): a rollback acts at once.
    let started = Instant::now();
    let out = f.rollback("hung smoke check, backing out");
    assert!(out.status.success(), "{}", proc::said(&out));
    f.wait_for("rolled_back", Duration::from_secs(10));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the rollback waited {:?} for a check",
        started.elapsed()
    );
    assert!(f.path().join("rollback").exists(), "the rollback hook ran");
    let code = proc::wait_exit(&mut child, Duration::from_secs(40));
    assert_ne!(code, -1);
    assert_bounded_checks(&f);
    f.verify();
}

#[test]
fn a_breach_during_the_observation_rolls_back() {
    let f = Field::new("shop-exit-breach");
    let config = observed_plan(&f, "[[exit.items]]\ntitle = \"on-call briefed\"\n");
    let mut child = f.spawn_headless(&config);
    f.wait_for("observation_started", Duration::from_secs(30));
    std::fs::write(f.path().join("err"), "0.5\n").unwrap();
    f.wait_for("trigger_rollback", Duration::from_secs(15));
    f.wait_for("rolled_back", Duration::from_secs(15));
    assert!(f.path().join("rollback").exists(), "the rollback hook ran");
    assert_eq!(f.count("promoted"), 0, "{}", f.text());
    proc::wait_exit(&mut child, Duration::from_secs(30));
    f.verify();
}

#[test]
fn tick_with_a_long_note_or_from_a_non_driver_is_refused_and_a_driver_is_heard() {
    let f = Field::new("shop-exit-tick");
    let config = observed_plan(&f, "[[exit.items]]\ntitle = \"on-call briefed\"\n");
    let mut child = f.spawn_headless(&config);
    f.wait_for("observation_started", Duration::from_secs(30));

    // A 5,000-character note: refused with why, nothing sent or journaled.
    let long = "n".repeat(5000);
    let out = f
        .rampdeck(&["tick", &f.id, "--item", "1", "--reason", &long])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", proc::said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("5000 bytes") && err.contains("at most"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Someone who is not a driver: refused, not journaled as a tick.
    let mut nobody = proc::as_nobody(proc::RAMPDECK);
    nobody.args(["tick", &f.id, "--item", "1", "--reason", "briefed"]);
    f.env(&mut nobody);
    let out = nobody.output().unwrap();
    assert!(!out.status.success(), "{}", proc::said(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only a driver"),
        "{}",
        proc::said(&out)
    );
    assert_eq!(f.count("exit_confirmed"), 0, "{}", f.text());

    // A driver: accepted and journaled with the note.
    let out = f
        .rampdeck(&[
            "tick",
            &f.id,
            "--item",
            "1",
            "--reason",
            "briefed in #oncall",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", proc::said(&out));
    let confirmed = f.wait_for("exit_confirmed", Duration::from_secs(10));
    assert!(
        confirmed.to_string().contains("briefed in #oncall"),
        "{confirmed}"
    );
    assert_eq!(f.count("exit_confirmed"), 1, "{}", f.text());

    let out = f.rollback("done testing").status;
    assert!(out.success());
    f.wait_for("rolled_back", Duration::from_secs(15));
    proc::wait_exit(&mut child, Duration::from_secs(30));
    f.verify();
}

/// A view that ticks in a loop (an item already done, over and over)
/// cannot fill the journal: its refusals are journaled up to the flood
/// limit, the rest are only answered.
#[test]
fn ticks_in_a_loop_are_refused_without_filling_the_journal() {
    use std::io::{BufRead, BufReader, Write};
    let f = Field::new("shop-exit-tick-loop");
    let config = observed_plan(&f, "[[exit.items]]\ntitle = \"on-call briefed\"\n");
    let mut child = f.spawn_headless(&config);
    f.wait_for("observation_started", Duration::from_secs(30));
    let line = format!(
        "{{\"type\":\"confirm\",\"stage\":\"exit\",\"item\":0,\"note\":\"{}\"}}\n",
        "x".repeat(4000)
    );
    let mut s = std::os::unix::net::UnixStream::connect(f.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for _ in 0..60 {
        s.write_all(line.as_bytes()).unwrap();
    }
    // Every tick is answered: one accepted, then refusals.
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut answers = 0;
    let mut buf = String::new();
    while answers < 60 {
        buf.clear();
        assert!(r.read_line(&mut buf).unwrap() > 0, "closed after {answers}");
        if buf.contains("\"notice\"") && (buf.contains("accepted") || buf.contains("refused")) {
            answers += 1;
        }
    }
    assert_eq!(f.count("exit_confirmed"), 1, "{}", f.text());
    let refused = f.count("refused");
    assert!(refused <= 6, "{refused} refusals journaled");
    drop(s);
    assert!(f.rollback("done").status.success());
    f.wait_for("rolled_back", Duration::from_secs(15));
    proc::wait_exit(&mut child, Duration::from_secs(30));
    f.verify();
}

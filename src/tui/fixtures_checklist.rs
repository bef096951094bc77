//! Cockpit fixtures for the checklists (issue 13): the pre-flight screen
//! before the start, and the exit criteria while observing at 100 %. Both
//! come from the real engine, like the other fixtures.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::{Drive, at, of_engine, plan};
use crate::engine::{Actor, Input, Stage};
use crate::plan::{ExitPlan, PreflightCheck, PreflightItem};
use crate::snapshot::Snapshot;

fn item(title: &str, owner: &str, check: Option<&[&str]>, required: bool) -> PreflightItem {
    PreflightItem {
        title: title.into(),
        owner: Some(owner.into()),
        required,
        check: check.map(|argv| PreflightCheck {
            command: argv.iter().map(|a| a.to_string()).collect(),
            http: None,
            timeout: Duration::from_secs(30),
        }),
    }
}

/// Before the start: one check passed, one failed with its output, one
/// manual item ticked by carol, two still to tick, one optional.
pub fn snapshot_preflight() -> Snapshot {
    let mut p = plan();
    p.preflight = vec![
        item(
            "migrations are backward compatible",
            "dana",
            Some(&["./check-migrations.sh"]),
            true,
        ),
        item(
            "dashboards reachable",
            "erin",
            Some(&["curl", "-fsS", "https://grafana.internal/d/checkout"]),
            true,
        ),
        item("rollback tested in staging", "bob", None, true),
        item("on-call briefed", "alice", None, true),
        item("release notes drafted", "carol", None, false),
    ];
    let plan = Arc::new(p);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::RunChecks {
            stage: Stage::Preflight,
            item: None,
        },
    );
    let result = |item, ok, summary: &str| Input::CheckResult {
        stage: Stage::Preflight,
        item,
        ok,
        summary: summary.into(),
    };
    d.input(2, result(0, true, "exit 0: 14 migrations, all additive"));
    d.input(
        3,
        result(
            1,
            false,
            "exit 22: curl: (22) The requested URL returned error: 503",
        ),
    );
    d.input(
        9,
        Input::Confirm {
            stage: Stage::Preflight,
            item: Some(2),
            actor: Actor::named("carol"),
            reason: "ran it on staging-2 at 11:40".into(),
        },
    );
    of_engine(&d.engine, plan, at(10), false)
}

/// At 100 %, observing for 10 minutes: the smoke check passed, the flag
/// check runs, the runbook item is ticked, the hand-off items wait.
pub fn snapshot_exit() -> Snapshot {
    let mut p = plan();
    p.exit = Some(ExitPlan {
        observe: Duration::from_secs(600),
        items: vec![
            item(
                "smoke tests pass",
                "dana",
                Some(&["./smoke.sh", "--prod"]),
                true,
            ),
            item(
                "flags in their intended state",
                "erin",
                Some(&["./flags.sh", "verify"]),
                true,
            ),
            item("runbook deltas captured", "bob", None, true),
            item("on-call and support briefed", "alice", None, true),
        ],
    });
    let plan = Arc::new(p);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    settle(&mut d, 0);
    // Through the ramp a step a minute (the holds cut short), to 100 %.
    let mut t = 0;
    while !matches!(d.engine.phase(), crate::engine::Phase::Observing { .. }) && t < 600 {
        d.run(t, t + 60, i64::MAX, i64::MAX);
        t += 60;
        let why = "holds cut short: all green";
        d.command(t, crate::engine::Command::Promote, "alice", why);
        settle(&mut d, t);
    }
    let result = |item, ok, summary: &str| Input::CheckResult {
        stage: Stage::Exit,
        item,
        ok,
        summary: summary.into(),
    };
    d.run(t, t + 30, i64::MAX, i64::MAX);
    d.input(t + 30, result(0, true, "exit 0: 42 smoke tests passed"));
    d.run(t + 30, t + 60, i64::MAX, i64::MAX);
    d.input(
        t + 60,
        Input::Confirm {
            stage: Stage::Exit,
            item: Some(2),
            actor: Actor::named("bob"),
            reason: "RUN-118 updated".into(),
        },
    );
    d.run(t + 60, t + 125, i64::MAX, i64::MAX);
    of_engine(&d.engine, plan, at(t + 125), false)
}

/// Answers hooks until none is in flight (a chain starts one at a time).
fn settle(d: &mut Drive, t: i64) {
    while d.hooks_in_flight() > 0 {
        d.hooks_done(t, true);
    }
}

#![allow(clippy::unwrap_used)]
//! The cockpit's ramp with the service's past (issue 15): a weight where a
//! past rollout was rolled back is marked, each prior rollback reads as one
//! sentence with its reason, and the plan's incidents and risky areas
//! follow, at 200x50 (the ramp panel) and at 80x24 (the compact ramp line).

use std::sync::Arc;

use serde_json::json;

use crate::kit::snapshot::screen;
use rampdeck::journal::history::History;
use rampdeck::plan::Incident;
use rampdeck::snapshot::Snapshot;
use rampdeck::tui::fixtures::{Scenario, snapshot};

/// A past rollout of checkout rolled back at 25 % by the `errors` trigger.
fn past() -> History {
    serde_json::from_value(json!({"entries": [{
        "journal": "/var/lib/rampdeck/checkout-20261002-101500.jsonl",
        "rollout": "checkout-20261002-101500",
        "service": "checkout",
        "started_at": "2026-10-02T10:15:00.000Z",
        "started_ms": 1_790_936_100_000_i64,
        "duration_ms": 1_260_000,
        "outcome": "rolled_back",
        "drove": ["bob"],
        "fired": [{
            "kind": "trigger_rollback", "trigger": "errors", "metric": "error_rate",
            "step": 2, "weight": 25, "at": "2026-10-02T10:36:00.000Z",
            "at_ms": 1_790_937_360_000_i64, "by": "rampdeck", "streak": 2,
            "consecutive": 2, "value": 0.081, "limit": 0.05,
            "reason": "trigger errors: error_rate breached 2 times in a row (8.1 % > 5 % limit)"
        }],
        "breach_to_rollback_ms": 1000,
        "chain": {"state": "verified"}
    }]}))
    .unwrap()
}

fn with_past() -> Snapshot {
    let mut s = snapshot(Scenario::Progressing);
    let plan = Arc::make_mut(&mut s.plan);
    plan.incidents = vec![Incident {
        date: "2026-08-14".into(),
        title: "card vault timeouts".into(),
        link: Some("https://wiki.example.com/pm/88".into()),
        metric: None,
        area: Some("payments".into()),
    }];
    plan.rollout.risky_areas = vec!["payments".into()];
    s.history = Arc::new(past());
    s
}

#[test]
fn ramp_with_prior_rollbacks_200x50() {
    let s = screen(&with_past(), 200, 50);
    assert!(s.contains("Before this rollout"), "{s}");
    assert!(
        s.contains("↺ rolled back at 25 % on Error ratio, 2026-10-02, by the `errors`"),
        "{s}"
    );
    // The sentence wraps in the panel: the trigger and its reason follow.
    assert!(
        s.contains("  trigger: error_rate breached 2 times in a row (8.1 % > 5 % limit)"),
        "{s}"
    );
    assert!(s.contains("% > 5 % limit)"), "the reason is shown:\n{s}");
    assert!(
        s.contains("! incident 2026-08-14 card vault timeouts (area payments)"),
        "{s}"
    );
    assert!(s.contains("! risky: payments"), "{s}");
    let marked: Vec<&str> = s.lines().filter(|l| l.contains(" ↺")).collect();
    assert!(
        marked
            .iter()
            .any(|l| l.contains("quarter") && l.contains("25 %")),
        "the 25 % step is marked: {marked:?}"
    );
    assert!(!marked.iter().any(|l| l.contains("half")), "{marked:?}");
    insta::assert_snapshot!(s);
}

#[test]
fn ramp_with_prior_rollbacks_80x24() {
    let s = screen(&with_past(), 80, 24);
    assert!(s.contains("25%↺"), "{s}");
    assert!(
        s.contains("↺ rolled back at 25 % on Error ratio, 2026-10-02"),
        "{s}"
    );
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    insta::assert_snapshot!(s);
}

#[test]
fn without_a_past_the_ramp_is_as_before() {
    let s = screen(&snapshot(Scenario::Progressing), 200, 50);
    assert!(
        !s.contains("Before this rollout") && !s.contains('↺'),
        "{s}"
    );
}

#[test]
fn a_prior_rollback_from_a_tampered_journal_says_so() {
    let mut s = with_past();
    let mut h = past();
    h.entries[0].chain = rampdeck::journal::history::Chain::Tampered {
        line: 4,
        kind: "edited".into(),
        detail: "hash mismatch".into(),
    };
    s.history = Arc::new(h);
    let text = screen(&s, 200, 50);
    assert!(text.contains("[journal TAMPERED at line 4]"), "{text}");
}

use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::engine::{Actor, Decision, GateStatus, PhaseKind, Verdict};
use crate::journal::verify::{Problem, Seals};

fn gate(breaches: u32, canary: f64) -> GateStatus {
    GateStatus {
        metric: "err".into(),
        verdict: if breaches > 0 {
            Verdict::Breach
        } else {
            Verdict::Pass
        },
        canary: Some(canary),
        baseline: Some(0.01),
        limit: Some(0.05),
        detail: String::new(),
        breaches,
        no_data_polls: 0,
        samples: 1,
        degraded: false,
        warnings: vec![],
        gating: true,
        baseline_frozen_at: None,
        kinds: vec![],
    }
}

fn record(
    seq: u64,
    s: i64,
    action: DecisionKind,
    actor: &str,
    step: Option<usize>,
    weight: u8,
) -> Record {
    Record {
        seq,
        ts: Timestamp(1_790_000_000_000 + s * 1000),
        rollout: "shop-1".into(),
        decision: Decision {
            action,
            actor: if actor == "rampdeck" {
                Actor::system()
            } else {
                Actor::named(actor)
            },
            reason: String::new(),
            step,
            weight,
            phase: PhaseKind::Holding,
            gates: vec![],
            hook: None,
            detail: serde_json::Value::Null,
            at: None,
        },
        prev: String::new(),
        hmac: None,
        hash: String::new(),
    }
}

/// A rollout of `shop` rolled back at 25 % by the `errors` trigger after
/// three breaches, the first at second 20.
fn rolled_back() -> Vec<Record> {
    let mut started = record(1, 0, DecisionKind::RolloutStarted, "alice", None, 0);
    started.decision.detail = json!({
        "rollout": {"service": "shop"},
        "steps": [{"name": "c", "weight": 5, "hold": 10000}, {"name": "q", "weight": 25, "hold": 60000}],
        "metrics": [{"id": "err", "unit": "%", "display_scale": 100.0, "threshold": {"limit": 0.05}}],
        "triggers": [{"name": "errors", "metric": "err", "consecutive": 3, "action": "rollback"}],
    });
    let mut out = vec![
        started,
        record(2, 1, DecisionKind::StepEntered, "rampdeck", Some(0), 5),
        record(3, 11, DecisionKind::StepEntered, "rampdeck", Some(1), 25),
    ];
    for (i, b) in [1u32, 2].iter().enumerate() {
        let mut r = record(
            4 + i as u64,
            20 + i as i64,
            DecisionKind::SourceState,
            "rampdeck",
            Some(1),
            25,
        );
        r.decision.gates = vec![gate(*b, 0.09)];
        out.push(r);
    }
    let mut fired = record(
        6,
        22,
        DecisionKind::TriggerRollback,
        "rampdeck",
        Some(1),
        25,
    );
    fired.decision.reason = "trigger errors: err breached 3 times in a row".into();
    fired.decision.gates = vec![gate(3, 0.09)];
    fired.decision.detail = json!({"metric": "err", "trigger": "errors", "breaches": 3,
        "consecutive": 3, "value": 0.09, "limit": 0.05});
    out.push(fired);
    out.push(record(
        7,
        23,
        DecisionKind::RolledBack,
        "rampdeck",
        Some(1),
        0,
    ));
    out.push(record(
        8,
        24,
        DecisionKind::RolloutEnded,
        "rampdeck",
        Some(1),
        0,
    ));
    out
}

fn report(records: &[Record], closed: bool, problem: Option<Problem>) -> VerifyReport {
    VerifyReport {
        path: PathBuf::from("/j/shop-1.jsonl"),
        records: records.len(),
        rollout: Some("shop-1".into()),
        first_ts: records.first().map(|r| r.ts),
        last_ts: records.last().map(|r| r.ts),
        problem,
        head: None,
        closed,
        seals: Seals::default(),
        expected_head: None,
        recording: None,
    }
}

#[test]
fn a_rolled_back_rollout_says_what_caught_it_where_and_how_fast() {
    let records = rolled_back();
    let e = entry_of(&records, &report(&records, true, None));
    assert_eq!(e.service.as_deref(), Some("shop"));
    assert_eq!(e.outcome, Outcome::RolledBack);
    assert_eq!(e.chain, Chain::Verified);
    assert_eq!(e.drove, vec!["alice".to_string()]);
    assert_eq!(e.duration_ms, Some(24_000));
    assert_eq!(e.fired.len(), 1);
    let f = &e.fired[0];
    assert_eq!(f.kind, "trigger_rollback");
    assert_eq!(f.trigger.as_deref(), Some("errors"));
    assert_eq!((f.step, f.weight), (Some(1), 25));
    assert_eq!((f.streak, f.consecutive), (Some(3), Some(3)));
    assert_eq!(f.hold_ms, Some(60_000));
    assert_eq!(f.limit_then, Some(0.05));
    assert_eq!(f.numbers.as_deref(), Some("9 % vs limit 5 %"));
    // First breach at second 20, rollback decided at 22 (no hook ran).
    assert_eq!(e.breach_to_rollback_ms, Some(2_000));
    let text = render::fired_words(f);
    assert_eq!(
        text,
        "trigger_rollback `errors` at step 2, 25 %: err 9 % vs limit 5 % (3 in a row)"
    );
}

#[test]
fn open_aborted_and_tampered_journals_are_said_so() {
    let records = rolled_back();
    let cut = &records[..5];
    let e = entry_of(cut, &report(cut, false, None));
    assert_eq!(
        (e.outcome, e.chain.words()),
        (Outcome::Open, "open".to_string())
    );
    assert!(e.fired.is_empty() && e.breach_to_rollback_ms.is_none());

    let mut stopped = records[..5].to_vec();
    stopped.push(record(
        6,
        30,
        DecisionKind::RolloutEnded,
        "alice",
        Some(1),
        25,
    ));
    let e = entry_of(&stopped, &report(&stopped, true, None));
    assert_eq!(e.outcome, Outcome::Aborted);

    let problem = Problem {
        line: 4,
        seq: 4,
        kind: ProblemKind::Edited,
        detail: "hash mismatch".into(),
    };
    let before = &records[..3];
    let e = entry_of(before, &report(before, false, Some(problem)));
    assert_eq!(e.chain.words(), "TAMPERED at line 4");
    let table = render::table(&History {
        entries: vec![e],
        ..History::default()
    });
    assert!(
        table.contains("TAMPERED at line 4 (edited): hash mismatch"),
        "{table}"
    );
    assert!(
        table.lines().all(|l| l.chars().count() <= render::WIDTH),
        "{table}"
    );
}

#[test]
fn newest_first_and_the_table_fits_80_columns() {
    let records = rolled_back();
    let older = entry_of(&records, &report(&records, true, None));
    let mut newer = older.clone();
    newer.rollout = "shop-2-with-a-very-long-rollout-identifier".into();
    newer.started_ms = older.started_ms.map(|t| t + 86_400_000);
    let mut h = History {
        entries: vec![older, newer],
        unreadable: vec![Unreadable {
            journal: "/j/x.jsonl".into(),
            why: "line 1 is not a journal record".into(),
        }],
        cut_short: None,
    };
    h.sort();
    assert!(h.entries[0].rollout.starts_with("shop-2"));
    let table = render::table(&h);
    for l in table.lines() {
        assert!(l.chars().count() <= render::WIDTH, "{l:?}");
    }
    assert!(
        table.contains("unreadable: /j/x.jsonl: line 1 is not a journal record"),
        "{table}"
    );
    assert!(table.contains("breach to rollback: 2s"), "{table}");
}

//! The rolled-back run the summary tests read: a plan, its gates and a
//! journal written with the real writer from hand-made decisions.

use rampdeck::engine::DecisionKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rampdeck::engine::{Actor, Decision, GateStatus, HookOutcome, HookRecord, Timestamp, Verdict};
use rampdeck::journal::{JournalWriter, read_records, summarize, verify};
use rampdeck::plan::*;

use crate::kit::plan as kit;
use rampdeck::engine::analysis::KindStatus;
use rampdeck::engine::analysis::gate::Kind;

pub(super) fn plan() -> Plan {
    let step = |name: &str, weight: u8, gate: GateKind| Step {
        owner: Some("alice".into()),
        ..kit::step(name, weight, Duration::from_secs(60), gate)
    };
    let error_rate = Metric {
        name: "Error rate".into(),
        unit: "%".into(),
        display_scale: 100.0,
        threshold: Threshold {
            limit: Some(0.05),
            ..Threshold::default()
        },
        ..kit::promql(
            "error_rate",
            "prom",
            "sum(rate(errors[1m]))",
            Baseline::Cohort,
        )
    };
    let prom = kit::source(
        "prom",
        SourceKind::Prometheus(HttpTarget::default()),
        5000,
        2000,
    );
    let mut plan = kit::plan(vec![prom], vec![error_rate]);
    plan.rollout.id = Some("checkout-42".into());
    plan.rollout.ticket = Some(Ticket {
        id: "CHG-1234".into(),
        url: Some("https://tickets.example/CHG-1234".into()),
    });
    plan.rollout.owners = vec!["alice".into()];
    plan.steps = vec![
        step("canary-10", 10, GateKind::Auto),
        step("canary-50", 50, GateKind::Manual),
        step("full", 100, GateKind::Auto),
    ];
    plan.triggers = vec![Trigger {
        name: "errors".into(),
        metric: "error_rate".into(),
        consecutive: 3,
        action: TriggerAction::Rollback,
    }];
    plan
}

pub(super) fn gate(verdict: Verdict, canary: f64, breaches: u32) -> GateStatus {
    // The judge speaks beside the thresholds; its line goes to the summary.
    let judge = KindStatus {
        kind: Kind::Judge,
        verdict,
        holds: true,
        short: String::new(),
        detail: format!("judge {}: shift +{canary}", verdict.as_str()),
        numbers: serde_json::Value::Null,
    };
    GateStatus {
        kinds: vec![judge],
        metric: "error_rate".into(),
        verdict,
        canary: Some(canary),
        baseline: Some(0.01),
        limit: Some(0.05),
        detail: format!("{canary} vs limit 0.05"),
        breaches,
        no_data_polls: 0,
        samples: 4,
        degraded: false,
        warnings: Vec::new(),
        gating: true,
        baseline_frozen_at: None,
    }
}

pub(super) fn alice() -> Actor {
    Actor {
        uid: Some(1000),
        host: Some("deploy-1".into()),
        ssh_client: Some("10.0.0.5".into()),
        ..Actor::named("alice")
    }
}

pub(super) struct D(pub(super) Decision);

impl D {
    pub(super) fn new(
        action: &str,
        actor: Actor,
        reason: &str,
        step: Option<usize>,
        weight: u8,
        phase: &str,
    ) -> Self {
        D(Decision {
            action: DecisionKind::from_word(action),
            actor,
            reason: reason.into(),
            step,
            weight,
            phase: serde_json::from_value(serde_json::json!(phase)).expect("phase"),
            gates: vec![],
            hook: None,
            at: None,
            detail: serde_json::Value::Null,
        })
    }
    pub(super) fn gates(mut self, g: Vec<GateStatus>) -> Self {
        self.0.gates = g;
        self
    }
    pub(super) fn hook(mut self, id: u64, kind: HookKind, outcome: Option<(bool, &str)>) -> Self {
        self.0.hook = Some(HookRecord {
            id,
            kind,
            weight: None,
            outcome: outcome.map(|(ok, summary)| HookOutcome {
                ok,
                code: Some(if ok { 0 } else { 1 }),
                summary: summary.into(),
                stdout: String::new(),
                stderr: String::new(),
                attempts: 1,
                duration_ms: 1500,
            }),
        });
        self
    }
}

pub(super) const T0: i64 = 1_735_725_600_000; // 2025-01-01T10:00:00Z

/// A run that ramps to 50 %, sees errors climb, and is rolled back by the
/// trigger. Returns the journal path.
pub(super) fn rolled_back_run(dir: &Path) -> PathBuf {
    use HookKind::*;
    let sys = Actor::system;
    let pass = || vec![gate(Verdict::Pass, 0.011, 0)];
    let events: Vec<(i64, D)> = vec![
        (0, {
            let mut d = D::new(
                "rollout_started",
                alice(),
                "CHG-1234 ship v2",
                None,
                0,
                "pending",
            );
            d.0.detail = serde_json::to_value(plan()).expect("plan json");
            d
        }),
        (
            0,
            D::new(
                "hook_started",
                sys(),
                "set weight 10",
                Some(0),
                0,
                "promoting",
            )
            .hook(1, SetWeight, None),
        ),
        (
            2_000,
            D::new(
                "hook_result",
                sys(),
                "set weight 10",
                Some(0),
                10,
                "promoting",
            )
            .hook(1, SetWeight, Some((true, "exit 0"))),
        ),
        (
            2_000,
            D::new(
                "step_entered",
                sys(),
                "entered canary-10",
                Some(0),
                10,
                "holding",
            ),
        ),
        (
            3_000,
            D::new("hook_started", sys(), "smoke test", Some(0), 10, "holding").hook(
                2,
                OnStepEnter,
                None,
            ),
        ),
        (
            5_000,
            D::new("hook_result", sys(), "smoke test", Some(0), 10, "holding").hook(
                2,
                OnStepEnter,
                Some((true, "exit 0")),
            ),
        ),
        (
            10_000,
            D::new(
                "operator_attached",
                Actor::named("bob"),
                "watching",
                Some(0),
                10,
                "holding",
            ),
        ),
        (
            62_000,
            D::new(
                "auto_advance",
                sys(),
                "hold over, all gates pass",
                Some(0),
                10,
                "holding",
            )
            .gates(pass()),
        ),
        (
            62_000,
            D::new(
                "hook_started",
                sys(),
                "set weight 50",
                Some(1),
                10,
                "promoting",
            )
            .hook(3, SetWeight, None),
        ),
        (
            64_000,
            D::new(
                "hook_result",
                sys(),
                "set weight 50",
                Some(1),
                50,
                "promoting",
            )
            .hook(3, SetWeight, Some((true, "exit 0"))),
        ),
        (
            64_000,
            D::new(
                "step_entered",
                sys(),
                "entered canary-50",
                Some(1),
                50,
                "holding",
            )
            .gates(pass()),
        ),
        (
            100_000,
            D::new(
                "pause",
                alice(),
                "checking the dashboards",
                Some(1),
                50,
                "paused",
            )
            .gates(pass()),
        ),
        (
            110_000,
            D::new(
                "resume",
                alice(),
                "dashboards look | fine",
                Some(1),
                50,
                "holding",
            )
            .gates(vec![gate(Verdict::Breach, 0.081, 1)]),
        ),
        (
            120_000,
            D::new(
                "trigger_rollback",
                sys(),
                "error_rate breached 3 times",
                Some(1),
                50,
                "rolling_back",
            )
            .gates(vec![gate(Verdict::Breach, 0.09, 3)]),
        ),
        (
            120_500,
            D::new(
                "hook_started",
                sys(),
                "rollback",
                Some(1),
                50,
                "rolling_back",
            )
            .hook(4, Rollback, None),
        ),
        (
            125_000,
            D::new("hook_result", sys(), "rollback", Some(1), 0, "rolling_back").hook(
                4,
                Rollback,
                Some((true, "exit 0")),
            ),
        ),
        (
            125_000,
            D::new(
                "rolled_back",
                sys(),
                "rollback hook succeeded",
                Some(1),
                0,
                "rolled_back",
            )
            .gates(vec![gate(Verdict::Breach, 0.09, 3)]),
        ),
    ];
    let path = dir.join("journals/checkout-42.jsonl");
    let mut w = JournalWriter::create(&path, "checkout-42").expect("create");
    for (at, d) in events {
        w.append(Timestamp(T0 + at), &d.0).expect("append");
    }
    path
}

pub(super) fn summary_of(path: &Path) -> rampdeck::journal::Summary {
    summarize(
        &read_records(path).expect("read"),
        &verify(path).expect("verify"),
    )
}

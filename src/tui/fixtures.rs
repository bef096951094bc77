//! Realistic snapshots in every state the cockpit must draw, for snapshot
//! tests, the render benchmark and screenshots. Deterministic: no clock, no
//! randomness.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::series::MetricSeries;
use crate::engine::{
    Actor, Decision, DecisionKind, EngineView, GateStatus, NextAction, Phase, PhaseKind, StepState,
    StepView, Timestamp, Verdict,
};
use crate::plan::*;
use crate::snapshot::{Snapshot, SourceHealth, SourceState};

/// 2026-11-29 14:00:00 UTC, the fixtures' rollout start.
pub const T0: Timestamp = Timestamp(1_795_960_800_000);

/// The states the cockpit is tested in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Progressing,
    Paused,
    AwaitingApproval,
    BreachCountdown,
    RollingBack,
    RolledBack,
    Promoted,
    SourceDown,
    RollbackFailed,
}

fn metric(id: &str, name: &str, unit: &str, scale: f64, bad: BadDirection, t: Threshold) -> Metric {
    Metric {
        id: id.into(),
        name: name.into(),
        source: if id == "health" { "health" } else { "prom" }.into(),
        query: MetricQuery::Promql(format!("{id}{{cohort=\"{{cohort}}\"}}")),
        baseline: Baseline::Cohort,
        unit: unit.into(),
        display_scale: scale,
        bad,
        threshold: t,
        min_samples: 3,
        min_traffic: None,
        no_data: NoDataPolicy {
            action: NoDataAction::Pause,
            after: 6,
        },
        from_weight: None,
        baseline_when_empty: BaselineWhenEmpty::Frozen,
    }
}

fn step(name: &str, weight: u8, hold_s: u64, gate: GateKind, owner: Option<&str>) -> Step {
    Step {
        name: name.into(),
        weight,
        hold: Duration::from_secs(hold_s),
        gate,
        owner: owner.map(str::to_string),
        gates: None,
    }
}

/// The plan of `config.example.toml`, in short.
pub fn plan() -> Plan {
    let src = |name: &str, kind: SourceKind| Source {
        name: name.into(),
        kind,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        max_response: crate::plan::DEFAULT_MAX_RESPONSE,
        degraded: DegradedPolicy::Hold,
    };
    Plan {
        rollout: RolloutInfo {
            id: Some("checkout-20261129-140000".into()),
            service: "checkout".into(),
            strategy: Strategy::Canary,
            ticket: Some(Ticket {
                id: "CHG-4821".into(),
                url: None,
            }),
            owners: vec!["alice".into(), "bob".into()],
            drivers: vec!["alice".into()],
            require_second: vec![],
            unattended: Unattended::Hold,
            window: None,
            checklist: vec![],
            journal_dir: None,
            session_group: None,
            max_connections: crate::plan::DEFAULT_MAX_CONNECTIONS,
        },
        steps: vec![
            step("smoke", 0, 60, GateKind::Auto, None),
            step("canary", 5, 300, GateKind::Auto, Some("alice")),
            step("quarter", 25, 600, GateKind::Manual, Some("bob")),
            step("half", 50, 600, GateKind::Auto, None),
            step("full", 100, 300, GateKind::Auto, None),
        ],
        metrics: vec![
            metric(
                "error_rate",
                "Error ratio",
                "%",
                100.0,
                BadDirection::Up,
                Threshold {
                    limit: Some(0.05),
                    ratio: Some(2.0),
                    delta: None,
                    slo: Some(0.01),
                },
            ),
            metric(
                "p95_latency",
                "p95 latency",
                "ms",
                1000.0,
                BadDirection::Up,
                Threshold {
                    limit: Some(0.5),
                    delta: Some(0.1),
                    ..Threshold::default()
                },
            ),
            metric(
                "rps",
                "Request rate",
                "req/s",
                1.0,
                BadDirection::Down,
                Threshold::default(),
            ),
            metric(
                "health",
                "Health probe",
                "up",
                1.0,
                BadDirection::Down,
                Threshold {
                    limit: Some(1.0),
                    ..Threshold::default()
                },
            ),
        ],
        triggers: vec![Trigger {
            name: "errors".into(),
            metric: "error_rate".into(),
            consecutive: 2,
            action: TriggerAction::Rollback,
        }],
        sources: vec![
            src("prom", SourceKind::Prometheus(HttpTarget::default())),
            src(
                "health",
                SourceKind::Probe {
                    target: HttpTarget::default(),
                    expect_status: 200,
                    body_contains: None,
                },
            ),
        ],
        hooks: Hooks::default(),
        notify: Notify::default(),
        ui: UiSettings {
            keys: BTreeMap::new(),
            ..UiSettings::default()
        },
        journal: Default::default(),
    }
}

/// A snapshot in `scenario` with one sample per second since the start.
pub fn snapshot(scenario: Scenario) -> Snapshot {
    build(scenario, None)
}

/// Like [`snapshot`] but with `points` samples per series (for the bench).
pub fn snapshot_with_points(scenario: Scenario, points: usize) -> Snapshot {
    build(scenario, Some(points))
}

fn at(s: i64) -> Timestamp {
    Timestamp(T0.0 + s * 1000)
}

fn gate(m: &str, v: Verdict, c: f64, b: f64, limit: f64, detail: &str) -> GateStatus {
    GateStatus {
        metric: m.into(),
        verdict: v,
        canary: (v != Verdict::ProviderError).then_some(c),
        baseline: (v != Verdict::ProviderError).then_some(b),
        limit: Some(limit),
        detail: detail.into(),
        breaches: u32::from(v == Verdict::Breach),
        no_data_polls: if v == Verdict::ProviderError { 3 } else { 0 },
        samples: 40,
        degraded: false,
        warnings: Vec::new(),
        gating: true,
        baseline_frozen_at: None,
    }
}

fn decision(t: i64, action: &str, who: &str, reason: &str, step: usize, w: u8) -> Decision {
    Decision {
        action: DecisionKind::from_word(action),
        actor: if who == "rampdeck" {
            Actor::system()
        } else {
            Actor::named(who)
        },
        reason: reason.into(),
        step: Some(step),
        weight: w,
        phase: PhaseKind::Unknown,
        gates: vec![],
        hook: None,
        detail: serde_json::Value::Null,
        at: Some(at(t)),
    }
}

fn build(scenario: Scenario, points: Option<usize>) -> Snapshot {
    use Scenario as S;
    let plan = plan();
    // (current step, seconds since start, step entered at)
    let (cur, now_s, entered) = match scenario {
        S::Progressing | S::Paused | S::SourceDown => (1, 240, 60),
        S::AwaitingApproval => (2, 965, 360),
        S::BreachCountdown | S::RollingBack | S::RolledBack | S::RollbackFailed => (2, 520, 360),
        S::Promoted => (4, 2000, 1660),
    };
    let now_s = points.map_or(now_s, |p| p as i64);
    let breach = matches!(
        scenario,
        S::BreachCountdown | S::RollingBack | S::RolledBack | S::RollbackFailed
    );
    let down = scenario == S::SourceDown;
    let boundaries: Vec<i64> = [0, 60, 360, 960, 1560]
        .into_iter()
        .filter(|b| *b <= now_s)
        .collect();
    let weight_at = |t: i64| -> u8 {
        let i = boundaries.iter().rposition(|b| *b <= t).unwrap_or(0);
        plan.steps[i.min(cur)].weight
    };

    let mut series = Vec::new();
    for m in &plan.metrics {
        let mut ms = MetricSeries::new(&m.id, 4096);
        for t in 0..now_s {
            let wave = ((t as f64) / 17.0).sin() * 0.5 + ((t as f64) / 5.0).cos() * 0.3;
            let w = f64::from(weight_at(t));
            let late_breach = breach && t > now_s - 40;
            let (c, b) = match m.id.as_str() {
                "error_rate" if late_breach => (0.06 + 0.02 * wave.abs(), 0.009 + 0.001 * wave),
                "error_rate" => (0.011 + 0.002 * wave, 0.009 + 0.001 * wave),
                "p95_latency" => (0.23 + 0.03 * wave, 0.21 + 0.02 * wave),
                "rps" => ((w * 2.0 + wave).max(0.0), (100.0 - w) * 2.0 + wave * 3.0),
                _ => (1.0, 1.0),
            };
            let gap = down && t > now_s - 15 && m.source == "prom";
            ms.canary.push(at(t), (!gap).then_some(c));
            ms.baseline.push(at(t), (!gap).then_some(b));
        }
        series.push(ms);
    }

    let gates = match scenario {
        S::SourceDown => vec![
            gate(
                "error_rate",
                Verdict::ProviderError,
                0.0,
                0.0,
                0.05,
                "Prometheus: connection refused",
            ),
            gate(
                "p95_latency",
                Verdict::ProviderError,
                0.0,
                0.0,
                0.5,
                "Prometheus: connection refused",
            ),
            gate(
                "rps",
                Verdict::NoData,
                10.2,
                189.0,
                0.0,
                "no data: empty vector",
            ),
            gate("health", Verdict::Pass, 1.0, 1.0, 1.0, "1 >= 1 (limit)"),
        ],
        _ if breach => vec![
            gate(
                "error_rate",
                Verdict::Breach,
                0.081,
                0.009,
                0.05,
                "0.081 > 0.05 (limit)",
            ),
            gate("p95_latency", Verdict::Pass, 0.24, 0.21, 0.5, "0.24 <= 0.5"),
            gate("rps", Verdict::Pass, 50.3, 150.1, 0.0, "no limit"),
            gate("health", Verdict::Pass, 1.0, 1.0, 1.0, "1 >= 1 (limit)"),
        ],
        _ => vec![
            gate(
                "error_rate",
                Verdict::Pass,
                0.012,
                0.009,
                0.05,
                "0.012 <= 0.05",
            ),
            gate("p95_latency", Verdict::Pass, 0.23, 0.21, 0.5, "0.23 <= 0.5"),
            gate("rps", Verdict::Pass, 10.2, 189.0, 0.0, "no limit"),
            gate("health", Verdict::Pass, 1.0, 1.0, 1.0, "1 >= 1 (limit)"),
        ],
    };

    let (phase, next, weight, hook_running, rollback_failed) = match scenario {
        S::Progressing => (
            Phase::Holding { step: 1 },
            NextAction::Advance {
                to_weight: 25,
                in_ms: 120_000,
            },
            5,
            None,
            false,
        ),
        S::Paused => (
            Phase::Paused {
                step: 1,
                by: "alice".into(),
                reason: "latency blip in eu-west".into(),
            },
            NextAction::Paused {
                by: "alice".into(),
                reason: "latency blip in eu-west".into(),
            },
            5,
            None,
            false,
        ),
        S::SourceDown => (
            Phase::Holding { step: 1 },
            NextAction::NoDataAction {
                metric: "error_rate".into(),
                action: NoDataAction::Pause,
                polls_left: 3,
            },
            5,
            None,
            false,
        ),
        S::AwaitingApproval => (
            Phase::AwaitingApproval { step: 2 },
            NextAction::AwaitApproval { to_weight: 50 },
            25,
            None,
            false,
        ),
        S::BreachCountdown => (
            Phase::Holding { step: 2 },
            NextAction::RollbackIn {
                metric: "error_rate".into(),
                breaches_left: 1,
                approx_ms: 5_000,
            },
            25,
            None,
            false,
        ),
        S::RollingBack => (
            Phase::RollingBack,
            NextAction::WaitingForHook {
                kind: HookKind::Rollback,
            },
            25,
            Some(HookKind::Rollback),
            false,
        ),
        S::RolledBack => (Phase::RolledBack, NextAction::None, 0, None, false),
        S::Promoted => (Phase::Promoted, NextAction::None, 100, None, false),
        S::RollbackFailed => (
            Phase::Failed {
                reason: "rollback hook failed: exit 1 (kubectl: connection refused)".into(),
            },
            NextAction::None,
            25,
            None,
            true,
        ),
    };

    let steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let state = match scenario {
                S::Promoted => StepState::Done,
                _ if i < cur => StepState::Done,
                S::AwaitingApproval if i == cur => StepState::AwaitingApproval,
                S::RolledBack | S::RollbackFailed | S::RollingBack if i == cur => StepState::Failed,
                _ if i == cur => StepState::Current,
                _ => StepState::Pending,
            };
            let entered_at = boundaries.get(i).map(|b| at(*b));
            let left_at = boundaries.get(i + 1).map(|b| at(*b));
            let hold_ms = s.hold.as_millis() as u64;
            let hold_left_ms = (state == StepState::Current)
                .then(|| hold_ms.saturating_sub(((now_s - entered) * 1000).max(0) as u64));
            StepView {
                name: s.name.clone(),
                weight: s.weight,
                state,
                hold_ms,
                hold_left_ms,
                owner: s.owner.clone(),
                entered_at,
                left_at,
            }
        })
        .collect();

    let mut recent = vec![
        decision(0, "rollout_started", "alice", "CHG-4821 release 2.14", 0, 0),
        decision(
            60,
            "auto_advance",
            "rampdeck",
            "hold over, all gates pass",
            1,
            5,
        ),
    ];
    if cur >= 2 {
        recent.push(decision(
            360,
            "auto_advance",
            "rampdeck",
            "hold over, all gates pass",
            2,
            25,
        ));
    }
    match scenario {
        S::Paused => recent.push(decision(
            230,
            "pause",
            "alice",
            "latency blip in eu-west",
            1,
            5,
        )),
        S::SourceDown => recent.push(decision(
            228,
            "source_error",
            "rampdeck",
            "prom: connection refused",
            1,
            5,
        )),
        S::RollingBack | S::RolledBack | S::RollbackFailed => recent.push(decision(
            515,
            "trigger_rollback",
            "rampdeck",
            "errors: error_rate 0.081 > 0.05 twice in a row",
            2,
            25,
        )),
        S::Promoted => {
            recent.push(decision(
                965,
                "approve",
                "bob",
                "dashboards look clean",
                3,
                50,
            ));
            recent.push(decision(
                1660,
                "promote_full",
                "alice",
                "all green for 10 min",
                4,
                100,
            ));
            recent.push(decision(1960, "promoted", "rampdeck", "", 4, 100));
        }
        _ => {}
    }
    match scenario {
        S::RolledBack => recent.push(decision(
            519,
            "rolled_back",
            "rampdeck",
            "rollback hook: exit 0",
            2,
            0,
        )),
        S::RollbackFailed => recent.push(decision(
            519,
            "failed",
            "rampdeck",
            "rollback hook: exit 1 after 3 attempts",
            2,
            25,
        )),
        _ => {}
    }

    let prom_state = if down {
        SourceState::Erroring
    } else {
        SourceState::Up
    };
    let sources = vec![
        SourceHealth {
            name: "prom".into(),
            kind: "prometheus".into(),
            state: prom_state,
            last_ok: Some(at(now_s - if down { 15 } else { 1 })),
            last_error: down.then(|| "connection refused".to_string()),
            latency_ms: Some(12),
            degraded: false,
            warning: None,
        },
        SourceHealth {
            name: "health".into(),
            kind: "probe".into(),
            state: SourceState::Up,
            last_ok: Some(at(now_s - 2)),
            last_error: None,
            latency_ms: Some(3),
            degraded: false,
            warning: None,
        },
    ];
    let ended = matches!(scenario, S::RolledBack | S::Promoted);
    // A decision records the verdicts it was taken on.
    for d in &mut recent {
        if d.action == DecisionKind::TriggerRollback {
            d.gates = gates.clone();
        }
    }
    Snapshot {
        version: 1,
        rollout_id: "checkout-20261129-140000".into(),
        engine: EngineView {
            phase,
            step: Some(cur),
            steps,
            weight,
            gates,
            next,
            started_at: Some(T0),
            step_entered_at: Some(at(entered)),
            hook_running,
            rollback_failed,
            recent,
        },
        plan: Arc::new(plan),
        series: Arc::new(series),
        sources,
        driver: Some("alice".into()),
        watchers: 2,
        now: at(now_s),
        journal_path: "/var/lib/rampdeck/checkout-20261129-140000.jsonl".into(),
        summary_path: ended
            .then(|| "/var/lib/rampdeck/checkout-20261129-140000.summary.md".to_string()),
        warnings: if down {
            vec!["source prom: insecure_skip_verify is on; TLS is not verified".into()]
        } else {
            vec![]
        },
    }
}

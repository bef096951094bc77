//! Realistic snapshots in every state the cockpit must draw, for snapshot
//! tests, the render benchmark and screenshots. Deterministic: no clock, no
//! randomness.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{
    Actor, Cohort, Command, Effect, Engine, HookCall, HookOutcome, Input, Reading, Timestamp,
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
        query: if id == "health" {
            MetricQuery::Probe(ProbeField::Up)
        } else {
            MetricQuery::Promql(format!("{id}{{cohort=\"{{cohort}}\"}}"))
        },
        baseline: if id == "health" {
            Baseline::None
        } else {
            Baseline::Cohort
        },
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
        kinds: Default::default(),
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
        approvals: None,
        instances: None,
        cohort: None,
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
        preflight: vec![],
        exit: None,
        blue_green: None,
        rolling: None,
        incidents: vec![],
        judge: Default::default(),
        change_windows: Default::default(),
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
            risky_areas: vec![],
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
        hooks: Hooks {
            rollback: Some(Hook {
                action: HookAction::Command(vec!["./deploy/rollback.sh".into()]),
                timeout: Duration::from_secs(30),
                retries: 0,
                idempotent: true,
            }),
            ..Hooks::default()
        },
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

/// The progressing rollout of [`Scenario::Progressing`] with gate kinds
/// beside the thresholds: the error ratio with a burn rate, a judge and a
/// sequential test on the request rate, the p95 latency with a judge.
pub fn snapshot_with_kinds() -> Snapshot {
    use crate::engine::analysis::burn::BurnSettings;
    use crate::engine::analysis::classifier::JudgeSettings;
    use crate::engine::analysis::{ErrorCounts, JudgeGate, SequentialGate};
    let mut plan = plan();
    let judge = JudgeGate {
        settings: JudgeSettings {
            allowed_increase: 1.5,
            ..JudgeSettings::default()
        },
        min_samples: 10,
        max_samples: 600,
        every: Duration::from_secs(5),
    };
    for m in &mut plan.metrics {
        match m.id.as_str() {
            "error_rate" => {
                m.kinds.burn = Some(BurnSettings::default());
                m.kinds.judge = Some(judge.clone());
                m.kinds.sequential = Some(SequentialGate {
                    settings: Default::default(),
                    requests: "rps".into(),
                    errors: ErrorCounts::Ratio,
                });
            }
            "p95_latency" => m.kinds.judge = Some(judge.clone()),
            _ => {}
        }
    }
    let plan = Arc::new(plan);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    d.run(0, 240, i64::MAX, i64::MAX);
    of_engine(&d.engine, plan, at(240), false)
}

/// A rollout whose change window (13:00-14:15 UTC daily, an allow window)
/// closed at 14:15 while its first steps ran: the ramp holds, the header
/// says when the window opens again.
pub fn snapshot_with_window() -> Snapshot {
    use crate::plan::{WindowKind, WindowSpec};
    let mut plan = plan();
    plan.change_windows.windows = vec![WindowSpec {
        kind: WindowKind::Allow,
        schedule: "0 13 * * *".into(),
        duration: Duration::from_secs(75 * 60),
        time_zone: "UTC".into(),
        description: Some("afternoon".into()),
    }];
    let plan = Arc::new(plan);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    d.run(0, 1200, i64::MAX, i64::MAX);
    of_engine(&d.engine, plan, at(1200), false)
}

/// The "quarter" step (manual, at 25 %) needing 2 of bob, carol and
/// @deployers, awaiting approval with bob's in: "1 of 2 approvals".
pub fn snapshot_with_approvals() -> Snapshot {
    let mut plan = plan();
    if let Some(s) = plan.steps.iter_mut().find(|s| s.name == "quarter") {
        s.approvals = Some(crate::engine::approvals::ApprovalSpec {
            from: vec!["bob".into(), "carol".into(), "@deployers".into()],
            count: 2,
            allow_self: false,
            expires_ms: Some(30 * 60_000),
        });
    }
    let plan = Arc::new(plan);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    d.run(0, 962, i64::MAX, i64::MAX);
    d.command(962, Command::Approve, "bob", "dashboards look clean");
    d.run(962, 965, i64::MAX, i64::MAX);
    of_engine(&d.engine, plan, at(965), false)
}

/// `s` seconds after [`T0`].
pub fn at(s: i64) -> Timestamp {
    Timestamp(T0.0 + s * 1000)
}

/// A rollout driven to a scenario through the real engine: the fixtures
/// show only states the engine can reach, with the decisions, gates,
/// countdowns and allowed commands it produced.
pub struct Drive {
    pub engine: Engine,
    hooks: Vec<HookCall>,
    /// Every input, as the driver's flight recorder keeps them.
    pub entries: Vec<crate::recording::Entry>,
}

impl Drive {
    pub fn new(plan: Arc<Plan>) -> Drive {
        Drive {
            engine: Engine::new(plan),
            hooks: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The hooks started and not answered yet.
    pub fn hooks_in_flight(&self) -> usize {
        self.hooks.len()
    }

    pub fn input(&mut self, t: i64, input: Input) {
        self.entries.push(crate::recording::Entry {
            t: at(t),
            input: input.clone(),
            verdict: None,
        });
        for e in self.engine.handle(input, at(t)) {
            if let Effect::RunHook(call) = e {
                self.hooks.push(call);
            }
        }
    }

    pub fn command(&mut self, t: i64, command: Command, who: &str, reason: &str) {
        let input = Input::Command {
            command,
            actor: Actor::named(who),
            reason: reason.into(),
        };
        self.input(t, input);
    }

    /// Answers every hook in flight.
    pub fn hooks_done(&mut self, t: i64, ok: bool) {
        for call in std::mem::take(&mut self.hooks) {
            let outcome = HookOutcome {
                ok,
                code: Some(if ok { 0 } else { 1 }),
                summary: if ok {
                    "exit 0".into()
                } else {
                    "exit 1: kubectl: connection refused".into()
                },
                stdout: String::new(),
                stderr: String::new(),
                attempts: 1,
                duration_ms: 40,
            };
            self.input(
                t,
                Input::HookResult {
                    id: call.id,
                    outcome,
                },
            );
        }
    }

    /// One poll of every metric, canary and baseline, at second `t`.
    fn poll(&mut self, t: i64, breach: bool, prom_down: bool) {
        let weight = self.engine.view(at(t)).weight;
        for (metric, cohort, reading) in readings(t, weight, breach, prom_down) {
            let input = Input::Sample {
                metric: metric.into(),
                cohort,
                reading,
            };
            self.input(t, input);
        }
        self.input(t, Input::Tick);
    }

    /// Polls every second from `from` up to (not including) `to`.
    pub fn run(&mut self, from: i64, to: i64, breach_from: i64, down_from: i64) {
        for t in from..to {
            self.poll(t, t >= breach_from, t >= down_from);
        }
    }
}

/// What the fixtures' sources read at second `t` with the canary at
/// `weight`: every metric, canary then baseline; the error ratio breaching
/// when `breach`, Prometheus unreachable when `prom_down` (the health
/// probe still answers).
pub fn readings(
    t: i64,
    weight: u8,
    breach: bool,
    prom_down: bool,
) -> Vec<(&'static str, Cohort, Reading)> {
    let wave = ((t as f64) / 17.0).sin() * 0.5 + ((t as f64) / 5.0).cos() * 0.3;
    let w = f64::from(weight);
    let mut out = Vec::with_capacity(8);
    for id in ["error_rate", "p95_latency", "rps", "health"] {
        let (c, b) = match id {
            "error_rate" if breach => (0.081, 0.009 + 0.001 * wave),
            "error_rate" => (0.011 + 0.002 * wave, 0.009 + 0.001 * wave),
            "p95_latency" => (0.23 + 0.03 * wave, 0.21 + 0.02 * wave),
            "rps" => ((w * 2.0 + wave).max(0.0), (100.0 - w) * 2.0 + wave * 3.0),
            _ => (1.0, 1.0),
        };
        for (cohort, v) in [(Cohort::Canary, c), (Cohort::Baseline, b)] {
            let reading = if prom_down && id != "health" {
                Reading::ProviderError {
                    message: "Prometheus at http://prom:9090 is unreachable (connection refused): \
                              is it running and is the URL right?"
                        .into(),
                    code: Some("unreachable".into()),
                }
            } else {
                Reading::value(v)
            };
            out.push((id, cohort, reading));
        }
    }
    out
}

fn build(scenario: Scenario, points: Option<usize>) -> Snapshot {
    let (d, plan, now_s) = drive_to(scenario, points);
    of_engine(&d.engine, plan, at(now_s), scenario == Scenario::SourceDown)
}

/// A scenario's snapshot once the driver's tick of its last second ran,
/// and the recording of every input that led there (for replay tests: the
/// replayed screen must be the live one).
pub fn snapshot_and_recording(scenario: Scenario) -> (Snapshot, crate::recording::Recording) {
    let (mut d, plan, now_s) = drive_to(scenario, None);
    d.input(now_s, Input::Tick);
    let snap = of_engine(
        &d.engine,
        plan.clone(),
        at(now_s),
        scenario == Scenario::SourceDown,
    );
    let header = crate::recording::Header {
        recording: crate::recording::format::FORMAT,
        rollout_id: snap.rollout_id.clone(),
        plan: (*plan).clone(),
        plan_hash: crate::engine::decision::plan_hash(&plan),
        started: at(0),
    };
    let rec = crate::recording::Recording {
        header,
        entries: d.entries,
    };
    (snap, rec)
}

/// The engine driven through `scenario`, its plan, and the second reached.
fn drive_to(scenario: Scenario, points: Option<usize>) -> (Drive, Arc<Plan>, i64) {
    use Scenario as S;
    let plan = Arc::new(plan());
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    let never = i64::MAX;
    // (second the snapshot is taken at)
    let now_s = match scenario {
        S::Progressing => {
            d.run(0, 240, never, never);
            240
        }
        S::Paused => {
            d.run(0, 230, never, never);
            d.command(230, Command::Pause, "alice", "latency blip in eu-west");
            d.run(230, 240, never, never);
            240
        }
        S::SourceDown => {
            d.run(0, 240, never, 237);
            240
        }
        S::AwaitingApproval => {
            d.run(0, 965, never, never);
            965
        }
        S::BreachCountdown => {
            d.run(0, 961, never, never);
            d.command(961, Command::Approve, "bob", "dashboards look clean");
            d.run(961, 1121, 1120, never);
            1121
        }
        S::RollingBack | S::RolledBack | S::RollbackFailed => {
            d.run(0, 961, never, never);
            d.command(961, Command::Approve, "bob", "dashboards look clean");
            d.run(961, 1122, 1120, never);
            match scenario {
                S::RolledBack => d.hooks_done(1123, true),
                S::RollbackFailed => d.hooks_done(1123, false),
                _ => {}
            }
            1124
        }
        S::Promoted => {
            d.run(0, 961, never, never);
            d.command(961, Command::Approve, "bob", "dashboards look clean");
            d.run(961, 1300, never, never);
            d.command(1300, Command::PromoteFull, "alice", "all green for 5 min");
            d.hooks_done(1301, true);
            d.run(1301, 1310, never, never);
            1310
        }
    };
    // The render bench asks for longer series: keep polling.
    let now_s = match points {
        Some(p) if (p as i64) > now_s => {
            let p = p as i64;
            d.run(now_s, p, never, never);
            p
        }
        _ => now_s,
    };
    (d, plan, now_s)
}

/// The snapshot a driver would publish for `engine` at `now`, with the
/// fixtures' two sources (`prom` erroring when `prom_down`).
pub fn of_engine(engine: &Engine, plan: Arc<Plan>, now: Timestamp, prom_down: bool) -> Snapshot {
    let down = prom_down;
    let now_s = (now.0 - T0.0) / 1000;
    let view = engine.view(now);
    let ended = view.over;
    let sources = vec![
        SourceHealth {
            name: "prom".into(),
            kind: "prometheus".into(),
            state: if down {
                SourceState::Erroring
            } else {
                SourceState::Up
            },
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
    Snapshot {
        version: 1,
        rollout_id: "checkout-20261129-140000".into(),
        series: Arc::new(engine.series().to_vec()),
        engine: view,
        plan,
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
        replay: None,
        history: Default::default(),
    }
}

//! The demo's rollout run in-process: the engine, a plan over the demo's
//! series and the simulated service, a poll at a time, with no HTTP, no
//! sockets and no clock. Every hook succeeds at once (a `set_weight` moves
//! the simulated traffic). Tests and benchmarks use it to run hundreds of
//! whole rollouts a second, e.g. to measure each gate kind's time to a
//! rollback and its false alarms (`benches/gate_kinds.rs`).
//!
//! The flaky-source scenario's outages come as provider errors, as the
//! HTTP source reports them; hooks take no time.

use std::sync::Arc;

use super::Scenario;
use super::sim::{CohortSample, Sim};
use crate::engine::analysis::gate::Kind;
use crate::engine::types::{Actor, Cohort, Effect, HookOutcome, Input, Reading};
use crate::engine::{Engine, Timestamp};
use crate::plan::{Baseline, HookKind, MetricQuery, Plan};
use crate::recording::{Entry, Header, Recording};

/// `plan` judged by some of its gates only: its thresholds if `thresholds`
/// (else no limit, ratio or delta, so they never breach) and the kinds in
/// `kinds`. To measure each gate kind alone.
pub fn only(plan: &Plan, thresholds: bool, kinds: &[Kind]) -> Plan {
    let mut p = plan.clone();
    for m in &mut p.metrics {
        if !thresholds {
            m.threshold.limit = None;
            m.threshold.ratio = None;
            m.threshold.delta = None;
        }
        if !kinds.contains(&Kind::Burn) {
            m.kinds.burn = None;
        }
        if !kinds.contains(&Kind::Judge) {
            m.kinds.judge = None;
        }
        if !kinds.contains(&Kind::Sequential) {
            m.kinds.sequential = None;
        }
    }
    p
}

/// How one offline rollout ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub promoted: bool,
    pub rolled_back: bool,
    /// Seconds from the start to the rollback decision.
    pub rollback_at: Option<f64>,
    /// The rollback decision's reason ("trigger errors: judge High: ...").
    pub rollback_reason: Option<String>,
    /// Seconds from the start to the first canary traffic, and to the
    /// canary's first step at 25 % or more (where bad-canary degrades).
    pub first_traffic_at: Option<f64>,
    pub at_25_at: Option<f64>,
    /// Seconds simulated: to the end of the rollout, or `max_secs`.
    pub secs: f64,
}

/// The demo series a metric's query reads (`demo:error_ratio{...}`).
fn series_name(query: &MetricQuery) -> Option<&str> {
    match query {
        MetricQuery::Promql(q) => Some(q.split('{').next().unwrap_or(q).trim()),
        _ => None,
    }
}

fn value_of(name: &str, s: &CohortSample) -> Option<f64> {
    super::api::series_value(name, s).flatten()
}

/// Run `plan` against `scenario` (with `seed`) for at most `max_secs`,
/// polling every metric of both cohorts each second.
pub fn run(plan: &Plan, scenario: Scenario, seed: u64, max_secs: f64) -> Outcome {
    run_with(plan, scenario, seed, max_secs, None)
}

/// [`run`], and the flight recording of it: every input the offline run
/// fed the engine, at its time, as the driver records a live rollout.
pub fn record(plan: &Plan, scenario: Scenario, seed: u64, max_secs: f64) -> (Outcome, Recording) {
    let mut entries = Vec::new();
    let out = run_with(plan, scenario, seed, max_secs, Some(&mut entries));
    let header = Header {
        recording: crate::recording::format::FORMAT,
        rollout_id: format!("offline-{}-{seed}", scenario.as_str()),
        plan: plan.clone(),
        plan_hash: crate::engine::decision::plan_hash(plan),
        started: Timestamp(0),
    };
    (out, Recording { header, entries })
}

/// The engine, and the recording of what it is fed (if one is kept).
struct Fed<'a> {
    engine: Engine,
    entries: Option<&'a mut Vec<Entry>>,
}

impl Fed<'_> {
    fn handle(&mut self, input: Input, now: Timestamp) -> Vec<Effect> {
        let Some(entries) = self.entries.as_mut() else {
            return self.engine.handle(input, now);
        };
        let effects = self.engine.handle(input.clone(), now);
        let verdict = match &input {
            Input::Sample { metric, .. } => self
                .engine
                .gate_statuses()
                .into_iter()
                .find(|g| &g.metric == metric)
                .map(|g| g.verdict),
            _ => None,
        };
        entries.push(Entry {
            t: now,
            input,
            verdict,
        });
        effects
    }
}

fn run_with(
    plan: &Plan,
    scenario: Scenario,
    seed: u64,
    max_secs: f64,
    entries: Option<&mut Vec<Entry>>,
) -> Outcome {
    let plan = Arc::new(plan.clone());
    let mut engine = Fed {
        engine: Engine::new(Arc::clone(&plan)),
        entries,
    };
    let mut sim = Sim::new(scenario, seed);
    let actor = Actor::named("offline");
    let mut out = Outcome {
        promoted: false,
        rolled_back: false,
        rollback_at: None,
        rollback_reason: None,
        first_traffic_at: None,
        at_25_at: None,
        secs: 0.0,
    };
    // The pre-flight checks pass at once against the simulated service
    // (see the RunCheck answer below); then the start.
    let checks = Input::RunChecks {
        stage: crate::engine::Stage::Preflight,
        item: None,
    };
    for effect in engine.handle(checks, Timestamp(0)) {
        if let Effect::RunCheck { stage, item } = effect {
            let result = Input::CheckResult {
                stage,
                item,
                ok: true,
                summary: "simulated: passed".into(),
            };
            engine.handle(result, Timestamp(0));
        }
    }
    let mut pending = engine.handle(Input::Start { actor }, Timestamp(0));
    let mut t = 0.0f64;
    while t <= max_secs {
        let now = Timestamp((t * 1000.0) as i64);
        // Hooks answer at once; their effects may ask for more hooks.
        while !pending.is_empty() {
            let mut next = Vec::new();
            for e in pending {
                match e {
                    Effect::RunHook(call) => {
                        if call.kind == HookKind::SetWeight || call.kind == HookKind::Promote {
                            let w = if call.kind == HookKind::Promote {
                                100
                            } else {
                                call.weight
                            };
                            sim.set_weight(t, w);
                            if w > 0 && out.first_traffic_at.is_none() {
                                out.first_traffic_at = Some(t);
                            }
                            if w >= 25 && out.at_25_at.is_none() {
                                out.at_25_at = Some(t);
                            }
                        }
                        if call.kind == HookKind::Rollback {
                            sim.set_weight(t, 0);
                        }
                        let ok = HookOutcome::succeeded("exit 0");
                        next.extend(engine.handle(
                            Input::HookResult {
                                id: call.id,
                                outcome: ok,
                            },
                            now,
                        ));
                    }
                    Effect::Journal(d) if d.action.is_rollback() && out.rollback_at.is_none() => {
                        out.rollback_at = Some(t);
                        out.rollback_reason = Some(d.reason.clone());
                    }
                    Effect::RunCheck { stage, item } => {
                        // The simulated service passes its checks at once.
                        let result = Input::CheckResult {
                            stage,
                            item,
                            ok: true,
                            summary: "simulated: passed".into(),
                        };
                        next.extend(engine.handle(result, now));
                    }
                    Effect::Journal(_) | Effect::Notify(_) => {}
                }
            }
            pending = next;
        }
        if engine.engine.phase().is_terminal() {
            break;
        }
        t += 1.0;
        let now = Timestamp((t * 1000.0) as i64);
        let fault = sim.source_fault(t);
        for m in &plan.metrics {
            let Some(name) = series_name(&m.query) else {
                continue;
            };
            let mut cohorts = vec![Cohort::Canary];
            if matches!(m.baseline, Baseline::Cohort) {
                cohorts.push(Cohort::Baseline);
            }
            for cohort in cohorts {
                let reading = match (fault, value_of(name, &sim.sample(cohort, t))) {
                    (Some(f), _) => Reading::ProviderError {
                        message: f.as_str().into(),
                        code: Some(f.as_str().into()),
                    },
                    (None, Some(v)) if v.is_finite() => Reading::value(v),
                    _ => Reading::NoData {
                        why: "no traffic".into(),
                    },
                };
                let input = Input::Sample {
                    metric: m.id.clone(),
                    cohort,
                    reading,
                };
                pending.extend(engine.handle(input, now));
            }
        }
        pending.extend(engine.handle(Input::Tick, now));
    }
    out.secs = t;
    let phase = engine.engine.phase();
    out.promoted = matches!(phase, crate::engine::Phase::Promoted);
    out.rolled_back =
        matches!(phase, crate::engine::Phase::RolledBack) || out.rollback_at.is_some();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn demo_plan() -> Plan {
        crate::config::parse(super::super::DEMO_CONFIG, "assets/demo.toml").unwrap()
    }

    #[test]
    fn slow_burn_is_rolled_back_by_the_judge_where_thresholds_alone_promote_it() {
        let plan = demo_plan();
        let bare = only(&plan, true, &[]);
        for seed in 0..20 {
            let o = run(&bare, Scenario::SlowBurn, seed, 600.0);
            assert!(
                o.promoted,
                "seed {seed}: thresholds alone catch slow-burn: {o:?}"
            );
            let o = run(&plan, Scenario::SlowBurn, seed, 600.0);
            assert!(!o.promoted && o.rolled_back, "seed {seed}: {o:?}");
            let why = o.rollback_reason.unwrap_or_default();
            assert!(why.contains("judge high"), "seed {seed}: {why}");
        }
    }

    #[test]
    fn healthy_is_promoted_and_bad_canary_rolled_back_with_every_kind_on() {
        let plan = demo_plan();
        let promoted = (0..20)
            .filter(|s| run(&plan, Scenario::Healthy, *s, 600.0).promoted)
            .count();
        // One false alarm in 20 would be 5 %; the bench measures ~1 % over 200.
        assert!(promoted >= 19, "{promoted} of 20 healthy canaries promoted");
        for seed in 0..5 {
            let o = run(&plan, Scenario::BadCanary, seed, 600.0);
            assert!(o.rolled_back && !o.promoted, "seed {seed}: {o:?}");
        }
    }
}

//! The demo's scenarios closed-loop through the real config loader and the
//! pure engine, fed from the simulation model each second (no HTTP): healthy,
//! flaky-source and slow-burn are promoted, bad-canary rolls back.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use rampdeck::demo::{self, Scenario, sim::Sim};
use rampdeck::engine::Engine;
use rampdeck::engine::types::*;
use rampdeck::plan::HookKind;

/// Runs a scenario; returns (final phase name, seconds to it, when the
/// weight first reached 25).
fn run(sc: Scenario) -> (&'static str, f64, Option<f64>) {
    let toml = demo::DEMO_CONFIG.replace(demo::ADDR_PLACEHOLDER, "127.0.0.1:9");
    let plan = Arc::new(rampdeck::config::parse(&toml, "demo.toml").unwrap());
    let mut eng = Engine::new(plan.clone());
    let mut sim = Sim::new(sc, demo::server::DEFAULT_SEED);
    let t0 = 1_700_000_000_000i64;
    let mut pending = eng.handle(
        Input::Start {
            actor: Actor::named("demo"),
        },
        Timestamp(t0),
    );
    let mut quarter = None;
    for ms in (0..400_000i64).step_by(250) {
        let now = Timestamp(t0 + ms);
        let t = ms as f64 / 1000.0;
        // Hooks succeed at once: set_weight and rollback move the model's traffic.
        while !pending.is_empty() {
            for e in std::mem::take(&mut pending) {
                if let Effect::RunHook(call) = e {
                    match call.kind {
                        HookKind::SetWeight => sim.set_weight(t, call.weight),
                        HookKind::Rollback => sim.set_weight(t, 0),
                        _ => {}
                    }
                    let outcome = HookOutcome {
                        ok: true,
                        code: Some(200),
                        summary: "HTTP 200".into(),
                        stdout: String::new(),
                        stderr: String::new(),
                        attempts: 1,
                        duration_ms: 1,
                    };
                    pending.extend(eng.handle(
                        Input::HookResult {
                            id: call.id,
                            outcome,
                        },
                        now,
                    ));
                }
            }
        }
        if quarter.is_none() && sim.weight_at(t) >= 25 {
            quarter = Some(t);
        }
        if ms % 1000 == 0 {
            let fault = sim.source_fault(t);
            for m in &plan.metrics {
                for c in [Cohort::Canary, Cohort::Baseline] {
                    let s = sim.sample(c, t);
                    let v = match m.id.as_str() {
                        "error_rate" => s.error_ratio,
                        "p95_latency" => s.latency_p95,
                        "rps" => Some(s.requests_per_second),
                        "saturation" => Some(s.saturation),
                        other => panic!("unknown demo metric {other}"),
                    };
                    let reading = match (fault, v) {
                        (Some(f), _) => Reading::ProviderError {
                            message: f.as_str().into(),
                            code: Some(f.as_str().into()),
                        },
                        (None, Some(value)) => Reading::value(value),
                        (None, None) => Reading::NoData {
                            why: "empty vector".into(),
                        },
                    };
                    let input = Input::Sample {
                        metric: m.id.clone(),
                        cohort: c,
                        reading,
                    };
                    pending.extend(eng.handle(input, now));
                }
            }
        }
        pending.extend(eng.handle(Input::Tick, now));
        if pending.is_empty() && matches!(eng.phase(), Phase::Promoted | Phase::RolledBack) {
            return (eng.phase().name(), t, quarter);
        }
    }
    (eng.phase().name(), 400.0, quarter)
}

#[test]
fn demo_scenarios_end_as_advertised() {
    let (phase, healthy_t, _) = run(Scenario::Healthy);
    assert_eq!(phase, Phase::Promoted.name());
    assert!((90.0..150.0).contains(&healthy_t), "{healthy_t}");

    let (phase, t, quarter) = run(Scenario::BadCanary);
    assert_eq!(phase, Phase::RolledBack.name());
    assert!(
        t - quarter.unwrap() < 10.0,
        "rolled back {t} after 25 % at {quarter:?}"
    );

    let (phase, flaky_t, _) = run(Scenario::FlakySource);
    assert_eq!(phase, Phase::Promoted.name());
    assert!(
        flaky_t > healthy_t,
        "the outages held the ramp: {flaky_t} vs {healthy_t}"
    );

    let (phase, _, _) = run(Scenario::SlowBurn);
    assert_eq!(phase, Phase::Promoted.name(), "slow-burn passes every gate");
}

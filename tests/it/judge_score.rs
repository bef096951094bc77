//! The judged metrics' step score through a real engine and the real plan
//! loader: a marginal score holds the step by default and pauses it with
//! `[judge] on_marginal = "pause"`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use rampdeck::engine::types::{Actor, Cohort, DecisionKind, Effect, HookOutcome, Input, Reading};
use rampdeck::engine::{Engine, Phase, Timestamp};

/// Two judged metrics and no trigger: the canary's latency is clearly
/// higher (the judge says High), its error ratio the same as the baseline's,
/// so the score is 50: marginal between `marginal = 50` and `pass = 95`.
fn plan(on_marginal: &str) -> String {
    format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"

[sources.p]
kind = "prometheus"
url = "http://127.0.0.1:9"

[[metrics]]
id = "err"
source = "p"
query = "e"
bad = "up"
threshold = {{ limit = 0.5 }}
[metrics.judge]
min_samples = 5
every = "1s"

[[metrics]]
id = "lat"
source = "p"
query = "l"
bad = "up"
threshold = {{ limit = 10.0 }}
[metrics.judge]
min_samples = 5
every = "1s"

[judge]
pass = 95
marginal = 50
on_marginal = "{on_marginal}"

[[steps]]
name = "canary"
weight = 10
hold = "20s"
"#
    )
}

/// Feeds both metrics every second for `secs`; returns every decision kind.
fn run(on_marginal: &str, secs: i64) -> (Engine, Vec<DecisionKind>) {
    let plan = rampdeck::config::parse(&plan(on_marginal), "t.toml").unwrap();
    let mut e = Engine::new(Arc::new(plan));
    let mut kinds = Vec::new();
    let mut pending = e.handle(
        Input::Start {
            actor: Actor::named("alice"),
        },
        Timestamp(0),
    );
    for t in 0..=secs {
        let now = Timestamp(t * 1000);
        while !pending.is_empty() {
            let mut next = Vec::new();
            for fx in pending {
                match fx {
                    Effect::RunHook(call) => next.extend(e.handle(
                        Input::HookResult {
                            id: call.id,
                            outcome: HookOutcome::succeeded("exit 0"),
                        },
                        now,
                    )),
                    Effect::Journal(d) => kinds.push(d.action.clone()),
                    Effect::Notify(_) | Effect::RunCheck { .. } => {}
                }
            }
            pending = next;
        }
        let wiggle = (t % 5) as f64 * 0.001;
        for (metric, canary, baseline) in [
            ("err", 0.010 + wiggle, 0.010 + (4 - t % 5) as f64 * 0.001),
            ("lat", 0.300 + wiggle, 0.200 + wiggle),
        ] {
            for (cohort, v) in [(Cohort::Canary, canary), (Cohort::Baseline, baseline)] {
                let input = Input::Sample {
                    metric: metric.into(),
                    cohort,
                    reading: Reading::value(v),
                };
                pending.extend(e.handle(input, now));
            }
        }
        pending.extend(e.handle(Input::Tick, now));
    }
    for fx in pending {
        if let Effect::Journal(d) = fx {
            kinds.push(d.action.clone());
        }
    }
    (e, kinds)
}

#[test]
fn a_marginal_score_holds_the_step_and_on_marginal_pause_pauses_it() {
    let (e, kinds) = run("hold", 40);
    assert!(
        matches!(e.phase(), Phase::Holding { .. }),
        "{:?}",
        e.phase()
    );
    assert!(!kinds.contains(&DecisionKind::AutoAdvance), "{kinds:?}");
    let v = e.view(Timestamp(40_000));
    let next = rampdeck::engine::words::next_action(&v.next);
    assert!(next.contains("judge score 50 < 95 (marginal"), "{next}");

    let (e, kinds) = run("pause", 40);
    assert!(matches!(e.phase(), Phase::Paused { .. }), "{:?}", e.phase());
    assert!(kinds.contains(&DecisionKind::TriggerPause), "{kinds:?}");
}

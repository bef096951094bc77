//! The scenarios checked against the thresholds and steps of the real
//! `assets/demo.toml`: if someone retunes the file or the model, these say
//! whether healthy still passes and bad-canary still breaches.

use super::DEMO_CONFIG;
use super::scenario::Scenario;
use super::sim::{BAD_FROM_WEIGHT, Sim, SourceFault};
use crate::engine::types::Cohort;

/// Seconds between entering a step and its hold ending that the engine may
/// add (min_samples polls at 1 s, hook latency).
const STEP_OVERHEAD: f64 = 3.0;
/// When the demo's first step starts (the service starts first).
const FIRST_STEP_AT: f64 = 1.0;

#[derive(Debug)]
struct Limits {
    err_limit: f64,
    err_delta: f64,
    err_slo: f64,
    p95_limit: f64,
    p95_delta: f64,
    sat_limit: f64,
}

fn config() -> toml::Value {
    toml::from_str(DEMO_CONFIG).unwrap()
}

fn threshold(cfg: &toml::Value, metric: &str, key: &str) -> f64 {
    let m = cfg["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"].as_str() == Some(metric))
        .unwrap_or_else(|| panic!("demo.toml has no metric {metric}"));
    m["threshold"][key].as_float().unwrap()
}

fn limits() -> Limits {
    let cfg = config();
    Limits {
        err_limit: threshold(&cfg, "error_rate", "limit"),
        err_delta: threshold(&cfg, "error_rate", "delta"),
        err_slo: threshold(&cfg, "error_rate", "slo"),
        p95_limit: threshold(&cfg, "p95_latency", "limit"),
        p95_delta: threshold(&cfg, "p95_latency", "delta"),
        sat_limit: threshold(&cfg, "saturation", "limit"),
    }
}

fn secs(s: &str) -> f64 {
    s.strip_suffix('s').unwrap().parse().unwrap()
}

/// (start, weight, hold) of each step of demo.toml, as a run at speed 1
/// with every gate passing would play them.
fn schedule() -> Vec<(f64, u8, f64)> {
    let cfg = config();
    let mut at = FIRST_STEP_AT;
    cfg["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(
                s["gate"].as_str(),
                Some("auto"),
                "the demo has no manual gate"
            );
            let weight = u8::try_from(s["weight"].as_integer().unwrap()).unwrap();
            let hold = secs(s["hold"].as_str().unwrap());
            let step = (at, weight, hold);
            at += hold + STEP_OVERHEAD;
            step
        })
        .collect()
}

/// A model whose weights follow the demo plan; and when the plan ends.
fn demo_run(scenario: Scenario, seed: u64) -> (Sim, f64) {
    let mut sim = Sim::new(scenario, seed);
    let steps = schedule();
    for &(start, weight, _) in &steps {
        sim.set_weight(start, weight);
    }
    let last = steps.last().unwrap();
    (sim, last.0 + last.2 + STEP_OVERHEAD)
}

fn seconds(to: f64) -> impl Iterator<Item = f64> {
    (0..=to.ceil() as i64).map(|s| s as f64)
}

/// Check canary against the limits, and against the baseline where the
/// baseline has data, each scaled by `margin` (1.0 = the limit itself).
fn assert_within(sim: &Sim, t: f64, l: &Limits, margin: f64) {
    let c = sim.sample(Cohort::Canary, t);
    let b = sim.sample(Cohort::Baseline, t);
    let ctx = format!("{} at t={t} (weight {})", sim.scenario(), sim.weight_at(t));
    assert!(
        c.saturation <= margin * l.sat_limit,
        "{ctx}: saturation {c:?}"
    );
    if let Some(err) = c.error_ratio {
        assert!(err <= margin * l.err_limit, "{ctx}: error ratio {err}");
        if let Some(base) = b.error_ratio {
            assert!(
                err - base <= margin * l.err_delta,
                "{ctx}: error delta {err} vs {base}"
            );
        }
    }
    if let Some(p95) = c.latency_p95 {
        assert!(p95 <= margin * l.p95_limit, "{ctx}: p95 {p95}");
        if let Some(base) = b.latency_p95 {
            assert!(
                p95 - base <= margin * l.p95_delta,
                "{ctx}: p95 delta {p95} vs {base}"
            );
        }
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn healthy_stays_within_thresholds_with_margin_at_every_weight() {
    let l = limits();
    for seed in 0..5 {
        for weight in [5, 25, 50, 100] {
            let mut sim = Sim::new(Scenario::Healthy, seed);
            sim.set_weight(0.0, weight);
            for t in seconds(300.0) {
                assert_within(&sim, t, &l, 0.6);
            }
        }
        let (sim, end) = demo_run(Scenario::Healthy, seed);
        for t in seconds(end + 30.0) {
            assert_within(&sim, t, &l, 0.6);
        }
    }
}

#[test]
fn the_baseline_stays_comparable_through_the_last_step() {
    // At 100 % the baseline serves nothing; its series must still be there
    // (rate window) until the last hold is over, or delta gates go NoData.
    let (sim, end) = demo_run(Scenario::Healthy, 1);
    for t in seconds(end) {
        let b = sim.sample(Cohort::Baseline, t);
        assert!(b.error_ratio.is_some() && b.latency_p95.is_some(), "t={t}");
    }
}

#[test]
fn bad_canary_is_fine_below_25_and_breaches_within_a_few_samples_from_25() {
    let l = limits();
    let steps = schedule();
    let quarter = steps.iter().find(|s| s.1 == BAD_FROM_WEIGHT).unwrap().0;
    for seed in 0..5 {
        // The plan up to the quarter step: the triggers end it there.
        let mut sim = Sim::new(Scenario::BadCanary, seed);
        for &(start, weight, _) in steps.iter().filter(|s| s.1 <= BAD_FROM_WEIGHT) {
            sim.set_weight(start, weight);
        }
        for t in seconds(quarter - 1.0) {
            assert_within(&sim, t, &l, 0.6);
        }
        // Polled each second from the switch on: breaches from the 2nd
        // sample (error ratio) and the 3rd (p95), in limit and in delta.
        for t in seconds(60.0).map(|d| quarter + d) {
            let d = t - quarter;
            let c = sim.sample(Cohort::Canary, t);
            let b = sim.sample(Cohort::Baseline, t);
            let (err, base) = (c.error_ratio.unwrap(), b.error_ratio.unwrap());
            let (p95, base95) = (c.latency_p95.unwrap(), b.latency_p95.unwrap());
            if d >= 2.0 {
                assert!(err > l.err_limit, "seed {seed} t+{d}: error ratio {err}");
                assert!(err - base > l.err_delta, "seed {seed} t+{d}: error delta");
            }
            if d >= 3.0 {
                assert!(p95 > l.p95_limit, "seed {seed} t+{d}: p95 {p95}");
                assert!(p95 - base95 > l.p95_delta, "seed {seed} t+{d}: p95 delta");
            }
            if d >= 5.0 {
                // Clearly over, not grazing the line.
                assert!(err > 2.0 * l.err_limit && p95 > 1.3 * l.p95_limit);
                assert!(c.saturation > l.sat_limit);
            }
        }
        // The rollback webhook sets 0: the canary gets no traffic after it.
        let rollback = quarter + 4.0;
        sim.set_weight(rollback, 0);
        for t in seconds(120.0).map(|d| rollback + d) {
            assert_eq!(sim.sample(Cohort::Canary, t).requests_per_second, 0.0);
            let b = sim.sample(Cohort::Baseline, t).requests_per_second;
            assert!((b - sim.total_rps(t)).abs() < 1e-9);
        }
    }
}

#[test]
fn slow_burn_trends_up_but_stays_under_the_limits() {
    let l = limits();
    for seed in 0..5 {
        let (sim, end) = demo_run(Scenario::SlowBurn, seed);
        for t in seconds(end + 30.0) {
            assert_within(&sim, t, &l, 0.9);
        }
        let err = |c: Cohort, from: f64| {
            mean((0..10).map(|i| sim.sample(c, from + f64::from(i)).error_ratio.unwrap()))
        };
        let p95 = |c: Cohort, from: f64| {
            mean((0..10).map(|i| sim.sample(c, from + f64::from(i)).latency_p95.unwrap()))
        };
        let early = FIRST_STEP_AT;
        let late = end - 12.0;
        // On the chart: the canary drifts away from the baseline, roughly
        // doubling its error ratio and crossing the SLO line; p95 drifts too.
        assert!(err(Cohort::Canary, early) < l.err_slo, "seed {seed}");
        assert!(err(Cohort::Canary, late) > l.err_slo, "seed {seed}");
        assert!(err(Cohort::Canary, late) > err(Cohort::Canary, early) + 0.002);
        assert!(err(Cohort::Canary, late) > err(Cohort::Baseline, late) + 0.002);
        assert!(p95(Cohort::Canary, late) > p95(Cohort::Baseline, late) + 0.03);
    }
}

#[test]
fn flaky_source_has_error_stretches_with_healthy_data_between() {
    let l = limits();
    let (sim, end) = demo_run(Scenario::FlakySource, 2);
    let faults: Vec<Option<SourceFault>> = (0..(end * 10.0) as i64)
        .map(|d| sim.source_fault(d as f64 / 10.0))
        .collect();
    // Split into runs of equal state; durations in seconds.
    let mut runs: Vec<(Option<SourceFault>, f64)> = Vec::new();
    for f in faults {
        match runs.last_mut() {
            Some((g, n)) if *g == f => *n += 0.1,
            _ => runs.push((f, 0.1)),
        }
    }
    let bad: Vec<_> = runs.iter().filter(|r| r.0.is_some()).collect();
    assert!(bad.len() >= 3, "{runs:?}");
    assert!(bad.iter().any(|r| r.0 == Some(SourceFault::Unavailable)));
    assert!(bad.iter().any(|r| r.0 == Some(SourceFault::Slow)));
    // Stretches long enough to see (several polls), and data in between.
    assert!(bad.iter().all(|r| r.1 >= 5.0 - 1e-6), "{runs:?}");
    assert!(
        runs.iter()
            .filter(|r| r.0.is_none())
            .all(|r| r.1 >= 10.0 - 1e-6),
        "{runs:?}"
    );
    // The first step's hold ends inside a stretch, so the ramp visibly holds.
    let (start, _, hold) = schedule()[0];
    assert!(sim.source_fault(start + hold).is_some());
    // The data itself is healthy whenever it can be read.
    for t in seconds(end) {
        assert_within(&sim, t, &l, 0.6);
    }
    // No other scenario has source faults.
    for sc in [Scenario::Healthy, Scenario::BadCanary, Scenario::SlowBurn] {
        let (sim, end) = demo_run(sc, 2);
        assert!(seconds(end).all(|t| sim.source_fault(t).is_none()), "{sc}");
    }
}

#[test]
fn the_whole_plan_takes_about_two_minutes() {
    let (_, end) = demo_run(Scenario::Healthy, 0);
    assert!((90.0..=150.0).contains(&end), "{end}");
}

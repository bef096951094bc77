//! Each gate kind alone, and all together, on the demo's simulated service
//! run in-process (`rampdeck::demo::offline`: the real plan loader and the
//! pure engine, a poll a second, no HTTP): for `slow-burn` and
//! `bad-canary`, the time from the regression starting to the rollback;
//! for `healthy`, the share of rollouts rolled back (false alarms).
//!
//! "Alone" keeps the plan's triggers and takes away the other gates: the
//! thresholds' limits, ratios and deltas, or the other kinds.
//!
//! Run: `cargo bench --bench gate_kinds [RUNS]` (default 200 per cell).

use std::time::Instant;

use rampdeck::demo::{self, Scenario, offline};
use rampdeck::engine::analysis::gate::Kind;
use rampdeck::plan::Plan;

fn main() {
    let runs: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200);
    let toml = demo::DEMO_CONFIG.replace(demo::ADDR_PLACEHOLDER, "127.0.0.1:9");
    let plan = match rampdeck::config::parse(&toml, "assets/demo.toml") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("assets/demo.toml does not parse: {e}");
            std::process::exit(1);
        }
    };
    let variants: [(&str, Plan); 5] = [
        ("threshold", offline::only(&plan, true, &[])),
        ("burn rate", offline::only(&plan, false, &[Kind::Burn])),
        ("judge", offline::only(&plan, false, &[Kind::Judge])),
        (
            "sequential",
            offline::only(&plan, false, &[Kind::Sequential]),
        ),
        ("all (demo plan)", plan.clone()),
    ];
    println!(
        "| gate | slow-burn: caught · median s from regression to rollback (p90) | \
         bad-canary: caught · median s (p90) | healthy: false alarms |"
    );
    println!("| --- | --- | --- | --- |");
    let started = Instant::now();
    let mut rollouts = 0u64;
    for (name, p) in &variants {
        let slow = cell(p, Scenario::SlowBurn, runs, |o| o.first_traffic_at);
        // bad-canary degrades from its first step at 25 %.
        let bad = cell(p, Scenario::BadCanary, runs, |o| o.at_25_at);
        let healthy = (0..runs)
            .filter(|s| offline::run(p, Scenario::Healthy, *s, 600.0).rolled_back)
            .count();
        rollouts += 3 * runs;
        println!(
            "| {name} | {slow} | {bad} | {healthy}/{runs} ({} %) |",
            pct(healthy as u64, runs)
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "\n{rollouts} simulated rollouts in {secs:.1} s ({:.0} rollouts/s)",
        rollouts as f64 / secs
    );
    judge_cost();
}

/// What one judgement costs the driver's loop at the default bound of
/// samples (`max_samples` = 600 per cohort) and at a larger one.
fn judge_cost() {
    use rampdeck::engine::analysis::classifier::{JudgeSettings, classify};
    let settings = JudgeSettings::default();
    for n in [60usize, 600, 3_000] {
        // Two noisy cohorts with a small shift and many ties (3 digits).
        let wave = |i: usize, shift: f64| ((i * 7919 % 1000) as f64 / 1000.0 + shift).round_to(3);
        let canary: Vec<f64> = (0..n).map(|i| wave(i, 0.02)).collect();
        let baseline: Vec<f64> = (0..n).map(|i| wave(i * 3 + 1, 0.0)).collect();
        let reps = (200_000 / n).max(5);
        let start = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(classify(&canary, &baseline, &settings));
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / reps as f64;
        println!("judge of {n} × {n} samples: {us:.0} µs per judgement ({reps} runs)");
    }
}

trait Round {
    fn round_to(self, digits: i32) -> f64;
}

impl Round for f64 {
    fn round_to(self, digits: i32) -> f64 {
        let k = 10f64.powi(digits);
        (self * k).round() / k
    }
}

/// "caught n/N · median (p90)" of the time from `start` to the rollback.
fn cell(
    plan: &Plan,
    sc: Scenario,
    runs: u64,
    start: impl Fn(&offline::Outcome) -> Option<f64>,
) -> String {
    let mut times = Vec::new();
    for seed in 0..runs {
        let o = offline::run(plan, sc, seed, 600.0);
        if let (Some(at), Some(from)) = (o.rollback_at, start(&o)) {
            times.push(at - from);
        }
    }
    times.sort_by(f64::total_cmp);
    if times.is_empty() {
        return format!("0/{runs} (promoted)");
    }
    let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    format!("{}/{runs} · {:.0} s ({:.0} s)", times.len(), q(0.5), q(0.9))
}

fn pct(n: u64, of: u64) -> String {
    let p = n as f64 * 100.0 / of.max(1) as f64;
    format!("{p:.1}")
}

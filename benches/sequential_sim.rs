//! The sequential error-count test (`engine::analysis::sequential`) on
//! simulated canaries: how often a healthy canary is flagged (must stay
//! ≤ α) and how many polls a bad one takes to be caught, per canary share
//! and prior concentration k. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo bench --bench sequential_sim` (1000 canaries per cell; `RUNS=4000`
//! for more, `RATE=2` for a quieter service, `POLLS=400` for a longer step).
//!
//! The model: errors arrive as a Poisson count per poll, `RATE` per poll
//! at full traffic when healthy; the canary's per-request error rate is
//! 1×, 1.5×, 2× or 5× the baseline's; each error lands in the canary with
//! probability ρs ÷ (ρs + 1 − s) for share s and ratio ρ. The test sees
//! each poll's counts and the share, α = 0.05, checked after every poll
//! for `POLLS` polls (200 by default).

use rampdeck::engine::analysis::sequential::{SequentialSettings, SequentialTest};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SHARES: [f64; 3] = [0.05, 0.25, 0.5];
const KS: [f64; 5] = [10.0, 30.0, 100.0, 300.0, 1000.0];
/// The bad canaries' error rate, as a multiple of the baseline's.
const RATIOS: [f64; 3] = [1.5, 2.0, 5.0];

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Knuth's method: fine for the small means here.
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

/// Polls until rejection: the poll and the errors seen by then.
fn run(
    rng: &mut StdRng,
    k: f64,
    share: f64,
    ratio: f64,
    rate: f64,
    polls: usize,
) -> Option<(usize, f64)> {
    let settings = SequentialSettings {
        alpha: 0.05,
        concentration: k,
    };
    let Ok(mut test) = SequentialTest::two_cohorts(settings) else {
        return None;
    };
    let to_canary = ratio * share / (ratio * share + 1.0 - share);
    let mut errors = 0.0;
    for i in 0..polls {
        let n = poisson(rng, rate * (1.0 - share + ratio * share));
        let c = (0..n).filter(|_| rng.random::<f64>() < to_canary).count() as f64;
        errors += n as f64;
        test.observe_pair(c, n as f64 - c, share);
        if test.rejected() {
            return Some((i + 1, errors));
        }
    }
    None
}

/// "100 % · 12 (150)": detected, median polls (median errors) to detection.
fn detection(
    rng: &mut StdRng,
    k: f64,
    share: f64,
    ratio: f64,
    rate: f64,
    polls: usize,
    runs: usize,
) -> String {
    let mut hits: Vec<(usize, f64)> = (0..runs)
        .filter_map(|_| run(rng, k, share, ratio, rate, polls))
        .collect();
    if hits.is_empty() {
        return "0 %".into();
    }
    let detected = 100.0 * hits.len() as f64 / runs as f64;
    hits.sort_by_key(|h| h.0);
    // The median over all runs: a run not detected counts as never.
    let median = if hits.len() * 2 > runs {
        let (p, e) = hits[runs / 2];
        format!("{p} ({e:.0})")
    } else {
        "-".into()
    };
    format!("{detected:.0} % · {median}")
}

fn main() {
    let runs = env("RUNS", 1000.0) as usize;
    let rate = env("RATE", 10.0);
    let polls = env("POLLS", 200.0) as usize;
    let mut rng = StdRng::seed_from_u64(20220101);
    println!(
        "{runs} canaries per cell, {rate} errors per poll at healthy full traffic, \
         {polls} polls, α 0.05"
    );
    println!();
    let mut head = String::from("| k | share | false alarms |");
    let mut rule = String::from("|---|---|---|");
    for ratio in RATIOS {
        head += &format!(" {ratio}×: caught · median polls (errors) |");
        rule += "---|";
    }
    println!("{head}\n{rule}");
    for k in KS {
        for share in SHARES {
            let alarms = (0..runs)
                .filter(|_| run(&mut rng, k, share, 1.0, rate, polls).is_some())
                .count();
            let mut line = format!(
                "| {k} | {:.0} % | {:.1} % |",
                share * 100.0,
                100.0 * alarms as f64 / runs as f64
            );
            for ratio in RATIOS {
                let cell = detection(&mut rng, k, share, ratio, rate, polls, runs);
                line += &format!(" {cell} |");
            }
            println!("{line}");
        }
    }
}

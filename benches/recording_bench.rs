//! The flight recorder's cost and the backtest's speed (BENCHMARKS.md,
//! "Flight recorder and backtest").
//!
//! A recording of HOURS (default 6) of a healthy canary with 8 metrics ×
//! 2 cohorts polled every second is made by the demo's offline run (the
//! real engine and the simulated service: realistic values, verdicts,
//! hook results), with a tick every half second as the driver records
//! them. Then:
//! - the recorder (`rampdeck::recording::Recorder`, the driver's own)
//!   writes it entry by entry: time per entry, raw bytes per hour; sealing
//!   gzips it: compressed bytes per hour and for the whole recording;
//! - the backtest (`rampdeck::recording::backtest::run`) runs it under the
//!   plan's thresholds and triggers, with each other gate kind added
//!   alone (burn rate, judge, sequential test), and under the whole plan:
//!   entries and recordings per second.
//!
//! Run: `cargo bench --bench recording_bench [HOURS]`.

use std::time::Instant;

use rampdeck::demo::{self, Scenario, offline};
use rampdeck::engine::analysis::gate::Kind;
use rampdeck::engine::{Input, Timestamp};
use rampdeck::plan::{Baseline, Plan};
use rampdeck::recording::backtest::{self, Ending};
use rampdeck::recording::{Entry, Recorder, Recording, live_path};

/// The demo plan with each of its 4 metrics twice (8), every one on both
/// cohorts, and holds of 2 h a step, so a 6 h recording runs all along.
fn plan8() -> Result<Plan, String> {
    let toml = demo::DEMO_CONFIG.replace(demo::ADDR_PLACEHOLDER, "127.0.0.1:9");
    let mut plan = rampdeck::config::parse(&toml, "assets/demo.toml").map_err(|e| e.to_string())?;
    let mut twins = plan.metrics.clone();
    for m in &mut twins {
        m.id = format!("{}_2", m.id);
    }
    plan.metrics.extend(twins);
    for m in &mut plan.metrics {
        m.baseline = Baseline::Cohort;
    }
    for s in &mut plan.steps {
        s.hold = std::time::Duration::from_secs(2 * 3600);
    }
    Ok(plan)
}

/// The offline run ticks once a second; the driver every half second.
fn with_half_ticks(rec: Recording) -> Recording {
    let mut entries = Vec::with_capacity(rec.entries.len() * 11 / 10);
    for e in rec.entries {
        let tick = matches!(e.input, Input::Tick).then_some(e.t);
        entries.push(e);
        if let Some(t) = tick {
            entries.push(Entry {
                t: Timestamp(t.0 + 500),
                input: Input::Tick,
                verdict: None,
            });
        }
    }
    Recording {
        header: rec.header,
        entries,
    }
}

fn ending(e: &Ending) -> String {
    match e {
        Ending::RolledBack(r) => format!("rolled back at {:.0} s by {}", r.at_secs, r.by),
        Ending::Promoted { at_secs } => format!("promoted at {at_secs:.0} s"),
        Ending::Running { step, weight, .. } => format!(
            "still running at step {} ({weight} %)",
            step.map_or(0, |s| s)
        ),
        Ending::Failed { reason } => format!("failed: {reason}"),
    }
}

fn main() {
    let hours: f64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(6.0);
    let plan = match plan8() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("assets/demo.toml does not parse: {e}");
            std::process::exit(1);
        }
    };
    let thresholds = offline::only(&plan, true, &[]);
    let t = Instant::now();
    let (_, rec) = offline::record(&thresholds, Scenario::Healthy, 1, hours * 3600.0);
    let rec = with_half_ticks(rec);
    let made = t.elapsed();
    let samples = rec.entries.iter().filter(|e| e.sample().is_some()).count();
    let ticks = rec
        .entries
        .iter()
        .filter(|e| matches!(e.input, Input::Tick))
        .count();
    let n = rec.entries.len();
    println!(
        "recording: {hours} h, {} metrics x 2 cohorts at 1 s: {n} entries ({samples} samples, {ticks} ticks), made in {:.1} s",
        plan.metrics.len(),
        made.as_secs_f64()
    );

    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no temporary directory: {e}");
            std::process::exit(1);
        }
    };
    let journal = dir.path().join("bench-1.jsonl");
    let mut recorder = Recorder::start(&journal, &rec.header, false);
    let t = Instant::now();
    for e in &rec.entries {
        recorder.record(e);
    }
    recorder.flush(Timestamp(i64::MAX));
    let wrote = t.elapsed();
    let raw = std::fs::metadata(live_path(&journal)).map_or(0, |m| m.len());
    let t = Instant::now();
    let sealed = match recorder.seal() {
        Ok(Some(s)) => s,
        other => {
            eprintln!("sealing failed: {other:?}");
            std::process::exit(1);
        }
    };
    let sealing = t.elapsed();
    if let Some(why) = recorder.take_stop() {
        eprintln!("the recorder stopped: {why}");
        std::process::exit(1);
    }
    let mb = |b: f64| b / 1e6;
    println!(
        "recorder: {:.2} us per entry ({:.2} s for all), raw {:.1} MB per hour, {:.1} bytes per entry",
        wrote.as_secs_f64() * 1e6 / n as f64,
        wrote.as_secs_f64(),
        mb(raw as f64 / hours),
        raw as f64 / n as f64
    );
    println!(
        "sealed: gzip {:.2} MB per hour; the whole {hours} h recording {:.2} MB gzipped ({:.1} MB raw, ratio {:.1}x), sealed in {:.2} s",
        mb(sealed.bytes as f64 / hours),
        mb(sealed.bytes as f64),
        mb(raw as f64),
        raw as f64 / sealed.bytes as f64,
        sealing.as_secs_f64()
    );

    let kinds = [
        ("thresholds and triggers", thresholds.clone()),
        (
            "thresholds + burn rate",
            offline::only(&plan, true, &[Kind::Burn]),
        ),
        (
            "thresholds + judge",
            offline::only(&plan, true, &[Kind::Judge]),
        ),
        (
            "thresholds + sequential",
            offline::only(&plan, true, &[Kind::Sequential]),
        ),
        ("whole demo plan", plan.clone()),
    ];
    for (name, p) in &kinds {
        let t = Instant::now();
        let o = backtest::run(&rec, p);
        let secs = t.elapsed().as_secs_f64();
        println!(
            "backtest under the {name}: {:.2} s per recording ({:.2} recordings/s), {} entries fed, {:.0} entries/s; {}",
            secs,
            1.0 / secs,
            o.fed,
            o.fed as f64 / secs,
            ending(&o.ending)
        );
    }
}

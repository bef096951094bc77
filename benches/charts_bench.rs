//! The charts of a long rollout (issue 15): a 6 h recording of 8 metrics
//! polled every second (canary and baseline: 345,600 samples and 21,600
//! ticks, 367,201 lines), made by driving the real engine and journal, then
//! `journal::charts::write_charts` over it in-process (the median of a few
//! runs) and `rampdeck summary JOURNAL --charts DIR` as a process (wall
//! time and peak RSS). Reports the recording's size, each SVG's size and
//! the most points a series keeps after downsampling.
//!
//! Run: `cargo bench --bench charts_bench [RUNS]` (default 3).

use std::time::{Duration, Instant};

use rampdeck::engine::{Cohort, Input, Reading};
use rampdeck::journal::charts::fixture::Rec;
use rampdeck::plan::{GateKind, Plan};

const HOURS: i64 = 6;

/// The cockpit fixtures' plan with 8 metrics and a ramp that lasts about
/// six hours, every step automatic.
fn plan() -> Plan {
    let mut p = rampdeck::tui::fixtures::plan();
    let extra: Vec<_> = p
        .metrics
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.id = format!("{}_eu", m.id);
            m.name = format!("{} (eu)", m.name);
            m
        })
        .collect();
    p.metrics.extend(extra);
    p.triggers.clear();
    for (s, hold_min) in p.steps.iter_mut().zip([10, 60, 90, 90, 100]) {
        s.gate = GateKind::Auto;
        s.hold = Duration::from_secs(hold_min * 60);
    }
    p
}

fn value(id: &str, t: i64, canary: bool) -> f64 {
    let wave = ((t as f64) / 170.0).sin() * 0.5 + ((t as f64) / 23.0).cos() * 0.3;
    let base = match id.trim_end_matches("_eu") {
        "error_rate" => 0.01 + 0.002 * wave,
        "p95_latency" => 0.22 + 0.03 * wave,
        "rps" => 200.0 + 20.0 * wave,
        _ => 1.0,
    };
    if canary && id != "health" && id != "health_eu" {
        base * 1.05
    } else {
        base
    }
}

fn main() {
    let runs: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan();
    let ids: Vec<String> = plan.metrics.iter().map(|m| m.id.clone()).collect();
    let made = Instant::now();
    let mut r = match Rec::new(dir.path(), "long-6h", plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fixture: {e}");
            std::process::exit(1);
        }
    };
    for t in 0..HOURS * 3600 {
        for id in &ids {
            for (cohort, canary) in [(Cohort::Canary, true), (Cohort::Baseline, false)] {
                r.sample(t, id, cohort, Reading::value(value(id, t, canary)));
            }
        }
        r.input(t, Input::Tick);
        r.hooks_done(t);
    }
    let journal = match r.finish() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("fixture: {e}");
            std::process::exit(1);
        }
    };
    let rec = rampdeck::recording::finished_path(&journal);
    let rec_bytes = std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0);
    let (lines, raw) = std::fs::File::open(&rec)
        .map(|f| {
            use std::io::BufRead;
            let r = std::io::BufReader::new(flate2::read::GzDecoder::new(f));
            r.split(b'\n')
                .map_while(Result::ok)
                .fold((0u64, 0u64), |(n, b), l| (n + 1, b + l.len() as u64 + 1))
        })
        .unwrap_or((0, 0));
    println!(
        "recording: {} h, {} metrics at 1 s: {lines} lines, {:.1} MB, {:.1} MB gzipped (made in {:.1} s)",
        HOURS,
        ids.len(),
        raw as f64 / 1e6,
        rec_bytes as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    for k in 0..runs {
        let out = dir.path().join(format!("charts-{k}"));
        let t = Instant::now();
        let written =
            rampdeck::journal::charts::write_charts(&journal, &out, Duration::from_secs(600));
        times.push(t.elapsed());
        if let Err(e) = written {
            eprintln!("charts: {e}");
            std::process::exit(1);
        }
    }
    times.sort();
    println!(
        "write_charts in-process: median {:.2} s of {runs} (min {:.2} s, max {:.2} s)",
        times[times.len() / 2].as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    let out = dir.path().join("charts-0");
    // To look at them: CHARTS_BENCH_KEEP=DIR keeps a copy.
    if let Some(keep) = std::env::var_os("CHARTS_BENCH_KEEP") {
        let keep = std::path::PathBuf::from(keep);
        let _ = std::fs::create_dir_all(&keep);
        for id in &ids {
            let f = format!("{id}.svg");
            let _ = std::fs::copy(out.join(&f), keep.join(&f));
        }
    }
    let mut total = 0;
    let mut most_points = 0;
    for id in &ids {
        let svg = std::fs::read_to_string(out.join(format!("{id}.svg"))).unwrap_or_default();
        total += svg.len();
        // Points of the longest polyline (a series' segment).
        let points = svg
            .split("points=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap_or("").split_whitespace().count())
            .max()
            .unwrap_or(0);
        most_points = most_points.max(points);
    }
    println!(
        "SVGs: {} files, {:.0} KB in all ({:.0} KB each on average); the longest polyline has {most_points} points",
        ids.len(),
        total as f64 / 1e3,
        total as f64 / 1e3 / ids.len() as f64
    );

    // The binary under /usr/bin/time: its own peak RSS, not this
    // process's (which holds the whole recording it made).
    let cli_out = dir.path().join("charts-cli");
    let t = Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_rampdeck"))
        .args(["summary", "--charts"])
        .arg(&cli_out)
        .arg(&journal)
        .stdout(std::process::Stdio::null())
        .output();
    let wall = t.elapsed();
    let (code, rss_kb) = match out {
        Ok(o) => (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<f64>().ok())
                .unwrap_or(0.0),
        ),
        Err(e) => {
            eprintln!("/usr/bin/time: {e}");
            (None, 0.0)
        }
    };
    println!(
        "rampdeck summary --charts: {:.2} s wall, peak RSS {:.1} MB, exit {code:?}",
        wall.as_secs_f64(),
        rss_kb / 1024.0,
    );
}

//! `rampdeck history` over 1,000 journals (issue 15): time and peak memory
//! of the real binary, as a separate process, over a directory of
//! journals written as the driver writes them (hash-chained lines, the
//! plan of config.example.toml on `rollout_started`, four gates on every
//! data record, viewers coming and going; one rollout in four rolled back
//! by a trigger after a streak of breaches). Run with
//! `cargo bench --bench history_bench` (`JOURNALS=N`, `RECORDS=N` per
//! journal, `RUNS=N` to change the defaults 1000, 120 and 5).

#![allow(clippy::unwrap_used)]

#[path = "../tests/it/kit/mod.rs"]
mod kit;

use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use rampdeck::engine::{Actor, Decision, DecisionKind, GateStatus, PhaseKind, Timestamp, Verdict};
use rampdeck::journal::GENESIS;
use rampdeck::journal::record::seal;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn gates(breaches: u32) -> Vec<GateStatus> {
    ["error_rate", "p95_latency", "rps", "health"]
        .iter()
        .enumerate()
        .map(|(i, m)| GateStatus {
            metric: (*m).into(),
            verdict: if i == 0 && breaches > 0 {
                Verdict::Breach
            } else {
                Verdict::Pass
            },
            canary: Some(if i == 0 && breaches > 0 { 0.09 } else { 0.01 }),
            baseline: Some(0.01),
            limit: Some(0.05),
            detail: "0.01 <= 0.05 limit".into(),
            breaches: if i == 0 { breaches } else { 0 },
            no_data_polls: 0,
            samples: 30,
            degraded: false,
            warnings: vec![],
            gating: true,
            baseline_frozen_at: None,
            kinds: vec![],
        })
        .collect()
}

fn decision(action: DecisionKind, step: usize, weight: u8, gates: Vec<GateStatus>) -> Decision {
    Decision {
        action,
        actor: Actor::system(),
        reason: "the rollout moved on as planned".into(),
        step: Some(step),
        weight,
        phase: PhaseKind::Holding,
        gates,
        hook: None,
        detail: serde_json::Value::Null,
        at: None,
    }
}

/// One journal of `records` records; rolled back when `bad`.
fn journal(path: &Path, id: &str, t0: i64, records: usize, bad: bool, plan: &serde_json::Value) {
    let weights = [5u8, 25, 50, 100];
    let mut out: Vec<Decision> = Vec::new();
    let mut start = decision(DecisionKind::RolloutStarted, 0, 0, vec![]);
    start.actor = Actor::named("alice");
    start.detail = plan.clone();
    out.push(start);
    let per_step = records.saturating_sub(4) / weights.len();
    for (k, w) in weights.iter().enumerate() {
        out.push(decision(DecisionKind::StepEntered, k, *w, gates(0)));
        for i in 0..per_step {
            let kind = match i % 5 {
                0 => DecisionKind::ViewerAttached,
                1 => DecisionKind::ViewerDetached,
                _ => DecisionKind::SourceState,
            };
            out.push(decision(kind, k, *w, gates(0)));
        }
        if bad && k == 1 {
            for b in 1..=3 {
                out.push(decision(DecisionKind::SourceState, k, *w, gates(b)));
            }
            let mut fired = decision(DecisionKind::TriggerRollback, k, *w, gates(3));
            fired.detail = serde_json::json!({"metric": "error_rate", "trigger": "errors",
                "breaches": 3, "consecutive": 3, "value": 0.09, "limit": 0.05});
            out.push(fired);
            out.push(decision(DecisionKind::RolledBack, k, 0, vec![]));
            break;
        }
        out.push(decision(DecisionKind::AutoAdvance, k, *w, gates(0)));
    }
    if !bad {
        out.push(decision(DecisionKind::Promoted, 3, 100, vec![]));
    }
    out.push(decision(DecisionKind::RolloutEnded, 3, 100, vec![]));
    let mut bytes = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, d) in out.iter().enumerate() {
        let t = Timestamp(t0 + i as i64 * 5_000);
        let (line, hash) = seal(i as u64 + 1, t, id, d, &prev).unwrap();
        bytes.extend_from_slice(&line);
        prev = hash;
    }
    std::fs::write(path, bytes).unwrap();
}

fn main() {
    let n = env_or("JOURNALS", 1000);
    let records = env_or("RECORDS", 120);
    let runs = env_or("RUNS", 5);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = rampdeck::config::load(&root.join("config.example.toml")).unwrap();
    let plan = serde_json::to_value(&plan).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_790_000_000_000_i64;
    let mut bytes = 0u64;
    for i in 0..n {
        let id = format!("checkout-{i:05}");
        let path = dir.path().join(format!("{id}.jsonl"));
        journal(
            &path,
            &id,
            t0 + i as i64 * 3_600_000,
            records,
            i % 4 == 3,
            &plan,
        );
        bytes += std::fs::metadata(&path).unwrap().len();
    }
    let mut times = Vec::new();
    let mut peak = 0u64;
    let args = [
        OsStr::new("history"),
        OsStr::new("--json"),
        OsStr::new("--dir"),
        dir.path().as_os_str(),
    ];
    for _ in 0..runs {
        let started = Instant::now();
        let (out, kib) = kit::proc::rampdeck_with_peak_rss(&args);
        times.push(started.elapsed().as_secs_f64());
        peak = peak.max(kib);
        let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            h["entries"].as_array().unwrap().len(),
            n,
            "every journal listed"
        );
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "history over {n} journals ({records} records each, {:.1} MB): median {median:.2} s \
         (min {:.2} s, max {:.2} s over {runs} runs), peak RSS {:.1} MB",
        bytes as f64 / 1e6,
        times[0],
        times[times.len() - 1],
        peak as f64 / 1024.0
    );
}

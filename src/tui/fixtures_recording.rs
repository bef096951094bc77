//! Long flight recordings for benchmarks: the fixtures' plan widened to
//! `metrics` metrics, polled every second for hours, both cohorts, with
//! the driver's tick each second and one approval, as the recorder keeps
//! them.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::{Drive, at, plan};
use crate::engine::{Actor, Cohort, Command, Input, Reading};
use crate::recording::{Header, Recording, format::FORMAT};

/// `secs` seconds of a rollout with `metrics` metrics (the fixtures' four,
/// then copies of the error ratio), 6 h of retention.
pub fn long_recording(secs: i64, metrics: usize) -> Recording {
    let mut p = plan();
    let base = p.metrics[0].clone();
    while p.metrics.len() < metrics {
        let mut m = base.clone();
        m.id = format!("errors_{}", p.metrics.len() + 1);
        m.name = format!("Errors {}", p.metrics.len() + 1);
        p.metrics.push(m);
    }
    p.metrics.truncate(metrics.max(1));
    p.triggers
        .retain(|t| p.metrics.iter().any(|m| m.id == t.metric));
    p.ui.retention = Duration::from_secs(6 * 3600);
    let plan = Arc::new(p);
    let ids: Vec<String> = plan.metrics.iter().map(|m| m.id.clone()).collect();
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    for t in 0..secs {
        let wave = ((t as f64) / 17.0).sin() * 0.5 + ((t as f64) / 5.0).cos() * 0.3;
        for id in &ids {
            let v = match id.as_str() {
                "p95_latency" => 0.23 + 0.03 * wave,
                "rps" => 100.0 + wave * 3.0,
                "health" => 1.0,
                _ => 0.011 + 0.002 * wave,
            };
            for cohort in [Cohort::Canary, Cohort::Baseline] {
                let reading = Reading::value(v);
                let input = Input::Sample {
                    metric: id.clone(),
                    cohort,
                    reading,
                };
                d.input(t, input);
            }
        }
        if t == 961 {
            let approve = Input::Command {
                command: Command::Approve,
                actor: Actor::named("bob"),
                reason: "dashboards look clean".into(),
            };
            d.input(t, approve);
        }
        d.input(t, Input::Tick);
    }
    Recording {
        header: Header {
            recording: FORMAT,
            rollout_id: "checkout-20261129-140000".into(),
            plan_hash: crate::engine::decision::plan_hash(&plan),
            plan: (*plan).clone(),
            started: at(0),
        },
        entries: d.entries,
    }
}

//! Shared by the session tests and the attach bench: a realistic plan and
//! snapshots whose series grow like a live rollout's.

use std::sync::Arc;
use std::time::Duration;

use rampdeck::engine::series::MetricSeries;
use rampdeck::engine::{
    EngineView, GateStatus, NextAction, Phase, StepState, StepView, Timestamp, Verdict,
};
use rampdeck::plan::{Baseline, GateKind, Metric, Plan, Threshold};
use rampdeck::snapshot::{Snapshot, SourceHealth, SourceState};

use super::plan::{plan as base_plan, prom_source, promql, step};

pub const T0: i64 = 1_750_000_000_000;

/// The cockpit drawn from `snap` on a `w`x`h` TestBackend, as text (each
/// line's trailing spaces trimmed).
pub fn screen(snap: &Snapshot, w: u16, h: u16) -> String {
    use rampdeck::tui::{Keymap, Theme, UiState, render};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let ui = UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice");
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.buffer_mut(), snap, &ui)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A realistic plan: four steps, `metrics` Prometheus metrics of one
/// source (built on [`super::plan`]'s builders).
pub fn plan(rollout_id: &str, metrics: usize) -> Plan {
    let metrics = (0..metrics)
        .map(|i| Metric {
            name: format!("metric {i}"),
            unit: "%".into(),
            display_scale: 100.0,
            threshold: Threshold {
                limit: Some(0.05),
                ..Threshold::default()
            },
            min_samples: 3,
            ..promql(
                &format!("m{i}"),
                "prom",
                &format!("sum(rate(x_{i}[1m]))"),
                Baseline::Cohort,
            )
        })
        .collect();
    let mut plan = base_plan(
        vec![prom_source("prom", "http://127.0.0.1:9090", 1000, 2000)],
        metrics,
    );
    plan.rollout.id = Some(rollout_id.into());
    plan.rollout.owners = vec!["alice".into()];
    plan.steps = [5u8, 25, 50, 100]
        .iter()
        .map(|w| {
            step(
                &format!("{w}%"),
                *w,
                Duration::from_secs(300),
                GateKind::Auto,
            )
        })
        .collect();
    plan
}

/// Values that survive a JSON round trip exactly (multiples of 1/64).
pub fn value(metric: usize, i: usize) -> f64 {
    ((metric * 7 + i * 13) % 512) as f64 / 64.0
}

/// The snapshot of a rollout after `points` polls of every metric.
pub fn snapshot(plan: &Arc<Plan>, points: usize, capacity: usize) -> Snapshot {
    let series: Vec<MetricSeries> = plan
        .metrics
        .iter()
        .enumerate()
        .map(|(m, metric)| {
            let mut s = MetricSeries::new(&metric.id, capacity);
            for i in 0..points {
                let at = Timestamp(T0 + i as i64 * 1000);
                // Every 17th poll has no data, so gaps travel too.
                let v = (i % 17 != 16).then(|| value(m, i));
                s.canary.push(at, v);
                s.baseline.push(at, Some(value(m + 1, i)));
            }
            s
        })
        .collect();
    let gates = plan
        .metrics
        .iter()
        .enumerate()
        .map(|(m, metric)| GateStatus {
            kinds: Vec::new(),
            metric: metric.id.clone(),
            verdict: Verdict::Pass,
            canary: Some(value(m, points)),
            baseline: Some(value(m + 1, points)),
            limit: Some(0.05),
            detail: "ok".into(),
            breaches: 0,
            no_data_polls: 0,
            samples: points as u32,
            degraded: false,
            warnings: Vec::new(),
            gating: true,
            baseline_frozen_at: None,
        })
        .collect();
    Snapshot {
        version: points as u64,
        rollout_id: plan.rollout.id.clone().unwrap_or_default(),
        plan: plan.clone(),
        engine: EngineView {
            window: None,
            preflight: vec![],
            exit: vec![],
            observation: None,
            checklist: None,
            blue_green: None,
            rolling: None,
            phase: Phase::Holding { step: 1 },
            step: Some(1),
            steps: plan
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepView {
                    name: s.name.clone(),
                    weight: s.weight,
                    state: if i == 0 {
                        StepState::Done
                    } else if i == 1 {
                        StepState::Current
                    } else {
                        StepState::Pending
                    },
                    hold_ms: 300_000,
                    hold_left_ms: (i == 1).then_some(120_000),
                    owner: None,
                    cohort: None,
                    entered_at: None,
                    left_at: None,
                    approvals: None,
                })
                .collect(),
            weight: 25,
            gates,
            next: NextAction::Advance {
                to_weight: 50,
                in_ms: 120_000,
            },
            started_at: Some(Timestamp(T0)),
            step_entered_at: Some(Timestamp(T0)),
            hook_running: None,
            rollback_failed: false,
            recent: vec![],
            allowed: rampdeck::engine::Allowed::default(),
            over: false,
        },
        series: Arc::new(series),
        sources: vec![SourceHealth {
            name: "prom".into(),
            kind: "prometheus".into(),
            state: SourceState::Up,
            last_ok: Some(Timestamp(T0 + points as i64 * 1000)),
            last_error: None,
            latency_ms: Some(12),
            degraded: false,
            warning: None,
        }],
        driver: Some("alice".into()),
        watchers: 0,
        now: Timestamp(T0 + points as i64 * 1000),
        journal_path: "/tmp/journal.jsonl".into(),
        summary_path: None,
        warnings: vec![],
        replay: None,
        history: Default::default(),
    }
}

/// `prev` after one more poll of every metric, as the driver would publish
/// it (same plan `Arc`, series appended to).
pub fn next_poll(prev: &Snapshot) -> Snapshot {
    let mut s = prev.clone();
    let i = prev.version as usize;
    let at = Timestamp(T0 + i as i64 * 1000);
    for (m, ms) in Arc::make_mut(&mut s.series).iter_mut().enumerate() {
        ms.canary.push(at, Some(value(m, i)));
        ms.baseline.push(at, Some(value(m + 1, i)));
    }
    s.version += 1;
    s.now = Timestamp(at.0 + 1);
    s
}

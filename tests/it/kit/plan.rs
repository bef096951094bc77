//! Plans built in code (the source tests and the polling benchmark), for
//! tests that drive the library without a config file.

use std::time::Duration;

use rampdeck::plan::{
    BadDirection, Baseline, GateKind, Hooks, HttpTarget, Metric, MetricQuery, NoDataAction,
    NoDataPolicy, Notify, Plan, RolloutInfo, Source, SourceKind, Step, Strategy, Threshold,
    UiSettings, Unattended,
};

/// A plan with the given sources and metrics and one trivial step.
pub fn plan(sources: Vec<Source>, metrics: Vec<Metric>) -> Plan {
    Plan {
        preflight: vec![],
        exit: None,
        blue_green: None,
        rolling: None,
        incidents: vec![],
        judge: Default::default(),
        change_windows: Default::default(),
        rollout: RolloutInfo {
            id: None,
            service: "checkout".into(),
            strategy: Strategy::Canary,
            ticket: None,
            owners: vec![],
            drivers: vec![],
            require_second: vec![],
            unattended: Unattended::Hold,
            window: None,
            checklist: vec![],
            journal_dir: None,
            session_group: None,
            max_connections: rampdeck::plan::DEFAULT_MAX_CONNECTIONS,
            risky_areas: vec![],
        },
        steps: vec![step("all", 100, Duration::from_secs(60), GateKind::Auto)],
        metrics,
        triggers: vec![],
        sources,
        hooks: Hooks::default(),
        notify: Notify::default(),
        ui: UiSettings::default(),
        journal: Default::default(),
    }
}

/// A step with no owner and the plan's gates.
pub fn step(name: &str, weight: u8, hold: Duration, gate: GateKind) -> Step {
    Step {
        name: name.into(),
        weight,
        hold,
        gate,
        owner: None,
        gates: None,
        approvals: None,
        instances: None,
        cohort: None,
    }
}

pub fn target(url: &str) -> HttpTarget {
    HttpTarget {
        url: url.into(),
        ..HttpTarget::default()
    }
}

pub fn source(name: &str, kind: SourceKind, interval_ms: u64, timeout_ms: u64) -> Source {
    Source {
        name: name.into(),
        kind,
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        max_response: rampdeck::plan::DEFAULT_MAX_RESPONSE,
        degraded: rampdeck::plan::DegradedPolicy::Hold,
    }
}

pub fn prom_source(name: &str, url: &str, interval_ms: u64, timeout_ms: u64) -> Source {
    source(
        name,
        SourceKind::Prometheus(target(url)),
        interval_ms,
        timeout_ms,
    )
}

pub fn metric(id: &str, source: &str, query: MetricQuery, baseline: Baseline) -> Metric {
    Metric {
        kinds: Default::default(),
        id: id.into(),
        name: id.into(),
        source: source.into(),
        query,
        baseline,
        unit: "ratio".into(),
        display_scale: 1.0,
        bad: BadDirection::Up,
        threshold: Threshold::default(),
        min_samples: 1,
        min_traffic: None,
        no_data: NoDataPolicy {
            action: NoDataAction::Hold,
            after: 3,
        },
        from_weight: None,
        baseline_when_empty: rampdeck::plan::BaselineWhenEmpty::Frozen,
    }
}

pub fn promql(id: &str, source: &str, q: &str, baseline: Baseline) -> Metric {
    metric(id, source, MetricQuery::Promql(q.into()), baseline)
}

//! The Metrics section of the plan explanation: for each metric, where it
//! comes from, what counts as a breach, and what happens without data.

use super::{Block, code, shell_words};
use crate::engine::words::{Units, duration, number};
use crate::plan::{
    BadDirection, Baseline, BaselineWhenEmpty, DegradedPolicy, Metric, MetricQuery, NoDataAction,
    Plan,
};
use crate::template::Context;

/// One sub-heading and field list per metric.
pub(super) fn section(plan: &Plan) -> Vec<Block> {
    let mut doc = vec![Block::Heading("Metrics".into())];
    if plan.metrics.is_empty() {
        doc.push(Block::List(vec!["(none)".into()]));
    }
    for m in &plan.metrics {
        doc.push(Block::Sub(format!("{} ({})", m.name, m.id)));
        doc.push(Block::Fields(metric_fields(plan, m)));
    }
    if let Some(score) = super::kinds::score(plan) {
        doc.push(Block::Sub("Judge score".into()));
        doc.push(Block::Fields(vec![score]));
    }
    doc
}

fn metric_fields(plan: &Plan, m: &Metric) -> Vec<(String, String)> {
    let worse = match m.bad {
        BadDirection::Up => "higher is worse",
        BadDirection::Down => "lower is worse",
    };
    let mut f = vec![
        (
            "Source".into(),
            format!("{} (every {})", m.source, duration(plan.interval_of(&m.id))),
        ),
        ("Query".into(), query(plan, m)),
        ("Baseline".into(), baseline(m)),
        ("Bad direction".into(), worse.into()),
        ("Breach when".into(), breach_when(m)),
    ];
    if let Some(s) = m.threshold.slo {
        f.push(("SLO line".into(), Units::of(m).show(s)));
    }
    if let Some(at_full) = at_full_weight(m) {
        f.push(("At 100 %".into(), at_full));
    }
    f.extend(super::kinds::fields(m));
    f.push(("Gates".into(), gates_from(m)));
    f.push(("Verdict".into(), verdict(plan, m)));
    f.push(("No data".into(), no_data(plan, m)));
    f.push(("Triggers".into(), triggers_on(plan, m)));
    f
}

/// What is asked of the source, in its own words.
fn query(plan: &Plan, m: &Metric) -> String {
    match &m.query {
        MetricQuery::Promql(q) => format!("PromQL {}", code(q)),
        MetricQuery::JsonPointer(p) => format!("JSON pointer {}", code(p)),
        MetricQuery::Command(argv) => {
            format!(
                "command (no shell) {}",
                code(&shell_words(argv, plan, Context::Metric))
            )
        }
        MetricQuery::Probe(f) => format!(
            "probe field {}",
            serde_json::to_string(f)
                .unwrap_or_default()
                .trim_matches('"')
        ),
    }
}

/// What the canary is compared with.
fn baseline(m: &Metric) -> String {
    match &m.baseline {
        Baseline::Cohort => "the same query for the baseline cohort".into(),
        Baseline::Query(q) => format!("PromQL {}", code(q)),
        Baseline::Value(v) => format!("fixed {}", Units::of(m).show(*v)),
        Baseline::PreDeploy(d) => format!(
            "the canary query averaged over {} before the start",
            duration(*d)
        ),
        Baseline::None => "none (absolute limit only)".into(),
    }
}

/// The limit, ratio and delta, any one of which is a breach.
pub(super) fn breach_when(m: &Metric) -> String {
    let val = |x: f64| Units::of(m).show(x);
    let above = match m.bad {
        BadDirection::Up => "above",
        BadDirection::Down => "below",
    };
    let t = &m.threshold;
    let mut breach = Vec::new();
    if let Some(l) = t.limit {
        breach.push(format!("{above} {}", val(l)));
    }
    if let Some(r) = t.ratio {
        breach.push(format!("canary/baseline {above} {}x", number(r)));
    }
    if let Some(d) = t.delta {
        breach.push(format!("more than {} {above} baseline", val(d.abs())));
    }
    if breach.is_empty() {
        "never (no limit, ratio or delta: display only)".into()
    } else {
        breach.join("; or ")
    }
}

/// How ratio and delta judge once the baseline cohort is empty, for a
/// metric that compares with a baseline cohort or query.
fn at_full_weight(m: &Metric) -> Option<String> {
    let t = &m.threshold;
    if !(matches!(m.baseline, Baseline::Cohort | Baseline::Query(_))
        && (t.ratio.is_some() || t.delta.is_some()))
    {
        return None;
    }
    Some(match m.baseline_when_empty {
        BaselineWhenEmpty::Frozen => "the baseline cohort takes no traffic: ratio and delta compare with the baseline frozen when the canary reached 100 % (baseline_when_empty = \"frozen\")".into(),
        BaselineWhenEmpty::NoData => "the baseline cohort takes no traffic: ratio and delta say NoData; the absolute limit still judges (baseline_when_empty = \"no_data\")".into(),
    })
}

/// The steps the metric gates.
fn gates_from(m: &Metric) -> String {
    match (m.from_weight, m.needs_traffic()) {
        (Some(w), _) => format!("steps at {w} % and above (from_weight)"),
        (None, true) => {
            "steps above 0 % (it measures canary traffic, which there is none of at 0 %)".into()
        }
        (None, false) => "every step".into(),
    }
}

/// When the metric gives a verdict, and whether partial data may pass.
fn verdict(plan: &Plan, m: &Metric) -> String {
    let mut verdict = format!(
        "after {} sample(s) in the step, counted afresh after a poll without data",
        m.min_samples
    );
    if let Some(mt) = &m.min_traffic {
        let traffic = plan.metric(&mt.metric);
        let at_least = traffic.map_or(number(mt.at_least), |tm| Units::of(tm).show(mt.at_least));
        verdict.push_str(&format!(
            ", and only while {} is at least {at_least}",
            mt.metric
        ));
    }
    if plan
        .source(&m.source)
        .is_some_and(|s| s.degraded == DegradedPolicy::Pass)
    {
        verdict.push_str("; an answer with warnings (partial data) may pass");
    } else {
        verdict.push_str("; an answer with warnings (partial data) may breach but never passes");
    }
    verdict
}

/// What happens after polls without data, and how soon.
fn no_data(plan: &Plan, m: &Metric) -> String {
    format!(
        "{} after {} polls without data or with a source error (~{})",
        match m.no_data.action {
            NoDataAction::Hold => "hold (never advance)",
            NoDataAction::Pause => "pause",
            NoDataAction::Rollback => "rollback",
        },
        m.no_data.after,
        duration(plan.interval_of(&m.id).saturating_mul(m.no_data.after))
    )
}

/// The triggers that watch the metric.
fn triggers_on(plan: &Plan, m: &Metric) -> String {
    let triggers: Vec<String> = plan
        .triggers
        .iter()
        .filter(|t| t.metric == m.id)
        .map(|t| t.name.clone())
        .collect();
    if triggers.is_empty() {
        "(none)".into()
    } else {
        triggers.join(", ")
    }
}

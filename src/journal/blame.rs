//! What caused a rollback, as the summary tells it: the trigger's own
//! record names the metric and the trigger; the first breach is that
//! metric's, in the streak that fired; a rollback for missing data, or by a
//! person, is described as what it was.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::record::Record;
use super::summary::{describe_actor, ts};
use crate::engine::words::Units;
use crate::engine::{Decision, DecisionKind, GateStatus, Timestamp, Verdict};
use crate::plan::HookKind;

/// How the rollback came about, and how long the safety net took: from the
/// first breach (or first poll without data) of the metric that caused it
/// to the rollback starting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachToRollback {
    /// "trigger" (a rollback trigger's streak of breaches), "no_data" (a
    /// metric's no-data policy), "person" (a rollback command).
    pub cause: String,
    /// The metric behind a trigger or a no-data policy.
    pub metric: Option<String>,
    /// The trigger's name, when the record names it.
    pub trigger: Option<String>,
    /// The first breach (trigger) or the first poll without data (no_data)
    /// of that metric in the streak that fired.
    pub first_breach_at: Option<String>,
    /// "journal" when a journaled record saw it; "estimated" when inferred
    /// from the streak's count and the source's poll interval.
    pub first_breach_basis: Option<String>,
    /// Breaches (trigger) or polls without data (no_data) in a row.
    pub streak: Option<u32>,
    pub decided_by: String,
    pub decided_at: String,
    /// The decision's reason, as journaled.
    pub reason: String,
    /// When the rollback hook started (or the decision, when no hook ran).
    pub rollback_started_at: String,
    /// From `first_breach_at` to `rollback_started_at`; none for a person's
    /// rollback.
    pub ms: Option<u64>,
    /// The metric's gate at the decision, in display units.
    pub numbers: Option<String>,
    /// Gates not passing when a person rolled back, in display units.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_passing: Vec<String>,
}

/// Each metric's display units (`display_scale`, `unit`), from the plan the
/// journal's `rollout_started` record carries; raw numbers for a metric it
/// does not name.
#[derive(Debug, Clone, Default)]
pub struct MetricUnits {
    by_metric: HashMap<String, (f64, String)>,
}

impl MetricUnits {
    pub fn from_plan(plan: Option<&Value>) -> MetricUnits {
        let mut by_metric = HashMap::new();
        let metrics = plan
            .and_then(|p| p.get("metrics"))
            .and_then(Value::as_array);
        for m in metrics.into_iter().flatten() {
            let Some(id) = m.get("id").and_then(Value::as_str) else {
                continue;
            };
            let scale = m
                .get("display_scale")
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && *s != 0.0)
                .unwrap_or(1.0);
            let unit = m.get("unit").and_then(Value::as_str).unwrap_or("");
            by_metric.insert(id.to_string(), (scale, unit.to_string()));
        }
        MetricUnits { by_metric }
    }

    /// `metric`'s units, for [`Units::show`].
    pub fn of(&self, metric: &str) -> Units<'_> {
        match self.by_metric.get(metric) {
            Some((scale, unit)) => Units {
                scale: *scale,
                unit,
            },
            None => Units::RAW,
        }
    }
}

/// The poll interval of the source behind `metric`, in ms, from the plan.
fn interval_ms(plan: Option<&Value>, metric: &str) -> Option<i64> {
    let p = plan?;
    let m = p
        .get("metrics")?
        .as_array()?
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(metric))?;
    let source = m.get("source")?.as_str()?;
    p.get("sources")?
        .as_array()?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(source))?
        .get("interval")?
        .as_i64()
        .filter(|ms| *ms > 0)
}

/// When the streak counted by `count` (breaches, or polls without data) of
/// `metric` began, walking back from record `k` while the count stays the
/// same streak (it never grows going back, and is never 0). The earliest
/// record that saw it bounds it; a count above 1 there means earlier polls
/// no record saw, estimated from the source's interval.
fn streak_start(
    records: &[Record],
    k: usize,
    metric: &str,
    count: fn(&GateStatus) -> u32,
    at_decision: u32,
    interval: Option<i64>,
) -> (Timestamp, &'static str) {
    let mut first = records[k].ts;
    let mut first_count = at_decision;
    for r in records[..k].iter().rev() {
        let Some(g) = r.decision.gates.iter().find(|g| g.metric == metric) else {
            continue;
        };
        let c = count(g);
        if c == 0 || c > first_count {
            break;
        }
        first = r.ts;
        first_count = c;
    }
    match interval {
        Some(ms) if first_count > 1 => (
            Timestamp(first.0 - ms * i64::from(first_count - 1)),
            "estimated",
        ),
        _ => (first, "journal"),
    }
}

/// A streak behind a rollback: its metric, the gate counter that counts
/// it, and that counter at the decision.
type Streak = (String, fn(&GateStatus) -> u32, u32);

/// A string of the decision's detail.
fn detail_str(d: &Decision, key: &str) -> Option<String> {
    d.detail
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A count of the decision's detail.
fn detail_u32(d: &Decision, key: &str) -> Option<u32> {
    d.detail
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// The breaches in a row that fired a rollback trigger.
fn trigger_streak(d: &Decision) -> Option<Streak> {
    // The trigger's own record names its metric; a journal from
    // before it did falls back to the longest breaching streak.
    let metric = detail_str(d, "metric").or_else(|| {
        d.gates
            .iter()
            .filter(|g| g.verdict == Verdict::Breach)
            .max_by_key(|g| g.breaches)
            .map(|g| g.metric.clone())
    })?;
    let gate = d.gates.iter().find(|g| g.metric == metric);
    let n = detail_u32(d, "breaches")
        .or(gate.map(|g| g.breaches))
        .unwrap_or(1);
    Some((metric, |g| g.breaches, n))
}

/// The polls without data in a row that made a no-data policy roll back.
fn no_data_streak(d: &Decision) -> Option<Streak> {
    let metric = detail_str(d, "metric")?;
    let gate = d.gates.iter().find(|g| g.metric == metric);
    let n = detail_u32(d, "polls")
        .or(gate.map(|g| g.no_data_polls))
        .unwrap_or(1);
    Some((metric, |g| g.no_data_polls, n))
}

/// The first rollback decision of the journal, explained.
pub(crate) fn breach_to_rollback(
    records: &[Record],
    plan: Option<&Value>,
    units: &MetricUnits,
) -> Option<BreachToRollback> {
    let (k, decided) = records.iter().enumerate().find(|(_, r)| {
        matches!(
            r.decision.action,
            DecisionKind::TriggerRollback | DecisionKind::NoDataRollback | DecisionKind::Rollback
        )
    })?;
    let d = &decided.decision;
    let started = records[k..]
        .iter()
        .find(|r| {
            r.decision.action == DecisionKind::HookStarted
                && r.decision.hook.as_ref().map(|h| h.kind) == Some(HookKind::Rollback)
        })
        .map_or(decided.ts, |r| r.ts);
    let gate_line = |g: &GateStatus| super::summary::GateLine::new(g, units).numbers();
    let mut out = BreachToRollback {
        cause: String::new(),
        metric: None,
        trigger: None,
        first_breach_at: None,
        first_breach_basis: None,
        streak: None,
        decided_by: format!("{} ({})", d.action, describe_actor(&d.actor)),
        decided_at: ts(decided.ts),
        reason: d.reason.clone(),
        rollback_started_at: ts(started),
        ms: None,
        numbers: None,
        not_passing: Vec::new(),
    };
    let (metric, counter, at_decision) = match d.action {
        DecisionKind::TriggerRollback => {
            out.cause = "trigger".into();
            out.trigger = detail_str(d, "trigger");
            trigger_streak(d)?
        }
        DecisionKind::NoDataRollback => {
            out.cause = "no_data".into();
            no_data_streak(d)?
        }
        _ => {
            out.cause = if d.actor.is_system() {
                d.action.to_string()
            } else {
                "person".into()
            };
            out.not_passing = d
                .gates
                .iter()
                .filter(|g| g.verdict != Verdict::Pass)
                .map(gate_line)
                .collect();
            return Some(out);
        }
    };
    let (first, basis) = streak_start(
        records,
        k,
        &metric,
        counter,
        at_decision,
        interval_ms(plan, &metric),
    );
    out.numbers = d.gates.iter().find(|g| g.metric == metric).map(gate_line);
    out.first_breach_at = Some(ts(first));
    out.first_breach_basis = Some(basis.into());
    out.streak = Some(at_decision);
    out.ms = Some(started.since(first).as_millis() as u64);
    out.metric = Some(metric);
    Some(out)
}

//! What each chart shows, built from a recording and its journal: pure
//! (no file, no clock), so it is tested without drawing. [`Builder`] takes
//! the journal's records first (steps, decisions, the rollback's cause, a
//! frozen baseline), then the recording's entries one at a time, so a six
//! hour recording is never held in memory.

use std::collections::HashMap;

use super::downsample::Downsample;
use crate::engine::kind::Severity;
use crate::engine::words::{Units, duration, elapsed};
use crate::engine::{Cohort, DecisionKind, Reading, Timestamp, Verdict};
use crate::journal::Record;
use crate::plan::{Baseline, Metric, Plan, Strategy};
use crate::recording::{Entry, Header, Recording};

/// Every chart of one rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Charts {
    pub rollout: String,
    pub service: String,
    /// Time 0 of every chart's axis.
    pub started: Timestamp,
    /// The axis' length, in ms.
    pub span_ms: i64,
    /// Where each step began, with its weight (every chart shows them).
    pub steps: Vec<StepMark>,
    /// Decisions a person or a trigger made (every chart shows them).
    pub decisions: Vec<DecisionMark>,
    /// One per plan metric, in plan order.
    pub charts: Vec<Chart>,
}

/// One metric's chart. Values are in the metric's display units.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub metric: String,
    pub name: String,
    pub unit: String,
    /// The SVG's file name: the metric id, made safe for a path.
    pub file: String,
    pub canary: Series,
    pub baseline: Option<Series>,
    /// The baseline held at one value (frozen at 100 %, before a switch,
    /// or a fixed number), drawn flat from `from` on.
    pub held: Option<Held>,
    pub limit: Option<Level>,
    pub slo: Option<Level>,
    /// The breach that made the rollout roll back, when it was this
    /// metric's.
    pub breach: Option<Breach>,
}

/// A line (canary or baseline), in segments: a gap splits it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (ms since the start, value in display units).
    pub segments: Vec<Vec<(i64, f64)>>,
    pub values: u64,
    /// Readings without a value (no data, provider errors).
    pub missing: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub from: i64,
    pub value: f64,
    pub label: String,
}

/// A horizontal line: the limit or the SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub value: f64,
    /// "limit 5 %", "SLO 1 %".
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepMark {
    pub at: i64,
    pub step: usize,
    pub weight: u8,
    /// "25 %".
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionMark {
    pub at: i64,
    pub kind: DecisionKind,
    pub who: String,
    pub severity: Severity,
    /// "approve by bob", "trigger_rollback (errors)".
    pub label: String,
}

/// The streak that rolled the rollout back: from its first breach (or
/// first poll without data) to the decision, and the samples in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub from: i64,
    pub to: i64,
    /// The breaching canary values (display units); none for missing data.
    pub points: Vec<(i64, f64)>,
    /// "breach → rollback 10s (trigger errors)".
    pub label: String,
}

/// The most breaching samples a highlight keeps (the latest).
const MAX_BREACH_POINTS: usize = 4096;

/// The decisions a chart marks: what people and triggers decided, not
/// the ramp's own steps (the step lines show those) nor hooks and views.
pub fn marked(kind: &DecisionKind) -> bool {
    kind.is_rollback()
        || kind.is_pause()
        || (kind.advances() && *kind != DecisionKind::AutoAdvance)
        || matches!(
            kind,
            DecisionKind::Resume | DecisionKind::Approval | DecisionKind::Failed
        )
}

/// A metric id as a file name: letters, digits, `-` and `_` kept, the
/// rest `_`.
pub fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "metric".into()
    } else {
        safe
    }
}

/// What rolled the rollout back, from the journal: the metric whose
/// streak did it, and when.
#[derive(Debug, Clone)]
struct Cause {
    metric: String,
    at: Timestamp,
    /// A streak of missing data rather than of breaches.
    no_data: bool,
    trigger: Option<String>,
    /// The streak's length as journaled (breaches, or polls without
    /// data): the last this many canary polls, when the recording carries
    /// no verdicts to follow the streak by.
    count: usize,
}

fn cause(records: &[Record]) -> Option<Cause> {
    let r = records.iter().find(|r| r.decision.action.is_rollback())?;
    let d = &r.decision;
    let no_data = match d.action {
        DecisionKind::TriggerRollback => false,
        DecisionKind::NoDataRollback => true,
        _ => return None,
    };
    let word = |k: &str| d.detail.get(k).and_then(|v| v.as_str()).map(String::from);
    let count = d
        .detail
        .get(if no_data { "polls" } else { "breaches" })
        .and_then(|v| v.as_u64())
        .map_or(1, |n| n.clamp(1, MAX_BREACH_POINTS as u64) as usize);
    Some(Cause {
        metric: word("metric")?,
        at: r.ts,
        no_data,
        trigger: word("trigger"),
        count,
    })
}

/// Per metric: its series being built and the streak being watched.
struct Acc {
    canary: Downsample,
    baseline: Downsample,
    /// Baseline samples from here on do not count (frozen).
    frozen_from: Option<i64>,
    frozen_value: Option<f64>,
    streak: Vec<(i64, f64)>,
    streak_from: Option<i64>,
    /// The last canary polls before the decision (time, value if any).
    recent: std::collections::VecDeque<(i64, Option<f64>)>,
}

/// Builds [`Charts`]: the journal's records first, then the entries.
pub struct Builder {
    plan: Plan,
    rollout: String,
    started: Timestamp,
    end: Timestamp,
    steps: Vec<StepMark>,
    decisions: Vec<DecisionMark>,
    cause: Option<Cause>,
    by_metric: HashMap<String, usize>,
    acc: Vec<Acc>,
}

impl Builder {
    /// A builder for the recording with `header`, whose journal holds
    /// `records` (only what charts need is kept from them).
    pub fn new(header: &Header, records: &[Record]) -> Builder {
        let plan = header.plan.clone();
        let started = records
            .first()
            .map_or(header.started, |r| r.ts.min(header.started));
        let ms = |t: Timestamp| t.0 - started.0;
        let mut steps = Vec::new();
        let mut decisions = Vec::new();
        let mut frozen: HashMap<String, (i64, Option<f64>)> = HashMap::new();
        for r in records {
            let d = &r.decision;
            if d.action == DecisionKind::StepEntered {
                steps.push(StepMark {
                    at: ms(r.ts),
                    step: d.step.unwrap_or(steps.len()),
                    weight: d.weight,
                    label: format!("{} %", d.weight),
                });
            } else if marked(&d.action) {
                decisions.push(decision_mark(r, ms(r.ts)));
            }
            for g in &d.gates {
                if let Some(at) = g.baseline_frozen_at {
                    frozen
                        .entry(g.metric.clone())
                        .or_insert((ms(at), g.baseline));
                }
            }
        }
        let by_metric = plan
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        let acc = plan
            .metrics
            .iter()
            .map(|m| {
                let interval = plan
                    .sources
                    .iter()
                    .find(|s| s.name == m.source)
                    .map_or(1000, |s| s.interval.as_millis() as i64);
                let held = frozen.get(&m.id);
                Acc {
                    canary: Downsample::new(interval),
                    baseline: Downsample::new(interval),
                    frozen_from: held.map(|h| h.0),
                    frozen_value: held.and_then(|h| h.1),
                    streak: Vec::new(),
                    streak_from: None,
                    recent: Default::default(),
                }
            })
            .collect();
        Builder {
            rollout: header.rollout_id.clone(),
            started,
            end: records.last().map_or(started, |r| r.ts),
            steps,
            decisions,
            cause: cause(records),
            by_metric,
            acc,
            plan,
        }
    }

    /// One entry of the recording, in order.
    pub fn push(&mut self, e: &Entry) {
        self.end = self.end.max(e.t);
        let Some((metric, cohort, reading)) = e.sample() else {
            return;
        };
        let Some(&i) = self.by_metric.get(metric) else {
            return;
        };
        let t = e.t.0 - self.started.0;
        let watch = self
            .cause
            .as_ref()
            .filter(|c| c.metric == metric && e.t <= c.at)
            .map(|c| (c.no_data, c.count));
        let a = &mut self.acc[i];
        let value = match reading {
            Reading::Value { value, .. } => Some(*value),
            Reading::NoData { .. } | Reading::ProviderError { .. } => None,
        };
        match cohort {
            Cohort::Baseline => {
                if a.frozen_from.is_some_and(|f| t >= f) {
                    return;
                }
                match value {
                    Some(v) => a.baseline.value(t, v),
                    None => a.baseline.missing(t),
                }
            }
            Cohort::Canary => {
                match value {
                    Some(v) => a.canary.value(t, v),
                    None => a.canary.missing(t),
                }
                if let Some((no_data, count)) = watch {
                    if a.recent.len() == count {
                        a.recent.pop_front();
                    }
                    a.recent.push_back((t, value));
                    watch_streak(a, t, value, e.verdict, no_data);
                }
            }
        }
    }

    /// Every entry of a whole recording.
    pub fn push_all(&mut self, rec: &Recording) {
        for e in &rec.entries {
            self.push(e);
        }
    }

    /// The charts.
    pub fn finish(self) -> Charts {
        // A little room after the last moment, so what happened at the end
        // (the rollback, most often) is not drawn on the plot's border.
        let span_ms = ((self.end.0 - self.started.0).max(1000) as f64 * 1.02) as i64;
        let strategy = self.plan.rollout.strategy;
        let mut names: HashMap<String, u32> = HashMap::new();
        let charts = self
            .plan
            .metrics
            .iter()
            .zip(self.acc)
            .map(|(m, a)| {
                let mut file = file_name(&m.id);
                let n = names.entry(file.clone()).or_insert(0);
                *n += 1;
                if *n > 1 {
                    file = format!("{file}-{n}");
                }
                chart(m, a, file, strategy, self.cause.as_ref(), self.started)
            })
            .collect();
        Charts {
            rollout: self.rollout,
            service: self.plan.rollout.service.clone(),
            started: self.started,
            span_ms,
            steps: self.steps,
            decisions: self.decisions,
            charts,
        }
    }
}

/// The charts of a whole recording and its journal's records.
pub fn build(rec: &Recording, records: &[Record]) -> Charts {
    let mut b = Builder::new(&rec.header, records);
    b.push_all(rec);
    b.finish()
}

fn decision_mark(r: &Record, at: i64) -> DecisionMark {
    let d = &r.decision;
    let what = d.action.as_str();
    let trigger = d.detail.get("trigger").and_then(|v| v.as_str());
    let label = match (d.actor.is_system(), trigger) {
        (true, Some(t)) => format!("{what} ({t})"),
        (true, None) => what.to_string(),
        (false, _) => format!("{what} by {}", d.actor.user),
    };
    DecisionMark {
        at,
        kind: d.action.clone(),
        who: d.actor.user.clone(),
        severity: d.action.severity(),
        label,
    }
}

/// Follows the streak of the metric that rolled back, up to the decision:
/// breaching values (or polls without data) in a row; a pass ends it.
fn watch_streak(a: &mut Acc, t: i64, value: Option<f64>, verdict: Option<Verdict>, no_data: bool) {
    let in_streak = if no_data {
        value.is_none()
    } else {
        match verdict {
            Some(Verdict::Breach) => true,
            // A poll without data leaves a breach streak as it is.
            Some(Verdict::NoData | Verdict::ProviderError) | None => return,
            Some(Verdict::Pass) => false,
        }
    };
    if !in_streak {
        a.streak.clear();
        a.streak_from = None;
        return;
    }
    a.streak_from.get_or_insert(t);
    if let Some(v) = value.filter(|v| v.is_finite()) {
        if a.streak.len() == MAX_BREACH_POINTS {
            a.streak.remove(0);
        }
        a.streak.push((t, v));
    }
}

fn baseline_label(m: &Metric) -> Option<String> {
    match &m.baseline {
        Baseline::Cohort | Baseline::Query(_) => Some("baseline".into()),
        Baseline::PreDeploy(d) => Some(format!("baseline (pre-deploy, {})", duration(*d))),
        Baseline::Value(_) | Baseline::None => None,
    }
}

fn chart(
    m: &Metric,
    mut a: Acc,
    file: String,
    strategy: Strategy,
    cause: Option<&Cause>,
    started: Timestamp,
) -> Chart {
    let units = Units::of(m);
    let scale = m.display_scale;
    let level = |word: &str, v: Option<f64>| {
        v.filter(|v| v.is_finite()).map(|v| Level {
            value: v * scale,
            label: format!("{word} {}", units.show(v)),
        })
    };
    let held = match (&m.baseline, a.frozen_from, a.frozen_value) {
        (Baseline::Value(v), _, _) => Some(Held {
            from: 0,
            value: v * scale,
            label: format!("baseline (fixed, {})", units.show(*v)),
        }),
        (_, Some(from), Some(v)) => Some(Held {
            from,
            value: v * scale,
            label: if strategy == Strategy::BlueGreen {
                "baseline (pre-switch, frozen)".into()
            } else {
                "baseline (frozen at 100 %)".into()
            },
        }),
        _ => None,
    };
    let breach = cause.filter(|c| c.metric == m.id).map(|c| {
        let to = c.at.0 - started.0;
        if a.streak_from.is_none() {
            // No verdicts recorded: the streak is the last polls the
            // journal counted.
            a.streak_from = a.recent.front().map(|p| p.0);
            a.streak = a
                .recent
                .iter()
                .filter_map(|&(t, v)| v.filter(|v| v.is_finite()).map(|v| (t, v)))
                .collect();
        }
        let from = a.streak_from.unwrap_or(to);
        let what = if c.no_data { "no data" } else { "breach" };
        let by = c
            .trigger
            .as_deref()
            .map(|t| format!(" (trigger {t})"))
            .unwrap_or_default();
        Breach {
            from,
            to,
            points: a.streak.iter().map(|&(t, v)| (t, v * scale)).collect(),
            label: format!(
                "{what} → rollback {}{by}",
                elapsed(std::time::Duration::from_millis((to - from).max(0) as u64))
            ),
        }
    });
    let baseline = baseline_label(m).map(|label| Series {
        label,
        segments: a.baseline.segments(scale),
        values: a.baseline.values,
        missing: a.baseline.missing,
    });
    Chart {
        metric: m.id.clone(),
        name: if m.name.is_empty() {
            m.id.clone()
        } else {
            m.name.clone()
        },
        unit: m.unit.clone(),
        file,
        canary: Series {
            label: "canary".into(),
            segments: a.canary.segments(scale),
            values: a.canary.values,
            missing: a.canary.missing,
        },
        baseline,
        held,
        limit: level("limit", m.threshold.limit),
        slo: level("SLO", m.threshold.slo),
        breach,
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

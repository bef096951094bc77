//! What past rollouts teach: `rampdeck history`, the prior rollbacks the
//! cockpit's ramp shows, and what `plan` warns about.
//!
//! [`entry_of`] is pure: one journal's verified records and its verify
//! report in, one [`Entry`] out (who drove, how it ended, which triggers
//! fired at which step and weight, how long from the first breach to the
//! rollback, whether the chain holds). [`read`] is the thin, bounded reader
//! over journal directories; [`render`] the table and the JSON;
//! [`lessons`] the plan's warnings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::blame::{MetricUnits, breach_to_rollback};
use super::record::Record;
use super::summary::{plan_of, ts};
use super::verify::{ProblemKind, VerifyReport};
use crate::engine::types::number;
use crate::engine::{DecisionKind, Timestamp};

pub mod lessons;
pub mod read;
pub mod render;

pub use read::{ReadOptions, prior_for, read_dirs};

/// How a past rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Promoted,
    RolledBack,
    /// The rollback itself failed.
    Failed,
    /// Closed (`rollout_ended`) without being promoted or rolled back: the
    /// driver was stopped.
    Aborted,
    /// No `rollout_ended` record: still running, or killed.
    Open,
}

impl Outcome {
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled back",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Open => "still open",
        }
    }
}

/// Whether the journal's chain holds, as `rampdeck verify` would say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Chain {
    /// Closed, and every record verifies.
    Verified,
    /// Every record verifies, but no `rollout_ended` closes it.
    Open,
    /// A crash mid-write left a partial last line; the rest verifies.
    Torn { line: usize },
    /// The chain breaks at `line`: only the records before it are used.
    Tampered {
        line: usize,
        kind: String,
        detail: String,
    },
}

impl Chain {
    pub fn of(v: &VerifyReport) -> Chain {
        match &v.problem {
            None if v.closed => Chain::Verified,
            None => Chain::Open,
            Some(p) if p.kind == ProblemKind::TornLastLine => Chain::Torn { line: p.line },
            Some(p) => Chain::Tampered {
                line: p.line,
                kind: p.kind.as_str().to_string(),
                detail: p.detail.clone(),
            },
        }
    }

    /// "ok", "open", "torn at line 9", "TAMPERED at line 12".
    pub fn words(&self) -> String {
        match self {
            Chain::Verified => "ok".into(),
            Chain::Open => "open".into(),
            Chain::Torn { line } => format!("torn at line {line}"),
            Chain::Tampered { line, .. } => format!("TAMPERED at line {line}"),
        }
    }
}

/// A trigger, a no-data policy, a change window or a person stopping the
/// ramp: one journaled rollback or automatic pause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// The decision's word: `trigger_rollback`, `no_data_rollback`,
    /// `trigger_pause`, `rollback`, ...
    pub kind: String,
    /// The trigger's name, for a trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The metric behind a trigger or a no-data policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// 0-based step at the decision.
    pub step: Option<usize>,
    pub weight: u8,
    pub at: String,
    pub at_ms: i64,
    /// Who decided ("rampdeck" for rampdeck itself).
    pub by: String,
    /// Breaches (trigger) or polls without data (no-data) in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streak: Option<u32>,
    /// The trigger's `consecutive` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive: Option<u32>,
    /// The canary's value and the limit then (raw units).
    #[serde(default, with = "number", skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, with = "number", skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// The value against the limit in the metric's display units then:
    /// "9 % > 5 %".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<String>,
    /// The metric's configured `threshold.limit` then (raw units).
    #[serde(default, with = "number", skip_serializing_if = "Option::is_none")]
    pub limit_then: Option<f64>,
    /// The hold of the step that caught it, as the plan then had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<u64>,
    pub reason: String,
}

impl Fired {
    pub fn is_rollback(&self) -> bool {
        DecisionKind::from_word(&self.kind).is_rollback()
    }
}

/// One past rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub journal: String,
    pub rollout: String,
    pub service: Option<String>,
    pub started_at: Option<String>,
    pub started_ms: Option<i64>,
    pub duration_ms: Option<u64>,
    pub outcome: Outcome,
    /// Who made decisions (start, promote, pause, rollback, ...).
    pub drove: Vec<String>,
    pub fired: Vec<Fired>,
    /// From the first breach (or poll without data) of the metric behind
    /// the first rollback to the rollback starting.
    pub breach_to_rollback_ms: Option<u64>,
    pub chain: Chain,
}

impl Entry {
    /// The rollbacks among [`Entry::fired`].
    pub fn rollbacks(&self) -> impl Iterator<Item = &Fired> {
        self.fired.iter().filter(|f| f.is_rollback())
    }
}

/// A journal `history` could not use, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    pub journal: String,
    pub why: String,
}

/// Past rollouts, newest first, and the journals that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// Said when the reading stopped early (a time or count limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<String>,
}

impl History {
    /// Newest first (by start; a journal without one last).
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| {
            b.started_ms
                .cmp(&a.started_ms)
                .then(a.journal.cmp(&b.journal))
        });
        self.unreadable.sort_by(|a, b| a.journal.cmp(&b.journal));
    }

    /// Every rollback of every entry, newest first, with its entry.
    pub fn rollbacks(&self) -> impl Iterator<Item = (&Entry, &Fired)> {
        self.entries
            .iter()
            .flat_map(|e| e.rollbacks().map(move |f| (e, f)))
    }
}

/// Rollbacks and automatic pauses kept per rollout (the first ones): a
/// rollout that paused without end stays one small entry.
pub const MAX_FIRED: usize = 50;

fn detail_u32(d: &Value, key: &str) -> Option<u32> {
    d.get(key)?.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn detail_str(d: &Value, key: &str) -> Option<String> {
    d.get(key)?.as_str().map(str::to_string)
}

/// The journaled decision as a [`Fired`], when it stopped the ramp.
fn fired_of(r: &Record, plan: Option<&Value>, units: &MetricUnits) -> Option<Fired> {
    let d = &r.decision;
    let automatic_pause = d.action.is_pause() && d.actor.is_system();
    if !(d.action.is_rollback() || automatic_pause) || d.action == DecisionKind::RollbackRetry {
        return None;
    }
    let metric = detail_str(&d.detail, "metric");
    let gate = metric
        .as_deref()
        .and_then(|m| d.gates.iter().find(|g| g.metric == m));
    let value = d
        .detail
        .get("value")
        .and_then(number::from_json)
        .or(gate.and_then(|g| g.canary));
    let limit = d
        .detail
        .get("limit")
        .and_then(number::from_json)
        .or(gate.and_then(|g| g.limit));
    let numbers = metric.as_deref().zip(value).map(|(m, v)| {
        let u = units.of(m);
        format!("{} vs limit {}", u.show(v), u.show_opt(limit))
    });
    let hold_ms = d.step.and_then(|k| {
        plan?
            .pointer(&format!("/steps/{k}/hold"))
            .and_then(Value::as_u64)
    });
    let trigger = detail_str(&d.detail, "trigger");
    let consecutive = detail_u32(&d.detail, "consecutive").or_else(|| {
        let t = trigger.as_deref()?;
        plan?
            .get("triggers")?
            .as_array()?
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(t))
            .and_then(|x| detail_u32(x, "consecutive"))
    });
    let limit_then = metric.as_deref().and_then(|m| {
        plan?
            .get("metrics")?
            .as_array()?
            .iter()
            .find(|x| x.get("id").and_then(Value::as_str) == Some(m))?
            .pointer("/threshold/limit")
            .and_then(number::from_json)
    });
    Some(Fired {
        kind: d.action.to_string(),
        trigger,
        streak: detail_u32(&d.detail, "breaches").or(detail_u32(&d.detail, "polls")),
        consecutive,
        limit_then,
        metric,
        step: d.step,
        weight: d.weight,
        at: ts(r.ts),
        at_ms: r.ts.0,
        by: d.actor.user.clone(),
        value,
        limit,
        numbers,
        hold_ms,
        reason: d.reason.clone(),
    })
}

fn outcome_of(records: &[Record], closed: bool) -> Outcome {
    let ended = records
        .iter()
        .rev()
        .find(|r| r.decision.action.is_outcome())
        .map(|r| &r.decision.action);
    match ended {
        Some(DecisionKind::Promoted) => Outcome::Promoted,
        Some(DecisionKind::RolledBack) => Outcome::RolledBack,
        Some(_) => Outcome::Failed,
        None if closed => Outcome::Aborted,
        None => Outcome::Open,
    }
}

/// One past rollout from its journal's verified records (in order) and the
/// journal's verify report. Pure.
pub fn entry_of(records: &[Record], verify: &VerifyReport) -> Entry {
    let plan = plan_of(records);
    let units = MetricUnits::from_plan(plan);
    let mut drove: Vec<String> = Vec::new();
    for r in records {
        let a = &r.decision.actor;
        if !r.decision.action.is_presence() && !a.is_system() && !drove.contains(&a.user) {
            drove.push(a.user.clone());
        }
    }
    let first: Option<Timestamp> = records.first().map(|r| r.ts);
    let last = records.last().map(|r| r.ts);
    Entry {
        journal: verify.path.display().to_string(),
        rollout: records
            .first()
            .map(|r| r.rollout.clone())
            .or_else(|| verify.rollout.clone())
            .unwrap_or_default(),
        service: plan
            .and_then(|p| p.pointer("/rollout/service"))
            .and_then(Value::as_str)
            .map(str::to_string),
        started_at: first.map(ts),
        started_ms: first.map(|t| t.0),
        duration_ms: first.zip(last).map(|(a, b)| b.since(a).as_millis() as u64),
        outcome: outcome_of(records, verify.closed),
        drove,
        fired: records
            .iter()
            .filter_map(|r| fired_of(r, plan, &units))
            .take(MAX_FIRED)
            .collect(),
        breach_to_rollback_ms: breach_to_rollback(records, plan, &units).and_then(|b| b.ms),
        chain: Chain::of(verify),
    }
}

#[cfg(test)]
mod tests;

//! The post-deploy summary: the journal turned into the document an
//! auditor and the next on-call engineer read. [`summarize`] builds the
//! data (serializable as JSON); `render` turns it into Markdown.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use super::blame::{BreachToRollback, MetricUnits};
pub use super::damaged::{AfterBreak, NotRecord};
pub use super::phases::AroundTheRamp;
use super::record::{Record, format_ts};
use super::verify::VerifyReport;
use crate::engine::words::Units;
use crate::engine::{Actor, DecisionKind, GateStatus, Timestamp, Verdict};

/// Everything the summary says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub journal: String,
    pub rollout: Option<String>,
    pub service: Option<String>,
    pub ticket: Option<TicketRef>,
    pub strategy: Option<String>,
    /// "promoted", "rolled_back", "failed", or "in progress (<phase>)".
    pub outcome: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Who made human decisions (start, promote, pause, rollback, ...).
    pub drove: Vec<String>,
    /// Who attached to watch.
    pub watched: Vec<String>,
    pub steps: Vec<StepSummary>,
    pub decisions: Vec<DecisionLine>,
    pub hooks: Vec<HookLine>,
    pub breach_to_rollback: Option<BreachToRollback>,
    pub chain: ChainStatus,
    pub checklist: Vec<CheckItem>,
    /// Pre-flight, change windows, approvals and exit criteria, as
    /// journaled (each list absent when the journal has nothing for it).
    #[serde(flatten)]
    pub around: AroundTheRamp,
    /// Repeated records (refusals, views coming and going) past the first
    /// few of each person, counted rather than listed in `decisions`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeated: Vec<Repeated>,
    /// When the chain breaks: everything after the break, unverified. The
    /// rest of the summary is built from the verified records only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_break: Option<AfterBreak>,
}

/// Records of one action by one person that the summary counts instead of
/// listing: a flood must not bury the decisions that matter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repeated {
    pub action: String,
    pub who: String,
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
}

/// Records of one noisy action by one person listed one by one; the rest
/// are counted.
pub const LISTED_PER_PERSON: usize = 25;

/// Keeps a journal's records for the summary, one at a time, counting
/// repeated noise (see [`LISTED_PER_PERSON`]) instead of keeping it: memory
/// follows the decisions that matter, not the size of the journal.
#[derive(Debug, Default)]
pub struct Keeper {
    pub records: Vec<Record>,
    listed: BTreeMap<(String, String), usize>,
    repeated: BTreeMap<(String, String), (u64, Timestamp, Timestamp)>,
}

impl Keeper {
    pub fn push(&mut self, r: Record) {
        if r.decision.action.is_repeatable_noise() {
            let key = (
                r.decision.action.as_str().to_string(),
                r.decision.actor.user.clone(),
            );
            let n = self.listed.entry(key.clone()).or_insert(0);
            if *n >= LISTED_PER_PERSON {
                let e = self.repeated.entry(key).or_insert((0, r.ts, r.ts));
                e.0 += 1;
                e.2 = r.ts;
                return;
            }
            *n += 1;
        }
        self.records.push(r);
    }

    /// The records kept, and what was counted instead.
    pub fn finish(self) -> (Vec<Record>, Vec<Repeated>) {
        let repeated = self
            .repeated
            .into_iter()
            .map(|((action, who), (count, first, last))| Repeated {
                action,
                who,
                count,
                first_at: ts(first),
                last_at: ts(last),
            })
            .collect();
        (self.records, repeated)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketRef {
    pub id: String,
    pub url: Option<String>,
}

/// One step of the ramp as it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSummary {
    pub index: usize,
    pub name: Option<String>,
    pub weight: u8,
    pub entered_at: String,
    pub left_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// The decision that ended the step ("auto_advance", "promote",
    /// "trigger_rollback", ...), or None while it is current.
    pub ended_by: Option<String>,
    /// Gates as last journaled while in this step.
    pub gates: Vec<GateLine>,
    /// What the data did meanwhile: sources going down or coming back,
    /// and the step's waits for data, in order (issue 10, item 7).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_events: Vec<DataEvent>,
    /// What the strategy did in this step (issue 14): `switched`,
    /// `scaled_down`, `batch_done`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub strategy_events: Vec<DataEvent>,
}

/// A change of a source's health, or a wait for data, during a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataEvent {
    pub at: String,
    /// "source_state", "data_hold_started" or "data_hold_ended".
    pub action: String,
    pub text: String,
}

/// A gate's numbers at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateLine {
    pub metric: String,
    pub verdict: Verdict,
    /// Raw values, as journaled; `+Inf` and friends as words.
    #[serde(serialize_with = "crate::engine::types::number::serialize")]
    pub canary: Option<f64>,
    #[serde(serialize_with = "crate::engine::types::number::serialize")]
    pub baseline: Option<f64>,
    #[serde(serialize_with = "crate::engine::types::number::serialize")]
    pub limit: Option<f64>,
    pub breaches: u32,
    pub detail: String,
    /// How the numbers read: raw × `display_scale`, then `unit` (from the
    /// plan the journal carries; 1 and "" when it names none).
    pub display_scale: f64,
    pub unit: String,
    /// What the metric's other gate kinds (burn, judge, sequential) said,
    /// each with the line that states its number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<KindLine>,
}

/// One gate kind's verdict and its line ("judge high: shift +0.6 %, ...").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindLine {
    pub kind: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl GateLine {
    /// The gate in `metric`'s display units.
    pub fn new(g: &GateStatus, units: &MetricUnits) -> Self {
        let u = units.of(&g.metric);
        GateLine {
            display_scale: u.scale,
            unit: u.unit.to_string(),
            ..GateLine::from(g)
        }
    }

    /// "error_rate Breach: canary 9 % vs baseline 1 % (limit 5 %, 3 consecutive breaches)",
    /// in the metric's display units, as the cockpit shows them.
    pub fn numbers(&self) -> String {
        let breaches = match self.breaches {
            0 => String::new(),
            1 => ", 1 breach".into(),
            n => format!(", {n} consecutive breaches"),
        };
        let units = Units {
            scale: self.display_scale,
            unit: &self.unit,
        };
        format!(
            "{} {}: canary {} vs baseline {} (limit {}{breaches})",
            self.metric,
            self.verdict.as_str(),
            units.show_opt(self.canary),
            units.show_opt(self.baseline),
            units.show_opt(self.limit),
        )
    }
}

/// Raw numbers, no unit.
impl From<&GateStatus> for GateLine {
    fn from(g: &GateStatus) -> Self {
        GateLine {
            metric: g.metric.clone(),
            verdict: g.verdict,
            canary: g.canary,
            baseline: g.baseline,
            limit: g.limit,
            breaches: g.breaches,
            detail: g.detail.clone(),
            display_scale: 1.0,
            unit: String::new(),
            kinds: g
                .kinds
                .iter()
                .map(|k| KindLine {
                    kind: k.kind.as_str().to_string(),
                    verdict: k.verdict,
                    detail: k.detail.clone(),
                })
                .collect(),
        }
    }
}

/// One journal record, as the audit trail shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLine {
    pub seq: u64,
    pub at: String,
    pub action: String,
    pub who: String,
    pub why: String,
    pub step: Option<usize>,
    pub weight: u8,
    pub phase: String,
    pub gates: Vec<GateLine>,
}

/// One hook run: its start and its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookLine {
    pub id: u64,
    pub kind: String,
    pub step: Option<usize>,
    /// The weight the hook was run for: what a set_weight set, 0 for a
    /// rollback.
    pub weight: u8,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// None: no result was journaled (still running, or rampdeck died).
    pub ok: Option<bool>,
    pub code: Option<i32>,
    pub summary: Option<String>,
    pub attempts: Option<u32>,
    pub duration_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainStatus {
    pub holds: bool,
    pub records: usize,
    pub exit_code: i32,
    pub message: String,
    /// The hash of the last record that verifies: keep it elsewhere and
    /// check it later with `rampdeck verify --expect-head`.
    pub head: Option<String>,
    /// A `rollout_ended` record closes the journal.
    pub closed: bool,
    /// The head, the seals: what `rampdeck verify` prints after its first
    /// line.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Pass,
    Fail,
    Unknown,
}

/// One exit criterion, filled in from the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckItem {
    pub item: String,
    pub state: CheckState,
    pub evidence: String,
}

/// "alice (uid 1000, host h1, ssh 10.0.0.5)"
pub fn describe_actor(a: &Actor) -> String {
    let mut extra = Vec::new();
    if let Some(uid) = a.uid {
        extra.push(format!("uid {uid}"));
    }
    if let Some(l) = a.login_uid.filter(|l| Some(*l) != a.uid) {
        extra.push(format!("login uid {l}"));
    }
    if let Some(h) = &a.host {
        extra.push(format!("host {h}"));
    }
    if let Some(s) = &a.ssh_client {
        extra.push(format!("ssh {s}"));
    }
    if extra.is_empty() {
        a.user.clone()
    } else {
        format!("{} ({})", a.user, extra.join(", "))
    }
}

pub(crate) fn ts(t: Timestamp) -> String {
    format_ts(t).unwrap_or_else(|| format!("{} ms", t.0))
}

/// The plan as journaled on `rollout_started` (`serde_json::to_value(&plan)`,
/// possibly wrapped as `{"plan": ...}`).
pub(crate) fn plan_of(records: &[Record]) -> Option<&Value> {
    let d = &records
        .iter()
        .find(|r| r.decision.action == DecisionKind::RolloutStarted)?
        .decision
        .detail;
    if d.get("rollout").is_some() {
        Some(d)
    } else {
        d.get("plan").filter(|p| p.get("rollout").is_some())
    }
}

fn str_at(v: Option<&Value>, pointer: &str) -> Option<String> {
    v?.pointer(pointer)?.as_str().map(str::to_string)
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Builds the summary of a journal's records and its verify report.
pub fn summarize(records: &[Record], verify: &VerifyReport) -> Summary {
    summarize_kept(records, Vec::new(), verify)
}

/// [`summarize`] of records a [`Keeper`] kept, with what it counted.
pub fn summarize_kept(
    records: &[Record],
    repeated: Vec<Repeated>,
    verify: &VerifyReport,
) -> Summary {
    let plan = plan_of(records);
    let units = MetricUnits::from_plan(plan);
    let ticket = str_at(plan, "/rollout/ticket/id").map(|id| TicketRef {
        id,
        url: str_at(plan, "/rollout/ticket/url"),
    });
    let mut drove = Vec::new();
    let mut watched = Vec::new();
    for r in records {
        let d = &r.decision;
        if d.action.is_presence() {
            if matches!(
                d.action,
                DecisionKind::OperatorAttached | DecisionKind::ViewerAttached
            ) {
                push_unique(&mut watched, describe_actor(&d.actor));
            }
        } else if !d.actor.is_system() {
            push_unique(&mut drove, describe_actor(&d.actor));
        }
    }
    let first = records.first().map(|r| r.ts);
    let last = records.last().map(|r| r.ts);
    Summary {
        journal: verify.path.display().to_string(),
        rollout: records
            .first()
            .map(|r| r.rollout.clone())
            .or_else(|| verify.rollout.clone()),
        service: str_at(plan, "/rollout/service"),
        ticket,
        strategy: str_at(plan, "/rollout/strategy"),
        outcome: outcome(records),
        started_at: first.map(ts),
        ended_at: last.map(ts),
        duration_ms: first.zip(last).map(|(a, b)| b.since(a).as_millis() as u64),
        drove,
        watched,
        steps: steps(records, plan, &units),
        decisions: records.iter().map(|r| decision_line(r, &units)).collect(),
        hooks: hooks(records),
        breach_to_rollback: super::blame::breach_to_rollback(records, plan, &units),
        chain: ChainStatus {
            holds: verify.holds(),
            records: verify.records,
            exit_code: verify.exit_code(),
            message: verify.one_line(),
            head: verify.head.clone(),
            closed: verify.closed,
            details: verify.details(),
        },
        checklist: super::checklist::checklist(records, verify, &units),
        around: super::phases::around_the_ramp(records),
        repeated,
        after_break: None,
    }
}

pub(crate) fn outcome(records: &[Record]) -> String {
    let ended = records
        .iter()
        .rev()
        .find(|r| r.decision.action.is_outcome())
        .map(|r| r.decision.action.to_string());
    match (ended, records.last()) {
        (Some(a), _) => a,
        (None, Some(r)) => format!("in progress ({})", r.decision.phase),
        (None, None) => "no records".into(),
    }
}

pub(crate) fn decision_line(r: &Record, units: &MetricUnits) -> DecisionLine {
    let d = &r.decision;
    DecisionLine {
        seq: r.seq,
        at: ts(r.ts),
        action: d.action.to_string(),
        who: describe_actor(&d.actor),
        why: d.reason.clone(),
        step: d.step,
        weight: d.weight,
        phase: d.phase.to_string(),
        gates: d.gates.iter().map(|g| GateLine::new(g, units)).collect(),
    }
}

fn steps(records: &[Record], plan: Option<&Value>, units: &MetricUnits) -> Vec<StepSummary> {
    let mut out: Vec<StepSummary> = Vec::new();
    // (entered, left) per step, as times, for the durations.
    let mut spans: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
    for r in records {
        let d = &r.decision;
        let current = out.last_mut().filter(|s| s.left_at.is_none());
        if d.action == DecisionKind::StepEntered {
            if let Some(cur) = current {
                cur.left_at = Some(ts(r.ts));
                cur.ended_by
                    .get_or_insert_with(|| DecisionKind::StepEntered.to_string());
                if let Some(span) = spans.last_mut() {
                    span.1 = Some(r.ts);
                }
            }
            let index = d.step.unwrap_or(out.len());
            out.push(StepSummary {
                index,
                name: str_at(plan, &format!("/steps/{index}/name")),
                weight: d.weight,
                entered_at: ts(r.ts),
                left_at: None,
                duration_ms: None,
                ended_by: None,
                gates: d.gates.iter().map(|g| GateLine::new(g, units)).collect(),
                data_events: Vec::new(),
                strategy_events: Vec::new(),
            });
            spans.push((r.ts, None));
            continue;
        }
        let Some(cur) = current else { continue };
        if matches!(
            d.action.as_str(),
            "source_state" | "data_hold_started" | "data_hold_ended"
        ) {
            cur.data_events.push(DataEvent {
                at: ts(r.ts),
                action: d.action.to_string(),
                text: d.reason.clone(),
            });
        }
        if !d.gates.is_empty() {
            cur.gates = d.gates.iter().map(|g| GateLine::new(g, units)).collect();
        }
        if cur.ended_by.is_none() && d.action.ends_step() {
            cur.ended_by = Some(d.action.to_string());
            if !d.action.advances() {
                // A rollback or the end closes the step at once; an advance
                // closes it when the next step is entered.
                cur.left_at = Some(ts(r.ts));
                if let Some(span) = spans.last_mut() {
                    span.1 = Some(r.ts);
                }
            }
        }
    }
    // The strategy's actions belong to the step their record names (a
    // batch is done just before its step's hold starts).
    for r in records {
        let d = &r.decision;
        let strategy = matches!(
            d.action,
            DecisionKind::Switched | DecisionKind::ScaledDown | DecisionKind::BatchDone
        );
        if let (true, Some(k)) = (strategy, d.step)
            && let Some(st) = out.iter_mut().rev().find(|s| s.index == k)
        {
            st.strategy_events.push(DataEvent {
                at: ts(r.ts),
                action: d.action.to_string(),
                text: d.reason.clone(),
            });
        }
    }
    // A step still current lasts until the last record.
    let end = records.last().map(|r| r.ts).unwrap_or_default();
    for (s, (entered, left)) in out.iter_mut().zip(spans) {
        s.duration_ms = Some(left.unwrap_or(end).since(entered).as_millis() as u64);
    }
    out
}

pub(crate) fn hooks(records: &[Record]) -> Vec<HookLine> {
    let mut by_id: BTreeMap<u64, HookLine> = BTreeMap::new();
    let mut order = Vec::new();
    for r in records {
        let Some(h) = &r.decision.hook else { continue };
        let line = by_id.entry(h.id).or_insert_with(|| {
            order.push(h.id);
            HookLine {
                id: h.id,
                kind: h.kind.as_str().to_string(),
                step: r.decision.step,
                // The weight the hook was run for; a journal from before
                // hooks recorded it gives the weight confirmed when it
                // started, corrected below by a successful set_weight.
                weight: h.weight.unwrap_or(r.decision.weight),
                started_at: None,
                finished_at: None,
                ok: None,
                code: None,
                summary: None,
                attempts: None,
                duration_ms: None,
            }
        });
        if r.decision.action == DecisionKind::HookStarted {
            line.started_at = Some(ts(r.ts));
        }
        if let Some(o) = &h.outcome {
            if h.weight.is_none() && o.ok && h.kind == crate::plan::HookKind::SetWeight {
                // The engine confirms a set_weight's weight before it
                // journals the result.
                line.weight = r.decision.weight;
            }
            line.finished_at = Some(ts(r.ts));
            line.ok = Some(o.ok);
            line.code = o.code;
            line.summary = Some(o.summary.clone());
            line.attempts = Some(o.attempts);
            line.duration_ms = Some(o.duration_ms);
        }
    }
    order.iter().filter_map(|id| by_id.remove(id)).collect()
}

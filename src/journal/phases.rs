//! The summary's record of what surrounds the ramp (issue 13): the
//! pre-flight results, the change windows and freeze exceptions, each
//! approval counted toward its N-of-M, and the exit criteria of the
//! observation after the last step. Each is read from the journal's own
//! records, by their typed kind; a section stays empty when the journal has
//! nothing for it.

use serde::Serialize;
use serde_json::Value;

use super::record::Record;
use super::summary::{describe_actor, ts};
use crate::engine::DecisionKind as K;
use crate::engine::approvals::counted;

/// Characters of a check's output the summary shows (the journal keeps
/// more): the start of its first line.
pub const OUTPUT_CHARS: usize = 160;

/// Everything around the ramp, as the summary lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AroundTheRamp {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<ItemLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitSummary>,
}

/// How a pre-flight or exit item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    /// The automatic check exited 0.
    Passed,
    /// The automatic check failed.
    Failed,
    /// A person confirmed the manual item.
    Confirmed,
}

/// One item's result: an automatic check or a person's confirmation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemLine {
    pub at: String,
    pub title: String,
    pub result: ItemResult,
    /// Who confirmed it; rampdeck for a check.
    pub who: String,
    /// The start of the check's output, or the person's note.
    pub text: String,
}

/// What happened with the change windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowEvent {
    /// The start was refused: outside the windows.
    StartRefused,
    /// The window closed mid-rollout: the ramp held.
    Closed,
    /// The window opened again.
    Opened,
    /// The window closed and the plan said `on_close = "rollback"`.
    Rollback,
    /// A freeze exception was recorded.
    Exception,
    /// A freeze exception was refused (no approver or reason, or the
    /// driver's own).
    ExceptionRefused,
}

/// One record about the change windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowLine {
    pub at: String,
    pub event: WindowEvent,
    /// Who recorded it (rampdeck for a window opening or closing).
    pub who: String,
    /// The approver of a freeze exception.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The window's state in words, or the reason given.
    pub text: String,
    /// When the window's state next changed, as the record foresaw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes_at: Option<String>,
}

/// What an approval record was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// One approval counted toward the step's N-of-M.
    Counted,
    /// The approval that let the step go on (N reached, or a manual
    /// gate's single approval).
    Advanced,
    /// Not counted: the person may not approve, or already did.
    Refused,
}

/// One approval, counted or refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalLine {
    pub at: String,
    /// The step approved, 0-based.
    pub step: Option<usize>,
    pub who: String,
    pub state: ApprovalState,
    /// "1 of 2 approvals" when the step counts approvals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted: Option<String>,
    /// The approver's reason; for a refusal, why it was refused.
    pub reason: String,
    /// How long the approval counts, when it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

/// The observation after the last step and its criteria.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExitSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// Exit checks and confirmed hand-off items, in order.
    pub items: Vec<ItemLine>,
    /// The criteria the promotion recorded, with their evidence.
    pub criteria: Vec<Criterion>,
}

/// When the observation started, for how long, and which items it asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub at: String,
    pub observe_ms: Option<u64>,
    pub items: Vec<String>,
}

/// One exit criterion as the `promoted` record states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub criterion: String,
    pub met: bool,
    pub evidence: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn titles(v: &Value) -> Vec<String> {
    v.get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The start of a check's output: its first non-empty line, at most
/// [`OUTPUT_CHARS`] characters.
fn start_of(output: &str) -> String {
    let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut s: String = first.trim().chars().take(OUTPUT_CHARS).collect();
    let more = first.trim().chars().nth(OUTPUT_CHARS).is_some() || output.trim() != first.trim();
    if more {
        s.push('…');
    }
    s
}

/// An automatic check's record (`preflight_check`, `exit_check`).
fn check_line(r: &Record) -> ItemLine {
    let d = &r.decision.detail;
    let ok = d.get("ok").and_then(Value::as_bool).unwrap_or(false);
    ItemLine {
        at: ts(r.ts),
        title: text(d, "title"),
        result: if ok {
            ItemResult::Passed
        } else {
            ItemResult::Failed
        },
        who: describe_actor(&r.decision.actor),
        text: start_of(&text(d, "output")),
    }
}

/// A confirmation's record (`preflight_confirmed`, `exit_confirmed`): one
/// line per item it confirmed.
fn confirmed_lines(r: &Record) -> Vec<ItemLine> {
    let d = &r.decision.detail;
    let note = text(d, "note");
    titles(d)
        .into_iter()
        .map(|title| ItemLine {
            at: ts(r.ts),
            title,
            result: ItemResult::Confirmed,
            who: describe_actor(&r.decision.actor),
            text: note.clone(),
        })
        .collect()
}

fn window_line(r: &Record, event: WindowEvent) -> WindowLine {
    let d = &r.decision.detail;
    let view = d.get("window");
    let why = view
        .and_then(|w| w.get("why").and_then(Value::as_str).or(w.as_str()))
        .map(str::to_string);
    let changes_at = view
        .and_then(|w| w.get("changes_at"))
        .and_then(Value::as_i64)
        .map(|t| ts(crate::engine::Timestamp(t)));
    let approver = d
        .get("approver")
        .and_then(Value::as_str)
        .map(str::to_string);
    // The window's own words where the record has them; for an exception,
    // its reason (the record's reason repeats who approved it).
    let text = match event {
        WindowEvent::Closed
        | WindowEvent::Opened
        | WindowEvent::Rollback
        | WindowEvent::StartRefused => why,
        WindowEvent::Exception => d.get("reason").and_then(Value::as_str).map(str::to_string),
        WindowEvent::ExceptionRefused => None,
    }
    .unwrap_or_else(|| r.decision.reason.clone());
    WindowLine {
        at: ts(r.ts),
        event,
        who: describe_actor(&r.decision.actor),
        approver: approver.filter(|a| !a.is_empty()),
        text,
        changes_at,
    }
}

/// What a `refused` record was about, if it is one of these sections'.
fn refused(r: &Record, out: &mut AroundTheRamp) {
    let d = &r.decision.detail;
    let command = d.get("command").and_then(Value::as_str);
    if command == Some("start") && d.get("window").is_some() {
        out.windows.push(window_line(r, WindowEvent::StartRefused));
    } else if command.is_none() && d.get("approver").is_some() {
        out.windows
            .push(window_line(r, WindowEvent::ExceptionRefused));
    } else if command == Some("approve") {
        out.approvals.push(ApprovalLine {
            at: ts(r.ts),
            step: r.decision.step,
            who: describe_actor(&r.decision.actor),
            state: ApprovalState::Refused,
            counted: None,
            reason: r.decision.reason.clone(),
            expires_ms: None,
        });
    }
}

/// One `approval` record: counted toward the step's N-of-M.
fn approval(r: &Record) -> ApprovalLine {
    let d = &r.decision.detail;
    let n = |key: &str| d.get(key).and_then(Value::as_u64);
    let counted = n("approvals")
        .zip(n("need"))
        .map(|(have, need)| counted(have as u32, need as u32));
    // The record's reason is "1 of 2 approvals: <the approver's reason>".
    let reason = match &counted {
        Some(c) => r
            .decision
            .reason
            .strip_prefix(c.as_str())
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&r.decision.reason),
        None => &r.decision.reason,
    };
    ApprovalLine {
        at: ts(r.ts),
        step: n("step").map(|s| s as usize).or(r.decision.step),
        who: describe_actor(&r.decision.actor),
        state: ApprovalState::Counted,
        counted,
        reason: reason.to_string(),
        expires_ms: n("expires_ms"),
    }
}

/// The criteria a `promoted` record carries.
fn criteria(d: &Value) -> Vec<Criterion> {
    let Some(list) = d.get("criteria").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|c| Criterion {
            criterion: text(c, "criterion"),
            met: c.get("met").and_then(Value::as_bool).unwrap_or(false),
            evidence: text(c, "evidence"),
        })
        .collect()
}

/// Reads the sections around the ramp from the journal's records.
pub fn around_the_ramp(records: &[Record]) -> AroundTheRamp {
    let mut out = AroundTheRamp::default();
    let mut exit = ExitSummary::default();
    let mut any_exit = false;
    for r in records {
        let d = &r.decision;
        match &d.action {
            K::PreflightCheck => out.preflight.push(check_line(r)),
            K::PreflightConfirmed => out.preflight.extend(confirmed_lines(r)),
            K::WindowClosed => out.windows.push(window_line(r, WindowEvent::Closed)),
            K::WindowOpened => out.windows.push(window_line(r, WindowEvent::Opened)),
            K::WindowRollback => out.windows.push(window_line(r, WindowEvent::Rollback)),
            K::FreezeException => out.windows.push(window_line(r, WindowEvent::Exception)),
            K::Refused => refused(r, &mut out),
            K::Approval => out.approvals.push(approval(r)),
            K::Approve => out.approvals.push(ApprovalLine {
                at: ts(r.ts),
                // The step approved (the record is journaled once the next
                // is current); older journals say only the current one.
                step: d
                    .detail
                    .get("step")
                    .and_then(Value::as_u64)
                    .map(|s| s as usize)
                    .or(d.step),
                who: describe_actor(&d.actor),
                state: ApprovalState::Advanced,
                counted: None,
                reason: d.reason.clone(),
                expires_ms: None,
            }),
            K::ObservationStarted => {
                any_exit = true;
                exit.observation = Some(Observation {
                    at: ts(r.ts),
                    observe_ms: d.detail.get("observe_ms").and_then(Value::as_u64),
                    items: titles(&d.detail),
                });
            }
            K::ExitCheck => {
                any_exit = true;
                exit.items.push(check_line(r));
            }
            K::ExitConfirmed => {
                any_exit = true;
                exit.items.extend(confirmed_lines(r));
            }
            K::Promoted => {
                let c = criteria(&d.detail);
                any_exit |= !c.is_empty();
                exit.criteria = c;
            }
            _ => {}
        }
    }
    out.exit = any_exit.then_some(exit);
    out
}

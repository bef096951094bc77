//! The summary's Markdown for what surrounds the ramp (see
//! [`super::phases`]): pre-flight, change windows and exceptions,
//! approvals, and the exit criteria journaled by the observation. Every
//! string from the journal goes through [`md`] or [`code`].

use std::fmt::Write as _;
use std::time::Duration;

use super::escape::{code, md};
use super::phases::{ApprovalState, ExitSummary, ItemLine, ItemResult, WindowEvent, WindowLine};
use super::summary::Summary;
use crate::engine::words::duration;

/// "[x] Title — check passed at T: `output`", one item's line.
fn item(o: &mut String, i: &ItemLine) {
    let (mark, what) = match i.result {
        ItemResult::Passed => ("[x]", "check passed".to_string()),
        ItemResult::Failed => ("[ ]", "check **FAILED**".to_string()),
        ItemResult::Confirmed => ("[x]", format!("confirmed by {}", md(&i.who))),
    };
    let text = match (i.result, i.text.is_empty()) {
        (_, true) => String::new(),
        (ItemResult::Confirmed, false) => format!(": {}", md(&i.text)),
        (_, false) => format!(": {}", code(&i.text)),
    };
    let _ = writeln!(
        o,
        "- {mark} {} — {what} at {}{text}",
        md(&i.title),
        md(&i.at)
    );
}

/// Each pre-flight item's result, in the order they came.
pub(super) fn preflight_section(o: &mut String, s: &Summary) {
    if s.around.preflight.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Pre-flight\n");
    for i in &s.around.preflight {
        item(o, i);
    }
}

fn window_line(o: &mut String, w: &WindowLine) {
    let approver = w.approver.as_deref().map(md).unwrap_or_default();
    let what = match w.event {
        WindowEvent::StartRefused => format!("**start refused** ({}): ", md(&w.who)),
        WindowEvent::Closed => "window closed, the ramp held: ".into(),
        WindowEvent::Opened => "window open again: ".into(),
        WindowEvent::Rollback => "window closed, rolled back (on_close = \"rollback\"): ".into(),
        WindowEvent::Exception => format!(
            "freeze exception approved by {approver}, recorded by {}: ",
            md(&w.who)
        ),
        WindowEvent::ExceptionRefused => format!(
            "freeze exception by {approver} **refused** (asked by {}): ",
            md(&w.who)
        ),
    };
    let next = match (&w.changes_at, w.event) {
        (Some(t), WindowEvent::Closed | WindowEvent::Rollback) => {
            format!(" (opens again at {})", md(t))
        }
        (Some(t), WindowEvent::Opened) => format!(" (closes at {})", md(t)),
        _ => String::new(),
    };
    let _ = writeln!(o, "- {} — {what}{}{next}", md(&w.at), md(&w.text));
}

/// The windows closing and opening, freeze exceptions, refused starts.
pub(super) fn windows_section(o: &mut String, s: &Summary) {
    if s.around.windows.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Change windows and exceptions\n");
    for w in &s.around.windows {
        window_line(o, w);
    }
}

/// Every approval, counted toward its step's N-of-M, or refused.
pub(super) fn approvals_section(o: &mut String, s: &Summary) {
    if s.around.approvals.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Approvals\n");
    let _ = writeln!(o, "| Time | Step | Who | Approval | Reason |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    for a in &s.around.approvals {
        let expires = a
            .expires_ms
            .map(|ms| format!(", counts {}", duration(Duration::from_millis(ms))))
            .unwrap_or_default();
        let what = match (a.state, &a.counted) {
            (ApprovalState::Counted, Some(c)) => format!("{}{expires}", md(c)),
            (ApprovalState::Counted, None) => format!("counted{expires}"),
            (ApprovalState::Advanced, _) => "approved: the ramp went on".into(),
            (ApprovalState::Refused, _) => "**refused**".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {what} | {} |",
            md(&a.at),
            a.step.map(|x| (x + 1).to_string()).unwrap_or("–".into()),
            md(&a.who),
            md(&a.reason)
        );
    }
}

/// The observation after the last step, its checks and hand-off items,
/// and the criteria the promotion recorded (under "Exit criteria").
pub(super) fn exit_part(o: &mut String, e: &ExitSummary) {
    if let Some(obs) = &e.observation {
        let period = obs
            .observe_ms
            .map(|ms| format!(" for {}", duration(Duration::from_millis(ms))))
            .unwrap_or_default();
        let items: Vec<String> = obs.items.iter().map(|t| md(t)).collect();
        let asked = if items.is_empty() {
            String::new()
        } else {
            format!("; items: {}", items.join(", "))
        };
        let _ = writeln!(
            o,
            "\n### Observation\n\nStarted at {}{period}{asked}.\n",
            md(&obs.at)
        );
        for i in &e.items {
            item(o, i);
        }
    } else if !e.items.is_empty() {
        let _ = writeln!(o, "\n### Observation\n");
        for i in &e.items {
            item(o, i);
        }
    }
    if !e.criteria.is_empty() {
        let _ = writeln!(o, "\n### Criteria at promotion\n");
        for c in &e.criteria {
            let mark = if c.met { "[x]" } else { "[ ] **NOT MET**" };
            let _ = writeln!(o, "- {mark} {} — {}", md(&c.criterion), md(&c.evidence));
        }
    }
}

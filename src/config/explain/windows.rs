//! `plan`'s section on change windows and freezes (issue 13): each rule,
//! when it is next active and until when (from the `now` the CLI passes
//! in; nothing here reads a clock), whether a change is allowed now, and
//! what a close does.

use super::Block;
use crate::engine::Timestamp;
use crate::engine::window::{Rule, Windows};
use crate::engine::words::{date_time, duration, minute_of_day};
use crate::plan::{OnClose, Plan, WindowKind};

/// "Change window" for the overview: whether a change is allowed at `now`.
pub(super) fn now_row(plan: &Plan, now: Timestamp) -> (String, String) {
    let value = match compiled(plan) {
        None => "(none): always allowed".into(),
        Some(w) => format!("{} (as of {})", w.describe(now), date_time(now)),
    };
    ("Change window".into(), value)
}

/// The plan's windows, compiled, when it has any.
fn compiled(plan: &Plan) -> Option<Windows> {
    let has = !plan.change_windows.windows.is_empty()
        || !plan.change_windows.freezes.is_empty()
        || plan.rollout.window.is_some();
    // A parsed plan's windows compile (config checked them).
    has.then(|| Windows::of(plan).ok()).flatten()
}

/// The rule's next active span from `now`, in its zone: ("active now",
/// "Mon 2026-12-07 17:00 UTC") or ("Thu 2026-12-10 12:00 Europe/Berlin",
/// "Thu 2026-12-10 14:00 Europe/Berlin").
fn next(w: &Windows, rule: Rule, now: Timestamp) -> (String, String) {
    match w.next_open(rule, now) {
        Some((from, to)) if from <= now => ("active now".into(), w.dated(rule, to)),
        Some((from, to)) => (w.dated(rule, from), w.dated(rule, to)),
        None => ("not within 8 days".into(), "-".into()),
    }
}

/// One row per window and freeze, with its next active span, then what
/// the windows mean for a start, a promotion and a close.
pub(super) fn section(plan: &Plan, now: Timestamp) -> Vec<Block> {
    let Some(w) = compiled(plan) else {
        return Vec::new();
    };
    let own = plan.change_windows.windows.len();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, win) in w.windows.iter().enumerate() {
        let spec = &win.spec;
        let kind = match spec.kind {
            WindowKind::Allow => "allow",
            WindowKind::Deny => "deny",
        };
        let when = match (&plan.rollout.window, i >= own) {
            (Some(old), true) => format!(
                "{}-{}, {}",
                minute_of_day(old.start_min),
                minute_of_day(old.end_min),
                old.days.join(" ")
            ),
            _ => format!("each \"{}\" for {}", spec.schedule, duration(spec.duration)),
        };
        let (active, until) = next(&w, Rule::Window(i), now);
        rows.push(vec![
            format!("{kind}: {}", w.label(Rule::Window(i))),
            when,
            spec.time_zone.clone(),
            active,
            until,
        ]);
    }
    for (i, f) in w.freezes.iter().enumerate() {
        let (active, until) = if f.to <= now {
            ("over".into(), "-".into())
        } else if f.from <= now {
            ("active now".into(), w.dated(Rule::Freeze(i), f.to))
        } else {
            (
                w.dated(Rule::Freeze(i), f.from),
                w.dated(Rule::Freeze(i), f.to),
            )
        };
        rows.push(vec![
            format!("freeze: {}", w.label(Rule::Freeze(i))),
            format!("{} to {}", f.spec.from, f.spec.to),
            f.spec.time_zone.clone(),
            active,
            until,
        ]);
    }
    let close = match plan.change_windows.on_close {
        OnClose::Hold => "hold at the current step, triggers armed (on_close = \"hold\")",
        OnClose::Rollback => "roll back (on_close = \"rollback\")",
    };
    vec![
        Block::Heading("Change windows".into()),
        Block::Table(vec!["rule", "when", "zone", "next active", "until"], rows),
        Block::Fields(vec![
            (
                "Outside a window".into(),
                "no start or promotion without a freeze exception approved by someone other \
                 than the driver; rollback and pause are never blocked"
                    .into(),
            ),
            ("When a window closes".into(), close.into()),
        ]),
    ]
}

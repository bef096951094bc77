//! Decisions: the latest few on the main screen, all of them (scrollable)
//! on the log screen. Newest first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::text::put_panel;
use super::{fit, framed};
use crate::engine::words::time_of_day;
use crate::engine::{Decision, Severity};
use crate::snapshot::Snapshot;
use crate::tui::keymap::{Action, Mode};
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

/// The latest decisions, as many as fit.
pub fn recent(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let key = ui
        .keymap
        .keys_for(Mode::Normal, Action::Log)
        .first()
        .map(|k| format!(" ({k}: full log)"))
        .unwrap_or_default();
    let rows = usize::from(area.height.saturating_sub(2));
    let lines: Vec<Line> = snap
        .engine
        .recent
        .iter()
        .rev()
        .take(rows)
        .map(|d| row(d, t, false))
        .collect();
    let block = framed(t, format!(" Decisions{key} "));
    put_panel(buf, area, &block, &lines);
}

/// The full log screen.
pub fn full(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let total = snap.engine.recent.len();
    let scroll = ui.log_scroll.min(total.saturating_sub(1));
    let rows = usize::from(area.height.saturating_sub(3));
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{}  {}  {}  {}  {}",
            fit("time", 8),
            fit("who", 10),
            fit("action", 18),
            fit("step/weight", 12),
            "reason"
        ),
        t.bold(),
    ))];
    lines.extend(
        snap.engine
            .recent
            .iter()
            .rev()
            .skip(scroll)
            .take(rows)
            .map(|d| row(d, t, true)),
    );
    let title = format!(
        " Decision log: {} of {total}, newest first (journal: {}) ",
        (scroll + 1).min(total),
        snap.journal_path
    );
    put_panel(buf, area, &framed(t, title), &lines);
}

fn row(d: &Decision, t: &Theme, wide: bool) -> Line<'static> {
    let who_style = if d.actor.is_system() {
        t.dim()
    } else {
        t.bold()
    };
    let action_style = match d.action.severity() {
        Severity::Breach => t.breach(),
        Severity::Warning => t.warning(),
        Severity::Info => super::plain(),
    };
    let mut spans = vec![
        Span::styled(d.at.map_or_else(|| "--:--:--".into(), time_of_day), t.dim()),
        Span::raw("  "),
        Span::styled(fit(&d.actor.user, 10), who_style),
        Span::raw("  "),
        Span::styled(fit(d.action.as_str(), 18), action_style),
        Span::raw("  "),
    ];
    if wide {
        let at = match d.step {
            Some(s) => format!("{}/{} %", s + 1, d.weight),
            None => format!("-/{} %", d.weight),
        };
        spans.push(Span::raw(fit(&at, 12)));
        spans.push(Span::raw("  "));
    }
    spans.push(Span::raw(t.words(&d.reason)));
    if let Some(h) = &d.hook
        && let Some(o) = &h.outcome
    {
        spans.push(Span::styled(
            format!("  [{} hook: {}]", h.kind.as_str(), o.summary),
            t.dim(),
        ));
    }
    Line::from(spans)
}

/// The last decision as one line, for the compact layout.
pub fn last_line(snap: &Snapshot, t: &Theme) -> Line<'static> {
    match snap.engine.recent.last() {
        Some(d) => {
            let mut l = row(d, t, false);
            l.spans.insert(0, Span::styled("last: ", t.dim()));
            l
        }
        None => Line::from(Span::styled("no decisions yet", t.dim())),
    }
}

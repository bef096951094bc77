//! Lines that must be seen on every screen: a failed rollback, config
//! warnings, and where the summary went once the rollout ended.

use super::text::put_lines;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::engine::Phase;
use crate::snapshot::Snapshot;
use crate::tui::state::UiState;

/// The banner lines for this snapshot (possibly none).
pub fn lines(snap: &Snapshot, ui: &UiState) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let mut out = Vec::new();
    if snap.engine.rollback_failed {
        // The engine's reason says it all ("ROLLBACK FAILED: manual action
        // needed (rollback hook: exit 1 ...)"); never say it twice.
        let what = match &snap.engine.phase {
            Phase::Failed { reason } if reason.starts_with("ROLLBACK FAILED") => reason.clone(),
            Phase::Failed { reason } => format!("ROLLBACK FAILED: manual action needed ({reason})"),
            _ => "ROLLBACK FAILED: manual action needed".to_string(),
        };
        out.push(
            Line::from(format!(
                " {what}. Traffic may still reach the canary at {} %; r retries the rollback now. ",
                snap.engine.weight
            ))
            .style(t.alarm()),
        );
    } else if let Phase::Failed { reason } = &snap.engine.phase {
        out.push(Line::from(format!(" FAILED: {reason} ")).style(t.alarm()));
    }
    for w in &snap.warnings {
        out.push(Line::from(vec![
            Span::styled(if t.ascii { " ! " } else { " ⚠ " }, t.warning()),
            Span::styled("warning: ", t.warning()),
            Span::raw(w.clone()),
        ]));
    }
    // A failed rollback being retried has not ended.
    if snap.engine.over {
        // One path a line: they are long, and a narrow terminal must still
        // show them whole.
        out.push(Line::from(vec![
            Span::styled(" Rollout ended: ", t.bold()),
            Span::raw(crate::engine::words::phase_in_text(&snap.engine.phase)),
            Span::raw("."),
        ]));
        let summary = match &snap.summary_path {
            Some(p) => p.clone(),
            None => "(being written)".into(),
        };
        out.push(Line::from(vec![
            Span::styled(" Summary: ", t.bold()),
            Span::raw(summary),
        ]));
        out.push(Line::from(vec![
            Span::styled(" Journal: ", t.bold()),
            Span::raw(snap.journal_path.clone()),
        ]));
    }
    out
}

pub fn render(buf: &mut Buffer, area: Rect, lines: Vec<Line<'static>>) {
    if area.height > 0 {
        put_lines(buf, area, &lines);
    }
}

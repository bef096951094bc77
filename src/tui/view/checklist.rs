//! The checklist panel (issue 13): the pre-flight before the ramp starts,
//! the exit items while the rollout is observed at 100 %. One line per
//! item (mark, title, owner, state), the selected item's check and output
//! below, and how to act. The words come from the engine's item views.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;

use super::{fit, panel, truncate};
use crate::engine::Stage;
use crate::engine::checklist::{ItemState, ItemView};
use crate::snapshot::Snapshot;
use crate::tui::state::{UiState, active_checklist};
use crate::tui::theme::Theme;

/// Lines the panel wants: its items, the detail of the selected one, the
/// hint, and the border.
pub fn height(snap: &Snapshot) -> u16 {
    active_checklist(snap).map_or(0, |(_, items)| items.len() as u16 + 4)
}

fn mark(t: &Theme, i: &ItemView) -> (&'static str, Style) {
    let ok = t.verdict(crate::engine::Verdict::Pass);
    match (&i.state, t.ascii) {
        (ItemState::Passed { .. } | ItemState::Confirmed { .. }, false) => ("✔", ok),
        (ItemState::Passed { .. } | ItemState::Confirmed { .. }, true) => ("+", ok),
        (ItemState::Failed { .. }, false) => ("✖", t.error()),
        (ItemState::Failed { .. }, true) => ("X", t.error()),
        (ItemState::Running, _) => ("~", t.warning()),
        (ItemState::Pending, false) => ("○", t.dim()),
        (ItemState::Pending, true) => (".", t.dim()),
    }
}

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let Some((stage, items)) = active_checklist(snap) else {
        return;
    };
    let t = &ui.theme;
    let done = items.iter().filter(|i| i.done()).count();
    let title = match stage {
        Stage::Preflight => format!(
            " Pre-flight {done}/{} · the ramp starts when every required item is done ",
            items.len()
        ),
        Stage::Exit => format!(
            " Exit criteria {done}/{} · promoted when they and the gates hold ",
            items.len()
        ),
    };
    let block = panel(t, t.words(&title));
    let inner = block.inner(area);
    block.render(area, buf);
    let w = usize::from(inner.width);
    let selected = ui.selected(snap).map(|(_, k, _)| k);
    let title_w = (w * 45 / 100).clamp(12, 48);
    let owner_w = 10;
    let mut lines: Vec<Line> = Vec::new();
    for (k, i) in items.iter().enumerate() {
        let (sym, style) = mark(t, i);
        let pointer = if selected == Some(k) { t.arrow() } else { " " };
        let optional = if i.required { "" } else { " (optional)" };
        let name = format!("{}{optional}", i.title);
        let owner = i.owner.clone().unwrap_or_else(|| "-".into());
        let kind = if i.automatic { "check" } else { "manual" };
        let state = match &i.state {
            // What failed, at a glance; the selected item shows the rest.
            ItemState::Failed { summary } => format!("FAILED: {}", one_line(summary)),
            _ => i.state_word(),
        };
        let state = t.words(&state);
        let used = 4 + title_w + 1 + owner_w + 1 + 7;
        let rest = w.saturating_sub(used);
        let row_style = if selected == Some(k) {
            t.bold()
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{pointer} ")),
            Span::styled(format!("{sym} "), style),
            Span::styled(fit(&name, title_w), row_style),
            Span::raw(" "),
            Span::styled(fit(&owner, owner_w), t.dim()),
            Span::raw(" "),
            Span::styled(fit(kind, 7), t.dim()),
            Span::styled(truncate(&state, rest), style),
        ]));
    }
    lines.push(Line::raw(""));
    if let Some((_, _, i)) = ui.selected(snap) {
        let detail = match (&i.state, &i.check) {
            (ItemState::Passed { summary } | ItemState::Failed { summary }, Some(c)) => {
                format!("{c} → {summary}")
            }
            (_, Some(c)) => c.clone(),
            (ItemState::Confirmed { by, note }, None) if note.is_empty() => {
                format!("confirmed by {by}")
            }
            (ItemState::Confirmed { by, note }, None) => format!("confirmed by {by}: {note}"),
            (_, None) => "a person confirms this item".into(),
        };
        // The selected item's check and output, on one line: the keys to
        // act on it are in the footer.
        let detail = format!("{}: {}", i.title, one_line(&detail));
        lines.push(Line::from(Span::styled(
            truncate(&t.words(&detail), w),
            t.dim(),
        )));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// Text on one line (a check's output has newlines).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

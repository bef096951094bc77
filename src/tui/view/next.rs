//! The next automatic action with its countdown: always visible.

use super::text::put_lines;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::engine::NextAction;
use crate::engine::words::next_action;
use crate::snapshot::Snapshot;
use crate::tui::keymap::{Action, Mode};
use crate::tui::state::UiState;

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let next = &snap.engine.next;
    let style = match next {
        NextAction::RollbackIn { .. } => t.breach(),
        NextAction::NoDataAction { .. } | NextAction::Paused { .. } => t.warning(),
        _ => t.bold(),
    };
    let mut spans = vec![
        Span::styled(format!(" NEXT {} ", t.arrow()), t.title()),
        Span::styled(next_action(next), style),
    ];
    // Say which key acts on a waiting gate.
    let hint = match next {
        NextAction::AwaitApproval { .. } | NextAction::AwaitApprovals { .. } => {
            Some(Action::Approve)
        }
        NextAction::Paused { .. } => Some(Action::PauseResume),
        _ => None,
    };
    // Only a key this person may use: the driver of a step that names
    // other approvers is not told to press `a`.
    let hint = hint.filter(|a| crate::tui::state::available(*a, snap, &ui.me()));
    if let Some(action) = hint
        && let Some(key) = ui.keymap.keys_for(Mode::Normal, action).first()
    {
        let verb = if action == Action::Approve {
            "approve"
        } else {
            "resume"
        };
        spans.push(Span::styled(format!("  (press {key} to {verb})"), t.dim()));
    }
    put_lines(buf, area, &[Line::from(spans)]);
}

//! The keys that work right now, generated from the keymap.

use super::text::put_lines;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::engine::Phase;
use crate::snapshot::Snapshot;
use crate::tui::keymap::{Action, Mode};
use crate::tui::state::{UiState, available};

/// Footer order: what acts on the rollout first, then leaving, then
/// navigation; entries that do not fit are dropped from the end.
const ORDER: [Action; 23] = [
    Action::Confirm,
    Action::Back,
    Action::Tick,
    Action::Recheck,
    Action::ItemNext,
    Action::PauseResume,
    Action::Promote,
    Action::PromoteFull,
    Action::Rollback,
    Action::Approve,
    Action::TakeControl,
    Action::Quit,
    Action::Help,
    Action::Log,
    Action::Zoom,
    Action::FocusNext,
    Action::FocusPrev,
    Action::ScrollUp,
    Action::ScrollDown,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
];

/// (key, label) pairs for the footer: the keys that work now.
pub fn entries(snap: &Snapshot, ui: &UiState) -> Vec<(String, &'static str)> {
    let mode = ui.mode();
    let me = ui.me();
    let mut out = Vec::new();
    if let Some(r) = &snap.replay
        && mode == Mode::Normal
    {
        let play = if r.playing { "pause" } else { "play" };
        out.extend([
            ("space".to_string(), play),
            ("n/N".into(), "next/prev decision"),
            ("←/→".into(), "10s"),
            ("+/-".into(), "speed"),
        ]);
    }
    for action in ORDER {
        if snap.replay.is_some() && action.changes_rollout() {
            continue;
        }
        // Focus keys are many and obvious; one entry says "tab".
        if action == Action::FocusPrev {
            continue;
        }
        if !available(action, snap, &me) {
            continue;
        }
        let Some(key) = ui.keymap.keys_for(mode, action).into_iter().next() else {
            continue;
        };
        let label = match action {
            Action::PauseResume if matches!(snap.engine.phase, Phase::Paused { .. }) => "resume",
            Action::PauseResume => "pause",
            Action::Promote if matches!(snap.engine.phase, Phase::Observing { .. }) => {
                "end observation"
            }
            Action::Recheck => "re-run",
            Action::FocusNext => "focus",
            Action::Back if mode == Mode::Dialog || mode == Mode::Quit => "cancel",
            Action::Confirm if mode == Mode::Quit => "quit",
            a => a.label(),
        };
        out.push((key.to_string(), label));
    }
    out
}

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let mut spans = Vec::new();
    if let Some(f) = &ui.flash {
        spans.push(Span::styled(format!(" {f} "), t.warning()));
        spans.push(Span::raw(" "));
    }
    let mut used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    for (key, label) in entries(snap, ui) {
        let w = key.chars().count() + label.chars().count() + 3;
        if used + w > usize::from(area.width) {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {key}"), t.key()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    put_lines(buf, area, &[Line::from(spans)]);
}

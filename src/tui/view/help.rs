//! Key help, generated from the keymap (the same bindings the keys use).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;

use super::{fit, panel};
use crate::tui::keymap::{Action, Mode};
use crate::tui::state::{REPLAY_KEYS, UiState};

const SECTIONS: [(Mode, &str); 6] = [
    (Mode::Normal, "Main screen"),
    (Mode::Zoom, "Zoomed chart"),
    (Mode::Log, "Decision log"),
    (Mode::Help, "This help"),
    (Mode::Dialog, "Confirm dialog (other keys type the reason)"),
    (Mode::Quit, "Quit question"),
];

/// Keys a replay's main screen takes for playback, as the keymap names them.
const PLAYBACK: [&str; 8] = ["space", "n", "N", "left", "right", "+", "=", "-"];

/// The help; in a replay (`replay`), the playback keys first and none of
/// the keys that act on a rollout (a replay is read-only).
pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, replay: bool) {
    let t = &ui.theme;
    let mut lines = Vec::new();
    if replay {
        lines.push(Line::from(Span::styled("Replay (read-only)", t.title())));
        for (keys, what) in REPLAY_KEYS {
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", fit(keys, 26)), t.key()),
                Span::raw(what),
            ]));
        }
        lines.push(Line::raw(""));
    }
    for (mode, title) in SECTIONS {
        if replay && mode == Mode::Dialog {
            continue;
        }
        lines.push(Line::from(Span::styled(title, t.title())));
        for action in Action::ALL {
            let keys: Vec<String> = ui
                .keymap
                .bindings()
                .filter(|(m, _, a)| *m == mode && *a == action)
                .map(|(_, k, _)| k.to_string())
                // On a replay's main screen the playback keys come first.
                .filter(|k| !(replay && mode == Mode::Normal && PLAYBACK.contains(&k.as_str())))
                .collect();
            if keys.is_empty() || (replay && action.changes_rollout()) {
                continue;
            }
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", fit(&keys.join(" "), 26)), t.key()),
                Span::raw(action.describe()),
            ]));
        }
        if !replay && matches!(mode, Mode::Zoom | Mode::Log | Mode::Help) {
            lines.push(Line::from(Span::styled(
                "  (and the main screen's rollout keys: pause, promote, rollback, ...)",
                t.dim(),
            )));
        }
        lines.push(Line::raw(""));
    }
    let scroll = ui.help_scroll.min(lines.len().saturating_sub(1)) as u16;
    let p = Paragraph::new(lines).scroll((scroll, 0)).block(panel(
        t,
        " Help: keys (bindings from assets/keymap.toml and [ui] keys) ",
    ));
    p.render(area, buf);
}

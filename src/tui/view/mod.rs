//! Drawing: pure functions of a [`Snapshot`] and the [`UiState`]. No I/O,
//! no clock (time is `snap.now`), no channel sends.
//!
//! Full layout (at least 120x35):
//!
//! ```text
//! ╭ rampdeck ───────────────────────────────────────────────────────────────╮
//! │ checkout · canary · rollout id · ticket · PHASE · step k/n · weight ·    │ header.rs
//! │ driver · watchers · data: ● prom up  ● health up                         │
//! ╰──────────────────────────────────────────────────────────────────────────╯
//!  ROLLBACK FAILED: manual action needed / ! warnings / summary path           banner.rs
//!  NEXT ▸ advance to 25 % in 03:12                                             next.rs
//! ╭ chart ─────────────╮╭ chart ─────────────╮╭ Ramp ──────────────────────╮
//! │ canary vs baseline ││                    ││ ✔ smoke    0 % ░░░░ done   │ charts.rs
//! │ limit, SLO, steps  ││                    ││ ▶ canary   5 % █░░░ 02:00  │ timeline.rs
//! ╰────────────────────╯╰────────────────────╯│ Gates                      │
//! ╭ chart ─────────────╮╭ chart ─────────────╮│ ✔ Pass  Error ratio ...    │
//! ╰────────────────────╯╰────────────────────╯╰────────────────────────────╯
//! ╭ Decisions ───────────────────────────────────────────────────────────────╮
//! │ 14:03:50  alice  pause  latency blip                                     │ log.rs
//! ╰──────────────────────────────────────────────────────────────────────────╯
//!  space pause  p promote  P promote 100%  r rollback  ? help  q quit          footer.rs
//! ```
//!
//! Below 120x35 the compact layout (compact.rs) keeps the essentials. Zoom,
//! log and help replace the body; dialogs (dialog.rs) draw on top.

mod banner;
mod charts;
mod checklist;
mod compact;
mod dialog;
mod dots;
pub mod footer;
mod header;
mod help;
mod log;
mod next;
mod panel;
mod past;
mod text;
mod timeline;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Widget;
use ratatui::widgets::{Block, BorderType, Borders};

use super::state::{Screen, UiState};
use super::theme::{Theme, asciify};
use crate::engine::{GateStatus, Phase, Timestamp};
use crate::snapshot::Snapshot;

/// Width and height from which the full layout is used.
pub const FULL_MIN: (u16, u16) = (120, 35);

/// Below this even the compact layout cannot show every gate; the screen
/// then says what is going on in a few words and asks for more room.
pub const TINY_MIN: (u16, u16) = (40, 12);

fn too_small(buf: &mut Buffer, area: Rect, snap: &Snapshot) {
    use ratatui::widgets::{Paragraph, Wrap};
    let phase = crate::engine::words::phase_headline(&snap.engine.phase);
    let text = format!(
        "{} {} % · {phase} · {} · terminal {}x{}: rampdeck needs {}x{}",
        snap.plan.rollout.service,
        snap.engine.weight,
        crate::engine::words::next_action(&snap.engine.next),
        area.width,
        area.height,
        TINY_MIN.0,
        TINY_MIN.1
    );
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// Draws one frame into `buf` (its whole area).
pub fn render(buf: &mut Buffer, snap: &Snapshot, ui: &UiState) {
    let area = buf.area;
    if area.width < TINY_MIN.0 || area.height < TINY_MIN.1 {
        too_small(buf, area, snap);
        return;
    }
    let compact = area.width < FULL_MIN.0 || area.height < FULL_MIN.1;
    let banners = banner::lines(snap, ui);
    let header_h = if compact { 2 } else { 4 };
    let [header_area, banner_area, next_area, body, footer_area] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Length(banners.len() as u16),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);

    if compact {
        compact::header(buf, header_area, snap, ui);
    } else {
        header::render(buf, header_area, snap, ui);
    }
    banner::render(buf, banner_area, banners);
    next::render(buf, next_area, snap, ui);
    match ui.screen {
        Screen::Main if compact => compact::body(buf, body, snap, ui),
        Screen::Main => main_body(buf, body, snap, ui),
        Screen::Zoom => charts::zoomed(buf, body, snap, ui),
        Screen::Log => log::full(buf, body, snap, ui),
        Screen::Help => help::render(buf, body, ui, snap.replay.is_some()),
    }
    footer::render(buf, footer_area, snap, ui);
    if ui.dialog.is_some() {
        dialog::render(buf, body, snap, ui);
    }
    if ui.theme.ascii {
        asciify(buf);
    }
}

/// The gate verdicts to show, and the time they date from when they are not
/// live. Once the rollout is rolling or rolled back, the live gates measure
/// a canary without traffic ("Pass" at 0 %, or "NoData") and would
/// contradict the rollback on screen; the verdicts recorded with the
/// rollback decision say why it happened.
pub(crate) fn shown_gates(snap: &Snapshot) -> (&[GateStatus], Option<Timestamp>) {
    let e = &snap.engine;
    if matches!(e.phase, Phase::RollingBack | Phase::RolledBack) {
        let at_rollback = e
            .recent
            .iter()
            .rev()
            .find(|d| d.action.is_rollback() && !d.gates.is_empty());
        if let Some(d) = at_rollback {
            return (&d.gates, d.at);
        }
    }
    (&e.gates, None)
}

fn main_body(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let log_h = (area.height / 4).clamp(4, 9);
    let [top, log_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(log_h)]).areas(area);
    let ramp_w = (area.width * 36 / 100).max(46).min(area.width / 2);
    let [charts_area, ramp_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(ramp_w)]).areas(top);
    let charts_area = with_checklist(buf, charts_area, snap, ui);
    charts::grid(buf, charts_area, snap, ui);
    timeline::render(buf, ramp_area, snap, ui);
    log::recent(buf, log_area, snap, ui);
}

/// Draws the checklist on screen, if any, in the lower part of `area`
/// (all of it before the start, when the charts have nothing yet to show);
/// returns what is left.
fn with_checklist(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) -> Rect {
    let want = checklist::height(snap);
    if want == 0 {
        return area;
    }
    let pending = matches!(snap.engine.phase, Phase::Pending);
    let h = if pending {
        area.height
    } else {
        want.min(area.height / 2)
    };
    let [rest, list] = Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(area);
    checklist::render(buf, list, snap, ui);
    rest
}

/// A bordered panel in the theme's border set.
pub(crate) fn panel<'a>(theme: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_set(theme.border_set())
        .border_style(theme.dim())
        .title(title)
        .title_style(theme.title())
}

/// [`panel`] drawn straight into the buffer (see `panel.rs`), for the
/// panels of every frame.
pub(crate) fn framed<'a>(theme: &Theme, title: impl Into<Line<'a>>) -> panel::Panel<'a> {
    panel::Panel::new(theme.border_set(), theme.dim(), theme.title()).title_top(title)
}

/// Cut `s` to at most `max` characters, the last one a `~` when cut.
/// (Every other piece of text comes from `engine::words`.)
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('~');
    out
}

/// Pad or cut `s` to exactly `w` columns (by characters).
pub(crate) fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        truncate(s, w)
    } else {
        let mut out = String::with_capacity(w);
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', w - n));
        out
    }
}

/// Style for text that should not change in monochrome.
pub(crate) fn plain() -> Style {
    Style::default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::fixtures::{Scenario, snapshot};
    use crate::tui::keymap::Action;
    use crate::tui::{Keymap, Theme, UiState};

    #[test]
    fn after_a_rollback_the_gates_shown_are_those_it_was_decided_on() {
        use crate::engine::Verdict;
        let mut snap = snapshot(Scenario::RolledBack);
        // Live gates after the rollback measure a canary without traffic.
        for g in &mut snap.engine.gates {
            g.verdict = Verdict::Pass;
        }
        let (gates, at) = super::shown_gates(&snap);
        assert!(at.is_some());
        assert!(gates.iter().any(|g| g.verdict == Verdict::Breach));
        // While the rollout runs, the live gates are shown.
        let live = snapshot(Scenario::BreachCountdown);
        let (gates, at) = super::shown_gates(&live);
        assert!(at.is_none());
        assert_eq!(gates, live.engine.gates.as_slice());
    }

    /// The help in a replay lists the playback keys, not the keys that act
    /// on a rollout (space does not pause a rollout there, r rolls nothing
    /// back).
    #[test]
    fn the_help_in_a_replay_lists_the_playback_keys_not_the_rollout_s() {
        let text = |snap: &crate::snapshot::Snapshot| {
            let mut ui = UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice");
            ui.apply(Action::Help, snap);
            let mut term = Terminal::new(TestBackend::new(120, 80)).unwrap();
            term.draw(|f| super::render(f.buffer_mut(), snap, &ui))
                .unwrap();
            let buf = term.backend().buffer().clone();
            (0..80)
                .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let live = snapshot(Scenario::BreachCountdown);
        let mut replay = live.clone();
        replay.replay = Some(crate::recording::player::ReplayView {
            from: live.now,
            to: live.now,
            playing: false,
            speed: 1.0,
            decisions_seen: 0,
        });
        let (live, replay) = (text(&live), text(&replay));
        assert!(live.contains(Action::Rollback.describe()), "{live}");
        assert!(!live.contains("play or pause the replay"), "{live}");
        assert!(replay.contains("play or pause the replay"), "{replay}");
        assert!(
            replay.contains("jump to the next / previous decision"),
            "{replay}"
        );
        for action in [Action::Rollback, Action::PauseResume, Action::Promote] {
            assert!(!replay.contains(action.describe()), "{action:?}: {replay}");
        }
        assert!(!replay.contains("rollout keys"), "{replay}");
        assert!(!replay.contains("backtab left up"), "{replay}");
    }

    /// A terminal can be any size (a split pane, a phone over SSH, a
    /// window being dragged): no size makes drawing panic.
    #[test]
    fn every_screen_draws_at_every_small_size_without_panicking() {
        let snap = snapshot(Scenario::BreachCountdown);
        let mut screens = Vec::new();
        for action in [
            None,
            Some(Action::Zoom),
            Some(Action::Log),
            Some(Action::Help),
        ] {
            let mut ui = UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice");
            if let Some(a) = action {
                ui.apply(a, &snap);
            }
            screens.push(ui);
        }
        let mut dialog = UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice");
        dialog.apply(Action::Rollback, &snap);
        screens.push(dialog);
        for ui in &screens {
            for w in [
                0, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 79, 80, 100, 119, 120, 130,
            ] {
                for h in [
                    0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 23, 24, 30, 34, 35, 40,
                ] {
                    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
                    term.draw(|f| super::render(f.buffer_mut(), &snap, ui))
                        .unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
                }
            }
        }
    }
}

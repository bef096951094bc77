//! Confirm dialogs drawn over the current screen: the action's consequence,
//! the reason field, an inline error; and the quit question.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::panel;
use crate::engine::words::phase_in_text;
use crate::plan::Unattended;
use crate::snapshot::Snapshot;
use crate::tui::keymap::{Action, Mode};
use crate::tui::state::{ConfirmDialog, Dialog, TickDialog, UiState};

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    match &ui.dialog {
        Some(Dialog::Confirm(d)) => confirm(buf, area, snap, ui, d),
        Some(Dialog::Quit) => quit(buf, area, snap, ui),
        Some(Dialog::Tick(d)) => tick(buf, area, ui, d),
        None => {}
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn key(ui: &UiState, mode: Mode, action: Action) -> String {
    ui.keymap
        .keys_for(mode, action)
        .first()
        .map_or_else(|| "?".into(), ToString::to_string)
}

fn confirm(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState, d: &ConfirmDialog) {
    let t = &ui.theme;
    // Wide enough for the hint line of the longest verb ("promote full").
    let rect = centered(area, 76, 12);
    Clear.render(rect, buf);
    // Words, not the journal's identifier ("promote full", not "promote_full").
    let verb = d.action.as_str().replace('_', " ");
    let block = panel(t, format!(" Confirm {verb} ")).border_style(t.focus_border());
    let inner = block.inner(rect);
    block.render(rect, buf);
    let [what, label, field_area, err, hint] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    Paragraph::new(crate::tui::state::consequence(d.action, snap))
        .wrap(Wrap { trim: true })
        .render(what, buf);
    let need = if d.required {
        "Reason (required):"
    } else {
        "Reason (optional):"
    };
    let field = TextField {
        label: need,
        text: &d.reason,
        error: d.error.as_deref(),
        verb: &verb,
        kept: "reason",
    };
    field.render(buf, ui, [label, field_area, err, hint]);
}

/// A dialog's text field: its label, the field, an inline error, and the
/// keys to confirm (with `verb`) or cancel.
struct TextField<'a> {
    label: &'a str,
    text: &'a ratatui_textarea::TextArea<'static>,
    error: Option<&'a str>,
    verb: &'a str,
    /// What the journal keeps beside the name: "reason", "note".
    kept: &'a str,
}

impl TextField<'_> {
    fn render(&self, buf: &mut Buffer, ui: &UiState, [label, field, err, hint]: [Rect; 4]) {
        let t = &ui.theme;
        Paragraph::new(Span::styled(self.label, t.bold())).render(label, buf);
        let field_block = panel(t, "");
        let field_inner = field_block.inner(field);
        field_block.render(field, buf);
        self.text.render(field_inner, buf);
        if let Some(e) = self.error {
            let sym = if t.ascii { "! " } else { "⚠ " };
            Paragraph::new(Span::styled(format!("{sym}{e}"), t.error())).render(err, buf);
        }
        let hint_line = Line::from(vec![
            Span::styled(key(ui, Mode::Dialog, Action::Confirm), t.key()),
            Span::raw(format!(" {}   ", self.verb)),
            Span::styled(key(ui, Mode::Dialog, Action::Back), t.key()),
            Span::raw(format!(
                " cancel   (journaled with your name and {})",
                self.kept
            )),
        ]);
        Paragraph::new(hint_line).render(hint, buf);
    }
}

fn tick(buf: &mut Buffer, area: Rect, ui: &UiState, d: &TickDialog) {
    let t = &ui.theme;
    let rect = centered(area, 76, 11);
    Clear.render(rect, buf);
    let title = format!(" Tick {} item {} ", d.stage.word(), d.item + 1);
    let block = panel(t, title).border_style(t.focus_border());
    let inner = block.inner(rect);
    block.render(rect, buf);
    let [what, label, field_area, err, hint] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let text = format!("\"{}\" is done: you confirm it, as {}.", d.title, ui.actor);
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(what, buf);
    let field = TextField {
        label: "Note (optional):",
        text: &d.note,
        error: d.error.as_deref(),
        verb: "tick",
        kept: "note",
    };
    field.render(buf, ui, [label, field_area, err, hint]);
}

fn quit(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let rect = centered(area, 66, 10);
    Clear.render(rect, buf);
    let after = if ui.hosts_driver {
        format!(
            "Closing stops the driver here: the canary stays at {} % and nothing watches it \
             (start with `rampdeck run --detach` to leave it running).",
            snap.engine.weight
        )
    } else {
        let what = match snap.plan.rollout.unattended {
            Unattended::Hold => "holds at the current step with every rollback trigger armed",
            Unattended::Continue => "carries on as planned, triggers armed",
        };
        format!("The driver goes on; without an operator the rollout {what}.")
    };
    let text = vec![
        Line::from(format!(
            "The rollout is in progress ({} at {} %).",
            phase_in_text(&snap.engine.phase),
            snap.engine.weight
        )),
        Line::from("Closing the cockpit never promotes or rolls back."),
        Line::from(after),
        Line::raw(""),
        Line::from(vec![
            Span::raw("Quit? "),
            Span::styled(key(ui, Mode::Quit, Action::Confirm), t.key()),
            Span::raw(" yes   "),
            Span::styled(key(ui, Mode::Quit, Action::Back), t.key()),
            Span::raw(" no"),
        ]),
    ];
    let block = panel(t, " Quit the cockpit? ").border_style(t.focus_border());
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(block)
        .render(rect, buf);
}

//! The compact layout (80x24 up to 120x35): phase, step and weight, every
//! gate's verdict with a sparkline, the ramp in one line, the latest
//! decisions.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use ratatui::widgets::{Paragraph, Sparkline};

use super::header::{data_lane, step_spans};
use super::log::last_line;
use super::{fit, shown_gates, timeline};
use crate::engine::words::{opt_value, phase_headline};
use crate::snapshot::Snapshot;
use crate::tui::downsample::sparkline;
use crate::tui::state::UiState;

/// Two header lines: where the rollout is, and who drives plus data health.
pub fn header(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let e = &snap.engine;
    let mut first = vec![
        Span::styled(format!("{} ", snap.plan.rollout.service), t.bold()),
        Span::styled(
            format!("[ {} ]", phase_headline(&e.phase)),
            t.phase(&e.phase),
        ),
        Span::raw(" "),
    ];
    first.extend(step_spans(snap, t, true));
    let mut second = Vec::new();
    if let Some(r) = &snap.replay {
        second.push(Span::styled(
            super::header::replay_words(r, snap.now),
            t.warning(),
        ));
        second.push(Span::raw(" · "));
    }
    second.push(Span::styled("driver ", t.dim()));
    second.push(Span::raw(
        snap.driver.clone().unwrap_or_else(|| "nobody".into()),
    ));
    second.push(Span::raw(format!(
        "{}{} watching  ",
        t.separator(),
        snap.watchers
    )));
    second.extend(data_lane(snap, t, false));
    Paragraph::new(vec![Line::from(first), Line::from(second)]).render(area, buf);
}

pub fn body(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let want = super::checklist::height(snap);
    // The checklist first (pre-flight, exit), leaving room for the gates.
    let area = if want > 0 {
        let h = want.min(area.height.saturating_sub(5).max(area.height / 2));
        let [list, rest] =
            Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(area);
        super::checklist::render(buf, list, snap, ui);
        rest
    } else {
        area
    };
    let n = snap.plan.metrics.len() as u16;
    // The service's past under the ramp: one line, two with room.
    let past = super::past::lines(snap, t, usize::from(area.width), 2, 1);
    let past_h = (past.len() as u16).min(if area.height > 20 { 2 } else { 1 });
    // Taller sparklines when there is room; keep three lines for decisions.
    let per = (area.height.saturating_sub(4 + past_h) / n.max(1)).clamp(2, 4);
    let [gates_area, ramp_area, past_area, log_area] = Layout::vertical([
        Constraint::Length(n * per),
        Constraint::Length(1),
        Constraint::Length(past_h),
        Constraint::Fill(1),
    ])
    .areas(area);
    Paragraph::new(past).render(past_area, buf);

    // One metric: verdict line, then a sparkline of the canary under it.
    let rows = Layout::vertical(vec![Constraint::Length(per); n as usize]).split(gates_area);
    let mut bars = Vec::new();
    for (i, m) in snap.plan.metrics.iter().enumerate() {
        let Some(row) = rows.get(i) else { break };
        let [text, spark] =
            Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(*row);
        let focus = if ui.focus == i { ">" } else { " " };
        let mut line = match shown_gates(snap).0.iter().find(|g| g.metric == m.id) {
            Some(g) => {
                timeline::gate_line(&snap.plan, g, t, usize::from(text.width).saturating_sub(1))
            }
            None => Line::from(vec![
                Span::raw(format!("  {} ", fit(&m.name, 22))),
                Span::styled("waiting for data", t.dim()),
            ]),
        };
        line.spans.insert(0, Span::styled(focus, t.focus_border()));
        Paragraph::new(line).render(text, buf);

        let [label, plot] =
            Layout::horizontal([Constraint::Length(26), Constraint::Fill(1)]).areas(spark);
        let series = snap.series.iter().find(|s| s.metric == m.id);
        let baseline = series.and_then(|s| s.baseline.last_value());
        Paragraph::new(Span::styled(
            format!("    baseline {}", opt_value(m, baseline)),
            t.dim(),
        ))
        .render(label, buf);
        if let Some(s) = series {
            sparkline(s.canary.iter(), usize::from(plot.width), &mut bars);
            Sparkline::default()
                .data(&bars)
                .max(100)
                .bar_set(t.bar_set())
                .style(t.canary())
                .render(plot, buf);
        }
    }

    let mut ramp = vec![Span::styled("ramp ", t.dim())];
    for s in &snap.engine.steps {
        ramp.push(Span::styled(
            format!("{}{}%", t.step_symbol(s.state), s.weight),
            t.step(s.state),
        ));
        if let Some(m) = super::past::mark(snap, s.weight, t.ascii) {
            ramp.push(Span::styled(m, t.warning()));
        }
        ramp.push(Span::raw(" "));
    }
    // Blue-green: whether a rollback is still an instant switch back;
    // rolling: the instances on each version.
    let strategy_line = (snap.engine.blue_green.as_ref().map(|b| b.line()))
        .or_else(|| snap.engine.rolling.as_ref().map(|r| r.short()));
    if let Some(line) = strategy_line {
        ramp.push(Span::styled(format!("· {line}"), t.dim()));
    }
    Paragraph::new(Line::from(ramp)).render(ramp_area, buf);

    let mut lines = vec![last_line(snap, t)];
    let more = usize::from(log_area.height).saturating_sub(1);
    lines.extend(snap.engine.recent.iter().rev().skip(1).take(more).map(|d| {
        Line::from(Span::styled(
            format!(
                "      {}  {}  {}",
                d.at.map_or_else(|| "--:--:--".into(), crate::engine::words::time_of_day),
                fit(&d.actor.user, 10),
                d.action
            ),
            t.dim(),
        ))
    }));
    Paragraph::new(lines).render(log_area, buf);
}

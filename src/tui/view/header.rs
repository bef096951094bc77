//! The header: what is rolling out, where it is, who drives, and whether
//! the data can be trusted (one lane entry per source).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::framed;
use super::text::put_panel;
use crate::engine::words::{clock, phase_headline};
use crate::snapshot::{Snapshot, SourceState};
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let block = framed(t, " rampdeck ");
    let lines = vec![status_line(snap, t), people_and_data(snap, t)];
    put_panel(buf, area, &block, &lines);
}

/// "REPLAY ▶ ×4 14:03:07 (+02:10 of 12:40)": a replay, where it stands.
pub fn replay_words(
    r: &crate::recording::player::ReplayView,
    now: crate::engine::Timestamp,
) -> String {
    let state = if r.playing { "playing" } else { "paused" };
    let into = now.0.saturating_sub(r.from.0).max(0) as u64;
    let all = r.to.0.saturating_sub(r.from.0).max(0) as u64;
    format!(
        "REPLAY {state} ×{} {} (+{} of {})",
        crate::engine::words::number(r.speed),
        crate::engine::words::time_of_day(now),
        clock(into),
        clock(all)
    )
}

/// Service, strategy, id, ticket, phase, step, weight, times.
pub fn status_line(snap: &Snapshot, t: &Theme) -> Line<'static> {
    let sep = t.separator();
    let r = &snap.plan.rollout;
    let e = &snap.engine;
    let mut spans = Vec::new();
    if let Some(rp) = &snap.replay {
        spans.push(Span::styled(replay_words(rp, snap.now), t.warning()));
        spans.push(Span::raw(sep));
    }
    spans.extend([
        Span::styled(r.service.clone(), t.bold()),
        Span::raw(sep),
        Span::raw(r.strategy.as_str()),
        Span::raw(sep),
        Span::styled("rollout ", t.dim()),
        Span::raw(snap.rollout_id.clone()),
    ]);
    if let Some(ticket) = &r.ticket {
        spans.push(Span::raw(sep));
        spans.push(Span::styled("ticket ", t.dim()));
        spans.push(Span::raw(ticket.id.clone()));
    }
    spans.push(Span::raw("   "));
    spans.push(Span::styled(
        format!("[ {} ]", phase_headline(&e.phase)),
        t.phase(&e.phase),
    ));
    spans.push(Span::raw("   "));
    spans.extend(step_spans(snap, t, false));
    Line::from(spans)
}

/// "step 2/5 canary · weight 5 % · in step 03:00" (full) or "step 2/5
/// canary · weight 5 % · hold left 02:00" (compact). The full layout's
/// NEXT line, right below, counts the hold down; one clock per fact keeps a
/// second's frame to the numbers that moved.
pub fn step_spans(snap: &Snapshot, t: &Theme, compact: bool) -> Vec<Span<'static>> {
    let e = &snap.engine;
    let sep = t.separator();
    let n = snap.plan.steps.len();
    let mut spans = Vec::new();
    if let Some(k) = e.step {
        let name = snap.plan.steps.get(k).map_or("", |s| s.name.as_str());
        spans.push(Span::styled("step ", t.dim()));
        spans.push(Span::styled(format!("{}/{n} {name}", k + 1), t.bold()));
        spans.push(Span::raw(sep));
    }
    spans.push(Span::styled("weight ", t.dim()));
    spans.push(Span::styled(format!("{} %", e.weight), t.bold()));
    if !e.phase.is_terminal()
        && !compact
        && let Some(entered) = e.step_entered_at
    {
        spans.push(Span::raw(sep));
        spans.push(Span::styled("in step ", t.dim()));
        spans.push(Span::raw(clock(snap.now.since(entered).as_millis() as u64)));
    }
    let left = e
        .step
        .and_then(|k| e.steps.get(k))
        .and_then(|s| s.hold_left_ms);
    // An approval waits on a person, not on the hold: no "left 00:00".
    if let Some(left) =
        left.filter(|l| *l > 0 || !matches!(e.phase, crate::engine::Phase::AwaitingApproval { .. }))
        && !e.phase.is_terminal()
        && compact
    {
        spans.push(Span::raw(sep));
        spans.push(Span::styled("hold left ", t.dim()));
        spans.push(Span::styled(clock(left), t.bold()));
    }
    spans
}

/// Driver, watchers and the data-health lane.
fn people_and_data(snap: &Snapshot, t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("driver ", t.dim())];
    spans.push(match &snap.driver {
        Some(d) => Span::styled(d.clone(), t.bold()),
        None => Span::styled("nobody (unattended)", t.warning()),
    });
    spans.push(Span::raw(t.separator()));
    spans.push(Span::raw(format!("{} watching", snap.watchers)));
    spans.push(Span::raw("   "));
    spans.extend(data_lane(snap, t, true));
    spans.extend(window_spans(snap, t));
    Line::from(spans)
}

/// The change window: open with the time to its close, or closed with why
/// and when it opens ("window closes in 00:42", "window closed: frozen:
/// 'year-end' until Mon 09:00 Europe/Berlin · opens in 2:13:04").
pub fn window_spans(snap: &Snapshot, t: &Theme) -> Vec<Span<'static>> {
    let Some(w) = &snap.engine.window else {
        return Vec::new();
    };
    let left = w
        .changes_at
        .map(|at| clock(at.0.saturating_sub(snap.now.0).max(0) as u64));
    let mut spans = vec![Span::raw("   ")];
    if let Some(e) = &w.exception {
        spans.push(Span::styled(t.words(e), t.warning()));
    } else if w.allowed {
        spans.push(Span::styled("window ", t.dim()));
        match left {
            Some(l) => spans.push(Span::raw(format!("closes in {l}"))),
            None => spans.push(Span::raw("open")),
        }
    } else {
        spans.push(Span::styled(
            t.words(&format!("window closed: {}", w.why)),
            t.warning(),
        ));
        if let Some(l) = left {
            spans.push(Span::raw(format!("{}opens in {l}", t.separator())));
        }
    }
    spans
}

/// "data: ● prom up 12 ms  ✖ health erroring: connection refused".
pub fn data_lane(snap: &Snapshot, t: &Theme, detailed: bool) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled("data: ", t.dim())];
    for (i, s) in snap.sources.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        let word = match s.state {
            SourceState::Up if s.degraded => "degraded",
            SourceState::Up => "up",
            SourceState::Unknown => "waiting",
            SourceState::NoData => "no data",
            SourceState::Stale => "stale",
            SourceState::Erroring => "ERROR",
        };
        let style = t.source(s.state);
        spans.push(Span::styled(
            format!("{} {} {word}", t.source_symbol(s.state), s.name),
            style,
        ));
        if detailed {
            match (&s.last_error, s.state) {
                (Some(err), SourceState::Erroring | SourceState::Stale | SourceState::NoData) => {
                    spans.push(Span::styled(format!(": {err}"), style));
                }
                (_, SourceState::Up) if s.warning.is_some() => {
                    let w = s.warning.as_deref().unwrap_or_default();
                    spans.push(Span::styled(format!(": {w}"), t.warning()));
                }
                _ => {
                    // A healthy answer's latency (12 ms, 13 ms, ...) is noise
                    // that would rewrite the header every second; a slow one
                    // is worth a look.
                    if let Some(ms) = s.latency_ms.filter(|ms| *ms >= SLOW_SOURCE_MS) {
                        spans.push(Span::styled(format!(" slow {ms}ms"), t.warning()));
                    }
                }
            }
        }
    }
    if snap.sources.is_empty() {
        spans.push(Span::styled("no sources", t.dim()));
    }
    spans
}

/// A source answering this slowly shows its latency in the header.
const SLOW_SOURCE_MS: u64 = 250;

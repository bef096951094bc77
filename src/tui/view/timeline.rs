//! The ramp: every step with its weight bar, state, hold and owner; then the
//! current step's gate verdicts with the numbers against the limit.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::text::put_panel;
use super::{fit, framed, shown_gates};
use crate::engine::analysis::KindStatus;
use crate::engine::approvals::{approvals_line, approvals_parts};
use crate::engine::words::{clock, opt_value, time_of_day};
use crate::engine::{GateStatus, StepState, Verdict};
use crate::plan::{BadDirection, Plan};
use crate::snapshot::Snapshot;
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

pub fn render(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let t = &ui.theme;
    let mut lines = Vec::new();
    let name_w = snap
        .engine
        .steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4)
        .min(12);
    let (full, empty) = t.bar_cells();
    let width = usize::from(area.width.saturating_sub(2));
    for s in &snap.engine.steps {
        let style = t.step(s.state);
        let filled = usize::from(s.weight).div_ceil(10).min(10);
        let state = match s.state {
            StepState::Done => "done".to_string(),
            // The NEXT line counts the current hold down.
            StepState::Current => "current".into(),
            StepState::AwaitingApproval => "approval".into(),
            StepState::Pending => format!("hold {}", clock(s.hold_ms)),
            StepState::Failed => "failed".into(),
        };
        let mut spans = vec![
            Span::styled(format!("{} ", t.step_symbol(s.state)), style),
            Span::styled(fit(&s.name, name_w), style),
            Span::styled(format!(" {:>3} % ", s.weight), style),
            Span::styled(full.repeat(filled), style),
            Span::styled(empty.repeat(10 - filled), t.dim()),
            Span::styled(format!(" {}", fit(&state, 10)), style),
        ];
        // A weight at which a past rollout was rolled back.
        if let Some(m) = super::past::mark(snap, s.weight, t.ascii) {
            spans.push(Span::styled(format!(" {m}"), t.warning()));
        }
        if let Some(c) = &s.cohort {
            spans.push(Span::styled(format!(" cohort {c}"), style));
        }
        if let Some(o) = &s.owner {
            spans.push(Span::styled(format!(" @{o}"), t.dim()));
        }
        lines.push(Line::from(spans));
        // Under the step that needs them: who approved, who still can.
        if let Some(a) = &s.approvals {
            let whole = format!("    {}", approvals_line(a));
            let rows = if whole.chars().count() <= width {
                vec![whole]
            } else {
                approvals_parts(a)
                    .into_iter()
                    .map(|p| format!("    {p}"))
                    .collect()
            };
            lines
                .extend(rows.into_iter().map(|r| {
                    Line::from(Span::styled(super::truncate(&r, width), t.step(s.state)))
                }));
        }
    }
    if let Some(b) = &snap.engine.blue_green {
        // preview → switch → observe → scale down, each in its state.
        let mut spans = vec![Span::raw("  ")];
        for (i, (name, state)) in b.stages().into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" → ", t.dim()));
            }
            let style = t.step(state);
            spans.push(Span::styled(
                format!("{} {name}", t.step_symbol(state)),
                style,
            ));
        }
        lines.push(Line::from(spans));
    }
    let strategy_line = (snap.engine.blue_green.as_ref().map(|b| b.line()))
        .or_else(|| snap.engine.rolling.as_ref().map(|r| r.line()));
    if let Some(line) = strategy_line {
        lines.push(Line::from(Span::styled(
            super::truncate(&format!("  {line}"), width),
            t.dim(),
        )));
    }
    if let Some(h) = snap.engine.hook_running {
        lines.push(Line::from(Span::styled(
            format!("  hook running: {}", h.as_str()),
            t.warning(),
        )));
    }
    lines.push(Line::raw(""));
    let (gates, frozen_at) = shown_gates(snap);
    let title = match (snap.engine.step, frozen_at) {
        (Some(k), Some(at)) => format!(
            "Gates (step {}) at the rollback, {}",
            k + 1,
            time_of_day(at)
        ),
        (None, Some(at)) => format!("Gates at the rollback, {}", time_of_day(at)),
        (Some(k), None) => format!("Gates (step {})", k + 1),
        (None, None) => "Gates".to_string(),
    };
    lines.push(Line::from(Span::styled(title, t.title())));
    for g in gates {
        lines.push(gate_line(&snap.plan, g, t, width));
        lines.extend(g.kinds.iter().map(|k| kind_line(k, g.gating, t, width)));
    }
    // Below the live gates, which must never be pushed out of the panel.
    let past = super::past::lines(snap, t, width, 10, 3);
    if !past.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("Before this rollout", t.title())));
        lines.extend(past);
    }
    put_panel(buf, area, &framed(t, " Ramp "), &lines);
}

/// "✖ Breach  Error ratio   8.10 % > 5.00 %  1/2".
/// A metric that does not gate this step (the error ratio at 0 %) reads
/// "· not gating", dimmed: it is watched, not waited on.
pub fn gate_line(plan: &Plan, g: &GateStatus, t: &Theme, width: usize) -> Line<'static> {
    let style = if g.gating {
        t.verdict(g.verdict)
    } else {
        t.dim()
    };
    let name = plan
        .metric(&g.metric)
        .map_or(g.metric.as_str(), |m| &m.name);
    let (symbol, word) = if g.gating {
        (t.verdict_symbol(g.verdict), g.verdict.as_str())
    } else {
        ("·", "not gating")
    };
    let head = vec![
        Span::styled(format!("{symbol} "), style),
        Span::styled(fit(word, 13), style),
        Span::raw(format!(" {} ", fit(name, 13))),
    ];
    let used = 2 + 13 + 15;
    let numbers = numbers(plan, g, t);
    let mut spans = head;
    spans.push(Span::styled(
        super::truncate(&numbers, width.saturating_sub(used)),
        style,
    ));
    Line::from(spans)
}

/// One gate kind under its metric's gate line, in the engine's words:
/// "  ✔ burn 0.6× ≤ 14.4× (over 40s of 60s & 5s), budget spent 0.01 %".
/// A kind that does not hold the step when it is not a pass (a burn rule
/// without enough data yet) is dimmed: it is shown, not waited on.
pub fn kind_line(k: &KindStatus, gating: bool, t: &Theme, width: usize) -> Line<'static> {
    let style = if gating && (k.holds || k.verdict == Verdict::Pass) {
        t.verdict(k.verdict)
    } else {
        t.dim()
    };
    let name = k.kind.as_str();
    // The burn and judge lines start with their name already.
    let text = if k.detail.starts_with(name) {
        k.detail.clone()
    } else {
        format!("{name} {}", k.detail)
    };
    let symbol = t.verdict_symbol(k.verdict);
    Line::from(vec![
        Span::raw("  "),
        Span::styled(format!("{symbol} "), style),
        Span::styled(super::truncate(&text, width.saturating_sub(4)), style),
    ])
}

/// The numbers behind a verdict, in display units.
pub fn numbers(plan: &Plan, g: &GateStatus, t: &Theme) -> String {
    let Some(m) = plan.metric(&g.metric) else {
        return g.detail.clone();
    };
    match g.verdict {
        Verdict::NoData | Verdict::ProviderError => {
            let detail = held_by_kind(g).unwrap_or_else(|| g.detail.clone());
            if g.no_data_polls > 0 {
                format!("{detail} ({} polls)", g.no_data_polls)
            } else {
                detail
            }
        }
        // The streak first: the kind's line is long and is cut at the
        // panel's edge.
        Verdict::Breach if decided_by_kind(g) => format!("{}  {}", streak(plan, g), g.detail),
        Verdict::Pass | Verdict::Breach => {
            let Some(limit) = g.limit.filter(|_| m.threshold.limit.is_some()) else {
                return format!("{} (no limit)", opt_value(m, g.canary));
            };
            let op = match (g.verdict, m.bad, t.ascii) {
                (Verdict::Breach, BadDirection::Up, _) => ">",
                (Verdict::Breach, BadDirection::Down, _) => "<",
                (_, BadDirection::Up, false) => "≤",
                (_, BadDirection::Down, false) => "≥",
                (_, BadDirection::Up, true) => "<=",
                (_, BadDirection::Down, true) => ">=",
            };
            let mut s = format!(
                "{} {op} {}",
                opt_value(m, g.canary),
                opt_value(m, Some(limit))
            );
            if g.verdict == Verdict::Breach {
                s.push_str(&format!("  {}", streak(plan, g)));
            }
            s
        }
    }
}

/// Whether the gate's breach is a kind's (the engine then gives the gate
/// that kind's line), not its thresholds'.
fn decided_by_kind(g: &GateStatus) -> bool {
    g.kinds
        .iter()
        .any(|k| k.verdict == Verdict::Breach && k.detail == g.detail)
}

/// When a kind holds the gate (the judge waiting for samples), the engine
/// appends its line to the thresholds' detail: that line first, as it is
/// why the gate holds and the row is cut at the panel's edge.
fn held_by_kind(g: &GateStatus) -> Option<String> {
    let k = g.kinds.iter().find(|k| k.holds && k.verdict == g.verdict)?;
    let rest = g
        .detail
        .strip_suffix(k.detail.as_str())?
        .strip_suffix("; ")?;
    Some(format!("{}; {rest}", k.detail))
}

/// "1/2": breaches in a row against the trigger's count, or "x3" without
/// a trigger.
fn streak(plan: &Plan, g: &GateStatus) -> String {
    let need = plan
        .triggers
        .iter()
        .find(|tr| tr.metric == g.metric)
        .map(|tr| tr.consecutive);
    match need {
        Some(n) => format!("{}/{n}", g.breaches),
        None => format!("x{}", g.breaches),
    }
}

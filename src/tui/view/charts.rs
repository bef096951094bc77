//! One live chart per metric: canary against baseline, the limit and SLO
//! lines, step boundaries, breach points. Series are downsampled to the
//! chart's width first (min/max per column), so drawing costs the same for
//! an hour of samples as for a minute.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};

use super::panel;
use crate::engine::series::MetricSeries;
use crate::engine::{GateStatus, Timestamp};
use crate::plan::{BadDirection, Metric};
use crate::snapshot::Snapshot;
use crate::tui::downsample::{min_max, x_of};
use crate::tui::format::{number, opt_value, time_of_day};
use crate::tui::state::UiState;

/// Charts for every metric, two per row.
pub fn grid(frame: &mut Frame, area: Rect, snap: &Snapshot, ui: &UiState) {
    let n = snap.plan.metrics.len();
    if n == 0 {
        let p = Paragraph::new("no metrics in the plan").block(panel(&ui.theme, " Charts "));
        frame.render_widget(p, area);
        return;
    }
    let cols = if n == 1 || area.width < 100 { 1 } else { 2 };
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Fill(1); rows]).split(area);
    for (r, row) in row_areas.iter().enumerate() {
        let in_row = (n - r * cols).min(cols);
        let cells = Layout::horizontal(vec![Constraint::Fill(1); cols]).split(*row);
        for c in 0..in_row {
            let i = r * cols + c;
            chart(frame, cells[c], snap, ui, i, ui.focus == i);
        }
    }
}

/// The focused chart, full screen.
pub fn zoomed(frame: &mut Frame, area: Rect, snap: &Snapshot, ui: &UiState) {
    let i = ui.focus.min(snap.plan.metrics.len().saturating_sub(1));
    chart(frame, area, snap, ui, i, true);
}

fn chart(frame: &mut Frame, area: Rect, snap: &Snapshot, ui: &UiState, i: usize, focused: bool) {
    let t = &ui.theme;
    let Some(metric) = snap.plan.metrics.get(i) else {
        return;
    };
    let series = snap.series.iter().find(|s| s.metric == metric.id);
    let gate = snap.engine.gates.iter().find(|g| g.metric == metric.id);
    let name = format!("{}{} ", if focused { " *" } else { " " }, metric.name);
    let mut block = panel(t, Span::styled(name, t.title()));
    if let Some(g) = gate {
        block = block.title_top(
            Line::from(format!(
                " {} {} ",
                t.verdict_symbol(g.verdict),
                g.verdict.as_str()
            ))
            .style(t.verdict(g.verdict))
            .right_aligned(),
        );
    }
    if focused {
        block = block.border_style(t.focus_border());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [values_area, inner] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(values(metric, gate, series, ui)),
        values_area,
    );
    let Some(series) = series else {
        frame.render_widget(Paragraph::new("no series for this metric"), inner);
        return;
    };
    if inner.width < 12 || inner.height < 3 {
        return;
    }

    // The x axis spans the rollout, from its start (or the first sample) to now.
    let origin = snap
        .engine
        .started_at
        .or_else(|| series.canary.iter().next().map(|p| p.at))
        .unwrap_or(snap.now);
    let end = snap.now.max(Timestamp(origin.0 + 1000));
    let span = x_of(origin, end);
    // Roughly the plot's width in braille columns (two dots per cell).
    let buckets = usize::from(inner.width.saturating_sub(8)).max(8) * 2;
    let scale = metric.display_scale;
    let mut canary = Vec::with_capacity(buckets * 2);
    let mut baseline = Vec::with_capacity(buckets * 2);
    min_max(
        series.canary.iter(),
        origin,
        end,
        buckets,
        scale,
        &mut canary,
    );
    min_max(
        series.baseline.iter(),
        origin,
        end,
        buckets,
        scale,
        &mut baseline,
    );

    let limit = metric.threshold.limit.map(|l| l * scale);
    let slo = metric.threshold.slo.map(|l| l * scale);
    let (lo, hi) = y_bounds(&canary, &baseline, [limit, slo]);
    let breaches: Vec<(f64, f64)> = match limit {
        Some(l) => canary
            .iter()
            .copied()
            .filter(|(_, y)| match metric.bad {
                BadDirection::Up => *y > l,
                BadDirection::Down => *y < l,
            })
            .collect(),
        None => Vec::new(),
    };
    let limit_line = limit.map(|l| [(0.0, l), (span, l)]);
    let slo_line = slo.map(|l| [(0.0, l), (span, l)]);
    let boundaries: Vec<[(f64, f64); 2]> = snap
        .engine
        .steps
        .iter()
        .filter_map(|s| s.entered_at)
        .filter(|at| *at > origin && *at <= end)
        .map(|at| {
            let x = x_of(origin, at);
            [(x, lo), (x, hi)]
        })
        .collect();

    let marker = t.line_marker();
    let mut sets = Vec::with_capacity(boundaries.len() + 5);
    for b in &boundaries {
        sets.push(line(b, marker, t.boundary()));
    }
    if let Some(l) = &slo_line {
        sets.push(line(l, marker, t.slo()));
    }
    if let Some(l) = &limit_line {
        sets.push(line(l, marker, t.threshold()));
    }
    sets.push(line(&baseline, marker, t.baseline()));
    sets.push(line(&canary, marker, t.canary()));
    sets.push(
        Dataset::default()
            .data(&breaches)
            .marker(t.breach_marker())
            .graph_type(GraphType::Scatter)
            .style(t.breach()),
    );

    let x_labels = vec![
        Span::styled(time_of_day(origin), t.dim()),
        Span::styled(time_of_day(end), t.dim()),
    ];
    let y_labels = vec![
        Span::styled(number(lo), t.dim()),
        Span::styled(number(hi), t.dim()),
    ];
    let chart = Chart::new(sets)
        .x_axis(
            Axis::default()
                .bounds([0.0, span])
                .labels(x_labels)
                .style(t.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(y_labels)
                .style(t.dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, inner);
}

fn line(data: &[(f64, f64)], marker: Marker, style: Style) -> Dataset<'_> {
    Dataset::default()
        .data(data)
        .marker(marker)
        .graph_type(GraphType::Line)
        .style(style)
}

/// The line above the plot: current values with units, limit and SLO, in
/// the colors of their lines (so it doubles as the legend).
fn values(
    metric: &Metric,
    gate: Option<&GateStatus>,
    series: Option<&MetricSeries>,
    ui: &UiState,
) -> Line<'static> {
    let t = &ui.theme;
    let canary = gate
        .and_then(|g| g.canary)
        .or_else(|| series.and_then(|s| s.canary.last_value()));
    let baseline = gate
        .and_then(|g| g.baseline)
        .or_else(|| series.and_then(|s| s.baseline.last_value()));
    let mut spans = vec![
        Span::styled("canary ", t.canary()),
        Span::styled(opt_value(metric, canary), t.bold()),
    ];
    if baseline.is_some() {
        spans.push(Span::styled("  baseline ", t.baseline()));
        spans.push(Span::raw(opt_value(metric, baseline)));
    }
    if let Some(l) = metric.threshold.limit {
        spans.push(Span::styled("  limit ", t.threshold()));
        spans.push(Span::raw(opt_value(metric, Some(l))));
    }
    if let Some(s) = metric.threshold.slo {
        spans.push(Span::styled("  slo ", t.slo()));
        spans.push(Span::raw(opt_value(metric, Some(s))));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Bounds that hold both lines and the limits, with a little air.
fn y_bounds(a: &[(f64, f64)], b: &[(f64, f64)], extra: [Option<f64>; 2]) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, y) in a.iter().chain(b) {
        if y.is_finite() {
            lo = lo.min(*y);
            hi = hi.max(*y);
        }
    }
    for y in extra.into_iter().flatten() {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.08;
    let lo = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

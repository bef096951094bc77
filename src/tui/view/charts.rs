//! One live chart per metric: canary against baseline, the limit and SLO
//! lines, step boundaries, breach points. Series are downsampled to the
//! chart's width first (min/max per column), so drawing costs the same for
//! an hour of samples as for a minute.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;

use super::dots::Dots;
use super::panel::Panel;
use super::text::{put_lines, put_str};
use super::{framed, panel, shown_gates};
use crate::engine::series::MetricSeries;
use crate::engine::words::{number, opt_value, time_of_day};
use crate::engine::{GateStatus, Timestamp};
use crate::plan::{BadDirection, Metric};
use crate::snapshot::Snapshot;
use crate::tui::downsample::x_of;
use crate::tui::state::UiState;

/// Charts for every metric, two per row.
pub fn grid(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let n = snap.plan.metrics.len();
    if n == 0 {
        let p = Paragraph::new("no metrics in the plan").block(panel(&ui.theme, " Charts "));
        p.render(area, buf);
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
            chart(buf, cells[c], snap, ui, i, ui.focus == i);
        }
    }
}

/// The focused chart, full screen.
pub fn zoomed(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState) {
    let i = ui.focus.min(snap.plan.metrics.len().saturating_sub(1));
    chart(buf, area, snap, ui, i, true);
}

fn chart(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &UiState, i: usize, focused: bool) {
    let Some(metric) = snap.plan.metrics.get(i) else {
        return;
    };
    let series = snap.series.iter().find(|s| s.metric == metric.id);
    let gate = shown_gates(snap).0.iter().find(|g| g.metric == metric.id);
    let block = chart_block(metric, gate, ui, focused, area.width);
    let inner = block.inner(area);
    block.render(area, buf);
    let [values_area, inner] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    // Steady widths where they fit, then plain, then short labels before
    // the numbers get cut off (the SLO first).
    let fits = |l: &Line| l.width() <= usize::from(values_area.width);
    let mut legend = values(metric, gate, series, ui, Labels::Steady);
    if !fits(&legend) {
        legend = values(metric, gate, series, ui, Labels::Long);
    }
    if !fits(&legend) {
        legend = values(metric, gate, series, ui, Labels::Short);
    }
    put_lines(buf, values_area, &[legend]);
    let Some(series) = series else {
        Paragraph::new("no series for this metric").render(inner, buf);
        return;
    };
    if inner.width < 12 || inner.height < 3 {
        return;
    }
    let data = PlotData::new(snap, metric, series, inner.width, ui, i);
    plot(buf, inner, &data, ui);
}

/// The chart's frame: the metric's name, its verdict (or that it does not
/// gate this step) and the focus.
fn chart_block(
    metric: &Metric,
    gate: Option<&GateStatus>,
    ui: &UiState,
    focused: bool,
    width: u16,
) -> Panel<'static> {
    let t = &ui.theme;
    let name = format!("{}{} ", if focused { " *" } else { " " }, metric.name);
    let mut block = framed(t, Span::styled(name, t.title()));
    if let Some(g) = gate {
        let title = if g.gating {
            Line::from(format!(
                " {} {} ",
                t.verdict_symbol(g.verdict),
                g.verdict.as_str()
            ))
            .style(t.verdict(g.verdict))
        } else {
            // Watched, not waited on (the error ratio at 0 %).
            Line::from(format!(" · {}, not gating this step ", g.verdict.as_str())).style(t.dim())
        };
        block = block.title_top(title.right_aligned());
        // The other gate kinds in a few words each on the bottom border (the
        // burn rate against its limit), in their verdict's color; the ramp
        // panel has their full lines.
        // Only the kinds that fit whole, in the plan's order.
        let room = usize::from(width).saturating_sub(6);
        let mut kinds = vec![Span::raw(" ")];
        let mut used = 1;
        for k in g.kinds.iter().filter(|k| !k.short.is_empty()) {
            let word = t.words(&k.short);
            let sep = if kinds.len() > 1 { t.separator() } else { "" };
            let w = sep.chars().count() + word.chars().count();
            if used + w + 1 > room {
                break;
            }
            used += w;
            if !sep.is_empty() {
                kinds.push(Span::raw(sep));
            }
            kinds.push(Span::styled(word, t.verdict(k.verdict)));
        }
        if kinds.len() > 1 {
            kinds.push(Span::raw(" "));
            block = block.title_bottom(Line::from(kinds).right_aligned());
        }
    }
    if focused {
        block = block.border_style(t.focus_border());
    }
    block
}

/// What one chart plots, in display units and seconds since its origin.
struct PlotData {
    origin: Timestamp,
    end: Timestamp,
    span: f64,
    lo: f64,
    hi: f64,
    canary: Vec<(f64, f64)>,
    baseline: Vec<(f64, f64)>,
    limit: Option<f64>,
    slo: Option<f64>,
    breaches: Vec<(f64, f64)>,
    boundaries: Vec<f64>,
}

impl PlotData {
    fn new(
        snap: &Snapshot,
        metric: &Metric,
        series: &MetricSeries,
        width: u16,
        ui: &UiState,
        i: usize,
    ) -> PlotData {
        // The x axis spans the rollout, from its start (or the first sample)
        // to a round length just past now: the lines grow to the right and
        // the axis rescales only when now reaches its end, so an idle
        // second redraws a column, not the whole chart.
        let origin = snap
            .engine
            .started_at
            .or_else(|| series.canary.iter().next().map(|p| p.at))
            .unwrap_or(snap.now);
        let end = Timestamp(origin.0 + axis_span_ms(snap.now.0 - origin.0));
        // Roughly the plot's width in braille columns (two dots per cell).
        let buckets = usize::from(width.saturating_sub(8)).max(8) * 2;
        let scale = metric.display_scale;
        let (canary, baseline) = {
            let mut plots = ui.plots.borrow_mut();
            if plots.len() < 2 * (i + 1) {
                plots.resize_with(2 * (i + 1), Default::default);
            }
            let c = series.canary.slices();
            let canary = plots[2 * i].update(c, origin, end, buckets, scale).to_vec();
            let b = series.baseline.slices();
            let baseline = plots[2 * i + 1]
                .update(b, origin, end, buckets, scale)
                .to_vec();
            (canary, baseline)
        };
        let limit = metric.threshold.limit.map(|l| l * scale);
        let slo = metric.threshold.slo.map(|l| l * scale);
        let (lo, hi) = y_bounds(&canary, &baseline, [limit, slo], metric.display_only());
        let breaches = match limit {
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
        let boundaries = snap
            .engine
            .steps
            .iter()
            .filter_map(|s| s.entered_at)
            .filter(|at| *at > origin && *at <= end)
            .map(|at| x_of(origin, at))
            .collect();
        PlotData {
            origin,
            end,
            span: x_of(origin, end),
            lo,
            hi,
            canary,
            baseline,
            limit,
            slo,
            breaches,
            boundaries,
        }
    }
}

/// The axis labels, drawn by hand around one plot: a single layer of dots
/// for all lines (plus one for breach points), written straight into the
/// buffer (see `dots`), keeps a frame cheap.
fn plot(buf: &mut Buffer, inner: Rect, d: &PlotData, ui: &UiState) {
    let t = &ui.theme;
    let color = |st: Style| st.fg.unwrap_or(Color::Reset);
    let (c_boundary, c_slo, c_limit) = (color(t.boundary()), color(t.slo()), color(t.threshold()));
    let (c_base, c_canary, c_breach) = (color(t.baseline()), color(t.canary()), color(t.breach()));
    let y_hi = number(d.hi);
    let y_lo = number(d.lo);
    let widest = y_hi.chars().count().max(y_lo.chars().count());
    // A wide chart keeps its plot's left edge put while the scale moves
    // from `6` to `12` to `1200`: a shifted plot redraws (and resends)
    // every row.
    let steady = if inner.width >= STEADY_AXIS_FROM {
        Y_LABEL_MIN
    } else {
        0
    };
    let label_w = widest.max(steady) as u16 + 1;
    let [plot_row, x_row] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let [y_col, plot] =
        Layout::horizontal([Constraint::Length(label_w), Constraint::Fill(1)]).areas(plot_row);
    if !y_col.is_empty() {
        put_str(buf, y_col.x, y_col.y, &y_hi, y_col.width, t.dim());
        if y_col.height >= 2 {
            put_str(
                buf,
                y_col.x,
                y_col.bottom() - 1,
                &y_lo,
                y_col.width,
                t.dim(),
            );
        }
    }
    let x_line = Line::from(vec![
        Span::styled(" ".repeat(usize::from(label_w)), t.dim()),
        Span::styled(time_of_day(d.origin), t.dim()),
    ]);
    let end = Line::from(Span::styled(time_of_day(d.end), t.dim())).right_aligned();
    put_lines(buf, x_row, &[x_line]);
    put_lines(buf, x_row, &[end]);

    let (span, lo, hi) = (d.span, d.lo, d.hi);
    if plot.is_empty() {
        return;
    }
    // (A `Canvas` also set every cell's background to `Reset` first: a
    // frame starts from a reset buffer and nothing draws under the plot,
    // so that was a no-op paid per cell.)
    let mut dots = Dots::new(plot, t.line_marker(), [0.0, span], [lo, hi]);
    for x in &d.boundaries {
        dots.line((*x, lo), (*x, hi), c_boundary);
    }
    if let Some(y) = d.slo {
        dots.line((0.0, y), (span, y), c_slo);
    }
    if let Some(y) = d.limit {
        dots.line((0.0, y), (span, y), c_limit);
    }
    dots.polyline(&d.baseline, c_base);
    dots.polyline(&d.canary, c_canary);
    dots.write(buf);
    if !d.breaches.is_empty() {
        let mut marks = Dots::new(plot, t.breach_marker(), [0.0, span], [lo, hi]);
        marks.points(&d.breaches, c_breach);
        marks.write(buf);
    }
}

/// Columns the y axis's labels keep on a chart at least
/// [`STEADY_AXIS_FROM`] wide (a narrower one gives them only what they need).
const Y_LABEL_MIN: usize = 4;
const STEADY_AXIS_FROM: u16 = 48;

/// Columns a live value keeps in a chart's header line
/// ([`Labels::Steady`]).
const LIVE_WIDTH: usize = 8;

/// How a chart's header line spells its values, widest first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Labels {
    /// Long labels, and the live values keep [`LIVE_WIDTH`] columns, so a
    /// number turning from `0.35 %` to `0.346 %` does not shift (and
    /// resend) the rest of the line.
    Steady,
    Long,
    Short,
}

/// The line above the plot: current values with units, limit and SLO, in
/// the colors of their lines (so it doubles as the legend), spelled as
/// `labels` says.
fn values(
    metric: &Metric,
    gate: Option<&GateStatus>,
    series: Option<&MetricSeries>,
    ui: &UiState,
    labels: Labels,
) -> Line<'static> {
    let short = labels == Labels::Short;
    let t = &ui.theme;
    let canary = gate
        .and_then(|g| g.canary)
        .or_else(|| series.and_then(|s| s.canary.last_value()));
    let baseline = gate
        .and_then(|g| g.baseline)
        .or_else(|| series.and_then(|s| s.baseline.last_value()));
    let [c, b, l, o] = if short {
        ["can ", " base ", " lim ", " slo "]
    } else {
        ["canary ", "  baseline ", "  limit ", "  slo "]
    };
    let live = |v: Option<f64>| {
        let text = opt_value(metric, v);
        if labels == Labels::Steady {
            format!("{text:<LIVE_WIDTH$}")
        } else {
            text
        }
    };
    let mut spans = vec![
        Span::styled(c, t.canary()),
        Span::styled(live(canary), t.bold()),
    ];
    if baseline.is_some() {
        spans.push(Span::styled(b, t.baseline()));
        spans.push(Span::raw(live(baseline)));
        // At 100 % the baseline cohort is empty: the gate compares with
        // the baseline as it was, and says so.
        if gate.is_some_and(|g| g.baseline_frozen_at.is_some()) {
            spans.push(Span::styled(
                if short { " frozen" } else { " (frozen)" },
                t.dim(),
            ));
        }
    }
    if let Some(limit) = metric.threshold.limit {
        spans.push(Span::styled(l, t.threshold()));
        spans.push(Span::raw(opt_value(metric, Some(limit))));
    }
    if let Some(slo) = metric.threshold.slo {
        spans.push(Span::styled(o, t.slo()));
        spans.push(Span::raw(opt_value(metric, Some(slo))));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Bounds that hold both lines and the limits, with a little air.
///
/// `from_zero`: the metric is shown for its magnitude only (nothing judges
/// it), so non-negative values always start at zero. Zoomed onto its own
/// drift, such a chart (a request rate, say) crossed a step of a tenth of
/// its range every few seconds and was redrawn whole each time.
fn y_bounds(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    extra: [Option<f64>; 2],
    from_zero: bool,
) -> (f64, f64) {
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
    // Positive values spread over more than half the height start at zero:
    // the axis then stays put while a latency drifts down from 300 to 150
    // ms, instead of redrawing the chart at each round step on the way.
    if lo >= 0.0 && (from_zero || lo <= hi * 0.5) {
        lo = 0.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (
        if lo >= 0.0 {
            (lo - pad).max(0.0)
        } else {
            lo - pad
        },
        hi + pad,
    );
    // Snap to a round step (1, 2 or 5 × 10^k, about a tenth of the range):
    // the labels read well and a new sample rescales the chart only when it
    // crosses a step, not with every new extreme.
    let step = nice_step((hi - lo) / 10.0);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// The smallest of 1, 2 and 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// The x axis's length for a rollout `elapsed_ms` old: the first round
/// length that still leaves room after now. Past the second minute the
/// rungs are at most 1.5 apart, so the lines fill two thirds of the width
/// or more.
pub fn axis_span_ms(elapsed_ms: i64) -> i64 {
    const MIN: i64 = 60_000;
    const LADDER_MIN: [i64; 16] = [1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240];
    let elapsed = elapsed_ms.max(0);
    for m in LADDER_MIN {
        if m * MIN > elapsed {
            return m * MIN;
        }
    }
    // Past four hours: whole multiples of two hours.
    let two_h = 120 * MIN;
    (elapsed / two_h + 1) * two_h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_axis_grows_in_round_rungs_and_always_ends_after_now() {
        assert_eq!(axis_span_ms(0), 60_000);
        assert_eq!(axis_span_ms(59_999), 60_000);
        assert_eq!(axis_span_ms(60_000), 120_000);
        assert_eq!(axis_span_ms(61 * 60_000), 90 * 60_000);
        assert_eq!(axis_span_ms(5 * 3_600_000), 6 * 3_600_000);
        let mut prev = 0;
        for e in (0..30 * 3_600_000).step_by(7_000) {
            let s = axis_span_ms(e);
            assert!(s > e, "{s} ≤ {e}");
            assert!(s >= prev, "the axis never shrinks");
            if e >= 120_000 {
                assert!(e * 3 >= s * 2 - 3 * 7_000, "lines fill ≥ 2/3 at {e}: {s}");
            }
            prev = s;
        }
    }

    #[test]
    fn y_bounds_are_round_and_hold_every_value_and_limit() {
        let a = [(0.0, 0.028), (1.0, 1.7)];
        let (lo, hi) = y_bounds(&a, &[], [Some(2.0), Some(0.5)], false);
        assert_eq!((lo, hi), (0.0, 2.5));
        // A new extreme inside the same step changes nothing.
        let b = [(0.0, 0.028), (1.0, 1.7), (2.0, 1.9)];
        assert_eq!(y_bounds(&b, &[], [Some(2.0), Some(0.5)], false), (lo, hi));
        let c = [(0.0, 254.0), (1.0, 418.0)];
        let (lo, hi) = y_bounds(&c, &[], [None, None], false);
        assert!(
            lo <= 254.0 && hi >= 418.0 && lo >= 200.0 && hi <= 450.0,
            "{lo} {hi}"
        );
        // Values that spread over more than half the height start at 0, so
        // a falling minimum does not move the axis.
        let d = [(0.0, 154.0), (1.0, 418.0)];
        assert_eq!(y_bounds(&d, &[], [None, None], false).0, 0.0);
        let e = [(0.0, 120.0), (1.0, 418.0)];
        assert_eq!(
            y_bounds(&e, &[], [None, None], false),
            y_bounds(&d, &[], [None, None], false)
        );
        // A metric nothing judges starts at zero however narrow its
        // spread: a request rate drifting from 8.3 to 10 keeps its axis
        // (0 to 12) instead of rescaling at each 0.2.
        let f = [(0.0, 8.3), (1.0, 10.0)];
        assert_eq!(y_bounds(&f, &[], [None, None], true), (0.0, 12.0));
        let g = [(0.0, 8.3), (1.0, 10.1)];
        assert_eq!(y_bounds(&g, &[], [None, None], true), (0.0, 12.0));
        assert_ne!(
            y_bounds(&f, &[], [None, None], false),
            y_bounds(&g, &[], [None, None], false)
        );
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
    }
}

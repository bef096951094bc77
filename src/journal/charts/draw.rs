//! A [`Chart`] drawn as SVG with plotters: a thin layer over the model.
//!
//! ```text
//!  title: name (unit) · service · rollout · start
//!  legend: ■ canary ■ baseline ■ limit 5 % ■ SLO 1 %
//!  decision labels, in as many rows as they need not to overlap
//!  ┌──────────────────────────────────────────────┐
//!  │ ╎    ╎      limit ───────────────────  ▒▒▒   │  step lines (╎),
//!  │ ╎~~~~╎~~~~canary~~~~   ~~~~~~~~~~~~~~~~▒●●   │  decision lines,
//!  │ ╎----╎----baseline--   --------------- ▒     │  the breach (▒, ●)
//!  │ 0 %  5 %                                     │  step weights
//!  └──────────────────────────────────────────────┘
//!    00:00   05:00   10:00   time since the start
//! ```

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Chart, Charts};
use crate::engine::kind::Severity;
use crate::engine::words::{clock, date_time, number};

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 560;
/// Left of the plot: the y axis' labels.
const LEFT: u32 = 84;
const RIGHT: u32 = 28;
const BOTTOM: u32 = 48;
/// One row of labels.
const LANE: i32 = 16;
/// The most rows of decision (or step) labels; a label that finds no
/// room is left out (its line and marker stay).
const MAX_LANES: usize = 6;
const FONT: f64 = 13.0;
/// The radius of a decision's dot (a breaching sample's is 4).
pub const DECISION_DOT: u32 = 5;

pub const CANARY: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub const BASELINE: RGBColor = RGBColor(0x80, 0x80, 0x80);
pub const LIMIT: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub const SLO: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
pub const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
pub const STEP: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);
pub const BREACH: RGBColor = RGBColor(0xe0, 0x10, 0x10);
pub const WARNING: RGBColor = RGBColor(0xe0, 0x8a, 0x00);
pub const INFO: RGBColor = RGBColor(0x6a, 0x3d, 0x9a);

/// A decision's color by how alarming its kind is.
pub fn severity_color(s: Severity) -> RGBColor {
    match s {
        Severity::Breach => BREACH,
        Severity::Warning => WARNING,
        Severity::Info => INFO,
    }
}

/// How wide a label is drawn, roughly (SVG text is laid out by the
/// viewer; this only keeps labels apart).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.56
}

/// Rows for labels spanning `(start, end)` pixels, in order: each takes
/// the first row whose last label ends left of it; `None` when all
/// `max` rows are taken there.
pub fn lanes(items: &[(f64, f64)], max: usize) -> Vec<Option<usize>> {
    let mut ends: Vec<f64> = Vec::new();
    items
        .iter()
        .map(|&(start, end)| {
            if let Some(i) = ends.iter().position(|e| *e + 6.0 <= start) {
                ends[i] = end;
                Some(i)
            } else if ends.len() < max {
                ends.push(end);
                Some(ends.len() - 1)
            } else {
                None
            }
        })
        .collect()
}

/// Where a label at pixel `x` goes: right of it, or left of it when it
/// would run past the plot's right edge. (start, end, anchored right).
fn place(x: f64, label: &str) -> (f64, f64, bool) {
    let w = text_width(label, FONT);
    if x + 4.0 + w > f64::from(WIDTH - RIGHT) {
        (x - 4.0 - w, x, true)
    } else {
        (x, x + 4.0 + w, false)
    }
}

/// Ticks of the time axis at a round step (10 s, 1 min, 15 min, 1 h,
/// ...), at most ten, in ms since the start.
pub fn time_ticks(span_ms: i64) -> Vec<f64> {
    const STEPS_S: [i64; 17] = [
        1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    ];
    let step = STEPS_S
        .iter()
        .map(|s| s * 1000)
        .find(|s| span_ms / s <= 10)
        .unwrap_or_else(|| (span_ms / 10).max(1));
    (0..=span_ms / step).map(|k| (k * step) as f64).collect()
}

type Root<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;

/// A label on a white ground, so lines behind it do not cross its words.
fn label(
    root: &Root<'_>,
    text: &str,
    at: (i32, i32),
    color: RGBColor,
    h: HPos,
    v: VPos,
) -> DrawResult<()> {
    let w = text_width(text, FONT) as i32;
    let fh = FONT as i32;
    let x0 = match h {
        HPos::Left => at.0,
        HPos::Right => at.0 - w,
        HPos::Center => at.0 - w / 2,
    };
    let y0 = match v {
        VPos::Top => at.1,
        VPos::Bottom => at.1 - fh,
        VPos::Center => at.1 - fh / 2,
    };
    root.draw(&Rectangle::new(
        [(x0 - 2, y0), (x0 + w + 2, y0 + fh)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(err)?;
    root.draw(&Text::new(text.to_string(), at, font(color, h, v)))
        .map_err(err)
}

fn font(color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", FONT)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// The lowest and highest value the chart must show, with some air.
fn y_range(c: &Chart) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut see = |v: f64| {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    };
    let series = std::iter::once(&c.canary).chain(c.baseline.as_ref());
    for p in series.flat_map(|s| s.segments.iter().flatten()) {
        see(p.1);
    }
    for v in [
        &c.held.as_ref().map(|h| h.value),
        &c.limit.as_ref().map(|l| l.value),
    ] {
        v.map(&mut see);
    }
    if let Some(s) = &c.slo {
        see(s.value);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let air = ((hi - lo) * 0.08)
        .max(lo.abs().max(hi.abs()) * 0.05)
        .max(1e-9);
    (lo - air, hi + air)
}

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing the chart: {e:?}")
}

/// Where things are: the value range, and the plot's pixels.
struct Geo {
    lo: f64,
    hi: f64,
    span: f64,
    top: i32,
    bottom: i32,
    left: i32,
    right: i32,
}

impl Geo {
    /// The pixel column of `t` ms since the start.
    fn px(&self, t: i64) -> i32 {
        x_of(t, self.span) as i32
    }
}

/// The pixel column of `t` ms since the start, before the plot is laid
/// out (the y axis' labels on the left, a margin on the right).
fn x_of(t: i64, span: f64) -> f64 {
    f64::from(LEFT) + t as f64 / span * f64::from(WIDTH - LEFT - RIGHT)
}

/// The chart of `c` (one of `set`'s) as an SVG document.
pub fn svg(set: &Charts, c: &Chart) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let span = set.span_ms as f64;
        let placed: Vec<(f64, f64, bool)> = set
            .decisions
            .iter()
            .map(|d| place(x_of(d.at, span), &d.label))
            .collect();
        let spans: Vec<(f64, f64)> = placed.iter().map(|p| (p.0, p.1)).collect();
        let rows = lanes(&spans, MAX_LANES);
        let used = rows.iter().flatten().max().map_or(0, |r| r + 1) as i32;
        head(&root, set, c)?;
        let (lo, hi) = y_range(c);
        let mut chart = ChartBuilder::on(&root)
            .margin_top((58 + used * LANE + 6) as u32)
            .margin_right(RIGHT)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(0f64..span, lo..hi)
            .map_err(err)?;
        let y_desc = if c.unit.is_empty() {
            c.name.clone()
        } else {
            format!("{} ({})", c.name, c.unit)
        };
        chart
            .configure_mesh()
            // The time axis' ticks are drawn below, at round steps.
            .x_labels(0)
            .disable_x_mesh()
            .y_labels(6)
            .max_light_lines(1)
            .y_label_formatter(&|y| number(*y))
            .x_desc(format!("time since the start ({})", date_time(set.started)))
            .y_desc(y_desc)
            .light_line_style(RGBColor(0xf2, 0xf2, 0xf2))
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .label_style(("sans-serif", FONT))
            .draw()
            .map_err(err)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let g = Geo {
            lo,
            hi,
            span,
            top: yr.start,
            bottom: yr.end,
            left: xr.start,
            right: xr.end,
        };
        time_axis(&mut chart, &root, set, &g)?;
        if let Some(b) = &c.breach {
            // At least a few pixels wide: a 2 s streak in 6 h still shows.
            let right = g.px(b.to);
            let left = g.px(b.from).min(right - 6);
            root.draw(&Rectangle::new(
                [(left, g.top), (right, g.bottom)],
                BREACH.mix(0.15).filled(),
            ))
            .map_err(err)?;
        }
        step_marks(&mut chart, &root, set, &g)?;
        levels(&mut chart, &root, c, span, false)?;
        lines(&mut chart, c, span)?;
        levels(&mut chart, &root, c, span, true)?;
        breach_marks(&mut chart, &root, c, &g)?;
        decision_marks(&mut chart, &root, set, &g, &rows, &placed)?;
        if c.canary.values == 0 {
            root.draw(&Text::new(
                "no values recorded".to_string(),
                ((g.left + g.right) / 2, (g.top + g.bottom) / 2),
                font(BASELINE, HPos::Center, VPos::Center),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The time axis: a light line and a clock label at each round step.
fn time_axis(chart: &mut Plot<'_, '_>, root: &Root<'_>, set: &Charts, g: &Geo) -> DrawResult<()> {
    for t in time_ticks(set.span_ms) {
        chart
            .draw_series(LineSeries::new(
                [(t, g.lo), (t, g.hi)],
                GRID.stroke_width(1),
            ))
            .map_err(err)?;
        let (x, _) = chart.backend_coord(&(t, g.lo));
        root.draw(&Text::new(
            clock(t as u64),
            (x, g.bottom + 6),
            font(BLACK, HPos::Center, VPos::Top),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Step boundaries, their weights stacked up from the bottom.
fn step_marks(chart: &mut Plot<'_, '_>, root: &Root<'_>, set: &Charts, g: &Geo) -> DrawResult<()> {
    let placed: Vec<(f64, f64, bool)> = set
        .steps
        .iter()
        .map(|s| place(x_of(s.at, g.span), &s.label))
        .collect();
    let spans: Vec<(f64, f64)> = placed.iter().map(|p| (p.0, p.1)).collect();
    for ((s, row), (start, _, right)) in set.steps.iter().zip(lanes(&spans, MAX_LANES)).zip(placed)
    {
        let x = s.at as f64;
        chart
            .draw_series(LineSeries::new(
                [(x, g.lo), (x, g.hi)],
                STEP.stroke_width(1),
            ))
            .map_err(err)?;
        let Some(row) = row else { continue };
        let y = g.bottom - 4 - row as i32 * LANE;
        let (at, h) = if right {
            (g.px(s.at) - 3, HPos::Right)
        } else {
            (start as i32 + 3, HPos::Left)
        };
        let grey = RGBColor(0x55, 0x55, 0x55);
        label(root, &s.label, (at, y), grey, h, VPos::Bottom)?;
    }
    Ok(())
}

/// The breaching samples, and what the breach led to.
fn breach_marks(chart: &mut Plot<'_, '_>, root: &Root<'_>, c: &Chart, g: &Geo) -> DrawResult<()> {
    let Some(b) = &c.breach else { return Ok(()) };
    chart
        .draw_series(
            b.points
                .iter()
                .map(|&(t, v)| Circle::new((t as f64, v), 4, BREACH.filled())),
        )
        .map_err(err)?;
    let x = (g.px(b.from) - 8).clamp(g.left, g.right);
    let (x, h) = if f64::from(x - g.left) > text_width(&b.label, FONT) {
        (x, HPos::Right)
    } else {
        (g.px(b.to) + 8, HPos::Left)
    };
    label(root, &b.label, (x, g.top + 4), BREACH, h, VPos::Top)
}

/// Decisions: a line through the plot, a dot on its top edge, the label
/// above in its row with a leader down to the dot; the labels last, on
/// their white ground.
fn decision_marks(
    chart: &mut Plot<'_, '_>,
    root: &Root<'_>,
    set: &Charts,
    g: &Geo,
    rows: &[Option<usize>],
    placed: &[(f64, f64, bool)],
) -> DrawResult<()> {
    for (d, row) in set.decisions.iter().zip(rows) {
        let color = severity_color(d.severity);
        let x = d.at as f64;
        chart
            .draw_series(LineSeries::new(
                [(x, g.lo), (x, g.hi)],
                color.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?;
        let xp = g.px(d.at);
        root.draw(&Circle::new((xp, g.top), DECISION_DOT, color.filled()))
            .map_err(err)?;
        if let Some(row) = row {
            let y = g.top - 6 - *row as i32 * LANE;
            root.draw(&PathElement::new(vec![(xp, y), (xp, g.top)], color))
                .map_err(err)?;
        }
    }
    for ((d, row), (start, _, right)) in set.decisions.iter().zip(rows).zip(placed) {
        let Some(row) = row else { continue };
        let y = g.top - 6 - *row as i32 * LANE;
        let (at, h) = if *right {
            (g.px(d.at) - 3, HPos::Right)
        } else {
            (*start as i32 + 3, HPos::Left)
        };
        label(
            root,
            &d.label,
            (at, y),
            severity_color(d.severity),
            h,
            VPos::Bottom,
        )?;
    }
    Ok(())
}

type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The title and the legend (swatches, not lines: a legend draws no
/// polyline that could be taken for a series).
fn head(root: &Root<'_>, set: &Charts, c: &Chart) -> DrawResult<()> {
    let unit = if c.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.unit)
    };
    let title = format!(
        "{}{unit} · {} · rollout {} · started {}",
        c.name,
        set.service,
        set.rollout,
        date_time(set.started)
    );
    root.draw(&Text::new(
        title,
        (LEFT as i32, 10),
        ("sans-serif", 19.0)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK),
    ))
    .map_err(err)?;
    let mut items: Vec<(String, RGBColor)> = vec![(c.canary.label.clone(), CANARY)];
    if let Some(b) = &c.baseline {
        items.push((b.label.clone(), BASELINE));
    }
    if let Some(h) = &c.held {
        items.push((h.label.clone(), BASELINE));
    }
    if let Some(l) = &c.limit {
        items.push((l.label.clone(), LIMIT));
    }
    if let Some(s) = &c.slo {
        items.push((s.label.clone(), SLO));
    }
    if c.breach.is_some() {
        items.push(("breach that rolled back".into(), BREACH));
    }
    let mut x = LEFT as i32;
    for (label, color) in items {
        root.draw(&Rectangle::new([(x, 38), (x + 14, 48)], color.filled()))
            .map_err(err)?;
        root.draw(&Text::new(
            label.clone(),
            (x + 19, 43),
            font(BLACK, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        x += 19 + text_width(&label, FONT) as i32 + 18;
    }
    Ok(())
}

/// The limit and SLO lines (under the series), or their labels at the
/// right end (over them).
fn levels(
    chart: &mut Plot<'_, '_>,
    root: &Root<'_>,
    c: &Chart,
    span: f64,
    labels: bool,
) -> DrawResult<()> {
    for (level, color) in [(&c.limit, LIMIT), (&c.slo, SLO)] {
        let Some(l) = level else { continue };
        if labels {
            let (x, y) = chart.backend_coord(&(span, l.value));
            label(
                root,
                &l.label,
                (x - 4, y - 3),
                color,
                HPos::Right,
                VPos::Bottom,
            )?;
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                [(0.0, l.value), (span, l.value)],
                color.stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// The baseline (live, then held) and the canary on top of it.
fn lines(chart: &mut Plot<'_, '_>, c: &Chart, span: f64) -> DrawResult<()> {
    if let Some(b) = &c.baseline {
        for seg in &b.segments {
            let pts = seg.iter().map(|&(t, v)| (t as f64, v));
            chart
                .draw_series(LineSeries::new(pts, BASELINE.stroke_width(1)))
                .map_err(err)?;
        }
    }
    if let Some(h) = &c.held {
        chart
            .draw_series(DashedLineSeries::new(
                [(h.from as f64, h.value), (span, h.value)],
                8,
                5,
                BASELINE.stroke_width(2),
            ))
            .map_err(err)?;
    }
    for seg in &c.canary.segments {
        let pts = seg.iter().map(|&(t, v)| (t as f64, v));
        chart
            .draw_series(LineSeries::new(pts, CANARY.stroke_width(2)))
            .map_err(err)?;
        // A value alone between two gaps is a line of no length: a dot.
        if let [(t, v)] = seg[..] {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (t as f64, v),
                    2,
                    CANARY.filled(),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "draw_tests.rs"]
mod tests;

//! A chart's plot written straight into the buffer: braille dots (2x4 per
//! cell) or one marker character per cell, the way ratatui's `Canvas`
//! draws `Line` and `Points` shapes (the same dot for a value, the same
//! steps along a line, the last color painted in a cell wins), without the
//! canvas's boxed grid, per-shape clipping and layer copies. Each point of
//! a series is placed once, not once per segment it ends.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::{DOT, Marker, braille::BRAILLE};

/// One layer of dots over a cell area, with the world's bounds.
pub struct Dots {
    area: Rect,
    /// Dots per cell across and down: (2, 4) for braille, (1, 1) otherwise,
    /// as powers of two (a dot's cell is a shift away, not a division).
    shift: (u32, u32),
    /// The character of a cell with any dot, for non-braille markers.
    symbol: Option<char>,
    x_bounds: [f64; 2],
    y_bounds: [f64; 2],
    /// Dot pattern and color per cell, row by row.
    cells: Vec<(u8, Option<Color>)>,
}

impl Dots {
    pub fn new(area: Rect, marker: Marker, x_bounds: [f64; 2], y_bounds: [f64; 2]) -> Dots {
        let (per, symbol) = match marker {
            Marker::Braille => ((1, 2), None),
            Marker::Custom(c) => ((0, 0), Some(c)),
            _ => ((0, 0), DOT.chars().next()),
        };
        Dots {
            area,
            shift: per,
            symbol,
            x_bounds,
            y_bounds,
            cells: vec![(0, None); usize::from(area.width) * usize::from(area.height)],
        }
    }

    fn resolution(&self) -> (f64, f64) {
        (
            f64::from(u32::from(self.area.width) << self.shift.0),
            f64::from(u32::from(self.area.height) << self.shift.1),
        )
    }

    /// The dot for a world point, as `canvas::Painter::get_point`.
    pub fn dot(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let [left, right] = self.x_bounds;
        let [bottom, top] = self.y_bounds;
        if x < left || x > right || y < bottom || y > top {
            return None;
        }
        let (width, height) = (right - left, top - bottom);
        if width <= 0.0 || height <= 0.0 {
            return None;
        }
        let res = self.resolution();
        let x = ((x - left) * (res.0 - 1.0) / width).round() as usize;
        let y = ((top - y) * (res.1 - 1.0) / height).round() as usize;
        Some((x, y))
    }

    fn paint(&mut self, x: usize, y: usize, color: Color) {
        let (sx, sy) = self.shift;
        let index = (y >> sy) * usize::from(self.area.width) + (x >> sx);
        if let Some(cell) = self.cells.get_mut(index) {
            // Bits row by row: (x % w) + w * (y % h).
            let (dx, dy) = (x & ((1 << sx) - 1), y & ((1 << sy) - 1));
            cell.0 |= 1u8 << (dx + (dy << sx));
            cell.1 = Some(color);
        }
    }

    /// Each point's own dot (`canvas::Points`).
    pub fn points(&mut self, data: &[(f64, f64)], color: Color) {
        for (x, y) in data {
            if let Some((x, y)) = self.dot(*x, *y) {
                self.paint(x, y, color);
            }
        }
    }

    /// A straight line (`canvas::Line`).
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), color: Color) {
        let inside = |p: (f64, f64)| self.dot(p.0, p.1);
        let ends = match (inside(from), inside(to)) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => clip(self.x_bounds, self.y_bounds, from, to)
                .and_then(|(a, b)| Some((inside(a)?, inside(b)?))),
        };
        if let Some((a, b)) = ends {
            self.segment(a, b, color);
        }
    }

    /// Segments between consecutive points, a lone point as a dot.
    pub fn polyline(&mut self, data: &[(f64, f64)], color: Color) {
        if data.len() == 1 {
            self.points(data, color);
            return;
        }
        // Each point's dot once; a segment with an end out of bounds is
        // clipped as `line` does.
        let mut prev = None;
        for (i, p) in data.iter().enumerate() {
            let here = self.dot(p.0, p.1);
            if i > 0 {
                match (prev, here) {
                    (Some(a), Some(b)) => self.segment(a, b, color),
                    _ => self.line(data[i - 1], *p, color),
                }
            }
            prev = here;
        }
    }

    /// Bresenham between two dots, as ratatui's canvas steps a line.
    fn segment(&mut self, (x1, y1): (usize, usize), (x2, y2): (usize, usize), color: Color) {
        let (dx, dy) = (x2.abs_diff(x1), y2.abs_diff(y1));
        if dx == 0 {
            for y in y1.min(y2)..=y1.max(y2) {
                self.paint(x1, y, color);
            }
        } else if dy == 0 {
            for x in x1.min(x2)..=x1.max(x2) {
                self.paint(x, y1, color);
            }
        } else if dy < dx {
            let ((x1, y1), (x2, y2)) = if x1 > x2 {
                ((x2, y2), (x1, y1))
            } else {
                ((x1, y1), (x2, y2))
            };
            let (dx, dy) = ((x2 - x1) as isize, (y2 as isize - y1 as isize).abs());
            let mut d = 2 * dy - dx;
            let mut y = y1;
            for x in x1..=x2 {
                self.paint(x, y, color);
                if d > 0 {
                    y = if y1 > y2 { y.saturating_sub(1) } else { y + 1 };
                    d -= 2 * dx;
                }
                d += 2 * dy;
            }
        } else {
            let ((x1, y1), (x2, y2)) = if y1 > y2 {
                ((x2, y2), (x1, y1))
            } else {
                ((x1, y1), (x2, y2))
            };
            let (dx, dy) = ((x2 as isize - x1 as isize).abs(), (y2 - y1) as isize);
            let mut d = 2 * dx - dy;
            let mut x = x1;
            for y in y1..=y2 {
                self.paint(x, y, color);
                if d > 0 {
                    x = if x1 > x2 { x.saturating_sub(1) } else { x + 1 };
                    d -= 2 * dy;
                }
                d += 2 * dx;
            }
        }
    }

    /// Cells with a dot get their character and color; the others are left
    /// as they are, so layers written one after the other stack.
    pub fn write(&self, buf: &mut Buffer) {
        let area = self.area.intersection(buf.area);
        let width = usize::from(self.area.width);
        for y in area.top()..area.bottom() {
            let row = usize::from(y - self.area.y) * width;
            let start = buf.index_of(area.x, y);
            let first = usize::from(area.x - self.area.x);
            let cells = &self.cells[row + first..row + first + usize::from(area.width)];
            for (out, (pattern, color)) in buf.content[start..].iter_mut().zip(cells) {
                if *pattern == 0 {
                    continue;
                }
                out.set_char(self.symbol.unwrap_or(BRAILLE[usize::from(*pattern)]));
                if let Some(c) = color {
                    out.set_fg(*c);
                }
            }
        }
    }
}

/// The part of a segment inside the bounds (Liang-Barsky), or none.
fn clip(
    [xmin, xmax]: [f64; 2],
    [ymin, ymax]: [f64; 2],
    (x1, y1): (f64, f64),
    (x2, y2): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    if ![x1, y1, x2, y2].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (x2 - x1, y2 - y1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, x1 - xmin),
        (dx, xmax - x1),
        (-dy, y1 - ymin),
        (dy, ymax - y1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (x1 + t * dx, y1 + t * dy);
    let (a, b) = (at(t0), at(t1));
    // Rounding may leave a clipped end a hair outside.
    let fit = |(x, y): (f64, f64)| (x.clamp(xmin, xmax), y.clamp(ymin, ymax));
    Some((fit(a), fit(b)))
}

#[cfg(test)]
mod tests {
    use ratatui::widgets::Widget;
    use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points};

    use super::*;

    /// A zigzag with steep, flat and shallow segments, lines at the edges
    /// and one crossing out of bounds, drawn by `Dots` and by `Canvas`.
    fn compare(marker: Marker, area: Rect) {
        let series: Vec<(f64, f64)> = (0..60)
            .map(|i| {
                let x = f64::from(i) * 1.7;
                (x, ((x * 0.37).sin() * 40.0 + 50.0).clamp(0.0, 100.0))
            })
            .collect();
        let other: Vec<(f64, f64)> = series.iter().map(|(x, y)| (*x, 100.0 - y)).collect();
        let (xb, yb) = ([0.0, 100.0], [0.0, 100.0]);
        let marks = [(10.0, 90.0), (55.5, 12.25), (100.0, 0.0)];
        let whole = Rect::new(0, 0, area.right() + 1, area.bottom() + 1);
        let mut want = Buffer::empty(whole);
        Canvas::default()
            .marker(marker)
            .x_bounds(xb)
            .y_bounds(yb)
            .paint(|ctx| {
                ctx.draw(&CanvasLine::new(30.0, 0.0, 30.0, 100.0, Color::Gray));
                ctx.draw(&CanvasLine::new(0.0, 80.0, 100.0, 80.0, Color::Red));
                ctx.draw(&CanvasLine::new(-20.0, 10.0, 120.0, 95.0, Color::Cyan));
                for w in other.windows(2) {
                    ctx.draw(&CanvasLine::new(
                        w[0].0,
                        w[0].1,
                        w[1].0,
                        w[1].1,
                        Color::Blue,
                    ));
                }
                for w in series.windows(2) {
                    ctx.draw(&CanvasLine::new(
                        w[0].0,
                        w[0].1,
                        w[1].0,
                        w[1].1,
                        Color::Yellow,
                    ));
                }
                ctx.marker(Marker::Custom('●'));
                ctx.draw(&Points {
                    coords: &marks,
                    color: Color::LightRed,
                });
            })
            .render(area, &mut want);
        let mut got = Buffer::empty(whole);
        let mut dots = Dots::new(area, marker, xb, yb);
        dots.line((30.0, 0.0), (30.0, 100.0), Color::Gray);
        dots.line((0.0, 80.0), (100.0, 80.0), Color::Red);
        dots.line((-20.0, 10.0), (120.0, 95.0), Color::Cyan);
        dots.polyline(&other, Color::Blue);
        dots.polyline(&series, Color::Yellow);
        dots.write(&mut got);
        let mut marks_layer = Dots::new(area, Marker::Custom('●'), xb, yb);
        marks_layer.points(&marks, Color::LightRed);
        marks_layer.write(&mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn dots_land_where_ratatuis_canvas_puts_them() {
        compare(Marker::Braille, Rect::new(1, 1, 37, 11));
        compare(Marker::Braille, Rect::new(0, 0, 80, 20));
        compare(Marker::Custom('.'), Rect::new(2, 0, 40, 9));
    }

    #[test]
    fn a_lone_point_is_a_dot_and_empty_bounds_draw_nothing() {
        let area = Rect::new(0, 0, 2, 1);
        let mut dots = Dots::new(area, Marker::Braille, [0.0, 1.0], [0.0, 1.0]);
        dots.polyline(&[(0.0, 1.0)], Color::Red);
        let mut buf = Buffer::empty(area);
        dots.write(&mut buf);
        assert_eq!(buf[(0, 0)].symbol(), "⠁");
        assert_eq!(buf[(0, 0)].fg, Color::Red);
        assert_eq!(buf[(1, 0)].symbol(), " ");
        let mut flat = Dots::new(area, Marker::Braille, [0.0, 0.0], [0.0, 1.0]);
        flat.line((0.0, 0.0), (0.0, 1.0), Color::Red);
        let mut buf2 = Buffer::empty(area);
        flat.write(&mut buf2);
        assert_eq!(buf2, Buffer::empty(area));
    }
}

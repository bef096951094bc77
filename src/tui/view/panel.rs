//! A bordered panel with titles, written straight into the buffer: what
//! `Block::bordered()` with a border set, a border style and titles draws,
//! without restyling every cell inside it and merging every border symbol
//! (a block's cost grows with its area; this one's with its perimeter).
//! Used by the panels drawn on every frame (charts, header, ramp,
//! decisions); the others keep `Block`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::symbols::border;
use ratatui::text::Line;
use ratatui::widgets::Widget;

/// Borders on all four sides, titles on the top and bottom borders.
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    set: border::Set<'a>,
    border_style: Style,
    titles_style: Style,
    /// (on the top border, the title): left-aligned titles from the left
    /// edge, right-aligned ones from the right edge, as `Block` places them.
    titles: Vec<(bool, Line<'a>)>,
}

impl<'a> Panel<'a> {
    pub fn new(set: border::Set<'a>, border_style: Style, titles_style: Style) -> Panel<'a> {
        Panel {
            set,
            border_style,
            titles_style,
            titles: Vec::new(),
        }
    }

    pub fn title_top(mut self, title: impl Into<Line<'a>>) -> Self {
        self.titles.push((true, title.into()));
        self
    }

    pub fn title_bottom(mut self, title: impl Into<Line<'a>>) -> Self {
        self.titles.push((false, title.into()));
        self
    }

    pub fn border_style(mut self, style: Style) -> Self {
        self.border_style = style;
        self
    }

    /// The area inside the borders.
    pub fn inner(&self, area: Rect) -> Rect {
        let x = area.x.saturating_add(1).min(area.right());
        let y = area.y.saturating_add(1).min(area.bottom());
        Rect {
            x,
            y,
            width: area.right().saturating_sub(x).saturating_sub(1),
            height: area.bottom().saturating_sub(y).saturating_sub(1),
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let (left, top) = (area.left(), area.top());
        let (right, bottom) = (area.right() - 1, area.bottom() - 1);
        let style = self.border_style;
        let s = &self.set;
        for y in top..=bottom {
            buf[(left, y)].set_symbol(s.vertical_left).set_style(style);
        }
        let row = buf.index_of(left, top);
        for cell in &mut buf.content[row..=row + usize::from(right - left)] {
            cell.set_symbol(s.horizontal_top).set_style(style);
        }
        for y in top..=bottom {
            buf[(right, y)]
                .set_symbol(s.vertical_right)
                .set_style(style);
        }
        let row = buf.index_of(left, bottom);
        for cell in &mut buf.content[row..=row + usize::from(right - left)] {
            cell.set_symbol(s.horizontal_bottom).set_style(style);
        }
        for (x, y, symbol) in [
            (right, bottom, s.bottom_right),
            (right, top, s.top_right),
            (left, bottom, s.bottom_left),
            (left, top, s.top_left),
        ] {
            buf[(x, y)].set_symbol(symbol).set_style(style);
        }
        for on_top in [true, false] {
            let row = Rect {
                x: left.saturating_add(1),
                y: if on_top { top } else { bottom },
                width: area.width.saturating_sub(2),
                height: 1,
            };
            self.titles_on(on_top, row, buf);
        }
    }

    /// Left-aligned titles from the left, then right-aligned ones from the
    /// right, each followed by a space, as `Block` does (it draws the
    /// right ones over the left ones where they meet).
    fn titles_on(&self, on_top: bool, row: Rect, buf: &mut Buffer) {
        let on_row = |right: bool| {
            self.titles.iter().filter(move |(top, line)| {
                *top == on_top && (line.alignment == Some(Alignment::Right)) == right
            })
        };
        let mut free = row;
        for (_, title) in on_row(false) {
            if free.is_empty() {
                break;
            }
            let w = width(title);
            let at = Rect {
                width: w.min(free.width),
                ..free
            };
            buf.set_style(at, self.titles_style);
            title.render(at, buf);
            let advance = w.saturating_add(1);
            free.x = free.x.saturating_add(advance);
            free.width = free.width.saturating_sub(advance);
        }
        let mut free = row;
        for (_, title) in on_row(true).collect::<Vec<_>>().into_iter().rev() {
            if free.is_empty() {
                break;
            }
            let w = width(title);
            let at = Rect {
                x: free.right().saturating_sub(w).max(free.left()),
                width: w.min(free.width),
                ..free
            };
            buf.set_style(at, self.titles_style);
            title.render(at, buf);
            free.width = free.width.saturating_sub(w).saturating_sub(1);
        }
    }
}

fn width(line: &Line<'_>) -> u16 {
    line.width().min(usize::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier};
    use ratatui::text::Span;
    use ratatui::widgets::{Block, Borders};

    use super::*;

    #[test]
    fn a_panel_is_drawn_as_the_block_it_replaces() {
        let dim = Style::new().fg(Color::DarkGray);
        let title = Style::new().add_modifier(Modifier::BOLD);
        let focus = Style::new().fg(Color::Cyan);
        let verdict = Line::from(" ✖ breach ")
            .style(Style::new().fg(Color::Red))
            .right_aligned();
        let kinds = Line::from(vec![Span::raw(" "), Span::raw("burn 2.1x"), Span::raw(" ")])
            .right_aligned();
        let name = Span::styled(" * Latency p95 over a long name ", title);
        for set in [border::ROUNDED, border::PLAIN] {
            for area in [
                Rect::new(0, 0, 40, 6),
                Rect::new(3, 1, 20, 4),
                Rect::new(1, 1, 9, 2),
                Rect::new(2, 2, 1, 1),
                Rect::new(0, 0, 30, 8),
            ] {
                let whole = Rect::new(0, 0, 44, 9);
                let mut block = Block::default()
                    .borders(Borders::ALL)
                    .border_set(set)
                    .border_style(dim)
                    .title(name.clone())
                    .title_style(title)
                    .title_top(verdict.clone())
                    .title_bottom(kinds.clone());
                let mut panel = Panel::new(set, dim, title)
                    .title_top(name.clone())
                    .title_top(verdict.clone())
                    .title_bottom(kinds.clone());
                if area.width > 25 {
                    block = block.border_style(focus);
                    panel = panel.border_style(focus);
                }
                let mut want = Buffer::empty(whole);
                block.clone().render(area, &mut want);
                let mut got = Buffer::empty(whole);
                panel.render(area, &mut got);
                assert_eq!(got, want, "{area:?}");
                assert_eq!(panel.inner(area), block.inner(area));
            }
        }
    }
}

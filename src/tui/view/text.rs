//! Lines written straight into the buffer, for the panels that are lists of
//! one-row lines (the ramp, the decisions, the legends and axis labels).
//!
//! `Paragraph` splits every span into graphemes and measures each one, also
//! past the panel's edge (a long reason is shaped whole, then cut). Most of
//! what the cockpit writes is printable ASCII: one byte, one cell, so such a
//! span is copied cell by cell and stops at the edge. Any other span goes
//! through ratatui's own `Buffer::set_stringn`. The cells come out as
//! `Paragraph` (without wrapping) leaves them for left-aligned lines;
//! lines aligned otherwise are handed to `Paragraph`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::panel::Panel;

/// Write `s` from (x, y), at most `max` cells and never past the buffer's
/// right edge; returns the column after the last cell written.
pub fn put_str(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return x;
    }
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return buf.set_stringn(x, y, s, usize::from(max), style).0;
    }
    let room = area.right().saturating_sub(x).min(max);
    let n = s.len().min(usize::from(room));
    let start = buf.index_of(x, y);
    for (cell, b) in buf.content[start..start + n].iter_mut().zip(s.bytes()) {
        // A blank cell already holds a space (`Cell` compares an empty
        // symbol equal to " "): only its style changes.
        if b != b' ' || cell.symbol() != " " {
            cell.set_char(char::from(b));
        }
        cell.set_style(style);
    }
    // `n` ≤ `room`, a u16.
    x + n as u16
}

/// One line from (x, y), at most `max` cells, each span in the line's style
/// patched with its own (as `Paragraph` and `Buffer::set_line` do).
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, max: u16) -> u16 {
    let end = x.saturating_add(max);
    let mut at = x;
    for span in &line.spans {
        if at >= end {
            break;
        }
        at = put_str(
            buf,
            at,
            y,
            &span.content,
            end - at,
            line.style.patch(span.style),
        );
    }
    at
}

/// `Paragraph::new(lines)` without wrapping, row by row into `area`.
pub fn put_lines(buf: &mut Buffer, area: Rect, lines: &[Line<'_>]) {
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        match line.alignment {
            None | Some(Alignment::Left) => {
                put_line(buf, area.x, y, line, area.width);
            }
            Some(_) => {
                let row = Rect::new(area.x, y, area.width, 1);
                Paragraph::new(line.clone()).render(row, buf);
            }
        }
    }
}

/// `Paragraph::new(lines).block(block)`, with a [`Panel`] for the block.
pub fn put_panel(buf: &mut Buffer, area: Rect, panel: &Panel<'_>, lines: &[Line<'_>]) {
    panel.render(area, buf);
    put_lines(buf, panel.inner(area), lines);
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;
    use ratatui::symbols::border;
    use ratatui::text::Span;
    use ratatui::widgets::{Block, Borders};

    use super::*;

    fn both(area: Rect, lines: Vec<Line<'static>>, block: Option<Block<'static>>) {
        let whole = Rect::new(0, 0, 24, 6);
        let mut want = Buffer::empty(whole);
        let mut got = Buffer::empty(whole);
        match block {
            Some(b) => {
                Paragraph::new(lines.clone())
                    .block(b.clone())
                    .render(area, &mut want);
                let panel =
                    Panel::new(border::PLAIN, Style::new(), Style::new()).title_top(" Ramp ");
                put_panel(&mut got, area, &panel, &lines);
            }
            None => {
                Paragraph::new(lines.clone()).render(area, &mut want);
                put_lines(&mut got, area, &lines);
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn lines_come_out_as_a_paragraph_draws_them() {
        let lines = vec![
            Line::from(vec![
                Span::styled("14:03:50", Style::new().dim()),
                Span::raw("  "),
                Span::styled("alice", Style::new().bold()),
                Span::raw("  a reason much longer than the panel is wide"),
            ]),
            // Not ASCII: symbols, a wide character, a control character.
            Line::from(vec![
                Span::styled("✔ ", Style::new().fg(Color::Green)),
                Span::raw("Pass 1.20 % ≤ 5.00 % 漢字\tx 漢字漢字漢字漢字"),
            ])
            .style(Style::new().italic()),
            Line::raw(""),
            Line::from("right").right_aligned(),
            Line::from("centred").centered(),
            Line::from("cut off: the area has fewer rows"),
            Line::from("never drawn"),
        ];
        both(Rect::new(1, 0, 20, 6), lines.clone(), None);
        both(Rect::new(2, 1, 21, 5), lines.clone(), None);
        let block = Block::default().borders(Borders::ALL).title(" Ramp ");
        both(Rect::new(0, 0, 24, 6), lines, Some(block));
    }

    #[test]
    fn nothing_is_written_outside_the_buffer() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        assert_eq!(put_str(&mut buf, 2, 0, "abcdef", 10, Style::new()), 4);
        assert_eq!(put_str(&mut buf, 9, 0, "abc", 10, Style::new()), 9);
        assert_eq!(put_str(&mut buf, 0, 3, "abc", 10, Style::new()), 0);
        assert_eq!(buf, Buffer::with_lines(["  ab"]));
    }
}

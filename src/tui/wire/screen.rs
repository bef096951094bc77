//! A terminal that keeps one buffer, not two (issue 11: peak RSS).
//!
//! `ratatui::Terminal` draws into one full [`Buffer`] and keeps the frame
//! before it as a second, to diff them: at 200x50 each is 10,000 cells of
//! 48 bytes, 470 KB, a twentieth of the cockpit's memory. [`Screen`] keeps
//! the frame on the terminal as one [`Print`] per cell instead (8 bytes:
//! a hash of what the cell looks like, its width and whether its style
//! shows on a blank), and sends [`Wire`] the same cells as ratatui's
//! `BufferDiff` would.

use std::io::{self, Write};

use ratatui::backend::Backend;
use ratatui::buffer::{Buffer, Cell, CellDiffOption, CellWidth};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

use super::Wire;

/// A full-screen terminal drawn through a [`Wire`], with one buffer.
pub struct Screen<W: Write> {
    wire: Wire<W>,
    buf: Buffer,
    /// What the terminal shows: the print of each cell of `buf`'s area as
    /// it was last sent (the screen starts blank, as ratatui assumes too).
    shown: Vec<Print>,
    /// The cells to send this frame (kept to reuse its allocation).
    sent: Vec<(u16, u16, usize)>,
}

impl<W: Write> Screen<W> {
    pub fn new(wire: Wire<W>) -> io::Result<Self> {
        let size = wire.size()?;
        let area = Rect::new(0, 0, size.width, size.height);
        Ok(Screen {
            wire,
            shown: blank_prints(area),
            buf: Buffer::empty(area),
            sent: Vec::new(),
        })
    }

    pub fn backend(&self) -> &Wire<W> {
        &self.wire
    }

    #[cfg(test)]
    pub(super) fn backend_mut(&mut self) -> &mut Wire<W> {
        &mut self.wire
    }

    /// After a resize: the buffer takes the terminal's new size and the
    /// screen is cleared, as `ratatui::Terminal::autoresize` does.
    pub fn autoresize(&mut self) -> io::Result<()> {
        let size = self.wire.size()?;
        let area = Rect::new(0, 0, size.width, size.height);
        if area != self.buf.area {
            self.buf.resize(area);
            self.wire.clear()?;
            self.shown = blank_prints(area);
        }
        Ok(())
    }

    /// Draws one frame: `render` fills a blank buffer of the terminal's
    /// size, and the cells that differ from the screen are sent.
    pub fn draw(&mut self, render: impl FnOnce(&mut Buffer)) -> io::Result<()> {
        self.autoresize()?;
        self.buf.reset();
        render(&mut self.buf);
        self.sent.clear();
        changes(&mut self.shown, &self.buf, &mut self.sent);
        let cells = &self.buf.content;
        self.wire
            .draw(self.sent.iter().map(|&(x, y, i)| (x, y, &cells[i])))?;
        self.wire.hide_cursor()?;
        Backend::flush(&mut self.wire)
    }
}

/// What one cell looks like, in 8 bytes: bits 0..56 a hash of everything
/// ratatui compares (symbol, colours, modifiers, diff options), bits 56..63
/// its width, bit 63 whether its style shows on a blank.
type Print = u64;

const HASH_BITS: u64 = (1 << 56) - 1;
const VISIBLE_BIT: u64 = 1 << 63;

/// Styles a blank cell shows (as ratatui's diff counts them).
const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
    .union(Modifier::UNDERLINED)
    .union(Modifier::SLOW_BLINK)
    .union(Modifier::RAPID_BLINK)
    .union(Modifier::CROSSED_OUT);

fn blank_prints(area: Rect) -> Vec<Print> {
    vec![print(&Cell::EMPTY); usize::from(area.width) * usize::from(area.height)]
}

/// A cell's print: its symbol (the bytes themselves when it is one byte,
/// else their hash) and its style packed into words, then mixed. Cheap
/// enough for every cell of every frame: no `Hasher` per field, and the
/// width asked only of symbols longer than a byte.
fn print(cell: &Cell) -> Print {
    let bytes = cell.symbol().as_bytes();
    let (symbol, width) = match (bytes, cell.diff_option) {
        (_, CellDiffOption::ForcedWidth(w)) => (hash_bytes(bytes), u64::from(w.get())),
        ([b], _) => (u64::from(*b), 1),
        _ if surely_one_column(bytes) => (hash_bytes(bytes), 1),
        _ => (hash_bytes(bytes), u64::from(cell.cell_width())),
    };
    #[allow(deprecated)] // ratatui still compares `skip`
    let skip = u64::from(cell.skip);
    let diff = match cell.diff_option {
        CellDiffOption::None => 0,
        CellDiffOption::Skip => 1,
        CellDiffOption::AlwaysUpdate => 2,
        CellDiffOption::ForcedWidth(w) => 3 | u64::from(w.get()) << 2,
    };
    let colors = color_code(cell.fg) | color_code(cell.bg) << 26;
    let rest = color_code(cell.underline_color)
        | u64::from(cell.modifier.bits()) << 26
        | skip << 42
        | diff << 43;
    let mut h = Fx(0);
    h.add(symbol);
    h.add(colors);
    h.add(rest);
    let visible = cell.bg != Color::Reset || cell.modifier.intersects(VISIBLE_ON_BLANK);
    (h.0 & HASH_BITS) | (width.min(127) << 56) | if visible { VISIBLE_BIT } else { 0 }
}

/// Box drawing, block elements (U+2500 to U+259F) and braille (U+2800
/// to U+28FF): the borders, bars and chart lines that fill most cells,
/// one column wide without a table lookup.
fn surely_one_column(bytes: &[u8]) -> bool {
    match bytes {
        [0xE2, 0x94 | 0x95 | 0xA0..=0xA3, _] => true,
        [0xE2, 0x96, b] => *b <= 0x9F,
        _ => false,
    }
}

/// A colour in 26 bits, each colour its own code.
fn color_code(c: Color) -> u64 {
    let named = |n: u64| 3 << 24 | n;
    match c {
        Color::Rgb(r, g, b) => 1 << 24 | u64::from(r) << 16 | u64::from(g) << 8 | u64::from(b),
        Color::Indexed(i) => 2 << 24 | u64::from(i),
        Color::Reset => named(0),
        Color::Black => named(1),
        Color::Red => named(2),
        Color::Green => named(3),
        Color::Yellow => named(4),
        Color::Blue => named(5),
        Color::Magenta => named(6),
        Color::Cyan => named(7),
        Color::Gray => named(8),
        Color::DarkGray => named(9),
        Color::LightRed => named(10),
        Color::LightGreen => named(11),
        Color::LightYellow => named(12),
        Color::LightBlue => named(13),
        Color::LightMagenta => named(14),
        Color::LightCyan => named(15),
        Color::White => named(16),
    }
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Fx(bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h.add(u64::from_le_bytes(word));
    }
    h.0
}

fn width_of(p: Print) -> usize {
    ((p >> 56) & 127) as usize
}

/// Firefox's hash step (as in `rustc-hash`): a changed cell gets a new
/// print but for a chance of 2^-56.
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn is_skip(cell: &Cell) -> bool {
    #[allow(deprecated)]
    let skip = cell.skip;
    matches!(cell.diff_option, CellDiffOption::Skip)
        || (skip && matches!(cell.diff_option, CellDiffOption::None))
}

/// The cells of `next` to send, as `(x, y, index)`, given what the screen
/// shows (`shown`, updated to `next`'s prints). The same cells as
/// ratatui's `BufferDiff` between the frame shown and `next`; where it
/// compares symbols only (the trailing cells of a wide emoji), a changed
/// style sends the cell too.
fn changes(shown: &mut [Print], next: &Buffer, out: &mut Vec<(u16, u16, usize)>) {
    let cells = &next.content;
    let len = cells.len().min(shown.len());
    let width = usize::from(next.area.width).max(1);
    let at = |i: usize| {
        let x = (i % width) as u16 + next.area.x;
        let y = (i / width) as u16 + next.area.y;
        (x, y, i)
    };
    // Takes the prints of `from..to` without sending them.
    let take = |shown: &mut [Print], from: usize, to: usize| {
        for j in from..to.min(len) {
            shown[j] = print(&cells[j]);
        }
    };
    let mut i = 0;
    while i < len {
        let cell = &cells[i];
        let new = print(cell);
        let old = std::mem::replace(&mut shown[i], new);
        if is_skip(cell) {
            i += 1;
            continue;
        }
        if let CellDiffOption::ForcedWidth(w) = cell.diff_option {
            let end = i + usize::from(w.get()).max(1);
            if new != old {
                out.push(at(i));
            }
            take(shown, i + 1, end);
            i = end;
            continue;
        }
        let w = width_of(new);
        if matches!(cell.diff_option, CellDiffOption::None) && new == old {
            let end = i + w.max(1);
            take(shown, i + 1, end);
            i = end;
            continue;
        }
        out.push(at(i));
        // The cells a wide symbol covers, as ratatui's diff treats them:
        // an emoji with VS16 sends those that changed (some terminals
        // leave its second half behind); a narrow symbol replacing a wide
        // one whose style shows on a blank sends all it covered.
        let trailing = if w > 1 && cell.symbol().contains('\u{FE0F}') {
            Some((i + w, false))
        } else if w > 1 {
            take(shown, i + 1, i + w);
            i += w;
            continue;
        } else if width_of(old) > w && old & VISIBLE_BIT != 0 {
            Some((i + width_of(old), true))
        } else {
            None
        };
        i += 1;
        if let Some((end, force)) = trailing {
            let mut end = end.min(len);
            while i < end {
                let j = i;
                let cw = cells[j].cell_width().max(1) as usize;
                let new = print(&cells[j]);
                let old = std::mem::replace(&mut shown[j], new);
                if !is_skip(&cells[j]) && (force || new != old) {
                    out.push(at(j));
                }
                take(shown, j + 1, j + cw);
                i = j + cw;
                end = end.max(i).min(len);
            }
        }
    }
}

#[cfg(test)]
pub(super) fn diff_against(prev: &Buffer, next: &Buffer) -> Vec<(u16, u16)> {
    let mut shown: Vec<Print> = prev.content.iter().map(print).collect();
    let mut out = Vec::new();
    changes(&mut shown, next, &mut out);
    assert!(
        shown.iter().zip(&next.content).all(|(p, c)| *p == print(c)),
        "after a frame the screen's prints are the frame's"
    );
    out.into_iter().map(|(x, y, _)| (x, y)).collect()
}

#[cfg(test)]
#[test]
fn the_one_column_shortcut_agrees_with_ratatui_s_widths() {
    let ranges = [
        0x2500..=0x259F,
        0x2800..=0x28FF,
        0x25A0..=0x27FF,
        0x2900..=0x2FFF,
    ];
    for (k, range) in ranges.into_iter().enumerate() {
        for c in range.filter_map(char::from_u32) {
            let s = c.to_string();
            let shortcut = surely_one_column(s.as_bytes());
            assert_eq!(shortcut, k < 2, "{c:?} U+{:04X}", u32::from(c));
            if shortcut {
                assert_eq!(s.as_str().cell_width(), 1, "{c:?}");
            }
        }
    }
}

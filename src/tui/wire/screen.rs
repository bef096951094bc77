//! A terminal that keeps one buffer, not two (issue 11: peak RSS).
//!
//! `ratatui::Terminal` draws into one full [`Buffer`] and keeps the frame
//! before it as a second, to diff them: at 200x50 each is 10,000 cells of
//! 48 bytes, 470 KB, a twentieth of the cockpit's memory. [`Screen`] keeps
//! the frame on the terminal as one [`Print`] per cell instead (8 bytes:
//! a hash of what the cell looks like, its width and whether its style
//! shows on a blank), and sends [`Wire`] the same cells as ratatui's
//! `BufferDiff` would.

use std::hash::{Hash, Hasher};
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
    shown: Vec<u64>,
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
        let mut sent = std::mem::take(&mut self.sent);
        sent.clear();
        changes(&mut self.shown, &self.buf, &mut sent);
        let cells = &self.buf.content;
        let drawn = self
            .wire
            .draw(sent.iter().map(|&(x, y, i)| (x, y, &cells[i])));
        self.sent = sent;
        drawn?;
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

#[allow(deprecated)] // `skip`: ratatui still compares it
fn print(cell: &Cell) -> Print {
    let mut h = Fx(0);
    cell.symbol().hash(&mut h);
    cell.fg.hash(&mut h);
    cell.bg.hash(&mut h);
    cell.underline_color.hash(&mut h);
    cell.modifier.hash(&mut h);
    cell.diff_option.hash(&mut h);
    cell.skip.hash(&mut h);
    let width = u64::from(cell.cell_width().min(127));
    let visible = cell.bg != Color::Reset || cell.modifier.intersects(VISIBLE_ON_BLANK);
    (h.0 & HASH_BITS) | (width << 56) | if visible { VISIBLE_BIT } else { 0 }
}

fn width_of(p: Print) -> usize {
    ((p >> 56) & 127) as usize
}

/// Firefox's hash (as in `rustc-hash`): a few cycles a word, and a cell
/// that changes gets a new print but for a chance of 2^-56.
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

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

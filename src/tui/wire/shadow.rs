//! What the terminal shows, as far as [`super::Wire`] needs it to cross a
//! short gap by rewriting it: per cell, an ASCII symbol and the pen it
//! was drawn with, or "unknown".

use std::ops::Range;

use std::io::Write;

use super::Seq;
use super::pen::Pen;

/// Pens a shadow tells apart; cells drawn with any further pen are
/// "unknown" until the next clear.
const MAX_PENS: usize = 254;

/// A cell that holds, or may hold half of, a symbol a terminal may draw
/// two columns wide.
const WIDE: (u8, u8) = (0, 255);

/// Per cell: `(0, 0)` (unknown), [`WIDE`], or an ASCII byte and
/// `pen index + 1`.
#[derive(Default)]
pub(super) struct Shadow {
    width: u16,
    height: u16,
    cells: Vec<(u8, u8)>,
    pens: Vec<Pen>,
}

impl Shadow {
    /// The screen's width, 0 while it is unknown.
    pub(super) fn width(&self) -> u16 {
        self.width
    }

    pub(super) fn height(&self) -> u16 {
        self.height
    }

    /// The screen was cleared (to blanks in the default pen, which is the
    /// pen between frames) and is now `width` x `height`.
    pub(super) fn cleared(&mut self, width: u16, height: u16) {
        self.reset(width, height);
        let blank = (b' ', self.pen_id(Pen::RESET));
        self.cells.fill(blank);
    }

    /// Nothing is known (a partial clear, or the size changed).
    pub(super) fn forget(&mut self, width: u16, height: u16) {
        self.reset(width, height);
    }

    fn reset(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
        self.pens.clear();
        self.cells.clear();
        self.cells
            .resize(usize::from(width) * usize::from(height), (0, 0));
    }

    fn index(&self, x: u16, y: u16) -> Option<usize> {
        (x < self.width && y < self.height)
            .then(|| usize::from(y) * usize::from(self.width) + usize::from(x))
    }

    fn pen_id(&mut self, pen: Pen) -> u8 {
        if let Some(i) = self.pens.iter().position(|p| *p == pen) {
            return i as u8 + 1;
        }
        if self.pens.len() == MAX_PENS {
            return 0;
        }
        self.pens.push(pen);
        self.pens.len() as u8
    }

    /// `symbol` was drawn at (x, y) with `pen`; a symbol that may be wide
    /// also covers the next cell.
    pub(super) fn drew(&mut self, x: u16, y: u16, symbol: &str, pen: Pen) {
        let cell = match symbol.as_bytes() {
            [b] if b.is_ascii_graphic() || *b == b' ' => match self.pen_id(pen) {
                0 => (0, 0),
                id => (*b, id),
            },
            _ if symbol.chars().all(super::surely_narrow) => (0, 0),
            _ => WIDE,
        };
        if let Some(i) = self.index(x, y) {
            self.cells[i] = cell;
        }
        if cell == WIDE
            && let Some(i) = self.index(x.saturating_add(1), y)
        {
            self.cells[i] = WIDE;
        }
    }

    /// The cell may hold half of a wide symbol (an erase that starts or
    /// ends there could leave the other half behind).
    pub(super) fn may_be_wide(&self, x: u16, y: u16) -> bool {
        self.index(x, y).is_some_and(|i| self.cells[i] == WIDE)
    }

    /// The bytes that redraw `xs` of row `y` exactly as they are, drawn
    /// with `pen`: `None` unless every cell there is known and `pen` draws
    /// it the same (for a blank: the same background, and nothing that
    /// shows on a space).
    pub(super) fn redraw(&self, xs: Range<u16>, y: u16, pen: Pen) -> Option<Seq> {
        let mut out = Seq::default();
        for x in xs {
            let (b, id) = self.cells[self.index(x, y)?];
            let drawn = *self.pens.get(usize::from(id).checked_sub(1)?)?;
            // A blank looks the same when the pen it would take from
            // `pen` is `pen` itself.
            let same = if b == b' ' {
                drawn.on_space(pen) == pen
            } else {
                pen == drawn
            };
            if !same {
                return None;
            }
            out.write_all(&[b]).ok()?;
        }
        Some(out)
    }
}

//! The bytes a frame costs on the wire (issue 11: what an SSH user pays).
//!
//! [`Wire`] is a ratatui backend that writes the same screen as
//! `CrosstermBackend`, in fewer bytes:
//!
//! - a frame is collected whole, then written at once; it is wrapped in a
//!   synchronized update only when it is big enough to tear ([`SYNC_FROM`]:
//!   a countdown's two cells or a data frame's few numbers are not);
//! - the cursor moves relatively where that is shorter (forward in a row,
//!   down and across, a backspace; or a short gap rewritten from a shadow
//!   of the screen), while every symbol written since the last absolute
//!   move is one the terminal surely draws one column wide (ASCII, braille,
//!   box drawing, blocks) and never from the right edge (where a pending
//!   wrap makes the column ambiguous); otherwise it moves absolutely, so a
//!   terminal that disagrees on a width can only shift cells up to the next
//!   absolute move, as with the stock backend;
//! - a change of colour or attributes is one SGR sequence: what changed,
//!   or a reset and the new pen whole, whichever is shorter; the 16 ANSI
//!   colours go in their short forms (`31`, `95`), as terminfo's `setaf`
//!   writes them, not as 256-colour indices (`38;5;1`);
//! - a space takes no colour change: its foreground (and bold, dim,
//!   italic) draw nothing, so the gaps in a chart line cost nothing;
//! - the end of a frame resets only what is not reset already;
//! - a run of blanks (what a closed dialog or a moved line leaves) is
//!   erased (`CSI n X`), not written out;
//! - the cursor is hidden once, not at every frame.

use std::cell::Cell as StdCell;
use std::cmp::Ordering;
use std::io::{self, Write};

use crossterm::style::{Color as CColor, SetUnderlineColor};
use crossterm::terminal::{self, Clear, ClearType as CClear};
use crossterm::{cursor, queue};
use ratatui::backend::{Backend, ClearType, IntoCrossterm, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::Color;

/// Frames under this many bytes go out without a synchronized update (its
/// markers cost 16 bytes). A frame is one `write`; under 1 KiB it is one
/// chunk through the tty layer (which splits writes at 2 KiB), one read
/// for sshd and one SSH packet, so the terminal gets it whole: a
/// countdown's second or a data frame's few numbers and dots cannot tear.
/// A bigger frame (a rescale, a dialog, a resize) can be split on its
/// way, and is wrapped.
const SYNC_FROM: usize = 1024;

/// A backend that writes frames to `out` (see the module docs).
pub struct Wire<W: Write> {
    /// The frame being drawn, written to `out` at `flush`.
    frame: Vec<u8>,
    out: W,
    cursor_hidden: bool,
    /// The terminal's size as last asked (the screen asks before each draw);
    /// `None` once a resize makes it stale.
    size: StdCell<Option<Size>>,
    /// What the screen shows, for rewriting short gaps.
    screen: Shadow,
}

impl<W: Write> Wire<W> {
    /// `cursor_hidden`: the caller hid the cursor already.
    pub fn new(out: W, cursor_hidden: bool) -> Self {
        Wire {
            frame: Vec::new(),
            out,
            cursor_hidden,
            size: StdCell::new(None),
            screen: Shadow::default(),
        }
    }

    /// A wire to a terminal of a known size that never changes (a bench,
    /// a test): its size is never asked of a tty.
    pub fn of_size(out: W, width: u16, height: u16) -> Self {
        let wire = Wire::new(out, true);
        wire.size.set(Some(Size { width, height }));
        wire
    }

    /// The terminal was resized: the next draw asks its size again.
    pub fn resized(&self) {
        self.size.set(None);
    }

    #[cfg(test)]
    fn out(&self) -> &W {
        &self.out
    }
}

/// Where the terminal's cursor is after the last symbol written, and
/// whether its column is known (a relative move from there can be
/// trusted).
struct Cursor {
    at: Option<Position>,
    exact: bool,
}

impl Cursor {
    /// Moves to (x, y) in the fewest bytes: an absolute move, or (from a
    /// known column, not at the right edge where a terminal's pending wrap
    /// makes the column ambiguous) down and across, or within a row by
    /// rewriting a short gap's cells with `pen` when `screen` knows them.
    fn move_to(
        &mut self,
        w: &mut Vec<u8>,
        x: u16,
        y: u16,
        screen: &Shadow,
        pen: Pen,
    ) -> io::Result<()> {
        let from = match self.at {
            Some(p) if p.x == x && p.y == y => return Ok(()),
            Some(p)
                if self.exact && ((y == p.y && x > p.x) || (y > p.y && p.x < screen.width())) =>
            {
                Some(p)
            }
            _ => None,
        };
        let mut absolute = Seq::default();
        write!(absolute, "\x1b[{};{}H", y + 1, x + 1)?;
        if let Some(p) = from {
            let relative = relative_move(p, x, y, screen, pen)?;
            if relative.len < absolute.len {
                w.extend_from_slice(relative.bytes());
                return Ok(());
            }
        }
        w.extend_from_slice(absolute.bytes());
        self.exact = true;
        Ok(())
    }

    fn wrote(&mut self, x: u16, y: u16, symbol: &str) {
        self.at = Some(Position { x: x + 1, y });
        self.exact &= symbol.chars().all(surely_narrow);
    }
}

/// From `p` (a known column, not the right edge) to (x, y) at or below it:
/// down, then across or back; within a row, a short gap may be rewritten
/// instead when `screen` knows its cells.
fn relative_move(p: Position, x: u16, y: u16, screen: &Shadow, pen: Pen) -> io::Result<Seq> {
    let mut rel = Seq::default();
    match y - p.y {
        0 => {}
        1 => rel.write_all(b"\x1b[B")?,
        n => write!(rel, "\x1b[{n}B")?,
    }
    match x.cmp(&p.x) {
        Ordering::Equal => {}
        Ordering::Greater => match x - p.x {
            1 => rel.write_all(b"\x1b[C")?,
            n => write!(rel, "\x1b[{n}C")?,
        },
        Ordering::Less => match p.x - x {
            1 => rel.write_all(b"\x08")?,
            n => write!(rel, "\x1b[{n}D")?,
        },
    }
    if y == p.y
        && usize::from(x - p.x) < rel.len
        && let Some(cells) = screen.redraw(p.x..x, y, pen)
    {
        rel = cells;
    }
    Ok(rel)
}

/// A cursor move or a rewritten gap, built without allocating: a move is
/// at most 16 bytes, a gap is rewritten only when shorter than its move.
#[derive(Default)]
struct Seq {
    buf: [u8; 24],
    len: usize,
}

impl Seq {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for Seq {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let end = self.len + b.len();
        let Some(dst) = self.buf.get_mut(self.len..end) else {
            return Err(io::ErrorKind::WriteZero.into());
        };
        dst.copy_from_slice(b);
        self.len = end;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs of this many blanks or more are erased (`CSI n X`, 4 or 5 bytes,
/// plus up to 5 for the move past them) instead of written one byte each.
const ERASE_FROM: u16 = 11;

/// How many cells from the start of `cells` are blanks in a row, side by
/// side, that an erase draws exactly: a space on the default background,
/// with nothing that shows on a space. (An erase fills with the current
/// background, which only the default one makes the same on every
/// terminal.)
fn blank_run(cells: &[(u16, u16, &Cell)]) -> u16 {
    let Some(&(x0, y0, _)) = cells.first() else {
        return 0;
    };
    let mut n = 0;
    for &(x, y, cell) in cells {
        let blank = cell.symbol() == " "
            && cell.bg == Color::Reset
            && cell.underline_color == Color::Reset
            && !cell.modifier.intersects(pen::SHOWS_ON_SPACE);
        if !blank || y != y0 || x != x0 + n {
            break;
        }
        n += 1;
    }
    n
}

/// Characters every terminal draws one column wide.
fn surely_narrow(c: char) -> bool {
    c.is_ascii_graphic()
        || c == ' '
        // box drawing, block elements
        || ('\u{2500}'..='\u{259f}').contains(&c)
        // braille (the charts)
        || ('\u{2800}'..='\u{28ff}').contains(&c)
}

impl<W: Write> Backend for Wire<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let w = &mut self.frame;
        let mut pen = Pen::RESET;
        let mut underline = Color::Reset;
        let mut cursor = Cursor {
            at: None,
            exact: false,
        };
        let size = self.size.get().unwrap_or_default();
        if (self.screen.width(), self.screen.height()) != (size.width, size.height) {
            self.screen.forget(size.width, size.height);
        }
        let cells: Vec<_> = content.collect();
        let mut i = 0;
        while let Some(&(x, y, cell)) = cells.get(i) {
            cursor.move_to(w, x, y, &self.screen, pen)?;
            let mut want = Pen::of(cell);
            if cell.symbol() == " " {
                want = want.on_space(pen);
            }
            let mut run = blank_run(&cells[i..]);
            // An erase must not cut a wide symbol in two: a space written
            // over either half clears it whole, an erase may not.
            if run > 0 && self.screen.may_be_wide(x + run - 1, y) {
                run -= 1;
            }
            if run >= ERASE_FROM && !self.screen.may_be_wide(x, y) {
                // Erase rather than write the blanks: the cursor stays at the
                // run's start, and the next move goes on from there.
                pen.change_to(w, want, underline == Color::Reset)?;
                write!(w, "\x1b[{run}X")?;
                for dx in 0..run {
                    self.screen.drew(x + dx, y, " ", pen);
                }
                cursor.at = Some(Position { x, y });
                i += usize::from(run);
                continue;
            }
            i += 1;
            pen.change_to(w, want, underline == Color::Reset)?;
            if cell.underline_color != underline {
                queue!(w, SetUnderlineColor(cell.underline_color.into_crossterm()))?;
                underline = cell.underline_color;
            }
            w.extend_from_slice(cell.symbol().as_bytes());
            cursor.wrote(x, y, cell.symbol());
            self.screen.drew(x, y, cell.symbol(), pen);
        }
        // Leave the terminal as the next frame assumes it: all reset.
        pen.change_to(w, Pen::RESET, underline == Color::Reset)?;
        if underline != Color::Reset {
            queue!(w, SetUnderlineColor(CColor::Reset))?;
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if !self.cursor_hidden {
            queue!(self.frame, cursor::Hide)?;
            self.cursor_hidden = true;
        }
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        if self.cursor_hidden {
            queue!(self.frame, cursor::Show)?;
            self.cursor_hidden = false;
        }
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        let (x, y) = cursor::position()?;
        Ok(Position { x, y })
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let Position { x, y } = position.into();
        queue!(self.frame, cursor::MoveTo(x, y))
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        let what = match clear_type {
            ClearType::All => CClear::All,
            ClearType::AfterCursor => CClear::FromCursorDown,
            ClearType::BeforeCursor => CClear::FromCursorUp,
            ClearType::CurrentLine => CClear::CurrentLine,
            ClearType::UntilNewLine => CClear::UntilNewLine,
        };
        let Size { width, height } = self.size.get().unwrap_or_default();
        if clear_type == ClearType::All {
            self.screen.cleared(width, height);
        } else {
            self.screen.forget(width, height);
        }
        queue!(self.frame, Clear(what))
    }

    /// Asked before every draw; the terminal is asked only after
    /// [`Wire::resized`] (crossterm opens `/dev/tty` each time).
    fn size(&self) -> io::Result<Size> {
        if let Some(size) = self.size.get() {
            return Ok(size);
        }
        let (width, height) = terminal::size()?;
        let size = Size { width, height };
        self.size.set(Some(size));
        Ok(size)
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        let terminal::WindowSize {
            columns,
            rows,
            width,
            height,
        } = terminal::window_size()?;
        Ok(WindowSize {
            columns_rows: Size {
                width: columns,
                height: rows,
            },
            pixels: Size { width, height },
        })
    }

    /// Writes the frame, in a synchronized update when it is big.
    fn flush(&mut self) -> io::Result<()> {
        let big = self.frame.len() >= SYNC_FROM;
        if big {
            self.out.write_all(b"\x1b[?2026h")?;
        }
        self.out.write_all(&self.frame)?;
        if big {
            self.out.write_all(b"\x1b[?2026l")?;
        }
        self.frame.clear();
        self.out.flush()
    }
}

mod pen;
mod screen;
mod shadow;
#[cfg(test)]
mod tests;

use pen::Pen;
pub use screen::Screen;
use shadow::Shadow;

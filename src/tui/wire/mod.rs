//! The bytes a frame costs on the wire (issue 11: what an SSH user pays).
//!
//! [`Wire`] is a ratatui backend that writes the same screen as
//! `CrosstermBackend`, in fewer bytes:
//!
//! - a frame is collected whole, then written at once; it is wrapped in a
//!   synchronized update only when it is big enough to tear (a countdown's
//!   two cells are not);
//! - within a row the cursor moves forward (`CSI n C`) instead of to an
//!   absolute position, while every symbol written since the last absolute
//!   move is one the terminal surely draws one column wide (ASCII, braille,
//!   box drawing, blocks); after any other symbol it moves absolutely, so a
//!   terminal that disagrees on a width can only shift cells up to the next
//!   absolute move, as with the stock backend;
//! - a colour change sends only the colour that changed; the end of a frame
//!   resets only what is not reset already;
//! - the cursor is hidden once, not at every frame.

use std::io::{self, Write};

use crossterm::style::{
    Attribute, Color as CColor, Colors, SetAttribute, SetBackgroundColor, SetColors,
    SetForegroundColor, SetUnderlineColor,
};
use crossterm::terminal::{self, Clear, ClearType as CClear};
use crossterm::{cursor, queue};
use ratatui::backend::{Backend, ClearType, IntoCrossterm, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};

/// Frames up to this many bytes go out without a synchronized update: a
/// few cells cannot tear, and the markers cost 16 bytes.
const SYNC_FROM: usize = 256;

/// A backend that writes frames to `out` (see the module docs).
pub struct Wire<W: Write> {
    /// The frame being drawn, written to `out` at `flush`.
    frame: Vec<u8>,
    out: W,
    cursor_hidden: bool,
}

impl<W: Write> Wire<W> {
    /// `cursor_hidden`: the caller hid the cursor already.
    pub fn new(out: W, cursor_hidden: bool) -> Self {
        Wire {
            frame: Vec::new(),
            out,
            cursor_hidden,
        }
    }

    #[cfg(test)]
    fn out(&self) -> &W {
        &self.out
    }
}

/// Where the terminal's cursor is after the last symbol written, and
/// whether a forward move from there can be trusted.
struct Cursor {
    at: Option<Position>,
    exact: bool,
}

impl Cursor {
    fn move_to(&mut self, w: &mut Vec<u8>, x: u16, y: u16) -> io::Result<()> {
        match self.at {
            Some(p) if p.x == x && p.y == y => {}
            Some(p) if self.exact && p.y == y && x > p.x => match x - p.x {
                1 => w.extend_from_slice(b"\x1b[C"),
                n => write!(w, "\x1b[{n}C")?,
            },
            _ => {
                write!(w, "\x1b[{};{}H", y + 1, x + 1)?;
                self.exact = true;
            }
        }
        Ok(())
    }

    fn wrote(&mut self, x: u16, y: u16, symbol: &str) {
        self.at = Some(Position { x: x + 1, y });
        self.exact &= symbol.chars().all(surely_narrow);
    }
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
        let (mut fg, mut bg, mut modifier) = (Color::Reset, Color::Reset, Modifier::empty());
        let mut underline = Color::Reset;
        let mut cursor = Cursor {
            at: None,
            exact: false,
        };
        for (x, y, cell) in content {
            cursor.move_to(w, x, y)?;
            if cell.modifier != modifier {
                modifier_diff(w, modifier, cell.modifier)?;
                modifier = cell.modifier;
            }
            match (cell.fg != fg, cell.bg != bg) {
                (true, true) => queue!(
                    w,
                    SetColors(Colors::new(
                        cell.fg.into_crossterm(),
                        cell.bg.into_crossterm()
                    ))
                )?,
                (true, false) => queue!(w, SetForegroundColor(cell.fg.into_crossterm()))?,
                (false, true) => queue!(w, SetBackgroundColor(cell.bg.into_crossterm()))?,
                (false, false) => {}
            }
            (fg, bg) = (cell.fg, cell.bg);
            if cell.underline_color != underline {
                queue!(w, SetUnderlineColor(cell.underline_color.into_crossterm()))?;
                underline = cell.underline_color;
            }
            w.extend_from_slice(cell.symbol().as_bytes());
            cursor.wrote(x, y, cell.symbol());
        }
        // Leave the terminal as the next frame assumes it: all reset.
        if !modifier.is_empty() {
            queue!(w, SetAttribute(Attribute::Reset))?;
        } else {
            if fg != Color::Reset {
                queue!(w, SetForegroundColor(CColor::Reset))?;
            }
            if bg != Color::Reset {
                queue!(w, SetBackgroundColor(CColor::Reset))?;
            }
        }
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
        queue!(self.frame, Clear(what))
    }

    fn size(&self) -> io::Result<Size> {
        let (width, height) = terminal::size()?;
        Ok(Size { width, height })
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

/// The SGR attributes that turn `from` into `to` (as `CrosstermBackend`
/// writes them: bold and dim share one "normal intensity" reset).
fn modifier_diff(w: &mut Vec<u8>, from: Modifier, to: Modifier) -> io::Result<()> {
    let removed = from - to;
    let added = to - from;
    let mut set = |a: Attribute| queue!(w, SetAttribute(a));
    if removed.contains(Modifier::REVERSED) {
        set(Attribute::NoReverse)?;
    }
    let reset_intensity = removed.intersects(Modifier::BOLD | Modifier::DIM);
    if reset_intensity {
        set(Attribute::NormalIntensity)?;
        if to.contains(Modifier::DIM) {
            set(Attribute::Dim)?;
        }
        if to.contains(Modifier::BOLD) {
            set(Attribute::Bold)?;
        }
    }
    for (m, off) in [
        (Modifier::ITALIC, Attribute::NoItalic),
        (Modifier::UNDERLINED, Attribute::NoUnderline),
        (Modifier::CROSSED_OUT, Attribute::NotCrossedOut),
        (Modifier::HIDDEN, Attribute::NoHidden),
    ] {
        if removed.contains(m) {
            set(off)?;
        }
    }
    if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
        set(Attribute::NoBlink)?;
    }
    for (m, on) in [
        (Modifier::REVERSED, Attribute::Reverse),
        (Modifier::BOLD, Attribute::Bold),
        (Modifier::ITALIC, Attribute::Italic),
        (Modifier::UNDERLINED, Attribute::Underlined),
        (Modifier::DIM, Attribute::Dim),
        (Modifier::CROSSED_OUT, Attribute::CrossedOut),
        (Modifier::HIDDEN, Attribute::Hidden),
        (Modifier::SLOW_BLINK, Attribute::SlowBlink),
        (Modifier::RAPID_BLINK, Attribute::RapidBlink),
    ] {
        let intensity = matches!(m, Modifier::BOLD | Modifier::DIM);
        if added.contains(m) && !(intensity && reset_intensity) {
            set(on)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    const SYMBOLS: &[&str] = &[
        "a", "Z", "7", " ", "%", "⠁", "⣿", "─", "│", "█", "✔", "·", "▶",
    ];
    const COLORS: &[Color] = &[
        Color::Reset,
        Color::Red,
        Color::Green,
        Color::DarkGray,
        Color::LightMagenta,
        Color::Indexed(200),
        Color::Rgb(10, 20, 30),
    ];
    const MODIFIERS: &[Modifier] = &[
        Modifier::BOLD,
        Modifier::DIM,
        Modifier::ITALIC,
        Modifier::UNDERLINED,
        Modifier::REVERSED,
    ];

    fn vt_color(c: Color) -> vt100::Color {
        match c {
            Color::Reset => vt100::Color::Default,
            Color::Red => vt100::Color::Idx(1),
            Color::Green => vt100::Color::Idx(2),
            Color::DarkGray => vt100::Color::Idx(8),
            Color::LightMagenta => vt100::Color::Idx(13),
            Color::Indexed(i) => vt100::Color::Idx(i),
            Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
            other => panic!("no test mapping for {other:?}"),
        }
    }

    /// Changes a few runs of cells, like a data frame: a number here, a
    /// chart column there, sometimes a whole row.
    fn mutate(buf: &mut Buffer, rng: &mut StdRng) {
        let area = buf.area;
        for _ in 0..rng.random_range(1..12) {
            let y = rng.random_range(0..area.height);
            let x0 = rng.random_range(0..area.width);
            let len = rng.random_range(1..=(area.width - x0).min(8));
            let fg = COLORS[rng.random_range(0..COLORS.len())];
            let bg = COLORS[rng.random_range(0..COLORS.len())];
            let mut m = Modifier::empty();
            for &candidate in MODIFIERS {
                if rng.random_bool(0.25) {
                    m |= candidate;
                }
            }
            // vt100 keeps one intensity: bold and dim together read as dim.
            if m.contains(Modifier::BOLD | Modifier::DIM) {
                m.remove(Modifier::DIM);
            }
            for x in x0..x0 + len {
                let cell = &mut buf[(x, y)];
                cell.set_symbol(SYMBOLS[rng.random_range(0..SYMBOLS.len())]);
                cell.fg = fg;
                cell.bg = bg;
                cell.modifier = m;
            }
        }
    }

    fn assert_same_screen(parser: &vt100::Parser, buf: &Buffer, frame: usize) {
        let screen = parser.screen();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let want = &buf[(x, y)];
                let got = screen.cell(y, x).unwrap();
                let at = format!("frame {frame}, cell ({x}, {y})");
                // vt100 reads a cell never written as "".
                let contents = Some(got.contents())
                    .filter(|c| !c.is_empty())
                    .unwrap_or(" ");
                assert_eq!(contents, want.symbol(), "{at}");
                assert_eq!(got.fgcolor(), vt_color(want.fg), "{at} fg");
                assert_eq!(got.bgcolor(), vt_color(want.bg), "{at} bg");
                assert_eq!(got.bold(), want.modifier.contains(Modifier::BOLD), "{at}");
                assert_eq!(got.dim(), want.modifier.contains(Modifier::DIM), "{at}");
                assert_eq!(
                    got.italic(),
                    want.modifier.contains(Modifier::ITALIC),
                    "{at}"
                );
                let underlined = want.modifier.contains(Modifier::UNDERLINED);
                assert_eq!(got.underline(), underlined, "{at}");
                assert_eq!(
                    got.inverse(),
                    want.modifier.contains(Modifier::REVERSED),
                    "{at}"
                );
            }
        }
    }

    /// Whatever sequence of frames it is given, a terminal that reads
    /// the bytes shows exactly the buffer: symbols, colours, attributes.
    #[test]
    fn a_terminal_shows_exactly_the_buffer_after_every_frame() {
        let area = Rect::new(0, 0, 60, 12);
        let mut parser = vt100::Parser::new(area.height, area.width, 0);
        let mut wire = Wire::new(Vec::new(), true);
        let mut prev = Buffer::empty(area);
        let mut rng = StdRng::seed_from_u64(11);
        for frame in 0..300 {
            let mut next = prev.clone();
            mutate(&mut next, &mut rng);
            wire.draw(prev.diff(&next).into_iter()).unwrap();
            wire.flush().unwrap();
            parser.process(wire.out());
            wire.out.clear();
            assert_same_screen(&parser, &next, frame);
            prev = next;
        }
    }

    /// A countdown's second (two cells) goes out bare; a big frame is
    /// wrapped so the terminal shows it at once; the cursor is hidden once.
    #[test]
    fn small_frames_skip_the_synchronized_update_and_the_cursor_is_hidden_once() {
        let area = Rect::new(0, 0, 80, 24);
        let mut wire = Wire::new(Vec::new(), false);
        let prev = Buffer::empty(area);
        let mut next = prev.clone();
        next[(10, 2)].set_symbol("4");
        next[(11, 2)].set_symbol("2");
        wire.draw(prev.diff(&next).into_iter()).unwrap();
        wire.hide_cursor().unwrap();
        wire.flush().unwrap();
        assert_eq!(wire.out(), b"\x1b[3;11H42\x1b[?25l");
        wire.out.clear();

        let mut big = next.clone();
        for x in 0..80 {
            big[(x, 5)].set_symbol("⣿").fg = Color::Green;
        }
        wire.draw(next.diff(&big).into_iter()).unwrap();
        wire.hide_cursor().unwrap();
        wire.flush().unwrap();
        let out = String::from_utf8(wire.out().clone()).unwrap();
        assert!(out.starts_with("\x1b[?2026h\x1b[6;1H"), "{out:?}");
        assert!(out.ends_with("\x1b[39m\x1b[?2026l"), "{out:?}");
        assert!(!out.contains("?25l"), "hidden already: {out:?}");
    }

    /// Within a row, gaps are crossed with a forward move, but not after a
    /// symbol whose width a terminal might see differently.
    #[test]
    fn gaps_in_a_row_are_forward_moves_until_an_uncertain_symbol() {
        let area = Rect::new(0, 0, 40, 3);
        let mut wire = Wire::new(Vec::new(), true);
        let prev = Buffer::empty(area);
        let mut next = prev.clone();
        next[(2, 1)].set_symbol("⠁");
        next[(6, 1)].set_symbol("a");
        next[(9, 1)].set_symbol("✔");
        next[(12, 1)].set_symbol("b");
        wire.draw(prev.diff(&next).into_iter()).unwrap();
        wire.flush().unwrap();
        let out = String::from_utf8(wire.out().clone()).unwrap();
        assert_eq!(out, "\x1b[2;3H⠁\x1b[3Ca\x1b[2C✔\x1b[2;13Hb");
    }
}

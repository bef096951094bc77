//! The pen: colours and attributes, and the SGR sequence that changes
//! them in the fewest bytes.

use std::io::{self, Write};

use ratatui::buffer::Cell;
use ratatui::style::{Color, Modifier};

/// What the terminal draws the next symbol with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Pen {
    fg: Color,
    bg: Color,
    modifier: Modifier,
}

/// The attributes that show on a space (ratatui's own list of what is
/// visible on a blank); without them, a space's foreground colour and
/// other attributes (bold, dim, italic, hidden) draw nothing.
pub(super) const SHOWS_ON_SPACE: Modifier = Modifier::REVERSED
    .union(Modifier::UNDERLINED)
    .union(Modifier::CROSSED_OUT)
    .union(Modifier::SLOW_BLINK)
    .union(Modifier::RAPID_BLINK);

impl Pen {
    pub(super) const RESET: Pen = Pen {
        fg: Color::Reset,
        bg: Color::Reset,
        modifier: Modifier::empty(),
    };

    pub(super) fn of(cell: &Cell) -> Pen {
        Pen {
            fg: cell.fg,
            bg: cell.bg,
            modifier: cell.modifier,
        }
    }

    /// The pen a space drawn with `self` needs, given the terminal's pen
    /// `now`: a blank shows only its background, so the rest may stay as
    /// it is (a chart's gaps cost no colour change either side). A space
    /// that shows more (reversed, underlined, struck through, blinking) is
    /// drawn exactly.
    pub(super) fn on_space(self, now: Pen) -> Pen {
        if self.modifier.intersects(SHOWS_ON_SPACE) {
            return self;
        }
        Pen {
            fg: now.fg,
            bg: self.bg,
            modifier: now.modifier - SHOWS_ON_SPACE,
        }
    }

    /// Writes one SGR sequence that turns `self` into `to`: the changes
    /// only, or a reset and `to` whole, whichever is shorter. A reset
    /// also clears the underline colour, so it is chosen only when that
    /// is reset already (`may_reset`).
    pub(super) fn change_to(
        &mut self,
        w: &mut Vec<u8>,
        to: Pen,
        may_reset: bool,
    ) -> io::Result<()> {
        if *self == to {
            return Ok(());
        }
        let bold = to.modifier.contains(Modifier::BOLD);
        let mut diff = Sgr::default();
        diff.modifiers(self.modifier, to.modifier);
        // Bold turning on over a base colour sent in its short form would
        // brighten it (see `Sgr::color`): send it again in the long form.
        let brightens =
            bold && !self.modifier.contains(Modifier::BOLD) && matches!(ansi(to.fg), Some(0..=7));
        if self.fg != to.fg || brightens {
            diff.color(to.fg, Layer::Fg { bold });
        }
        if self.bg != to.bg {
            diff.color(to.bg, Layer::Bg);
        }
        let mut fresh = Sgr::default();
        fresh.push(0);
        fresh.modifiers(Modifier::empty(), to.modifier);
        if to.fg != Color::Reset {
            fresh.color(to.fg, Layer::Fg { bold });
        }
        if to.bg != Color::Reset {
            fresh.color(to.bg, Layer::Bg);
        }
        let best = if may_reset && fresh.0.len() < diff.0.len() {
            fresh
        } else {
            diff
        };
        write!(w, "\x1b[{}m", best.0)?;
        *self = to;
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Layer {
    /// A foreground, for text that is bold or not.
    Fg {
        bold: bool,
    },
    Bg,
}

/// A colour's index among the 16 ANSI colours, if it is one.
fn ansi(c: Color) -> Option<u8> {
    Some(match c {
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Indexed(i) if i < 16 => i,
        _ => return None,
    })
}

/// The parameters of one SGR sequence (`CSI p;p;… m`).
#[derive(Default)]
struct Sgr(String);

impl Sgr {
    fn push(&mut self, p: impl std::fmt::Display) {
        use std::fmt::Write as _;
        if !self.0.is_empty() {
            self.0.push(';');
        }
        let _ = write!(self.0, "{p}");
    }

    /// The 16 ANSI colours in their short forms (`95`, `44`), the way
    /// terminfo's `setaf` writes them; others as 256-colour or RGB. A bold
    /// foreground among the eight base colours stays in the long form
    /// (`38;5;1`): xterm's default "bold colors" and Windows Terminal's
    /// "bold as bright" draw bold `31` as bright red, which would make the
    /// theme's red and light red (failed, rolling back) one colour.
    fn color(&mut self, c: Color, layer: Layer) {
        let (base, bright, ext) = match layer {
            Layer::Fg { .. } => (30, 90, 38),
            Layer::Bg => (40, 100, 48),
        };
        if c == Color::Reset {
            return self.push(ext + 1);
        }
        if let Color::Rgb(r, g, b) = c {
            return self.push(format_args!("{ext};2;{r};{g};{b}"));
        }
        let n = match c {
            Color::Indexed(i) => i,
            other => ansi(other).unwrap_or(0),
        };
        match (n, layer) {
            (0..=7, Layer::Fg { bold: true }) => self.push(format_args!("{ext};5;{n}")),
            (0..=7, _) => self.push(base + n),
            (8..=15, _) => self.push(bright + n - 8),
            _ => self.push(format_args!("{ext};5;{n}")),
        }
    }

    /// The attributes that turn `from` into `to`. Bold and dim share one
    /// reset ("normal intensity"), so removing either re-adds the other.
    fn modifiers(&mut self, from: Modifier, to: Modifier) {
        let removed = from - to;
        let added = to - from;
        if removed.contains(Modifier::REVERSED) {
            self.push(27);
        }
        let reset_intensity = removed.intersects(Modifier::BOLD | Modifier::DIM);
        if reset_intensity {
            self.push(22);
            if to.contains(Modifier::DIM) {
                self.push(2);
            }
            if to.contains(Modifier::BOLD) {
                self.push(1);
            }
        }
        for (m, off) in [
            (Modifier::ITALIC, 23),
            (Modifier::UNDERLINED, 24),
            (Modifier::CROSSED_OUT, 29),
            (Modifier::HIDDEN, 28),
        ] {
            if removed.contains(m) {
                self.push(off);
            }
        }
        if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
            self.push(25);
        }
        for (m, on) in [
            (Modifier::REVERSED, 7),
            (Modifier::BOLD, 1),
            (Modifier::ITALIC, 3),
            (Modifier::UNDERLINED, 4),
            (Modifier::DIM, 2),
            (Modifier::CROSSED_OUT, 9),
            (Modifier::HIDDEN, 8),
            (Modifier::SLOW_BLINK, 5),
            (Modifier::RAPID_BLINK, 6),
        ] {
            let intensity = matches!(m, Modifier::BOLD | Modifier::DIM);
            if added.contains(m) && !(intensity && reset_intensity) {
                self.push(on);
            }
        }
    }
}

//! `Wire` against a terminal emulator (vt100) and byte for byte.

#![allow(clippy::unwrap_used)]
use super::pen::SHOWS_ON_SPACE;
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

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

/// A `Wire` that knows the screen's size and that it is blank, as after
/// ratatui's first resize: relative moves and gap rewrites are on.
fn sized(area: Rect) -> Wire<Vec<u8>> {
    let mut wire = Wire::of_size(Vec::new(), area.width, area.height);
    wire.clear().unwrap();
    wire
}

/// Changes a few runs of cells, like a data frame: a number here, a
/// chart column there, sometimes a whole row.
fn mutate(buf: &mut Buffer, rng: &mut StdRng) {
    let area = buf.area;
    for _ in 0..rng.random_range(1..12) {
        let (y, x0, len) = random_run(area, rng, 8);
        let pen = random_pen(rng, COLORS);
        for x in x0..x0 + len {
            paint(buf, x, y, SYMBOLS[rng.random_range(0..SYMBOLS.len())], pen);
        }
    }
}

/// A random run of up to `max` cells in one row: (y, first x, length).
fn random_run(area: Rect, rng: &mut StdRng, max: u16) -> (u16, u16, u16) {
    let y = rng.random_range(0..area.height);
    let x0 = rng.random_range(0..area.width);
    let len = rng.random_range(1..=(area.width - x0).min(max));
    (y, x0, len)
}

/// Changes cells the way a data frame does: a few pens, short runs a
/// cell or two apart, on rows one under the other at nearby columns (a
/// chart line's newest columns, a panel's numbers), often up to the right
/// edge.
fn mutate_like_data(buf: &mut Buffer, rng: &mut StdRng) {
    let area = buf.area;
    let few = &COLORS[..3];
    let pens = [random_pen(rng, few), random_pen(rng, few)];
    let y0 = rng.random_range(0..area.height);
    let mut x = rng.random_range(0..area.width);
    for y in y0..area.height.min(y0 + rng.random_range(1..6)) {
        x = (x + rng.random_range(0..5))
            .saturating_sub(2)
            .min(area.width - 1);
        if rng.random_bool(0.2) {
            x = area.width - rng.random_range(1..4).min(area.width);
        }
        let mut at = x;
        for _ in 0..rng.random_range(1..4) {
            for _ in 0..rng.random_range(1..4) {
                if at < area.width {
                    let symbol = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
                    paint(buf, at, y, symbol, pens[rng.random_range(0..2)]);
                }
                at += 1;
            }
            at += rng.random_range(1..4);
        }
    }
}

/// Blanks a long run of a row or two, as a closed dialog or a moved
/// chart line does; sometimes with a stray symbol in the run.
fn blank_out(buf: &mut Buffer, rng: &mut StdRng) {
    let area = buf.area;
    let y0 = rng.random_range(0..area.height);
    for y in y0..area.height.min(y0 + 2) {
        let x0 = rng.random_range(0..area.width - 1);
        let len = rng.random_range(1..=(area.width - x0).min(40));
        for x in x0..x0 + len {
            let (symbol, pen) = if rng.random_bool(0.05) {
                ("a", random_pen(rng, COLORS))
            } else {
                (" ", (Color::Reset, Color::Reset, Modifier::empty()))
            };
            paint(buf, x, y, symbol, pen);
        }
    }
}

fn random_pen(rng: &mut StdRng, colors: &[Color]) -> (Color, Color, Modifier) {
    let fg = colors[rng.random_range(0..colors.len())];
    let bg = colors[rng.random_range(0..colors.len())];
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
    (fg, bg, m)
}

fn paint(buf: &mut Buffer, x: u16, y: u16, symbol: &str, (fg, bg, m): (Color, Color, Modifier)) {
    let cell = &mut buf[(x, y)];
    cell.set_symbol(symbol);
    cell.fg = fg;
    cell.bg = bg;
    cell.modifier = m;
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
            assert_eq!(got.bgcolor(), vt_color(want.bg), "{at} bg");
            // On a blank cell only the background, reverse, underline
            // and strike-through show; the rest may be anything.
            let blank = want.symbol() == " " && !want.modifier.intersects(SHOWS_ON_SPACE);
            if !blank {
                assert_eq!(got.fgcolor(), vt_color(want.fg), "{at} fg");
                assert_eq!(got.bold(), want.modifier.contains(Modifier::BOLD), "{at}");
                assert_eq!(got.dim(), want.modifier.contains(Modifier::DIM), "{at}");
                assert_eq!(
                    got.italic(),
                    want.modifier.contains(Modifier::ITALIC),
                    "{at}"
                );
            }
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
    for (area, seed) in [
        (Rect::new(0, 0, 60, 12), 11),
        (Rect::new(0, 0, 120, 30), 12),
    ] {
        let mut parser = vt100::Parser::new(area.height, area.width, 0);
        let mut wire = sized(area);
        let mut prev = Buffer::empty(area);
        let mut rng = StdRng::seed_from_u64(seed);
        for frame in 0..600 {
            let mut next = prev.clone();
            if frame % 2 == 0 {
                mutate(&mut next, &mut rng);
            } else {
                mutate_like_data(&mut next, &mut rng);
            }
            if frame % 5 == 0 {
                blank_out(&mut next, &mut rng);
            }
            wire.draw(prev.diff(&next).into_iter()).unwrap();
            wire.flush().unwrap();
            parser.process(wire.out());
            wire.out.clear();
            assert_same_screen(&parser, &next, frame);
            prev = next;
        }
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
    // Five rows of dots: 1.2 KB, a rescaled chart.
    for (x, y) in (0..80).flat_map(|x| (5..10).map(move |y| (x, y))) {
        big[(x, y)].set_symbol("⣿").fg = Color::Green;
    }
    wire.draw(next.diff(&big).into_iter()).unwrap();
    wire.hide_cursor().unwrap();
    wire.flush().unwrap();
    let out = String::from_utf8(wire.out().clone()).unwrap();
    assert!(out.starts_with("\x1b[?2026h\x1b[6;1H"), "{out:?}");
    assert!(out.ends_with("\x1b[0m\x1b[?2026l"), "{out:?}");
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

/// One SGR sequence per change, short colour forms, and no colour
/// change around the blanks of a chart line.
#[test]
fn pens_change_in_one_short_sequence_and_blanks_keep_the_pen() {
    let area = Rect::new(0, 0, 20, 2);
    let mut wire = Wire::new(Vec::new(), true);
    let prev = Buffer::empty(area);
    let mut next = prev.clone();
    next[(0, 0)].set_symbol("x").fg = Color::LightMagenta;
    next[(0, 0)].modifier = Modifier::BOLD;
    next[(1, 0)].set_symbol("⠁").fg = Color::LightMagenta;
    // A blank drawn in the default pen between two magenta dots.
    next[(2, 0)].set_symbol("Q");
    next[(2, 0)].set_symbol(" ");
    next[(2, 0)].fg = Color::Red;
    next[(3, 0)].set_symbol("⠂").fg = Color::LightMagenta;
    next[(4, 0)].set_symbol("y").bg = Color::Indexed(200);
    wire.draw(prev.diff(&next).into_iter()).unwrap();
    wire.flush().unwrap();
    let out = String::from_utf8(wire.out().clone()).unwrap();
    assert_eq!(
        out,
        "\x1b[1;1H\x1b[1;95mx\x1b[22m⠁ ⠂\x1b[0;48;5;200my\x1b[0m"
    );
}

/// Down a row and back a column is `CSI B` and a backspace; a one-cell
/// blank gap is rewritten as a space. After the last column no relative
/// move is made: a terminal keeps the cursor there with a pending wrap, so
/// "down and back" would land one column off (vt100 cannot show this, so it
/// is checked byte for byte).
#[test]
fn moves_are_relative_where_shorter_but_never_from_the_right_edge() {
    let area = Rect::new(0, 0, 120, 30);
    let mut wire = sized(area);
    wire.flush().unwrap();
    wire.out.clear();
    let prev = Buffer::empty(area);
    let mut next = prev.clone();
    next[(100, 20)].set_symbol("a");
    next[(102, 20)].set_symbol("b");
    next[(102, 21)].set_symbol("c");
    next[(119, 22)].set_symbol("d");
    next[(118, 23)].set_symbol("e");
    wire.draw(prev.diff(&next).into_iter()).unwrap();
    wire.flush().unwrap();
    let out = String::from_utf8(wire.out().clone()).unwrap();
    assert_eq!(
        out,
        "\x1b[21;101Ha b\x1b[B\x08c\x1b[B\x1b[16Cd\x1b[24;119He"
    );
}

/// The eight base colours go short (`31`) unless bold, where terminals
/// with "bold is bright" would brighten them: then `38;5;n`, also when
/// bold is added over a base colour already sent short.
#[test]
fn bold_base_colours_keep_the_long_form() {
    let area = Rect::new(0, 0, 20, 1);
    let mut wire = Wire::new(Vec::new(), true);
    let prev = Buffer::empty(area);
    let mut next = prev.clone();
    next[(0, 0)].set_symbol("a").fg = Color::Red;
    next[(1, 0)].set_symbol("b").fg = Color::Red;
    next[(1, 0)].modifier = Modifier::BOLD;
    next[(2, 0)].set_symbol("c").fg = Color::LightRed;
    next[(2, 0)].modifier = Modifier::BOLD;
    wire.draw(prev.diff(&next).into_iter()).unwrap();
    wire.flush().unwrap();
    let out = String::from_utf8(wire.out().clone()).unwrap();
    assert_eq!(out, "\x1b[1;1H\x1b[31ma\x1b[1;38;5;1mb\x1b[91mc\x1b[0m");
}

/// A run of blanks is erased, but not up to the left half of a wide
/// symbol: that cell gets a space, which clears the symbol whole.
#[test]
fn an_erase_stops_short_of_a_wide_symbol() {
    let area = Rect::new(0, 0, 20, 1);
    let mut parser = vt100::Parser::new(area.height, area.width, 0);
    let mut wire = sized(area);
    let blank = Buffer::empty(area);
    let mut row = blank.clone();
    row.set_string(0, 0, "abcdefghijk中", ratatui::style::Style::default());
    for (from, to) in [(&blank, &row), (&row, &blank)] {
        wire.out.clear();
        wire.draw(from.diff(to).into_iter()).unwrap();
        wire.flush().unwrap();
        parser.process(wire.out());
        assert_same_screen(&parser, to, 0);
    }
    let out = String::from_utf8(wire.out().clone()).unwrap();
    assert_eq!(out, "\x1b[1;1H\x1b[11X\x1b[11C ");
}

/// Wide symbols and styles for the diff tests: CJK, an emoji, an emoji
/// with VS16 (whose trailing cell ratatui re-sends), and backgrounds a
/// blank shows.
const WIDE_SYMBOLS: &[&str] = &["字", "😀", "❤\u{fe0f}", "a", " ", "⣿", "─"];

fn mutate_wide(buf: &mut Buffer, rng: &mut StdRng, symbols: &[&str]) {
    let area = buf.area;
    for _ in 0..rng.random_range(1..10) {
        let (y, x0, len) = random_run(area, rng, 6);
        let pen = random_pen(rng, COLORS);
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(symbols[rng.random_range(0..symbols.len())]);
        }
        // As the views write: a wide symbol blanks the cell it covers.
        buf.set_stringn(
            x0,
            y,
            &s,
            usize::from(len),
            ratatui::style::Style::default(),
        );
        for x in x0..x0 + len {
            let cell = &mut buf[(x, y)];
            (cell.fg, cell.bg, cell.modifier) = pen;
        }
    }
}

/// The screen keeps 8 bytes a cell, not the frame before: it must send
/// the cells ratatui's own diff of the two frames sends, wide symbols
/// included. Only behind an emoji with VS16, where ratatui compares
/// symbols alone, does it also send a trailing cell whose style changed.
#[test]
fn the_screen_sends_the_cells_ratatui_s_diff_sends() {
    for (symbols, vs16) in [(&WIDE_SYMBOLS[..2], false), (WIDE_SYMBOLS, true)] {
        for seed in 0..4 {
            let area = Rect::new(0, 0, 40, 8);
            let mut rng = StdRng::seed_from_u64(100 + seed);
            let mut prev = Buffer::empty(area);
            let mut symbols_all = symbols.to_vec();
            symbols_all.extend(["b", " ", "│"]);
            for frame in 0..400 {
                let mut next = prev.clone();
                if frame % 3 == 0 {
                    // A frame drawn from scratch, as every frame is.
                    next.reset();
                }
                mutate_wide(&mut next, &mut rng, &symbols_all);
                let ours = super::screen::diff_against(&prev, &next);
                let theirs: Vec<(u16, u16)> = prev
                    .diff(&next)
                    .into_iter()
                    .map(|(x, y, _)| (x, y))
                    .collect();
                if vs16 {
                    for p in &theirs {
                        assert!(ours.contains(p), "frame {frame}: {p:?} not sent");
                    }
                    for (x, y) in ours.iter().filter(|p| !theirs.contains(p)) {
                        let before = &next[(x.saturating_sub(1), *y)];
                        assert!(
                            before.symbol().contains('\u{fe0f}'),
                            "frame {frame}: ({x}, {y}) sent, not behind a VS16 emoji"
                        );
                    }
                } else {
                    assert_eq!(ours, theirs, "seed {seed}, frame {frame}");
                }
                prev = next;
            }
        }
    }
}

/// Frames drawn from scratch through the one-buffer screen, resized
/// now and then: the terminal shows exactly each frame.
#[test]
fn a_terminal_shows_exactly_what_the_screen_draws() {
    let mut area = Rect::new(0, 0, 60, 12);
    let mut parser = vt100::Parser::new(area.height, area.width, 0);
    let mut screen = Screen::new(sized(area)).unwrap();
    let mut want = Buffer::empty(area);
    let mut rng = StdRng::seed_from_u64(21);
    for frame in 0..600 {
        if frame % 150 == 149 {
            area = if area.width == 60 {
                Rect::new(0, 0, 80, 20)
            } else {
                Rect::new(0, 0, 60, 12)
            };
            screen.backend().size.set(Some(area.as_size()));
            parser.screen_mut().set_size(area.height, area.width);
            want = Buffer::empty(area);
        }
        match frame % 3 {
            0 => mutate(&mut want, &mut rng),
            1 => mutate_like_data(&mut want, &mut rng),
            _ => blank_out(&mut want, &mut rng),
        }
        screen
            .draw(|buf| buf.content.clone_from_slice(&want.content))
            .unwrap();
        let wire = screen.backend_mut();
        parser.process(wire.out());
        wire.out.clear();
        assert_same_screen(&parser, &want, frame);
    }
}

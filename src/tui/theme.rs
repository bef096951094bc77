//! Colors and symbols. Every state also reads from words and symbols, so a
//! monochrome screen (`NO_COLOR`, `TERM=dumb`) loses nothing; `ascii` keeps
//! to 7-bit characters for terminals and fonts without box or braille glyphs.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::{self, Marker};

use crate::engine::{Phase, StepState, Verdict};
use crate::snapshot::SourceState;

/// How the cockpit draws: colors or not, Unicode or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Theme {
    /// No colors; states read from words and symbols (modifiers such as bold
    /// still apply).
    pub mono: bool,
    /// 7-bit characters only: ASCII borders, no braille.
    pub ascii: bool,
}

/// ASCII border set for `--ascii`.
pub const ASCII_BORDER: symbols::border::Set<'static> = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// ASCII levels for sparklines.
pub const ASCII_BARS: symbols::bar::Set<'static> = symbols::bar::Set {
    full: "#",
    seven_eighths: "#",
    three_quarters: "=",
    five_eighths: "=",
    half: "-",
    three_eighths: "-",
    one_quarter: "_",
    one_eighth: "_",
    empty: " ",
};

impl Theme {
    /// Monochrome when asked, or when `NO_COLOR` is set to a non-empty value,
    /// or when `TERM=dumb`. `env` reads one variable (injected for tests).
    pub fn detect(ascii: bool, mono: bool, env: impl Fn(&str) -> Option<String>) -> Theme {
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = env("TERM").is_some_and(|v| v == "dumb");
        Theme {
            mono: mono || no_color || dumb,
            ascii,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    pub fn border_set(&self) -> symbols::border::Set<'static> {
        if self.ascii {
            ASCII_BORDER
        } else {
            symbols::border::ROUNDED
        }
    }

    /// Marker for chart lines.
    pub fn line_marker(&self) -> Marker {
        if self.ascii {
            Marker::Custom('.')
        } else {
            Marker::Braille
        }
    }

    /// Marker for breach points: stands out in both modes.
    pub fn breach_marker(&self) -> Marker {
        if self.ascii {
            Marker::Custom('X')
        } else {
            Marker::Custom('●')
        }
    }

    pub fn bar_set(&self) -> symbols::bar::Set<'static> {
        if self.ascii {
            ASCII_BARS
        } else {
            symbols::bar::NINE_LEVELS
        }
    }

    pub fn dim(&self) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(Color::DarkGray)
        }
    }
    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn focus_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn canary(&self) -> Style {
        self.fg(Color::LightMagenta)
    }
    pub fn baseline(&self) -> Style {
        self.fg(Color::Blue)
    }
    pub fn threshold(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn slo(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn boundary(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn breach(&self) -> Style {
        self.fg(Color::LightRed).add_modifier(Modifier::BOLD)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn warning(&self) -> Style {
        self.fg(Color::Yellow)
    }
    /// The "ROLLBACK FAILED" banner: reversed so it shouts even without color.
    pub fn alarm(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn phase(&self, phase: &Phase) -> Style {
        let c = match phase {
            Phase::Pending => Color::Gray,
            Phase::Promoting { .. } | Phase::Holding { .. } => Color::Green,
            Phase::AwaitingApproval { .. } => Color::Cyan,
            Phase::Paused { .. } => Color::Yellow,
            Phase::Observing { .. } => Color::LightGreen,
            Phase::Promoted => Color::LightGreen,
            Phase::RollingBack => Color::LightRed,
            Phase::RolledBack => Color::Magenta,
            Phase::Failed { .. } => Color::Red,
        };
        self.fg(c).add_modifier(Modifier::BOLD)
    }

    pub fn verdict(&self, v: Verdict) -> Style {
        match v {
            Verdict::Pass => self.fg(Color::Green),
            Verdict::Breach => self.breach(),
            Verdict::NoData => self.fg(Color::Yellow),
            Verdict::ProviderError => self.fg(Color::LightRed),
        }
    }

    pub fn verdict_symbol(&self, v: Verdict) -> &'static str {
        match (v, self.ascii) {
            (Verdict::Pass, false) => "✔",
            (Verdict::Breach, false) => "✖",
            (Verdict::NoData, false) => "?",
            (Verdict::ProviderError, false) => "⚠",
            (Verdict::Pass, true) => "+",
            (Verdict::Breach, true) => "X",
            (Verdict::NoData, true) => "?",
            (Verdict::ProviderError, true) => "!",
        }
    }

    pub fn source(&self, s: SourceState) -> Style {
        match s {
            SourceState::Up => self.fg(Color::Green),
            SourceState::Unknown => self.dim(),
            SourceState::NoData | SourceState::Stale => self.fg(Color::Yellow),
            SourceState::Erroring => self.error(),
        }
    }

    pub fn source_symbol(&self, s: SourceState) -> &'static str {
        match (s, self.ascii) {
            (SourceState::Up, false) => "●",
            (SourceState::Unknown, false) => "○",
            (SourceState::NoData, false) => "◌",
            (SourceState::Stale, false) => "◔",
            (SourceState::Erroring, false) => "✖",
            (SourceState::Up, true) => "+",
            (SourceState::Unknown, true) => ".",
            (SourceState::NoData, true) => "?",
            (SourceState::Stale, true) => "~",
            (SourceState::Erroring, true) => "X",
        }
    }

    pub fn step(&self, s: StepState) -> Style {
        match s {
            StepState::Done => self.fg(Color::Green),
            StepState::Current => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            StepState::AwaitingApproval => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            StepState::Pending => self.dim(),
            StepState::Failed => self.error(),
        }
    }

    pub fn step_symbol(&self, s: StepState) -> &'static str {
        match (s, self.ascii) {
            (StepState::Done, false) => "✔",
            (StepState::Current, false) => "▶",
            (StepState::AwaitingApproval, false) => "⏸",
            (StepState::Pending, false) => "·",
            (StepState::Failed, false) => "✖",
            (StepState::Done, true) => "+",
            (StepState::Current, true) => ">",
            (StepState::AwaitingApproval, true) => "=",
            (StepState::Pending, true) => ".",
            (StepState::Failed, true) => "X",
        }
    }

    /// Filled and empty cells of a weight bar.
    pub fn bar_cells(&self) -> (&'static str, &'static str) {
        if self.ascii {
            ("#", ".")
        } else {
            ("█", "░")
        }
    }

    pub fn separator(&self) -> &'static str {
        if self.ascii { " | " } else { " · " }
    }

    pub fn arrow(&self) -> &'static str {
        if self.ascii { ">" } else { "▸" }
    }

    /// The engine's and the journal's words as this screen can draw them:
    /// under `--ascii` their typographic signs become ASCII ("→" reads
    /// "->"), everything else (names, reasons) keeps its characters.
    pub fn words(&self, s: &str) -> String {
        if !self.ascii || s.is_ascii() {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '→' => out.push_str("->"),
                '≤' => out.push_str("<="),
                '≥' => out.push_str(">="),
                '·' => out.push('|'),
                '…' => out.push_str("..."),
                '—' | '–' => out.push('-'),
                '×' => out.push('x'),
                _ => out.push(c),
            }
        }
        out
    }
}

/// Replace box-drawing and other non-ASCII glyphs that widgets draw on their
/// own (chart axes) with ASCII, for `--ascii`.
pub fn asciify(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_ascii() {
            continue;
        }
        let rep = match sym {
            "─" | "━" | "═" => "-",
            "│" | "┃" | "║" => "|",
            "└" | "┘" | "┌" | "┐" | "├" | "┤" | "┬" | "┴" | "┼" | "╭" | "╮" | "╰" | "╯" => {
                "+"
            }
            // User text (service names, reasons) keeps its characters.
            _ => continue,
        };
        cell.set_symbol(rep);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ascii_words_keep_their_meaning() {
        let t = Theme::detect(true, false, |_| None);
        assert_eq!(
            t.words("0 → 100 % · p95 ≤ 500 ms"),
            "0 -> 100 % | p95 <= 500 ms"
        );
        assert_eq!(t.words("café"), "café");
        let u = Theme::detect(false, false, |_| None);
        assert_eq!(u.words("0 → 100 %"), "0 → 100 %");
    }

    #[test]
    fn no_color_and_dumb_terminals_are_monochrome() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(Theme::detect(false, false, env(&[("NO_COLOR", "1")])).mono);
        assert!(!Theme::detect(false, false, env(&[("NO_COLOR", "")])).mono);
        assert!(Theme::detect(false, false, env(&[("TERM", "dumb")])).mono);
        assert!(!Theme::detect(false, false, env(&[("TERM", "xterm-256color")])).mono);
        assert!(Theme::detect(false, true, env(&[])).mono);
    }
}

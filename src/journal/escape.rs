//! Making text from a journal, a hook or a source safe to print and to put
//! in a document. One module, used by every text output: headless lines,
//! `rampdeck verify`, `rampdeck summary` and `summary.md`, notifications.
//!
//! - [`line`]: a terminal sees no control byte (no ESC, BEL, CR, ...) and no
//!   bidirectional override; each is shown as a visible `\u{1b}` escape, and
//!   a newline as `⏎`, so one record stays one line and cannot forge another.
//! - [`md`]: [`line`], then Markdown's structure characters escaped with a
//!   backslash, so user text cannot open a table cell, a heading, a link,
//!   emphasis, code or an HTML tag in a document.
//! - [`code`]: [`line`] inside a code span whose fence no backtick in the
//!   text can close.
//! - [`keep_lines`]: [`line`] for a whole document: its own newlines stay.
//! - [`slack`]: [`line`] with `&`, `<` and `>` written as Slack's entities,
//!   so a reason cannot mention `<!channel>` or forge a link.
//!
//! JSON output needs none of this: JSON's own escaping already holds.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The character that stands for a newline in one-line output.
pub const NEWLINE: char = '⏎';

/// Characters a terminal or a renderer acts on rather than shows: C0 and C1
/// controls, DEL, bidirectional formatting (which can make text read in
/// another order than it is stored), and Unicode's line and paragraph
/// separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

fn push_visible(out: &mut String, c: char, newline: bool) {
    match c {
        '\n' if newline => out.push(NEWLINE),
        '\n' => out.push('\n'),
        '\t' => out.push_str("\\t"),
        c => {
            // `write!` to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn escape_with(s: &str, newline: bool) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            push_visible(&mut out, c, newline);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` on one line with every control character visible: ESC becomes
/// `\u{1b}`, a tab `\t`, a newline `⏎`.
pub fn line(s: &str) -> Cow<'_, str> {
    escape_with(s, true)
}

/// Like [`line`], but newlines stay: for a whole document whose lines are
/// its own (a last line of defence after each field was escaped).
pub fn keep_lines(s: &str) -> Cow<'_, str> {
    escape_with(s, false)
}

/// `s` as Markdown text that renders as exactly these characters: [`line`],
/// then a backslash before every character that could start structure
/// (`\ ` `` ` `` `*` `_` `[` `]` `<` `>` `|` `#` `~` `&`). An underscore
/// inside a word (`set_weight`) opens no emphasis and stays as it is.
pub fn md(s: &str) -> String {
    let s = line(s);
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' => true,
            '_' => {
                let word = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                !(word(i.checked_sub(1)) && word(Some(i + 1)))
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` as a Markdown code span: [`line`] inside a fence of one more
/// backtick than the longest run in it, so nothing in `s` can close it.
pub fn code(s: &str) -> String {
    let s = line(s);
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space inside.
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// `s` for a Slack-compatible message: [`line`], with `&`, `<` and `>` as
/// the entities Slack asks for, so no `<!channel>`, `<@user>` or
/// `<url|text>` can be forged.
pub fn slack(s: &str) -> String {
    line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A link in Markdown when `url` is a plain http(s) URL, else the URL as
/// escaped text: a URL from a journal is never trusted to be well formed.
pub fn md_link(text: &str, url: &str) -> String {
    let plain = (url.starts_with("https://") || url.starts_with("http://"))
        && url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#@!$&'*+,;=%".contains(c));
    if plain {
        format!("[{}]({url})", md(text))
    } else {
        format!("{} ({})", md(text), md(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_become_visible_and_newlines_arrows() {
        let s = "a\u{1b}]0;pwned\u{7}b\u{1b}[2J\r\nnext\tline\u{9b}";
        let out = line(s);
        assert_eq!(
            out,
            "a\\u{1b}]0;pwned\\u{7}b\\u{1b}[2J\\u{d}⏎next\\tline\\u{9b}"
        );
        assert!(!out.chars().any(|c| c.is_control()));
    }

    #[test]
    fn bidi_overrides_are_escaped_and_plain_text_is_borrowed() {
        assert_eq!(line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert!(matches!(line("plain — text 6.58 %"), Cow::Borrowed(_)));
        assert_eq!(keep_lines("a\nb\u{1b}"), "a\nb\\u{1b}");
    }

    #[test]
    fn markdown_structure_cannot_be_forged() {
        let s = "| x | # H <img src=x onerror=alert(1)> **b** _i_ [l](http://e) `c` ~~s~~ &amp; \\";
        assert_eq!(
            md(s),
            "\\| x \\| \\# H \\<img src=x onerror=alert(1)\\> \\*\\*b\\*\\* \\_i\\_ \\[l\\](http://e) \\`c\\` \\~\\~s\\~\\~ \\&amp; \\\\"
        );
        assert_eq!(
            md("set_weight trigger_rollback"),
            "set_weight trigger_rollback"
        );
        assert_eq!(md("line1\nline2"), "line1⏎line2");
        assert_eq!(md("\u{1b}[2J"), "\\\\u{1b}\\[2J");
    }

    #[test]
    fn code_spans_cannot_be_closed_from_inside() {
        assert_eq!(code("error_rate"), "`error_rate`");
        assert_eq!(code("a`b``c"), "```a`b``c```");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn slack_mentions_and_links_are_entities() {
        assert_eq!(
            slack("<!channel> a & b <http://x|y>\n"),
            "&lt;!channel&gt; a &amp; b &lt;http://x|y&gt;⏎"
        );
    }

    #[test]
    fn links_only_for_plain_urls() {
        assert_eq!(
            md_link("CHG-1", "https://t.example/CHG-1"),
            "[CHG-1](https://t.example/CHG-1)"
        );
        assert_eq!(
            md_link("x", "https://e/a) [b](javascript:x"),
            "x (https://e/a) \\[b\\](javascript:x)"
        );
        assert_eq!(
            md_link("x", "javascript:alert(1)"),
            "x (javascript:alert(1))"
        );
    }
}

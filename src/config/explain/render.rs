//! The plan document as aligned text for a terminal or as Markdown for a
//! change ticket: two renderings of one [`Block`] list.

use super::Block;

/// A link in a field's or a list item's text, made by [`link`]: plain
/// text shows "text url", Markdown a link. Private-use characters mark it;
/// a marker without its pair is shown as it is.
const OPEN: char = '\u{E000}';
const MID: char = '\u{E001}';
const CLOSE: char = '\u{E002}';

/// `text` linking to `url`, for a field's value or a list item.
pub(super) fn link(text: &str, url: &str) -> String {
    format!("{OPEN}{text}{MID}{url}{CLOSE}")
}

/// `s` with its [`link`]s rendered for text or Markdown.
fn unlink(s: &str, markdown: bool) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(a) = rest.find(OPEN) {
        let after = &rest[a + OPEN.len_utf8()..];
        let Some((text, tail)) = after.split_once(MID) else {
            break;
        };
        let Some((url, tail)) = tail.split_once(CLOSE) else {
            break;
        };
        out.push_str(&rest[..a]);
        if markdown {
            out.push_str(&crate::journal::escape::md_link(text, url));
        } else {
            out.push_str(&format!("{text} {url}"));
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

pub(super) fn render_text(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Heading(h) => {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("{h}\n{}\n", "=".repeat(h.chars().count())));
            }
            Block::Sub(h) => out.push_str(&format!("\n{h}\n{}\n", "-".repeat(h.chars().count()))),
            Block::Fields(f) => {
                let w = f.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
                for (k, v) in f {
                    out.push_str(&format!("  {k:<w$}  {}\n", unlink(v, false)));
                }
            }
            Block::List(items) => items
                .iter()
                .for_each(|i| out.push_str(&format!("  - {}\n", unlink(i, false)))),
            Block::Table(head, rows) => {
                let widths: Vec<usize> = (0..head.len())
                    .map(|c| {
                        rows.iter()
                            .map(|r| r[c].chars().count())
                            .chain([head[c].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: Vec<&str>| {
                    let s: Vec<String> = cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect();
                    format!("  {}\n", s.join("  ").trim_end())
                };
                out.push_str(&line(head.clone()));
                out.push_str(&line(
                    widths
                        .iter()
                        .map(|w| "-".repeat(*w))
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str)
                        .collect(),
                ));
                if rows.is_empty() {
                    out.push_str("  (none)\n");
                }
                for r in rows {
                    out.push_str(&line(r.iter().map(String::as_str).collect()));
                }
            }
        }
    }
    out
}

pub(super) fn render_markdown(doc: &[Block]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    for (i, b) in doc.iter().enumerate() {
        match b {
            Block::Heading(h) if i == 0 => out.push_str(&format!("# {h}\n\n")),
            Block::Heading(h) => out.push_str(&format!("## {h}\n\n")),
            Block::Sub(h) => out.push_str(&format!("### {h}\n\n")),
            Block::Fields(f) => {
                out.push_str("| | |\n|---|---|\n");
                for (k, v) in f {
                    let v = unlink(&cell(v), true);
                    out.push_str(&format!("| **{}** | {v} |\n", cell(k)));
                }
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {}\n", unlink(item, true)));
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                out.push_str(&format!("| {} |\n", head.join(" | ")));
                out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                for r in rows {
                    let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                if rows.is_empty() {
                    out.push_str("\n_(none)_\n");
                }
                out.push('\n');
            }
        }
    }
    out
}

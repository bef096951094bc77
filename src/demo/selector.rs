//! A parser for the one kind of PromQL the demo service answers: a plain
//! series selector such as `demo:error_ratio{service="checkout",version="canary"}`.
//!
//! The demo's config queries recording-rule style series, so no PromQL
//! engine is needed; anything else is refused with a message saying what the
//! demo service accepts, the way Prometheus answers `bad_data`.

use thiserror::Error;

/// `name{label="value", ...}`: a metric name and label matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub matchers: Vec<Matcher>,
}

/// One `label="value"` or `label!="value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub equal: bool,
    pub value: String,
}

/// Why a query is not a selector the demo service understands.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectorError {
    #[error("empty query")]
    Empty,
    #[error(
        "parse error at char {at}: {what}; the demo service answers plain series selectors \
         such as demo:error_ratio{{service=\"checkout\",version=\"canary\"}}"
    )]
    Syntax { at: usize, what: String },
    #[error(
        "regular-expression matchers (=~, !~) are not supported by the demo service; \
         use label=\"value\" or label!=\"value\""
    )]
    Regex,
}

impl Selector {
    /// Whether a series with these labels (name excluded) is selected. A
    /// label the series lacks has the value "", as in Prometheus.
    pub fn matches(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        name == self.name
            && self.matchers.iter().all(|m| {
                let value = labels
                    .iter()
                    .find(|(l, _)| *l == m.label)
                    .map_or("", |(_, v)| v);
                (value == m.value) == m.equal
            })
    }
}

/// Parse `name`, `name{...}` or `{__name__="name", ...}`.
pub fn parse(query: &str) -> Result<Selector, SelectorError> {
    let mut p = Parser {
        chars: query.char_indices().collect(),
        pos: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(SelectorError::Empty);
    }
    let mut name = if p.peek() == Some('{') {
        None
    } else {
        Some(p.ident(true)?)
    };
    let mut matchers = Vec::new();
    p.skip_ws();
    if p.peek() == Some('{') {
        p.bump();
        loop {
            p.skip_ws();
            if p.peek() == Some('}') {
                p.bump();
                break;
            }
            let label = p.ident(false)?;
            p.skip_ws();
            let equal = match (p.bump(), p.peek()) {
                (Some('='), Some('~')) | (Some('!'), Some('~')) => {
                    return Err(SelectorError::Regex);
                }
                (Some('='), _) => true,
                (Some('!'), Some('=')) => {
                    p.bump();
                    false
                }
                _ => return Err(p.error("expected = or != after a label name")),
            };
            p.skip_ws();
            let value = p.string()?;
            if label == "__name__" && equal && name.is_none() {
                name = Some(value);
            } else {
                matchers.push(Matcher {
                    label,
                    equal,
                    value,
                });
            }
            p.skip_ws();
            match p.bump() {
                Some(',') => {}
                Some('}') => break,
                _ => return Err(p.error("expected , or } after a label matcher")),
            }
        }
    }
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.error("unexpected text after the selector"));
    }
    let name = name.ok_or_else(|| p.error("a selector needs a metric name"))?;
    Ok(Selector { name, matchers })
}

struct Parser {
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|c| c.1)
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn error(&self, what: &str) -> SelectorError {
        SelectorError::Syntax {
            at: self.pos,
            what: what.to_string(),
        }
    }

    /// A metric name (`colons` allowed) or a label name.
    fn ident(&mut self, colons: bool) -> Result<String, SelectorError> {
        let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
        let ok_rest = |c: char| ok_first(c) || c.is_ascii_digit();
        match self.peek() {
            Some(c) if ok_first(c) => {}
            _ => {
                let what = if colons {
                    "a metric name"
                } else {
                    "a label name"
                };
                return Err(self.error(&format!("expected {what}")));
            }
        }
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|&c| ok_rest(c)) {
            out.push(c);
            self.pos += 1;
        }
        Ok(out)
    }

    /// A double- or single-quoted string with PromQL's common escapes.
    fn string(&mut self) -> Result<String, SelectorError> {
        let quote = match self.bump() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error("expected a quoted label value")),
        };
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some(c @ ('\\' | '"' | '\'')) => c,
                        _ => return Err(self.error("unknown escape sequence in a string")),
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn m(label: &str, equal: bool, value: &str) -> Matcher {
        Matcher {
            label: label.into(),
            equal,
            value: value.into(),
        }
    }

    #[test]
    fn parses_the_demo_queries() {
        let s = parse(r#"demo:error_ratio{service="checkout",version="canary"}"#).unwrap();
        assert_eq!(s.name, "demo:error_ratio");
        assert_eq!(
            s.matchers,
            vec![m("service", true, "checkout"), m("version", true, "canary")]
        );
        let s = parse(" demo:saturation { version != 'baseline' , } ").unwrap();
        assert_eq!(s.matchers, vec![m("version", false, "baseline")]);
        assert_eq!(parse("up").unwrap().matchers, vec![]);
        let s = parse(r#"{__name__="demo:saturation",version="canary"}"#).unwrap();
        assert_eq!(s.name, "demo:saturation");
        assert_eq!(s.matchers, vec![m("version", true, "canary")]);
    }

    #[test]
    fn unescapes_values() {
        let s = parse(r#"x{a="q\"uo\\te"}"#).unwrap();
        assert_eq!(s.matchers[0].value, "q\"uo\\te");
    }

    #[test]
    fn matching_follows_prometheus() {
        let s = parse(r#"demo:x{version="canary",env=""}"#).unwrap();
        assert!(s.matches("demo:x", &[("version", "canary")]));
        assert!(!s.matches("demo:x", &[("version", "baseline")]));
        assert!(!s.matches("demo:y", &[("version", "canary")]));
        assert!(!s.matches("demo:x", &[("version", "canary"), ("env", "prod")]));
    }

    #[test]
    fn refuses_what_is_not_a_selector() {
        for bad in [
            "",
            "sum(demo:error_ratio)",
            "demo:x{version=canary}",
            "demo:x{version=\"canary\"",
            "demo:x[1m]",
            "demo:x{version=\"a\\qb\"}",
            "{version=\"canary\"}",
            "1 + 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(parse("x{a=~\"b\"}"), Err(SelectorError::Regex));
        let msg = parse("rate(x[1m])").unwrap_err().to_string();
        assert!(msg.contains("plain series selectors"), "{msg}");
    }
}

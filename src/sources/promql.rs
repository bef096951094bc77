//! Templating label values into PromQL without letting them inject PromQL.
//!
//! A metric's query is written by the person who owns the config, but the
//! service name and cohort are substituted into it. They are placed inside
//! a double-quoted label matcher (`service="{service}"`), so escaping them
//! as PromQL string content is enough to keep any value a single label
//! value: `a"} or vector(1) #` stays the literal text it is.

use crate::engine::Cohort;

/// The label value used for a cohort in queries (`version="{cohort}"`).
pub fn cohort_label(cohort: Cohort) -> &'static str {
    match cohort {
        Cohort::Canary => "canary",
        Cohort::Baseline => "baseline",
    }
}

/// Escapes `s` for use inside a double-quoted PromQL string.
///
/// PromQL strings follow Go's escaping rules: a backslash and a double quote
/// must be escaped, and a raw newline ends the string with an error, so
/// line breaks are written as escapes too.
pub fn escape_label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\x00"),
            other => out.push(other),
        }
    }
    out
}

/// Replaces `{service}` and `{cohort}` in `template` with escaped label
/// values, in one pass, so a service name that itself contains `{cohort}`
/// is not substituted again.
///
/// The values are meant for double-quoted equality matchers
/// (`service="{service}"`). In a regex matcher (`=~`) regex metacharacters
/// keep their meaning; rampdeck's own templates never do that.
pub fn render_query(template: &str, service: &str, cohort: Cohort) -> String {
    let mut out = String::with_capacity(template.len() + service.len());
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{service}") {
            out.push_str(&escape_label_value(service));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{cohort}") {
            out.push_str(&escape_label_value(cohort_label(cohort)));
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Replaces `{service}` and `{cohort}` in a JSON pointer, escaping each value
/// as one pointer token (RFC 6901: `~` as `~0`, `/` as `~1`).
pub fn render_pointer(template: &str, service: &str, cohort: Cohort) -> String {
    let token = |s: &str| s.replace('~', "~0").replace('/', "~1");
    render_with(template, &token(service), &token(cohort_label(cohort)))
}

/// Replaces `{service}` and `{cohort}` in one argv argument, literally: the
/// argument goes to the program as one string with no shell in between.
pub fn render_arg(template: &str, service: &str, cohort: Cohort) -> String {
    render_with(template, service, cohort_label(cohort))
}

fn render_with(template: &str, service: &str, cohort: &str) -> String {
    let mut out = String::with_capacity(template.len() + service.len());
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{service}") {
            out.push_str(service);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{cohort}") {
            out.push_str(cohort);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a PromQL double-quoted string starting after its opening quote,
    /// as Prometheus' lexer does (Go escapes), and returns the value and
    /// what follows the closing quote. `None` if the string is malformed.
    fn unquote(s: &str) -> Option<(String, &str)> {
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, &s[i + 1..])),
                '\n' => return None,
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'x' => {
                            let h: String =
                                (0..2).filter_map(|_| chars.next().map(|p| p.1)).collect();
                            out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                        }
                        _ => return None,
                    }
                }
                other => out.push(other),
            }
        }
        None
    }

    #[test]
    fn injection_attempt_stays_one_label_value() {
        let q = render_query(
            r#"up{service="{service}",version="{cohort}"}"#,
            r#"a"} or vector(1) #"#,
            Cohort::Canary,
        );
        assert_eq!(q, r#"up{service="a\"} or vector(1) #",version="canary"}"#);
    }

    #[test]
    fn placeholders_in_values_are_not_substituted_again() {
        let q = render_query(
            r#"x{s="{service}",c="{cohort}"}"#,
            "{cohort}",
            Cohort::Baseline,
        );
        assert_eq!(q, r#"x{s="{cohort}",c="baseline"}"#);
    }

    #[test]
    fn other_braces_are_kept() {
        let q = render_query(
            "sum by (le) (rate(x{a=\"b\"}[1m])) {other}",
            "s",
            Cohort::Canary,
        );
        assert_eq!(q, "sum by (le) (rate(x{a=\"b\"}[1m])) {other}");
    }

    #[test]
    fn pointer_values_are_escaped_as_one_token() {
        assert_eq!(
            render_pointer("/data/{service}/{cohort}", "a/b~c", Cohort::Canary),
            "/data/a~1b~0c/canary"
        );
    }

    proptest! {
        #[test]
        fn any_service_round_trips_as_one_label_value(s in any::<String>()) {
            let q = render_query(r#"m{service="{service}"} + 1"#, &s, Cohort::Canary);
            let body = q.strip_prefix("m{service=\"").expect("prefix kept");
            let (value, rest) = unquote(body).expect("a well-formed PromQL string");
            prop_assert_eq!(value, s);
            prop_assert_eq!(rest, "} + 1");
        }

        #[test]
        fn ascii_heavy_service_round_trips(s in r#"[a-z"\\{}\n\r\t #()]{0,40}"#) {
            let q = render_query(r#"m{a="{service}",b="{cohort}"}"#, &s, Cohort::Baseline);
            let body = q.strip_prefix("m{a=\"").expect("prefix kept");
            let (value, rest) = unquote(body).expect("a well-formed PromQL string");
            prop_assert_eq!(value, s);
            prop_assert_eq!(rest, ",b=\"baseline\"}");
        }
    }
}

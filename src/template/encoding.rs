//! How a value is written into the text around it.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// How a value is encoded where a placeholder stands. Each keeps any value
/// inside its slot: it cannot end the argument, the path segment, the JSON
/// string, the PromQL string or the pointer token it is put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// As is: one argv element, which goes to the program as one string
    /// with no shell in between (never split, never interpreted).
    Argv,
    /// Percent-encoded: everything but `A-Z a-z 0-9 - . _ ~`, so a value
    /// never adds a path segment, a query parameter or a fragment.
    Url,
    /// The inside of a JSON string (no surrounding quotes). Put text
    /// placeholders in quotes; `{step}` and `{weight}` are numbers and may
    /// stand bare.
    Json,
    /// The inside of a double-quoted PromQL string, for equality matchers
    /// (`service="{service}"`). In a regex matcher (`=~`) regex
    /// metacharacters keep their meaning.
    PromqlLabel,
    /// One JSON pointer token (RFC 6901: `~` as `~0`, `/` as `~1`).
    Pointer,
}

/// RFC 3986 unreserved characters stay; everything else is encoded.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Encoding {
    /// `value` as it is written into the text.
    pub fn encode(self, value: &str) -> Cow<'_, str> {
        match self {
            Encoding::Argv => Cow::Borrowed(value),
            Encoding::Url => utf8_percent_encode(value, URL_VALUE).into(),
            Encoding::Json => {
                // serde_json writes a quoted, fully escaped string; strip the quotes.
                let quoted = serde_json::Value::String(value.to_string()).to_string();
                Cow::Owned(quoted[1..quoted.len() - 1].to_string())
            }
            Encoding::PromqlLabel => Cow::Owned(escape_label_value(value)),
            Encoding::Pointer => Cow::Owned(value.replace('~', "~0").replace('/', "~1")),
        }
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

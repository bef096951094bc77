//! `ConfigError` and the translation of byte spans and `toml` errors into
//! `FILE:LINE:COL: WHAT` plus a `help:` line.

use std::ops::Range;
use std::path::PathBuf;

/// Why a plan was refused. Display is `FILE:LINE:COL: WHAT\n  help: HOW`
/// (line and column 1-based) for problems inside a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is not a valid plan: syntax, schema or a semantic rule.
    #[error("{origin}:{line}:{col}: {what}\n  help: {help}")]
    Invalid {
        /// File name as given to `parse` (for messages).
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// What is wrong.
        what: String,
        /// How to fix it.
        help: String,
    },
    /// The file could not be read.
    #[error("{path}: cannot read the plan: {reason}\n  help: check the path and its permissions")]
    Read {
        /// The path that was tried.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// No plan was found in any of the places discovery looks.
    #[error("no rollout plan found; looked in:\n{}\n  help: pass --config FILE, or create ./rampdeck.toml (start from config.example.toml)", .looked.iter().map(|p| format!("  - {}", p.display())).collect::<Vec<_>>().join("\n"))]
    NotFound {
        /// Every path that was tried, in order.
        looked: Vec<PathBuf>,
    },
}

impl ConfigError {
    /// Process exit code for a refused config (documented: 2).
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Turns byte offsets of one source text into located errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub src: &'a str,
    pub origin: &'a str,
}

impl<'a> Ctx<'a> {
    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.src, offset.min(self.src.len()));
        let before = &self.src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.src[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// An error located at the start of `span`.
    pub fn err(
        &self,
        span: Range<usize>,
        what: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        let (line, col) = self.line_col(span.start);
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            line,
            col,
            what: what.into(),
            help: help.into(),
        }
    }

    /// The `[table]` or `[[array]]` header that encloses `offset` (the
    /// header's own line counts: serde points missing keys at it), and the
    /// inline table being written on that line, if any.
    pub fn table_at(&self, offset: usize) -> String {
        let offset = floor_char_boundary(self.src, offset.min(self.src.len()));
        let line_end = self.src[offset..]
            .find('\n')
            .map_or(self.src.len(), |i| offset + i);
        let header = self.src[..line_end]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| {
                l.find(']')
                    .map_or(l, |end| &l[..=end + usize::from(l.starts_with("[["))])
            });
        let mut table = header.map_or_else(|| "the top level".to_string(), str::to_string);
        let line_start = self.src[..offset].rfind('\n').map_or(0, |i| i + 1);
        // On a header line past its bracket, the offending key is a segment
        // of the header itself: `[rollout.windo]` is key `windo` of [rollout].
        let on_header = &self.src[line_start..offset];
        if on_header.trim_start().starts_with('[') {
            let path = on_header
                .trim()
                .trim_start_matches('[')
                .trim_end_matches('.');
            if !path.is_empty() {
                table = format!("[{path}]");
            } else {
                // `[source.x]`: the first segment is a top-level key.
                table = "the top level".to_string();
            }
        }
        match self.src[line_start..offset]
            .rfind('{')
            .and_then(|b| self.key_at(line_start + b))
        {
            Some(key) => format!("`{key}` of {table}"),
            None => table,
        }
    }

    /// The key being assigned on the line of `offset` (`weight` in `weight = "x"`).
    fn key_at(&self, offset: usize) -> Option<String> {
        let offset = floor_char_boundary(self.src, offset.min(self.src.len()));
        let line_start = self.src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.src[line_start..offset];
        // The last `key =` before the value; inline tables hold several.
        let eq = before.rfind('=')?;
        let key = before[..eq].trim_end();
        let start = key
            .rfind(|c: char| c == '{' || c == ',' || c.is_whitespace())
            .map_or(0, |i| i + 1);
        let key = key[start..].trim_matches('"');
        (!key.is_empty()).then(|| key.to_string())
    }

    /// A syntax error from the TOML parser.
    pub fn syntax_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        let help = if msg.contains("duplicate key") {
            "each key may appear once per table; remove or rename the repeated one"
        } else {
            "fix the TOML syntax: strings need quotes, tables look like [name], arrays of tables like [[steps]]"
        };
        self.err(span, format!("invalid TOML: {msg}"), help)
    }

    /// A schema error (unknown key, missing key, wrong type) from serde.
    pub fn schema_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim();
        let table = self.table_at(span.start);
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let (key, valid) = rest.split_once('`').unwrap_or((rest, ""));
            // Keys accepted only to refuse a literal secret are not advertised.
            let valid: Vec<&str> = valid
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|v| !is_secret_key(v) && *v != "user")
                .collect();
            let mut help = if valid.is_empty() {
                "this table takes no keys".to_string()
            } else {
                format!("valid keys here: {}", valid.join(", "))
            };
            if let Some(best) = valid
                .iter()
                .filter(|v| strsim::damerau_levenshtein(key, v) <= 2)
                .min_by_key(|v| strsim::damerau_levenshtein(key, v))
            {
                help = format!("did you mean `{best}`? {help}");
            }
            if is_secret_key(key) {
                help = format!(
                    "secrets are never written in the plan: name the environment variable instead (e.g. `{key}_env`); {help}"
                );
            }
            return self.err(span, format!("unknown key `{key}` in {table}"), help);
        }
        if let Some(rest) = msg.strip_prefix("missing field `") {
            let key = rest.split('`').next().unwrap_or(rest);
            return self.err(
                span,
                format!("missing required key `{key}` in {table}"),
                format!("add `{key} = ...` to {table}; config.example.toml shows every key"),
            );
        }
        for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
            if let Some(rest) = msg.strip_prefix(prefix) {
                let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "?"));
                let key = self
                    .key_at(span.start)
                    .map_or_else(|| format!("a value in {table}"), |k| format!("`{k}`"));
                return self.err(
                    span,
                    format!(
                        "{key} has the wrong type or value: found {}, expected {}",
                        friendly(found),
                        friendly(expected)
                    ),
                    format!("write {} here; see config.example.toml", friendly(expected)),
                );
            }
        }
        if let Some(rest) = msg.strip_prefix("unknown variant `") {
            let (val, valid) = rest.split_once('`').unwrap_or((rest, ""));
            return self.err(
                span,
                format!("unknown value `{val}` in {table}"),
                format!(
                    "use one of{}",
                    valid.trim_start_matches(", expected").replace("one of", "")
                ),
            );
        }
        self.err(
            span,
            format!("{msg} (in {table})"),
            "see config.example.toml for the expected format",
        )
    }
}

/// Keys that would hold a secret literally.
pub(crate) fn is_secret_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "token"
            | "bearer"
            | "bearer_token"
            | "password"
            | "secret"
            | "api_key"
            | "apikey"
            | "slack_webhook"
    )
}

/// Serde's type names in words a config author knows.
fn friendly(s: &str) -> String {
    match s.trim() {
        "i64" | "u64" | "u32" | "u16" | "u8" | "i32" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" | "sequence" => "an array [...]".into(),
        "a map" | "map" => "a table".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other => other.replace("map", "table").replace("sequence", "array"),
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

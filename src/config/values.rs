//! Small checks on single values: durations, names, URLs, templates.

use std::ops::Range;
use std::time::Duration;

use toml::{Spanned, Value};

use super::error::{ConfigError, Ctx};
use crate::engine::words::duration;
use crate::template::{Context, Template, TemplateError};

pub(crate) type R<T> = Result<T, ConfigError>;

impl<'a> Ctx<'a> {
    /// A duration given as "30s" / "5m" / "1h30m", or an integer of
    /// seconds, within `lo..=hi` (the range is said in the help).
    pub fn duration_in(
        &self,
        key: &str,
        v: &Spanned<Value>,
        lo: Duration,
        hi: Duration,
    ) -> R<Duration> {
        let d = self.duration(key, v, Some((lo, hi)))?;
        self.duration_range(key, v, d, lo, hi)?;
        Ok(d)
    }

    /// A duration, unchecked but for its form; `range` goes in the help.
    pub fn duration(
        &self,
        key: &str,
        v: &Spanned<Value>,
        range: Option<(Duration, Duration)>,
    ) -> R<Duration> {
        let help = duration_help(key, range);
        match v.get_ref() {
            Value::String(s) => humantime::parse_duration(s.trim()).map_err(|e| {
                self.err(
                    v.span(),
                    format!("`{key}` is not a duration: \"{s}\" ({e})"),
                    help.clone(),
                )
            }),
            Value::Integer(n) if *n >= 0 => Ok(Duration::from_secs(n.unsigned_abs())),
            Value::Integer(n) => Err(self.err(v.span(), format!("`{key}` is negative: {n}"), help)),
            other => Err(self.err(
                v.span(),
                format!("`{key}` must be a duration, found a {}", other.type_str()),
                help,
            )),
        }
    }

    /// Refuses `d` outside `lo..=hi`, saying the range.
    pub fn duration_range(
        &self,
        key: &str,
        v: &Spanned<Value>,
        d: Duration,
        lo: Duration,
        hi: Duration,
    ) -> R<()> {
        if d < lo || d > hi {
            return Err(self.err(
                v.span(),
                format!(
                    "`{key}` is {}, out of range (from {} to {})",
                    duration(d),
                    duration(lo),
                    duration(hi)
                ),
                duration_help(key, Some((lo, hi))),
            ));
        }
        Ok(())
    }

    /// A size in bytes: `"1MiB"`, `"512 KiB"`, `"4MB"` or an integer number
    /// of bytes, within `lo..=hi`.
    pub fn size_in(&self, key: &str, v: &Spanned<Value>, lo: u64, hi: u64) -> R<u64> {
        let help = || {
            format!(
                "write `{key} = \"1MiB\"` (units: B, KiB, MiB, GiB, KB, MB) or an integer number of bytes, from {} to {}",
                bytesize::ByteSize::b(lo).display().iec(),
                bytesize::ByteSize::b(hi).display().iec()
            )
        };
        let n = match v.get_ref() {
            Value::String(s) => s
                .trim()
                .parse::<bytesize::ByteSize>()
                .map_err(|e| {
                    self.err(
                        v.span(),
                        format!("`{key}` is not a size: \"{s}\" ({e})"),
                        help(),
                    )
                })?
                .as_u64(),
            Value::Integer(n) if *n >= 0 => n.unsigned_abs(),
            other => {
                return Err(self.err(
                    v.span(),
                    format!("`{key}` must be a size, found {other}"),
                    help(),
                ));
            }
        };
        if n < lo || n > hi {
            return Err(self.err(
                v.span(),
                format!(
                    "`{key}` is {}, out of range",
                    bytesize::ByteSize::b(n).display().iec()
                ),
                help(),
            ));
        }
        Ok(n)
    }

    /// One of a fixed set of words (strategy, gate, bad, ...).
    pub fn pick<T: Copy>(&self, key: &str, v: &Spanned<String>, options: &[(&str, T)]) -> R<T> {
        options
            .iter()
            .find(|(name, _)| *name == v.get_ref().as_str())
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.err(
                    v.span(),
                    format!("unknown {key} \"{}\"", v.get_ref()),
                    format!("`{key}` is one of {}", names.join(", ")),
                )
            })
    }

    /// An integer within `lo..=hi`.
    pub fn int_in(&self, key: &str, v: &Spanned<i64>, lo: i64, hi: i64) -> R<i64> {
        let n = *v.get_ref();
        if n < lo || n > hi {
            let range = if hi == i64::MAX {
                format!("at least {lo}")
            } else {
                format!("from {lo} to {hi}")
            };
            return Err(self.err(
                v.span(),
                format!("`{key}` is {n}, out of range"),
                format!("use an integer {range}"),
            ));
        }
        Ok(n)
    }

    /// A finite number (TOML allows `nan` and `inf`; limits must not be).
    pub fn finite(&self, key: &str, v: &Spanned<f64>) -> R<f64> {
        let x = *v.get_ref();
        if !x.is_finite() {
            return Err(self.err(v.span(), format!("`{key}` is {x}"), "use a finite number"));
        }
        Ok(x)
    }

    /// A DNS label: what service, rollout and step names must be, because
    /// they are passed to hooks and used in file and socket names.
    pub fn dns_label(&self, what: &str, v: &Spanned<String>) -> R<String> {
        let s = v.get_ref();
        if is_dns_label(s) {
            return Ok(s.clone());
        }
        let suggestion: String = s
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        Err(self.err(
            v.span(),
            format!("{what} \"{s}\" is not a DNS label"),
            format!(
                "use 1 to 63 lowercase letters, digits and '-', not starting or ending with '-' (e.g. \"{suggestion}\")"
            ),
        ))
    }

    /// An environment-variable name (not the secret itself).
    pub fn env_name(&self, key: &str, v: &Spanned<String>) -> R<String> {
        let s = v.get_ref();
        let ok = !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            return Ok(s.clone());
        }
        Err(self.err(
            v.span(),
            format!("`{key}` must name an environment variable, found \"{}\"", redact(s)),
            "write the variable's name (letters, digits, '_'), e.g. \"PROM_TOKEN\", and export the secret in it",
        ))
    }

    /// An http(s) URL without credentials in it. A user or password
    /// before the host would be copied into the journal and every screen
    /// that shows the plan; `instead` says where credentials go.
    pub fn url(&self, key: &str, v: &Spanned<String>, instead: &str) -> R<String> {
        let s = v.get_ref();
        match reqwest::Url::parse(s) {
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                let what = if u.password().is_some() {
                    "a user name and password"
                } else {
                    // A token is often sent as the user name alone.
                    "a user name (or a token in its place)"
                };
                Err(self.err(
                    v.span(),
                    format!(
                        "`{key}` \"{}\" holds {what} before the host: credentials in a URL are secrets in the plan, copied into the journal",
                        without_credentials(&u)
                    ),
                    format!("remove `...@` from the URL and {instead}"),
                ))
            }
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Ok(s.clone())
            }
            Ok(u) => Err(self.err(
                v.span(),
                format!(
                    "`{key}` \"{s}\" is not an http(s) URL (scheme {})",
                    u.scheme()
                ),
                "use a URL such as \"http://127.0.0.1:9090\"",
            )),
            Err(e) => Err(self.err(
                v.span(),
                format!("`{key}` \"{s}\" is not a URL: {e}"),
                "use a URL such as \"http://127.0.0.1:9090\"",
            )),
        }
    }

    /// `text` parsed as a template of `context`, refused (at `span`, the
    /// value in the file) when it names a placeholder the context does not
    /// have: a hook's `{percent}` or a metric's `{version}` would reach the
    /// deployment system or the source as is. Names starting with a digit
    /// are text in metric templates: `{2}` in a PromQL regex matcher is a
    /// repetition, not a placeholder.
    pub fn template(
        &self,
        key: &str,
        text: &str,
        span: Range<usize>,
        context: Context,
    ) -> R<Template> {
        let template = Template::parse(text, context);
        let Err(e) = template.check() else {
            return Ok(template);
        };
        let TemplateError::Unknown { name, .. } = &e else {
            return Err(self.err(span, format!("`{key}`: {e}"), "fix the placeholder"));
        };
        let known = context.listing();
        Err(match context {
            Context::Hook => self.err(
                span,
                format!("unknown placeholder {{{name}}} in `{key}`"),
                format!("hooks may use only {known}"),
            ),
            Context::Metric => self.err(
                span,
                format!("unknown placeholder {{{name}}} in `{key}`: it would reach the source as is"),
                format!(
                    "metrics may use only {known} (the service, and \"canary\" or \"baseline\"); fix the name or remove the braces"
                ),
            ),
        })
    }

    /// A literal secret was written: refuse it, naming the key to use instead.
    pub fn secret(&self, v: &Spanned<Value>, key: &str, instead: &str) -> ConfigError {
        self.err(
            v.span(),
            format!("literal secret in `{key}`: secrets are never written in the plan"),
            format!("use {instead} and export the secret in that environment variable"),
        )
    }

    /// Headers with literal values must not carry credentials.
    pub fn check_literal_headers(
        &self,
        headers: &std::collections::BTreeMap<String, Spanned<String>>,
    ) -> R<()> {
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            let secret = matches!(
                lower.as_str(),
                "authorization" | "proxy-authorization" | "cookie"
            ) || lower.contains("token")
                || lower.contains("api-key")
                || lower.contains("apikey")
                || lower.contains("secret");
            if secret {
                return Err(self.err(
                    value.span(),
                    format!("header \"{name}\" has a literal value in `headers`: that is a secret in the plan"),
                    format!("move it to `headers_env = {{ \"{name}\" = \"ENV_VAR_NAME\" }}` and export the value in that variable"),
                ));
            }
        }
        Ok(())
    }
}

/// `[a-z0-9-]`, 1..=63, no leading or trailing '-': the rule hook values
/// are checked with.
pub fn is_dns_label(s: &str) -> bool {
    crate::hooks::vars::check_dns_label(s).is_ok()
}

fn duration_help(key: &str, range: Option<(Duration, Duration)>) -> String {
    let range = range.map_or_else(String::new, |(lo, hi)| {
        format!(", from {} to {}", duration(lo), duration(hi))
    });
    format!(
        "write `{key} = \"30s\"` (units: ms, s, m, h, d) or an integer number of seconds{range}"
    )
}

/// The URL with its user and password replaced by `***`, for messages.
fn without_credentials(u: &reqwest::Url) -> String {
    let mut shown = u.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("***");
    shown.to_string()
}

/// Show at most a hint of something that may be a secret.
fn redact(s: &str) -> String {
    if s.chars().count() <= 4 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(4).collect::<String>())
    }
}

//! The values a hook may see, their validation, and placeholder expansion.
//!
//! Placeholders are exactly `{service}`, `{rollout_id}`, `{step}`,
//! `{weight}`, `{actor}` and `{reason}`. Expansion is one pass over the
//! template: a value is inserted as data and never scanned again, so a
//! reason that itself contains `{service}` or `$(id)` stays literal text.
//!
//! A `{` that is not followed by `[A-Za-z0-9_]+` and a closing `}` is
//! ordinary text, the same rule `config` validates with (so JSON like
//! `{"spec":{"paused":false}}` passes through untouched); `{something_else}`
//! is an error, because a typo such as
//! `{weigth}` must not silently reach a deployment system.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::HookError;

/// Longest accepted rollout id. Ids become file and socket names.
pub const MAX_ROLLOUT_ID_LEN: usize = 128;

/// The placeholder names a template may use.
pub const PLACEHOLDERS: [&str; 6] = ["service", "rollout_id", "step", "weight", "actor", "reason"];

/// Everything a hook template may refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookVars {
    /// Service name: a DNS label (`[a-z0-9]`, inner `-`, at most 63).
    pub service: String,
    /// Rollout id: `[A-Za-z0-9]` first, then `[A-Za-z0-9._-]`, at most 128.
    /// Dots and underscores are allowed because ids are often dates or
    /// ticket numbers (`checkout-2026.11.29`, `CHG_4821`); slashes and a
    /// leading `.` or `-` are not, so an id is always one path component and
    /// never looks like an option.
    pub rollout_id: String,
    /// Step index, 0-based, as in the plan.
    pub step: usize,
    /// Traffic weight in percent, 0..=100.
    pub weight: u8,
    /// Who caused the action (`rampdeck` for automatic ones), as the kernel
    /// and the passwd database give it: `alice`, `uid:12345` (no passwd
    /// entry), `alice@corp.example` (SSO). Data like the reason: one argv
    /// element, percent-encoded in URLs, JSON-escaped in bodies; only empty
    /// or control characters are refused.
    pub actor: String,
    /// Free text. Never interpreted: one argv element, percent-encoded in
    /// URLs, JSON-escaped in bodies. Must not contain NUL (an argv element
    /// cannot); the driver gives hooks a reason already cut to size
    /// ([`crate::engine::reason::reason_for_hooks`]).
    pub reason: String,
}

/// How a value is encoded when it is put into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is (one argv element).
    Raw,
    /// Percent-encoded: everything but `A-Z a-z 0-9 - . _ ~`.
    Url,
    /// The inside of a JSON string (no surrounding quotes).
    JsonString,
}

/// RFC 3986 unreserved characters stay; everything else is encoded, so a
/// value can never add a path segment, a query parameter or a fragment.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl HookVars {
    /// Checks every value; see the field docs for the rules.
    pub fn validate(&self) -> Result<(), HookError> {
        check_dns_label(&self.service).map_err(|why| HookError::InvalidValue {
            field: "service",
            value: self.service.clone(),
            why,
        })?;
        check_rollout_id(&self.rollout_id).map_err(|why| HookError::InvalidValue {
            field: "rollout_id",
            value: self.rollout_id.clone(),
            why,
        })?;
        check_user_name(&self.actor).map_err(|why| HookError::InvalidValue {
            field: "actor",
            value: self.actor.clone(),
            why,
        })?;
        if self.weight > 100 {
            return Err(HookError::InvalidValue {
                field: "weight",
                value: self.weight.to_string(),
                why: "a weight is a percentage from 0 to 100".into(),
            });
        }
        if self.reason.contains('\0') {
            return Err(HookError::InvalidValue {
                field: "reason",
                value: self.reason.replace('\0', "\\0"),
                why: "a reason cannot contain a NUL byte; retype it".into(),
            });
        }
        Ok(())
    }

    /// The value of a placeholder name, if it is one.
    pub fn lookup(&self, name: &str) -> Option<String> {
        Some(match name {
            "service" => self.service.clone(),
            "rollout_id" => self.rollout_id.clone(),
            "step" => self.step.to_string(),
            "weight" => self.weight.to_string(),
            "actor" => self.actor.clone(),
            "reason" => self.reason.clone(),
            _ => return None,
        })
    }

    /// Environment variables for command hooks, for scripts that prefer the
    /// environment to arguments: `RAMPDECK_SERVICE`, `RAMPDECK_ROLLOUT_ID`,
    /// `RAMPDECK_STEP`, `RAMPDECK_WEIGHT`, `RAMPDECK_ACTOR`, `RAMPDECK_REASON`.
    pub fn env(&self) -> Vec<(String, String)> {
        PLACEHOLDERS
            .iter()
            .filter_map(|name| {
                self.lookup(name)
                    .map(|v| (format!("RAMPDECK_{}", name.to_ascii_uppercase()), v))
            })
            .collect()
    }
}

/// Replaces placeholders in `template`, encoding each value with `enc`.
pub fn expand(template: &str, vars: &HookVars, enc: Encoding) -> Result<String, HookError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'}') {
            let name = &after[..name_len];
            let value = vars
                .lookup(name)
                .ok_or_else(|| HookError::UnknownPlaceholder {
                    name: name.to_string(),
                    template: template.to_string(),
                })?;
            out.push_str(&encode(&value, enc));
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands every argv element on its own: each stays exactly one argument,
/// whatever the values contain. An empty argv is an error.
pub fn expand_argv(argv: &[String], vars: &HookVars) -> Result<Vec<String>, HookError> {
    if argv.is_empty() {
        return Err(HookError::EmptyCommand);
    }
    argv.iter()
        .map(|arg| expand(arg, vars, Encoding::Raw))
        .collect()
}

/// Expands a webhook URL with percent-encoded values and checks it parses.
pub fn expand_url(url: &str, vars: &HookVars) -> Result<reqwest::Url, HookError> {
    let expanded = expand(url, vars, Encoding::Url)?;
    reqwest::Url::parse(&expanded).map_err(|e| HookError::InvalidUrl {
        url: expanded.clone(),
        why: e.to_string(),
    })
}

/// Expands a JSON body template with JSON-string-escaped values and checks
/// that the result is valid JSON, so a broken template never reaches the
/// receiving system. Put string placeholders inside quotes
/// (`"{reason}"`); `{step}` and `{weight}` are numbers and may stand alone.
pub fn expand_json_body(template: &str, vars: &HookVars) -> Result<String, HookError> {
    let body = expand(template, vars, Encoding::JsonString)?;
    serde_json::from_str::<serde_json::Value>(&body).map_err(|e| HookError::BodyNotJson {
        why: e.to_string(),
        template: template.to_string(),
    })?;
    Ok(body)
}

fn encode(value: &str, enc: Encoding) -> String {
    match enc {
        Encoding::Raw => value.to_string(),
        Encoding::Url => utf8_percent_encode(value, URL_VALUE).to_string(),
        Encoding::JsonString => {
            // serde_json writes a quoted, fully escaped string; strip the quotes.
            let quoted = serde_json::Value::String(value.to_string()).to_string();
            quoted[1..quoted.len() - 1].to_string()
        }
    }
}

fn check_dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("a service name is a DNS label of 1 to 63 characters".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("use only lowercase letters, digits and '-'".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("a DNS label cannot start or end with '-'".into());
    }
    Ok(())
}

fn check_rollout_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ROLLOUT_ID_LEN {
        return Err(format!(
            "a rollout id has 1 to {MAX_ROLLOUT_ID_LEN} characters"
        ));
    }
    let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !first_ok || !rest_ok {
        return Err(
            "use letters, digits, '.', '_' and '-', starting with a letter or digit".into(),
        );
    }
    Ok(())
}

/// Longest actor, in bytes (a long SSO principal fits).
const MAX_ACTOR_BYTES: usize = 256;

fn check_user_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ACTOR_BYTES {
        return Err(format!("an identity has 1 to {MAX_ACTOR_BYTES} bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err("an identity cannot hold control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HookVars {
        HookVars {
            service: "checkout".into(),
            rollout_id: "checkout-2026.11.29".into(),
            step: 2,
            weight: 25,
            actor: "alice".into(),
            reason: "p95 \"spiked\" {service} $(id)\n`x`".into(),
        }
    }

    #[test]
    fn placeholders_expand_once_and_values_are_not_rescanned() {
        let got = expand(
            "{service}/{step}/{weight}/{actor}/{reason}",
            &vars(),
            Encoding::Raw,
        );
        assert_eq!(
            got.ok().as_deref(),
            Some("checkout/2/25/alice/p95 \"spiked\" {service} $(id)\n`x`")
        );
    }

    #[test]
    fn unknown_placeholder_is_an_error_but_other_braces_are_text() {
        let err = expand("{weigth}", &vars(), Encoding::Raw);
        assert!(matches!(err, Err(HookError::UnknownPlaceholder { name, .. }) if name == "weigth"));
        let json = expand(r#"{"spec":{"paused":false}}"#, &vars(), Encoding::Raw);
        assert_eq!(json.ok().as_deref(), Some(r#"{"spec":{"paused":false}}"#));
        assert_eq!(
            expand("{ {} {", &vars(), Encoding::Raw).ok().as_deref(),
            Some("{ {} {")
        );
    }

    #[test]
    fn json_body_stays_valid_whatever_the_reason() {
        let body = expand_json_body(r#"{"reason": "{reason}", "weight": {weight}}"#, &vars());
        let body = body.ok().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["reason"], serde_json::json!(vars().reason));
        assert_eq!(v["weight"], serde_json::json!(25));
    }

    #[test]
    fn json_body_that_is_not_json_is_refused() {
        let err = expand_json_body(r#"{"reason": {reason}}"#, &vars());
        assert!(matches!(err, Err(HookError::BodyNotJson { .. })));
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let mut v = vars();
        v.reason = "a/b?c=d#e f".into();
        let url = expand_url("http://127.0.0.1/x/{service}?why={reason}", &v);
        assert_eq!(
            url.map(|u| u.to_string()).ok().as_deref(),
            Some("http://127.0.0.1/x/checkout?why=a%2Fb%3Fc%3Dd%23e%20f")
        );
        v.actor = "alice@corp.example/x?y".into();
        let url = expand_url("http://127.0.0.1/by/{actor}", &v);
        assert_eq!(
            url.map(|u| u.to_string()).ok().as_deref(),
            Some("http://127.0.0.1/by/alice%40corp.example%2Fx%3Fy")
        );
    }

    #[test]
    fn validation_rules() {
        assert!(vars().validate().is_ok());
        for bad in [
            "",
            "Checkout",
            "a b",
            "x;rm",
            "-x",
            "x-",
            "$(id)",
            &"a".repeat(64),
        ] {
            let v = HookVars {
                service: bad.into(),
                ..vars()
            };
            assert!(v.validate().is_err(), "service {bad:?} accepted");
        }
        for bad in ["", ".hidden", "-rf", "a/b", "a b", "x;y"] {
            let v = HookVars {
                rollout_id: bad.into(),
                ..vars()
            };
            assert!(v.validate().is_err(), "rollout id {bad:?} accepted");
        }
        for bad in ["", "a\0b", "a\u{1b}[2J", &"a".repeat(257)] {
            let v = HookVars {
                actor: bad.into(),
                ..vars()
            };
            assert!(v.validate().is_err(), "actor {bad:?} accepted");
        }
        // Whatever identity the kernel and passwd give is data (issue 9).
        for good in [
            "uid:12345",
            "alice@corp.example",
            "a.b-c_d",
            "DOMAIN\\bob",
            "$(id)",
        ] {
            let v = HookVars {
                actor: good.into(),
                ..vars()
            };
            assert!(v.validate().is_ok(), "actor {good:?} refused");
        }
        assert!(
            HookVars {
                weight: 101,
                ..vars()
            }
            .validate()
            .is_err()
        );
        assert!(
            HookVars {
                reason: "a\0b".into(),
                ..vars()
            }
            .validate()
            .is_err()
        );
        assert!(
            HookVars {
                rollout_id: "CHG_4821.v2".into(),
                ..vars()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn env_names_every_value() {
        let env = vars().env();
        assert!(env.contains(&("RAMPDECK_WEIGHT".into(), "25".into())));
        assert!(env.contains(&("RAMPDECK_ROLLOUT_ID".into(), "checkout-2026.11.29".into())));
        assert_eq!(env.len(), 6);
    }
}

//! The values a hook may see, their validation, and how a hook's
//! templates are expanded with them.
//!
//! The placeholders and the parsing are [`crate::template`]'s: a hook's
//! templates are parsed in [`Context::Hook`], where every `{name}` that is
//! not one of its placeholders is refused, because a typo such as
//! `{weigth}` must not silently reach a deployment system. Each value is
//! encoded for where it lands: one argv element as is, percent-encoded in
//! a URL, JSON-escaped in a body.

use std::borrow::Cow;

use super::HookError;
use crate::template::{Context, Encoding, Placeholder, Template, Values};

/// Longest accepted rollout id. Ids become file and socket names.
pub const MAX_ROLLOUT_ID_LEN: usize = 128;

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
    /// The step's number, 1-based (a rolling plan's batch).
    pub batch: usize,
    /// Rolling: instances on the new version once the step's batch is
    /// done (for a rollback, those to redeploy the old version to); 0 for
    /// other strategies.
    pub instances: u32,
    /// The cohort the step targets, a DNS label (`eu-west-1`), or empty.
    pub cohort_name: String,
}

impl HookVars {
    /// Checks every value; see the field docs for the rules.
    pub fn validate(&self) -> Result<(), HookError> {
        check_dns_label(&self.service).map_err(|why| HookError::InvalidValue {
            field: "service",
            value: self.service.clone(),
            why,
        })?;
        if !self.cohort_name.is_empty() {
            check_dns_label(&self.cohort_name).map_err(|why| HookError::InvalidValue {
                field: "cohort_name",
                value: self.cohort_name.clone(),
                why,
            })?;
        }
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

    /// Environment variables for command hooks, for scripts that prefer the
    /// environment to arguments: `RAMPDECK_SERVICE`, `RAMPDECK_ROLLOUT_ID`,
    /// `RAMPDECK_STEP`, `RAMPDECK_WEIGHT`, `RAMPDECK_ACTOR`, `RAMPDECK_REASON`.
    pub fn env(&self) -> Vec<(String, String)> {
        Context::Hook
            .placeholders()
            .filter_map(|p| {
                self.value(p).map(|v| {
                    (
                        format!("RAMPDECK_{}", p.name().to_ascii_uppercase()),
                        v.into_owned(),
                    )
                })
            })
            .collect()
    }
}

impl Values for HookVars {
    fn value(&self, placeholder: Placeholder) -> Option<Cow<'_, str>> {
        Some(match placeholder {
            Placeholder::Service => Cow::Borrowed(&self.service),
            Placeholder::RolloutId => Cow::Borrowed(&self.rollout_id),
            Placeholder::Step => Cow::Owned(self.step.to_string()),
            Placeholder::Weight => Cow::Owned(self.weight.to_string()),
            Placeholder::Actor => Cow::Borrowed(&self.actor),
            Placeholder::Reason => Cow::Borrowed(&self.reason),
            Placeholder::Batch => Cow::Owned(self.batch.to_string()),
            Placeholder::Instances => Cow::Owned(self.instances.to_string()),
            Placeholder::CohortName => Cow::Borrowed(&self.cohort_name),
            Placeholder::Cohort => return None,
        })
    }
}

/// A hook template (argv element, webhook URL or body), parsed.
pub fn template(text: &str) -> Template {
    Template::parse(text, Context::Hook)
}

/// Expands every argv element on its own: each stays exactly one argument,
/// whatever the values contain. An empty argv is an error.
pub fn expand_argv(argv: &[Template], vars: &HookVars) -> Result<Vec<String>, HookError> {
    if argv.is_empty() {
        return Err(HookError::EmptyCommand);
    }
    argv.iter()
        .map(|arg| Ok(arg.expand(vars, Encoding::Argv)?))
        .collect()
}

/// Expands a webhook URL with percent-encoded values and checks it parses.
///
/// A value that fills a whole path segment with `.` or `..` is refused: a
/// URL parser resolves it as a step (`/x/../y` is `/y`), so the request
/// would go to another path, and no encoding prevents that (parsers read
/// `%2e` as a dot too).
pub fn expand_url(url: &Template, vars: &HookVars) -> Result<reqwest::Url, HookError> {
    let expanded = url.expand(vars, Encoding::Url)?;
    let neutral = url.fill(&Placeholder::ALL.map(|p| (p, "0")), Encoding::Url);
    if dot_segments(&expanded) > dot_segments(&neutral) {
        return Err(HookError::InvalidUrl {
            url: expanded,
            why: "a value fills a path segment with \".\" or \"..\", which would send the request to another path".into(),
        });
    }
    reqwest::Url::parse(&expanded).map_err(|e| HookError::InvalidUrl {
        url: expanded.clone(),
        why: e.to_string(),
    })
}

/// How many segments of `url`'s path, as written, a URL parser resolves
/// as steps (`.`, `..`, and the same with `%2e`).
fn dot_segments(url: &str) -> usize {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    // Special schemes read `\` as `/`.
    path.split(['/', '\\'])
        .filter(|s| {
            let s = s.to_ascii_lowercase().replace("%2e", ".");
            s == "." || s == ".."
        })
        .count()
}

/// Expands a JSON body template with JSON-string-escaped values and checks
/// that the result is valid JSON, so a broken template never reaches the
/// receiving system. Put string placeholders inside quotes
/// (`"{reason}"`); `{step}` and `{weight}` are numbers and may stand alone.
pub fn expand_json_body(body: &Template, vars: &HookVars) -> Result<String, HookError> {
    let expanded = body.expand(vars, Encoding::Json)?;
    serde_json::from_str::<serde_json::Value>(&expanded).map_err(|e| HookError::BodyNotJson {
        why: e.to_string(),
        template: body.text().to_string(),
    })?;
    Ok(expanded)
}

/// A DNS label (`[a-z0-9-]`, 1 to 63, no leading or trailing `-`), or why not.
pub(crate) fn check_dns_label(s: &str) -> Result<(), String> {
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
    use proptest::prelude::*;

    use super::*;
    use crate::template::TemplateError;

    fn vars() -> HookVars {
        HookVars {
            service: "checkout".into(),
            rollout_id: "checkout-2026.11.29".into(),
            step: 2,
            weight: 25,
            actor: "alice".into(),
            reason: "p95 \"spiked\" {service} $(id)\n`x`".into(),
            batch: 3,
            instances: 4,
            cohort_name: "beta".into(),
        }
    }

    fn argv(args: &[&str]) -> Vec<Template> {
        args.iter().map(|a| template(a)).collect()
    }

    #[test]
    fn placeholders_expand_once_and_values_are_not_rescanned() {
        let got = expand_argv(
            &argv(&["{service}/{step}/{weight}/{actor}/{reason}"]),
            &vars(),
        );
        assert_eq!(
            got.ok(),
            Some(vec![
                "checkout/2/25/alice/p95 \"spiked\" {service} $(id)\n`x`".to_string()
            ])
        );
    }

    #[test]
    fn unknown_placeholder_is_an_error_but_other_braces_are_text() {
        let err = expand_argv(&argv(&["echo", "{weigth}"]), &vars());
        assert!(matches!(
            err,
            Err(HookError::Template(TemplateError::Unknown { name, .. })) if name == "weigth"
        ));
        let err = expand_argv(&argv(&["echo", "{cohort}"]), &vars());
        assert!(
            err.as_ref().is_err_and(|e| e
                .to_string()
                .contains("use {service}, {rollout_id}, {step}, {weight}, {actor}, {reason}, {batch}, {instances} or {cohort_name}")),
            "{err:?}"
        );
        let got = expand_argv(&argv(&[r#"{"spec":{"paused":false}}"#, "{ {} {"]), &vars());
        assert_eq!(
            got.ok(),
            Some(vec![
                r#"{"spec":{"paused":false}}"#.to_string(),
                "{ {} {".to_string()
            ])
        );
        assert!(matches!(
            expand_argv(&[], &vars()),
            Err(HookError::EmptyCommand)
        ));
    }

    #[test]
    fn json_body_stays_valid_whatever_the_reason() {
        let body = expand_json_body(
            &template(r#"{"reason": "{reason}", "weight": {weight}}"#),
            &vars(),
        );
        let body = body.ok().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["reason"], serde_json::json!(vars().reason));
        assert_eq!(v["weight"], serde_json::json!(25));
    }

    #[test]
    fn json_body_that_is_not_json_is_refused() {
        let err = expand_json_body(&template(r#"{"reason": {reason}}"#), &vars());
        assert!(matches!(err, Err(HookError::BodyNotJson { .. })));
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let mut v = vars();
        v.reason = "a/b?c=d#e f".into();
        let url = expand_url(&template("http://127.0.0.1/x/{service}?why={reason}"), &v);
        assert_eq!(
            url.map(|u| u.to_string()).ok().as_deref(),
            Some("http://127.0.0.1/x/checkout?why=a%2Fb%3Fc%3Dd%23e%20f")
        );
        v.actor = "alice@corp.example/x?y".into();
        let url = expand_url(&template("http://127.0.0.1/by/{actor}"), &v);
        assert_eq!(
            url.map(|u| u.to_string()).ok().as_deref(),
            Some("http://127.0.0.1/by/alice%40corp.example%2Fx%3Fy")
        );
    }

    #[test]
    fn a_value_never_moves_the_webhook_to_another_path() {
        for value in [".", "..", "%2e", "%2E.", "..%2f", "..."] {
            let v = HookVars {
                actor: value.into(),
                reason: value.into(),
                ..vars()
            };
            for url in [
                "http://127.0.0.1/x/{actor}/y",
                "http://127.0.0.1/x/{reason}{reason}/y",
                "http://127.0.0.1/x\\{reason}/y",
            ] {
                match expand_url(&template(url), &v) {
                    Ok(u) => assert_eq!(
                        u.path_segments().map(Iterator::count),
                        Some(3),
                        "{url} with {value:?}: {u}"
                    ),
                    Err(e) => assert!(
                        matches!(value, "." | "..") && e.to_string().contains("another path"),
                        "{url} with {value:?}: {e}"
                    ),
                }
            }
        }
        let v = HookVars {
            reason: "..".into(),
            ..vars()
        };
        assert!(matches!(
            expand_url(&template("http://127.0.0.1/x/{reason}/y"), &v),
            Err(HookError::InvalidUrl { why, .. }) if why.contains("another path")
        ));
        // In the query, or as part of a segment, a dot is only text.
        for url in [
            "http://127.0.0.1/x?why={reason}",
            "http://127.0.0.1/x/{reason}.json",
            "http://127.0.0.1/a/../x/{service}",
        ] {
            assert!(expand_url(&template(url), &v).is_ok(), "{url}");
        }
    }

    proptest! {
        #[test]
        fn any_reason_and_actor_stay_one_argv_element_each(
            reason in any::<String>(),
            actor in any::<String>(),
        ) {
            let v = HookVars { reason: reason.clone(), actor: actor.clone(), ..vars() };
            let got = expand_argv(&argv(&["prog", "{reason}", "--by={actor}"]), &v);
            prop_assert_eq!(
                got.ok(),
                Some(vec!["prog".to_string(), reason, format!("--by={actor}")])
            );
        }

        #[test]
        fn any_reason_stays_in_its_url_path_segment_or_is_refused(
            reason in r#"[a-z./\\?#%&= ]{0,6}|\PC{0,12}"#,
        ) {
            let v = HookVars { reason: reason.clone(), ..vars() };
            match expand_url(&template("http://127.0.0.1/x/{reason}/y?by={actor}"), &v) {
                Ok(url) => {
                    let segments: Vec<&str> = url.path_segments().map(Iterator::collect).unwrap_or_default();
                    prop_assert_eq!(segments.len(), 3, "{}", url);
                    let decoded = percent_encoding::percent_decode_str(segments[1]).decode_utf8().map(|d| d.into_owned());
                    prop_assert_eq!(decoded.ok(), Some(reason));
                    prop_assert_eq!(url.query(), Some("by=alice"));
                }
                Err(e) => prop_assert!(reason == "." || reason == "..", "{}", e),
            }
        }
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
    fn the_cohort_name_fills_its_slot_and_is_validated() {
        let args = expand_argv(&argv(&["./flags.sh", "{cohort_name}", "{batch}"]), &vars());
        assert_eq!(
            args.ok(),
            Some(vec!["./flags.sh".into(), "beta".into(), "3".into()])
        );
        let bad = HookVars {
            cohort_name: "beta; rm -rf /".into(),
            ..vars()
        };
        assert!(
            bad.validate()
                .is_err_and(|e| e.to_string().contains("cohort_name"))
        );
        let none = HookVars {
            cohort_name: String::new(),
            ..vars()
        };
        assert!(none.validate().is_ok());
    }

    #[test]
    fn env_names_every_value() {
        let env = vars().env();
        assert!(env.contains(&("RAMPDECK_WEIGHT".into(), "25".into())));
        assert!(env.contains(&("RAMPDECK_ROLLOUT_ID".into(), "checkout-2026.11.29".into())));
        assert!(env.contains(&("RAMPDECK_INSTANCES".into(), "4".into())));
        assert!(env.contains(&("RAMPDECK_COHORT_NAME".into(), "beta".into())));
        assert_eq!(env.len(), 9);
    }
}

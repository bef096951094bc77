//! `[hooks]`: argv commands or webhooks, with checked placeholders.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::raw::{RawHook, RawHooks, RawTargetStep};
use super::values::{R, placeholder_names};
use crate::plan::{Hook, HookAction, Hooks, Metric, TargetStep, Webhook};

/// Defaults documented in config.example.toml.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_ROLLBACK_RETRIES: u32 = 5;
pub const DEFAULT_EXPECT_STATUS: [u16; 4] = [200, 201, 202, 204];

pub(crate) fn build_hooks(ctx: &Ctx, raw: &RawHooks, metrics: &[Metric]) -> R<Hooks> {
    let one = |key: &str, h: &Option<Spanned<RawHook>>| {
        h.as_ref().map(|h| build_hook(ctx, key, h)).transpose()
    };
    Ok(Hooks {
        set_weight: one("set_weight", &raw.set_weight)?,
        promote: one("promote", &raw.promote)?,
        pause: one("pause", &raw.pause)?,
        resume: one("resume", &raw.resume)?,
        rollback: one("rollback", &raw.rollback)?,
        on_step_enter: raw
            .on_step_enter
            .iter()
            .map(|h| build_hook(ctx, "on_step_enter", h))
            .collect::<R<_>>()?,
        on_finish: one("on_finish", &raw.on_finish)?,
        rollback_retry: match &raw.rollback_retry {
            Some(v) => {
                let d = ctx.duration("rollback_retry", v)?;
                if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                    return Err(ctx.err(
                        v.span(),
                        format!("hooks.rollback_retry is {} ms", d.as_millis()),
                        "give a wait between 1s and 1h, e.g. \"30s\": a failed rollback is retried at most this long apart",
                    ));
                }
                Some(d)
            }
            None => None,
        },
        target_step: raw
            .target_step
            .as_ref()
            .map(|t| target_step(ctx, t.get_ref(), metrics))
            .transpose()?,
    })
}

fn target_step(ctx: &Ctx, t: &RawTargetStep, metrics: &[Metric]) -> R<TargetStep> {
    let metric = t.metric.get_ref();
    if !metrics.iter().any(|m| m.id == *metric) {
        let ids: Vec<&str> = metrics.iter().map(|m| m.id.as_str()).collect();
        return Err(ctx.err(
            t.metric.span(),
            format!("hooks.target_step names unknown metric \"{metric}\""),
            format!(
                "name the metric that reads the target's step, one of: {}",
                ids.join(", ")
            ),
        ));
    }
    let num = |key: &str, v: &Option<Spanned<f64>>, default: f64| match v {
        Some(v) => ctx.finite(key, v),
        None => Ok(default),
    };
    Ok(TargetStep {
        metric: metric.clone(),
        scale: num("scale", &t.scale, 1.0)?,
        offset: num("offset", &t.offset, 0.0)?,
    })
}

fn build_hook(ctx: &Ctx, key: &str, h: &Spanned<RawHook>) -> R<Hook> {
    let r = h.get_ref();
    let action = match (&r.command, &r.webhook) {
        (Some(c), None) => {
            let argv = c.get_ref();
            if argv.first().is_none_or(|a| a.get_ref().trim().is_empty()) {
                return Err(ctx.err(
                    c.span(),
                    format!("hook `{key}` has an empty command"),
                    "give the program and its arguments, e.g. [\"kubectl\", \"argo\", \"rollouts\", \"promote\", \"{service}\"]",
                ));
            }
            for a in argv {
                ctx.placeholders(&format!("hooks.{key}.command"), a.get_ref(), a.span())?;
            }
            HookAction::Command(argv.iter().map(|a| a.get_ref().clone()).collect())
        }
        (None, Some(w)) => {
            let w = w.get_ref();
            let url = ctx.url("webhook url", &w.url)?;
            ctx.placeholders(&format!("hooks.{key}.webhook.url"), &url, w.url.span())?;
            let method = match &w.method {
                Some(m) => {
                    let up = m.get_ref().to_ascii_uppercase();
                    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&up.as_str()) {
                        return Err(ctx.err(
                            m.span(),
                            format!("unknown HTTP method \"{}\"", m.get_ref()),
                            "use GET, POST, PUT, PATCH or DELETE",
                        ));
                    }
                    up
                }
                None => "POST".into(),
            };
            if let Some(b) = &w.body {
                ctx.placeholders(&format!("hooks.{key}.webhook.body"), b.get_ref(), b.span())?;
                // Placeholders become JSON-escaped text; with a stand-in digit,
                // both "{service}" in quotes and a bare {weight} stay valid JSON.
                let mut probe = b.get_ref().clone();
                for name in placeholder_names(b.get_ref()) {
                    probe = probe.replace(&format!("{{{name}}}"), "0");
                }
                if let Err(e) = serde_json::from_str::<serde_json::Value>(&probe) {
                    return Err(ctx.err(
                        b.span(),
                        format!("webhook body of hook `{key}` is not valid JSON: {e}"),
                        "write a JSON template in single quotes, e.g. body = '{\"service\":\"{service}\",\"weight\":{weight}}'",
                    ));
                }
            }
            let mut headers = BTreeMap::new();
            if let Some(h) = &w.headers {
                ctx.check_literal_headers(h.get_ref())?;
                for (k, v) in h.get_ref() {
                    ctx.placeholders(
                        &format!("hooks.{key}.webhook.headers"),
                        v.get_ref(),
                        v.span(),
                    )?;
                    headers.insert(k.clone(), v.get_ref().clone());
                }
            }
            let mut headers_env = BTreeMap::new();
            if let Some(h) = &w.headers_env {
                for (k, v) in h.get_ref() {
                    headers_env.insert(k.clone(), ctx.env_name("headers_env", v)?);
                }
            }
            let expect_status = match &w.expect_status {
                Some(list) => {
                    if list.get_ref().is_empty() {
                        return Err(ctx.err(
                            list.span(),
                            "`expect_status` is empty",
                            "list the HTTP statuses that mean success, e.g. [200, 204]",
                        ));
                    }
                    list.get_ref()
                        .iter()
                        .map(|s| {
                            ctx.int_in("expect_status", s, 100, 599)
                                .map(|n| u16::try_from(n).unwrap_or(200))
                        })
                        .collect::<R<_>>()?
                }
                None => DEFAULT_EXPECT_STATUS.to_vec(),
            };
            HookAction::Webhook(Webhook {
                method,
                url,
                body: w.body.as_ref().map(|b| b.get_ref().clone()),
                headers,
                headers_env,
                expect_status,
            })
        }
        (Some(_), Some(_)) => {
            return Err(ctx.err(
                h.span(),
                format!("hook `{key}` has both `command` and `webhook`"),
                "keep one: a hook is either an argv command or a webhook",
            ));
        }
        (None, None) => {
            return Err(ctx.err(
                h.span(),
                format!("hook `{key}` has neither `command` nor `webhook`"),
                "add `command = [\"prog\", \"arg\"]` or `webhook = { url = \"https://...\" }`",
            ));
        }
    };
    let timeout = match &r.timeout {
        Some(t) => ctx.duration("timeout", t)?,
        None => DEFAULT_HOOK_TIMEOUT,
    };
    if timeout.is_zero() {
        let span = r.timeout.as_ref().map_or(h.span(), Spanned::span);
        return Err(ctx.err(
            span,
            format!("hook `{key}` has a zero timeout"),
            "use a timeout such as \"30s\"",
        ));
    }
    // Rollback must be safe to repeat, so it is idempotent and retried by default.
    let is_rollback = key == "rollback";
    let idempotent = r.idempotent.as_ref().map_or(is_rollback, |b| *b.get_ref());
    let retries = match &r.retries {
        Some(v) => {
            let n = u32::try_from(ctx.int_in("retries", v, 0, 100)?).unwrap_or(0);
            if n > 0 && !idempotent {
                return Err(ctx.err(
                    v.span(),
                    format!("hook `{key}` retries {n} times but is not idempotent"),
                    "set `idempotent = true` if running it twice is safe, or remove `retries`",
                ));
            }
            n
        }
        None if is_rollback && idempotent => DEFAULT_ROLLBACK_RETRIES,
        None => 0,
    };
    Ok(Hook {
        action,
        timeout,
        retries,
        idempotent,
    })
}

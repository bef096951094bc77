//! `[hooks]`: argv commands or webhooks, with checked placeholders.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::raw::{RawHook, RawHooks, RawTargetStep, RawWebhook};
use super::values::R;
use crate::hooks::HookError;
use crate::hooks::vars::{HookVars, expand_json_body, expand_url};
use crate::plan::{Hook, HookAction, Hooks, Metric, TargetStep, Webhook};
use crate::template::{Context, Encoding};

/// Defaults documented in config.example.toml.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_ROLLBACK_RETRIES: u32 = 5;
/// A hook that needs more than an hour is a job to start, not to wait on.
const MIN_HOOK_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(3600);
/// A hook that failed this many times in a row needs a person.
const MAX_RETRIES: i64 = 20;
pub const DEFAULT_EXPECT_STATUS: [u16; 4] = [200, 201, 202, 204];

/// `samples` are the values hooks are tried with (see [`samples`]).
pub(crate) fn build_hooks(
    ctx: &Ctx,
    raw: &RawHooks,
    metrics: &[Metric],
    samples: &[HookVars],
) -> R<Hooks> {
    let one = |key: &str, h: &Option<Spanned<RawHook>>| {
        h.as_ref()
            .map(|h| build_hook(ctx, key, h, samples))
            .transpose()
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
            .map(|h| build_hook(ctx, "on_step_enter", h, samples))
            .collect::<R<_>>()?,
        on_finish: one("on_finish", &raw.on_finish)?,
        switch: one("switch", &raw.switch)?,
        scale_down: one("scale_down", &raw.scale_down)?,
        redeploy: one("redeploy", &raw.redeploy)?,
        rollback_retry: match &raw.rollback_retry {
            // A failed rollback is retried at most this long apart.
            Some(v) => Some(ctx.duration_in(
                "rollback_retry",
                v,
                Duration::from_secs(1),
                Duration::from_secs(3600),
            )?),
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

fn build_hook(ctx: &Ctx, key: &str, h: &Spanned<RawHook>, samples: &[HookVars]) -> R<Hook> {
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
                let field = format!("hooks.{key}.command");
                ctx.template(&field, a.get_ref(), a.span(), Context::Hook)?;
            }
            HookAction::Command(argv.iter().map(|a| a.get_ref().clone()).collect())
        }
        (None, Some(w)) => HookAction::Webhook(build_webhook(ctx, key, w.get_ref(), samples)?),
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
        Some(t) => ctx.duration_in("timeout", t, MIN_HOOK_TIMEOUT, MAX_HOOK_TIMEOUT)?,
        None => DEFAULT_HOOK_TIMEOUT,
    };
    // Rollback must be safe to repeat, so it is idempotent and retried by default.
    let is_rollback = key == "rollback";
    let idempotent = r.idempotent.as_ref().map_or(is_rollback, |b| *b.get_ref());
    let retries = match &r.retries {
        Some(v) => {
            let n = u32::try_from(ctx.int_in("retries", v, 0, MAX_RETRIES)?).unwrap_or(0);
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

fn build_webhook(ctx: &Ctx, key: &str, w: &RawWebhook, samples: &[HookVars]) -> R<Webhook> {
    let url = ctx.url(
        "webhook url",
        &w.url,
        "send them in a header taken from the environment: `headers_env = { \"Authorization\" = \"HOOK_AUTH\" }`, with HOOK_AUTH=\"Basic <base64 of user:password>\" (or \"Bearer <token>\")",
    )?;
    let url_template = ctx.template(
        &format!("hooks.{key}.webhook.url"),
        &url,
        w.url.span(),
        Context::Hook,
    )?;
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
    // Filled in with sample values, hostile ones included, as the
    // hook will be: a template that breaks only for some values
    // would fail at rollback time.
    for vars in samples {
        if let Err(e) = expand_url(&url_template, vars) {
            return Err(ctx.err(
                w.url.span(),
                format!("webhook url of hook `{key}` is not a URL once filled in: {e}"),
                "put placeholders in the path or the query (`https://deploy.example.com/{service}?by={actor}`), where any value fits",
            ));
        }
    }
    if let Some(b) = &w.body {
        check_body(ctx, key, b, samples)?;
    }
    let mut headers = BTreeMap::new();
    if let Some(h) = &w.headers {
        ctx.check_literal_headers(h.get_ref())?;
        for (k, v) in h.get_ref() {
            // Checked like the other templates (header values
            // are sent as written).
            ctx.template(
                &format!("hooks.{key}.webhook.headers"),
                v.get_ref(),
                v.span(),
                Context::Hook,
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
    Ok(Webhook {
        method,
        url,
        body: w.body.as_ref().map(|b| b.get_ref().clone()),
        headers,
        headers_env,
        expect_status,
    })
}

/// A webhook body must be JSON once filled in with every sample.
fn check_body(ctx: &Ctx, key: &str, b: &Spanned<String>, samples: &[HookVars]) -> R<()> {
    let body = ctx.template(
        &format!("hooks.{key}.webhook.body"),
        b.get_ref(),
        b.span(),
        Context::Hook,
    )?;
    for vars in samples {
        if let Err(e) = expand_json_body(&body, vars) {
            let why = match &e {
                HookError::BodyNotJson { why, .. } => why.clone(),
                other => other.to_string(),
            };
            let filled = body.expand(vars, Encoding::Json).unwrap_or_default();
            return Err(ctx.err(
                b.span(),
                format!(
                    "webhook body of hook `{key}` is not valid JSON once filled in: {why}, in {}",
                    shorten(&filled)
                ),
                "put text placeholders in quotes, e.g. body = '{\"service\":\"{service}\",\"reason\":\"{reason}\",\"weight\":{weight}}'; only {step} and {weight} are numbers that may stand bare",
            ));
        }
    }
    Ok(())
}

/// The values a hook template is tried with at plan time: this plan's
/// service, rollout id, steps and weights, with actors and reasons as
/// people and the kernel give them (quotes, backslashes, newlines, braces,
/// digits only, empty).
pub(crate) fn samples(service: &str, rollout_id: &str, weights: &[u8]) -> Vec<HookVars> {
    let actors = [
        "rampdeck",
        "uid:65534",
        "DOMAIN\\bob \"the builder\" {service}",
    ];
    let reasons = [
        "p95 looks fine",
        "",
        "0",
        "\"quoted\", a back\\slash,\na newline\tand {weight} $(id)",
    ];
    let mut out = Vec::new();
    for (i, reason) in reasons.iter().enumerate() {
        let step = i % weights.len().max(1);
        out.push(HookVars {
            service: service.to_string(),
            rollout_id: rollout_id.to_string(),
            step,
            weight: weights.get(step).copied().unwrap_or(100),
            actor: actors[i % actors.len()].to_string(),
            reason: (*reason).to_string(),
            batch: step + 1,
            instances: u32::try_from(step * 2).unwrap_or(0),
            cohort_name: "eu-west-1".into(),
        });
    }
    out
}

/// At most 120 characters of a filled-in template, for a message.
fn shorten(s: &str) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() <= 120 {
        one_line
    } else {
        format!("{}…", one_line.chars().take(120).collect::<String>())
    }
}

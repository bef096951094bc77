//! `[sources.*]`: kinds, intervals, auth by environment-variable reference.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::raw::{RawAuth, RawSource};
use super::values::R;
use crate::engine::words::duration;
use crate::plan::{Auth, DegradedPolicy, HttpTarget, Source, SourceKind};

/// Default poll interval and timeout of a source.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// A source polled less than hourly cannot guard a rollout.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Bounds of `max_response`: an answer must fit a number, and must not
/// cost the driver's host more than a little memory per poll.
const MIN_MAX_RESPONSE: u64 = 1024;
const MAX_MAX_RESPONSE: u64 = 64 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Prometheus,
    HttpJson,
    Probe,
    Command,
}

/// Sources in file order.
pub(crate) fn build_sources(
    ctx: &Ctx,
    raw: &BTreeMap<String, Spanned<RawSource>>,
) -> R<Vec<Source>> {
    let mut ordered: Vec<(&String, &Spanned<RawSource>)> = raw.iter().collect();
    ordered.sort_by_key(|(_, s)| s.span().start);
    ordered
        .into_iter()
        .map(|(name, s)| build_source(ctx, name, s))
        .collect()
}

fn build_source(ctx: &Ctx, name: &str, s: &Spanned<RawSource>) -> R<Source> {
    let r = s.get_ref();
    let kind = ctx.pick(
        "kind",
        &r.kind,
        &[
            ("prometheus", Kind::Prometheus),
            ("http_json", Kind::HttpJson),
            ("probe", Kind::Probe),
            ("command", Kind::Command),
        ],
    )?;
    reject_inline_secrets(ctx, r)?;
    let interval = poll_interval(ctx, name, s)?;
    let timeout = poll_timeout(ctx, name, s, interval)?;
    let max_response = match &r.max_response {
        Some(v) => {
            let n = ctx.size_in("max_response", v, MIN_MAX_RESPONSE, MAX_MAX_RESPONSE)?;
            usize::try_from(n).unwrap_or(usize::MAX)
        }
        None => crate::plan::DEFAULT_MAX_RESPONSE,
    };
    let kind = if kind == Kind::Command {
        reject_http_fields(ctx, name, r)?;
        SourceKind::Command
    } else {
        http_kind(ctx, name, s, kind)?
    };
    Ok(Source {
        name: name.to_string(),
        kind,
        interval,
        timeout,
        max_response,
        degraded: match &r.degraded {
            Some(d) => ctx.pick(
                "degraded",
                d,
                &[
                    ("hold", DegradedPolicy::Hold),
                    ("pass", DegradedPolicy::Pass),
                ],
            )?,
            None => DegradedPolicy::default(),
        },
    })
}

/// A secret written into the plan is refused, with the way to name an
/// environment variable instead.
fn reject_inline_secrets(ctx: &Ctx, r: &RawSource) -> R<()> {
    let env_help = |key: &str| match key {
        "password" => {
            "`auth = { basic = { user_env = \"USER_VAR\", password_env = \"PASSWORD_VAR\" } }`"
                .to_string()
        }
        "api_key" => "`headers_env = { \"X-Api-Key\" = \"API_KEY_VAR\" }`".to_string(),
        _ => "`auth = { bearer = { token_env = \"TOKEN_VAR\" } }`".to_string(),
    };
    for (key, v) in [
        ("token", &r.token),
        ("bearer", &r.bearer),
        ("bearer_token", &r.bearer_token),
        ("password", &r.password),
        ("api_key", &r.api_key),
    ] {
        if let Some(v) = v {
            return Err(ctx.secret(v, key, &env_help(key)));
        }
    }
    Ok(())
}

/// How often the source is polled: at least `MIN_INTERVAL`.
fn poll_interval(ctx: &Ctx, name: &str, s: &Spanned<RawSource>) -> R<Duration> {
    let r = s.get_ref();
    let interval = match &r.interval {
        Some(v) => ctx.duration("interval", v, Some((MIN_INTERVAL, MAX_INTERVAL)))?,
        None => DEFAULT_INTERVAL,
    };
    if interval < MIN_INTERVAL {
        let span = r.interval.as_ref().map_or(s.span(), Spanned::span);
        return Err(ctx.err(
            span,
            format!(
                "source \"{name}\" polls every {}, below the 1s minimum",
                duration(interval)
            ),
            "set `interval` to \"1s\" or more; faster polling only adds load and noise",
        ));
    }
    if let Some(v) = &r.interval {
        ctx.duration_range("interval", v, interval, MIN_INTERVAL, MAX_INTERVAL)?;
    }
    Ok(interval)
}

/// How long one poll may take: above zero and below `interval`.
fn poll_timeout(ctx: &Ctx, name: &str, s: &Spanned<RawSource>, interval: Duration) -> R<Duration> {
    let r = s.get_ref();
    let timeout = match &r.timeout {
        Some(v) => ctx.duration_in("timeout", v, MIN_TIMEOUT, MAX_INTERVAL)?,
        // The default must fit under short intervals too.
        None if DEFAULT_TIMEOUT < interval => DEFAULT_TIMEOUT,
        None => interval / 2,
    };
    if timeout.is_zero() || timeout >= interval {
        let span = r.timeout.as_ref().map_or(s.span(), Spanned::span);
        return Err(ctx.err(
            span,
            format!(
                "source \"{name}\" has timeout {} but interval {}: the timeout must be above zero and below the interval",
                duration(timeout),
                duration(interval)
            ),
            "lower `timeout` (or raise `interval`) so one poll ends before the next begins",
        ));
    }
    Ok(timeout)
}

/// A command source takes none of the HTTP fields.
fn reject_http_fields(ctx: &Ctx, name: &str, r: &RawSource) -> R<()> {
    for (key, present) in [
        ("url", r.url.as_ref().map(Spanned::span)),
        ("auth", r.auth.as_ref().map(Spanned::span)),
        ("headers", r.headers.as_ref().map(Spanned::span)),
        ("headers_env", r.headers_env.as_ref().map(Spanned::span)),
        ("ca_file", r.ca_file.as_ref().map(Spanned::span)),
        (
            "insecure_skip_verify",
            r.insecure_skip_verify.as_ref().map(Spanned::span),
        ),
        ("expect_status", r.expect_status.as_ref().map(Spanned::span)),
        ("body_contains", r.body_contains.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = present {
            return Err(ctx.err(
                span,
                format!("`{key}` does not apply to command source \"{name}\""),
                "remove it: a command source runs each metric's `command = [...]` argv",
            ));
        }
    }
    Ok(())
}

/// A source polled over HTTP: its target, and for a probe what it expects.
fn http_kind(ctx: &Ctx, name: &str, s: &Spanned<RawSource>, kind: Kind) -> R<SourceKind> {
    let r = s.get_ref();
    let target = http_target(ctx, name, s)?;
    if kind != Kind::Probe {
        for (key, present) in [
            ("expect_status", r.expect_status.as_ref().map(Spanned::span)),
            ("body_contains", r.body_contains.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = present {
                return Err(ctx.err(
                    span,
                    format!(
                        "`{key}` applies only to probe sources, and \"{name}\" is {}",
                        r.kind.get_ref()
                    ),
                    "remove it, or set `kind = \"probe\"`",
                ));
            }
        }
    }
    Ok(match kind {
        Kind::Prometheus => SourceKind::Prometheus(target),
        Kind::HttpJson => SourceKind::HttpJson(target),
        _ => SourceKind::Probe {
            target,
            expect_status: match &r.expect_status {
                Some(v) => u16::try_from(ctx.int_in("expect_status", v, 100, 599)?).unwrap_or(200),
                None => 200,
            },
            body_contains: r.body_contains.as_ref().map(|b| b.get_ref().clone()),
        },
    })
}

fn http_target(ctx: &Ctx, name: &str, s: &Spanned<RawSource>) -> R<HttpTarget> {
    let r = s.get_ref();
    let url = r.url.as_ref().ok_or_else(|| {
        ctx.err(
            r.kind.span(),
            format!("source \"{name}\" has no `url`"),
            format!("add `url = \"http://...\"` to [sources.{name}]"),
        )
    })?;
    let url = ctx.url(
        "url",
        url,
        "use `auth = { basic = { user_env = \"USER_VAR\", password_env = \"PASSWORD_VAR\" } }` (or `auth = { bearer = { token_env = \"TOKEN_VAR\" } }` for a token), exporting the values in those variables",
    )?;
    let auth = match &r.auth {
        Some(a) => auth(ctx, a)?,
        None => Auth::None,
    };
    let mut headers = BTreeMap::new();
    if let Some(h) = &r.headers {
        ctx.check_literal_headers(h.get_ref())?;
        for (k, v) in h.get_ref() {
            headers.insert(k.clone(), v.get_ref().clone());
        }
    }
    let mut headers_env = BTreeMap::new();
    if let Some(h) = &r.headers_env {
        for (k, v) in h.get_ref() {
            headers_env.insert(k.clone(), ctx.env_name("headers_env", v)?);
        }
    }
    Ok(HttpTarget {
        url,
        auth,
        headers,
        headers_env,
        ca_file: r.ca_file.as_ref().map(|c| c.get_ref().clone()),
        insecure_skip_verify: r
            .insecure_skip_verify
            .as_ref()
            .is_some_and(|b| *b.get_ref()),
    })
}

fn auth(ctx: &Ctx, a: &Spanned<RawAuth>) -> R<Auth> {
    let r = a.get_ref();
    if let Some(v) = &r.token {
        return Err(ctx.secret(
            v,
            "auth.token",
            "`auth = { bearer = { token_env = \"TOKEN_VAR\" } }`",
        ));
    }
    if let Some(v) = &r.password {
        return Err(ctx.secret(
            v,
            "auth.password",
            "`auth = { basic = { user_env = \"U\", password_env = \"P\" } }`",
        ));
    }
    let help = "write `auth = { bearer = { token_env = \"VAR\" } }` or `auth = { basic = { user_env = \"U\", password_env = \"P\" } }`";
    match (&r.bearer, &r.basic) {
        (Some(b), None) => {
            let b = b.get_ref();
            if let Some(v) = &b.token {
                return Err(ctx.secret(v, "token", "`token_env = \"TOKEN_VAR\"`"));
            }
            let env = b.token_env.as_ref().ok_or_else(|| {
                ctx.err(
                    a.span(),
                    "bearer auth without `token_env`",
                    "add `token_env = \"TOKEN_VAR\"`",
                )
            })?;
            Ok(Auth::Bearer {
                token_env: ctx.env_name("token_env", env)?,
            })
        }
        (None, Some(b)) => {
            let b = b.get_ref();
            if let Some(v) = &b.password {
                return Err(ctx.secret(v, "password", "`password_env = \"PASSWORD_VAR\"`"));
            }
            if let Some(v) = &b.user {
                return Err(ctx.secret(v, "user", "`user_env = \"USER_VAR\"`"));
            }
            match (&b.user_env, &b.password_env) {
                (Some(u), Some(p)) => Ok(Auth::Basic {
                    user_env: ctx.env_name("user_env", u)?,
                    password_env: ctx.env_name("password_env", p)?,
                }),
                _ => Err(ctx.err(
                    a.span(),
                    "basic auth needs both `user_env` and `password_env`",
                    "add the missing one: each names an environment variable",
                )),
            }
        }
        (Some(_), Some(_)) => Err(ctx.err(a.span(), "`auth` has both bearer and basic", help)),
        (None, None) => Err(ctx.err(a.span(), "`auth` is empty", help)),
    }
}

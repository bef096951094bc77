//! Webhook hooks: one HTTP request with a JSON body template, literal
//! headers, secret headers taken from environment variables, and a list of
//! statuses that count as success.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::command::{CAPTURE_LIMIT, Capture};
use super::vars::{HookVars, expand_json_body, expand_url, template};
use super::{Attempt, HookError};
use crate::engine::HookOutcome;
use crate::engine::words;
use crate::plan::Webhook;
use crate::template::Template;

/// A webhook's URL and body templates.
pub(super) struct Templates {
    url: Template,
    body: Option<Template>,
}

impl Templates {
    pub(super) fn of(wh: &Webhook) -> Templates {
        Templates {
            url: template(&wh.url),
            body: wh.body.as_deref().map(template),
        }
    }
}

/// Runs one attempt of a webhook hook.
pub(super) async fn run_once(
    wh: &Webhook,
    templates: &Templates,
    vars: &HookVars,
    timeout: Duration,
) -> Attempt {
    let started = Instant::now();
    let request = match build(wh, templates, vars, timeout) {
        Ok(r) => r,
        // Config mistakes (bad template, missing variable) do not heal by
        // retrying.
        Err(e) => return Attempt::refused(e.to_string()),
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                format!("timed out after {}", words::elapsed(timeout))
            } else {
                format!("request failed: {}", error_chain(&e))
            };
            return Attempt {
                outcome: outcome(false, None, what, String::new(), started),
                retryable: true,
            };
        }
    };
    let status = response.status();
    let body = read_bounded(response).await;
    let ok = if wh.expect_status.is_empty() {
        status.is_success()
    } else {
        wh.expect_status.contains(&status.as_u16())
    };
    let elapsed = words::elapsed(started.elapsed());
    let summary = if ok {
        format!("HTTP {} in {elapsed}", status.as_u16())
    } else {
        let expected = if wh.expect_status.is_empty() {
            "2xx".to_string()
        } else {
            wh.expect_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let first = body.lines().map(str::trim).find(|l| !l.is_empty());
        match first {
            Some(line) => format!(
                "HTTP {} (expected {expected}): {}",
                status.as_u16(),
                line.chars().take(200).collect::<String>()
            ),
            None => format!("HTTP {} (expected {expected})", status.as_u16()),
        }
    };
    Attempt {
        outcome: outcome(ok, Some(i32::from(status.as_u16())), summary, body, started),
        retryable: true,
    }
}

fn build(
    wh: &Webhook,
    templates: &Templates,
    vars: &HookVars,
    timeout: Duration,
) -> Result<reqwest::RequestBuilder, HookError> {
    let method = reqwest::Method::from_bytes(wh.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| HookError::InvalidMethod(wh.method.clone()))?;
    let url = expand_url(&templates.url, vars)?;
    let body = templates
        .body
        .as_ref()
        .map(|t| expand_json_body(t, vars))
        .transpose()?;
    let headers = headers(wh)?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| HookError::Client(error_chain(&e)))?;
    let mut request = client.request(method, url).headers(headers);
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
    }
    Ok(request)
}

/// Literal headers, then headers whose values come from the environment.
/// A missing variable fails the hook and names the variable.
pub(super) fn headers(wh: &Webhook) -> Result<HeaderMap, HookError> {
    let mut map = HeaderMap::new();
    for (name, value) in &wh.headers {
        insert(&mut map, name, value)?;
    }
    for (name, var) in &wh.headers_env {
        let value = std::env::var(var).map_err(|_| HookError::MissingEnv {
            header: name.clone(),
            var: var.clone(),
        })?;
        insert(&mut map, name, &value).map_err(|_| HookError::InvalidHeader {
            name: name.clone(),
            // Never echo a secret.
            why: format!("the value of ${var} is not a valid header value"),
        })?;
    }
    Ok(map)
}

fn insert(map: &mut HeaderMap, name: &str, value: &str) -> Result<(), HookError> {
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| HookError::InvalidHeader {
        name: name.to_string(),
        why: e.to_string(),
    })?;
    let mut value = HeaderValue::from_str(value).map_err(|e| HookError::InvalidHeader {
        name: name.to_string(),
        why: e.to_string(),
    })?;
    value.set_sensitive(true);
    map.insert(header, value);
    Ok(())
}

async fn read_bounded(mut response: reqwest::Response) -> String {
    let mut cap = Capture::new(CAPTURE_LIMIT);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => cap.push(&chunk),
            Ok(None) => break,
            Err(e) => {
                cap.push(format!("\n[rampdeck: reading the body failed: {e}]").as_bytes());
                break;
            }
        }
    }
    cap.into_text()
}

fn outcome(
    ok: bool,
    code: Option<i32>,
    summary: String,
    body: String,
    started: Instant,
) -> HookOutcome {
    HookOutcome {
        ok,
        code,
        summary,
        stdout: body,
        stderr: String::new(),
        attempts: 1,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// reqwest's top-level message is often just "error sending request"; the
/// cause ("connection refused") is what a human needs.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

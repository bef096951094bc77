//! Webhook hooks and Slack notifications against an axum server on
//! loopback (`kit::http::recorder`). Part of the `hooks` module.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::Method;
use rampdeck::hooks;
use rampdeck::plan::{Hook, HookAction, Webhook};

use super::{FAST, no_cancel, rerun_in_child, vars};
use crate::kit::http::recorder as serve;

fn webhook_hook(url: String, body: Option<&str>, env: &[(&str, &str)], expect: &[u16]) -> Hook {
    Hook {
        action: HookAction::Webhook(Webhook {
            method: "put".into(),
            url,
            body: body.map(str::to_string),
            headers: BTreeMap::from([("X-Team".to_string(), "payments".to_string())]),
            headers_env: env
                .iter()
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
            expect_status: expect.to_vec(),
        }),
        timeout: Duration::from_secs(10),
        retries: 0,
        idempotent: false,
    }
}

const TOKEN_VAR: &str = "RAMPDECK_TEST_FLAGS_TOKEN";

#[tokio::test]
async fn webhook_sends_method_json_body_and_env_secret() {
    if !rerun_in_child(
        "webhooks::webhook_sends_method_json_body_and_env_secret",
        &[(TOKEN_VAR, "Bearer s3cr3t")],
    ) {
        return;
    }
    let (base, seen) = serve(200, "{\"ok\":true}").await;
    let mut v = vars();
    v.reason = "said \"go\"\\ {service} $(id)\nnext line".into();
    let hook = webhook_hook(
        format!("{base}/flags/{{service}}?by={{actor}}&why={{reason}}"),
        Some(r#"{"flag": "{service}-rollout", "percentage": {weight}, "reason": "{reason}"}"#),
        &[("Authorization", TOKEN_VAR)],
        &[200, 204],
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &v, rx).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.code, Some(200));
    assert!(
        outcome.summary.starts_with("HTTP 200 in "),
        "{}",
        outcome.summary
    );
    assert_eq!(outcome.stdout, "{\"ok\":true}");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, Method::PUT);
    assert!(req.uri.starts_with("/flags/checkout?by=alice&why=said%20%22go%22%5C%20%7Bservice%7D%20%24%28id%29%0Anext%20line"), "{}", req.uri);
    assert_eq!(
        req.headers
            .get("authorization")
            .and_then(|h| h.to_str().ok()),
        Some("Bearer s3cr3t")
    );
    assert_eq!(
        req.headers.get("x-team").and_then(|h| h.to_str().ok()),
        Some("payments")
    );
    assert_eq!(
        req.headers
            .get("content-type")
            .and_then(|h| h.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).expect("body is JSON");
    assert_eq!(body["reason"], serde_json::json!(v.reason));
    assert_eq!(body["percentage"], serde_json::json!(25));
    assert_eq!(body["flag"], serde_json::json!("checkout-rollout"));
}

#[tokio::test]
async fn webhook_wrong_status_is_a_failure() {
    let (base, seen) = serve(503, "flag service overloaded\nretry later").await;
    let hook = webhook_hook(
        format!("{base}/flags"),
        Some(r#"{"w": {weight}}"#),
        &[],
        &[200, 204],
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.code, Some(503));
    assert_eq!(
        outcome.summary,
        "HTTP 503 (expected 200, 204): flag service overloaded"
    );
    assert_eq!(outcome.stdout, "flag service overloaded\nretry later");
    assert_eq!(
        seen.lock().expect("lock").len(),
        1,
        "non-idempotent: sent once"
    );
}

#[tokio::test]
async fn webhook_missing_env_variable_fails_and_names_it() {
    let (base, seen) = serve(200, "").await;
    let var = "RAMPDECK_TEST_SURELY_UNSET_TOKEN";
    let hook = webhook_hook(format!("{base}/x"), None, &[("Authorization", var)], &[]);
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 0);
    assert!(outcome.summary.contains(var), "{}", outcome.summary);
    assert!(seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn webhook_body_template_that_is_not_json_is_never_sent() {
    let (base, seen) = serve(200, "").await;
    let hook = webhook_hook(
        format!("{base}/x"),
        Some(r#"{"reason": {reason}}"#),
        &[],
        &[],
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert!(
        outcome.summary.contains("not valid JSON"),
        "{}",
        outcome.summary
    );
    assert!(seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn idempotent_webhook_retries_until_attempts_run_out() {
    let (base, seen) = serve(502, "bad gateway").await;
    let mut hook = webhook_hook(format!("{base}/rollback"), None, &[], &[]);
    hook.idempotent = true;
    hook.retries = 2;
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run_with(&hook, &vars(), rx, FAST).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 3);
    assert_eq!(seen.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn slack_notification_posts_text() {
    let (base, seen) = serve(200, "ok").await;
    let text = "checkout: rolled back by rampdeck — error ratio 8.1 % > 5 % \"limit\"";
    hooks::notify_slack(&format!("{base}/services/T000/B000/XXX"), text)
        .await
        .expect("notified");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("JSON");
    // Slack's own escaping of `&`, `<` and `>` (it shows them as written),
    // so a reason can neither mention `<!channel>` nor forge a link.
    let sent = "checkout: rolled back by rampdeck — error ratio 8.1 % &gt; 5 % \"limit\"";
    assert_eq!(body, serde_json::json!({ "text": sent }));
}

#[tokio::test]
async fn slack_notification_reports_a_non_2xx() {
    let (base, _seen) = serve(404, "no_service").await;
    let err = hooks::notify_slack(&format!("{base}/hook"), "hi").await;
    let msg = err.expect_err("404 is a failure").to_string();
    assert!(msg.contains("HTTP 404: no_service"), "{msg}");
}

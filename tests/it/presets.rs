//! The presets in `assets/presets/`, run for real against test doubles.
//!
//! A Kubernetes cluster with Argo Rollouts cannot run where these tests
//! run, so the Argo preset's hooks and sources are run against
//! `tests/fake-kubectl/kubectl`: a stand-in script put first on `PATH` that
//! records its argv and replays the output of a Rollout described in
//! `tests/fake-kubectl/rollout-checkout.json`. That JSON is written to the
//! shape of `kubectl get rollout -o json` for Argo Rollouts' v1alpha1 API;
//! it was not captured from a live cluster. What these tests prove is what
//! rampdeck sends (exact argv, no shell) and how it reads the answers, not
//! that a real controller behaves as the double does.
//!
//! The feature-flag preset's webhooks are sent to an axum server on
//! loopback in place of the flag service.
//!
//! Tests that need `PATH` or a token variable re-run themselves in a child
//! process with that environment (setting variables in a multi-threaded
//! test binary is unsound).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use rampdeck::hooks::{self, HookVars, RetryPolicy};
use rampdeck::plan::{Hook, HookAction, Webhook};
use tokio::sync::watch;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn preset(name: &str) -> toml::Table {
    let path = root().join("assets/presets").join(name);
    let text = std::fs::read_to_string(&path).expect("preset exists");
    text.parse::<toml::Table>().expect("preset is TOML")
}

/// The captured-shape Rollout the fake kubectl replays.
fn rollout_json() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tests/fake-kubectl/rollout-checkout.json"))
        .expect("rollout json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Reads one hook from a preset's TOML. A deliberately small reader for the
/// keys the presets use; `config_loader::presets_parse_with_the_config_loader`
/// checks it agrees with `rampdeck::config::parse`.
fn hook_of(t: &toml::Table, key: &str) -> Option<Hook> {
    let h = t.get("hooks")?.get(key)?;
    let timeout = h
        .get("timeout")
        .and_then(|v| v.as_str())
        .map(parse_secs)
        .unwrap_or(Duration::from_secs(30));
    let idempotent = h
        .get("idempotent")
        .and_then(|v| v.as_bool())
        .unwrap_or(key == "rollback");
    let retries = h.get("retries").and_then(|v| v.as_integer()).unwrap_or(0) as u32;
    let strings = |v: &toml::Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s.as_str().expect("string").to_string())
            .collect()
    };
    let action = if let Some(c) = h.get("command") {
        HookAction::Command(strings(c))
    } else {
        let w = h.get("webhook").expect("command or webhook");
        let map = |k: &str| {
            w.get(k)
                .and_then(|v| v.as_table())
                .map(|t| {
                    t.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        HookAction::Webhook(Webhook {
            method: w
                .get("method")
                .and_then(|v| v.as_str())
                .unwrap_or("POST")
                .to_string(),
            url: w
                .get("url")
                .and_then(|v| v.as_str())
                .expect("url")
                .to_string(),
            body: w.get("body").and_then(|v| v.as_str()).map(str::to_string),
            headers: map("headers"),
            headers_env: map("headers_env"),
            expect_status: w
                .get("expect_status")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_integer().expect("int") as u16)
                        .collect()
                })
                .unwrap_or_default(),
        })
    };
    Some(Hook {
        action,
        timeout,
        retries,
        idempotent,
    })
}

fn parse_secs(s: &str) -> Duration {
    match s.strip_suffix('s') {
        Some(n) => Duration::from_secs(n.parse().expect("seconds")),
        None => Duration::from_secs(60 * s.trim_end_matches('m').parse::<u64>().expect("minutes")),
    }
}

fn vars(service: &str) -> HookVars {
    HookVars {
        service: service.into(),
        rollout_id: "checkout-20261129-101500".into(),
        step: 1,
        weight: 25,
        actor: "alice".into(),
        reason: "gates green; \"$(id)\" `x` ; rm -rf ~".into(),
        batch: 2,
        instances: 0,
        cohort_name: String::new(),
    }
}

const CHILD_FLAG: &str = "RAMPDECK_PRESETS_TEST_CHILD";

/// Runs test `name` of this module again in a child process with `envs`
/// set; `true` when already running in that child.
fn rerun_in_child(name: &str, envs: &[(&str, String)]) -> bool {
    crate::kit::proc::rerun_in_child(CHILD_FLAG, module_path!(), name, envs)
}

/// `PATH` with the fake kubectl first, and a log file for its argv.
fn fake_kubectl_env(log: &Path) -> Vec<(&'static str, String)> {
    let fake = root().join("tests/fake-kubectl");
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    vec![
        ("PATH", path),
        ("FAKE_KUBECTL_LOG", log.display().to_string()),
    ]
}

/// Every kubectl invocation recorded so far, as argv lists.
fn kubectl_calls() -> Vec<Vec<String>> {
    let log = std::env::var("FAKE_KUBECTL_LOG").expect("log var");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.split('\u{1f}')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn argv(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

/// The first number in a text, the way a command source reads stdout.
fn first_number(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

#[tokio::test]
async fn argo_preset_hooks_send_the_right_kubectl_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("kubectl.log");
    if !rerun_in_child(
        "argo_preset_hooks_send_the_right_kubectl_commands",
        &fake_kubectl_env(&log),
    ) {
        return;
    }
    let t = preset("argo-rollouts.toml");
    let cases = [
        (
            "promote",
            "rollout 'checkout' promoted\n",
            argv(&["argo", "rollouts", "promote", "checkout"]),
        ),
        (
            "rollback",
            "rollout 'checkout' aborted\n",
            argv(&["argo", "rollouts", "abort", "checkout"]),
        ),
        (
            "pause",
            "rollout 'checkout' paused\n",
            argv(&["argo", "rollouts", "pause", "checkout"]),
        ),
        (
            "resume",
            "rollout.argoproj.io/checkout patched\n",
            argv(&[
                "patch",
                "rollout",
                "checkout",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"paused":false}}"#,
            ]),
        ),
    ];
    for (key, stdout, _) in &cases {
        let hook = hook_of(&t, key).unwrap_or_else(|| panic!("preset has hooks.{key}"));
        let (_tx, rx) = watch::channel(false);
        let outcome = hooks::run(&hook, &vars("checkout"), rx).await;
        assert!(outcome.ok, "{key}: {outcome:?}");
        assert_eq!(outcome.stdout, *stdout, "{key}");
        assert_eq!(outcome.attempts, 1, "{key}");
    }
    let expected: Vec<Vec<String>> = cases.into_iter().map(|(_, _, a)| a).collect();
    assert_eq!(kubectl_calls(), expected);
}

/// The blue-green preset's hooks against the stand-in kubectl: the switch
/// promotes, the instant rollback aborts, the scale-down records the
/// Rollout, the redeploy undoes.
#[tokio::test]
async fn argo_bluegreen_preset_hooks_send_the_right_kubectl_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("kubectl.log");
    if !rerun_in_child(
        "argo_bluegreen_preset_hooks_send_the_right_kubectl_commands",
        &fake_kubectl_env(&log),
    ) {
        return;
    }
    let t = preset("argo-rollouts-bluegreen.toml");
    let cases = [
        ("switch", argv(&["argo", "rollouts", "promote", "checkout"])),
        ("rollback", argv(&["argo", "rollouts", "abort", "checkout"])),
        (
            "scale_down",
            argv(&["argo", "rollouts", "get", "rollout", "checkout"]),
        ),
        ("redeploy", argv(&["argo", "rollouts", "undo", "checkout"])),
    ];
    for (key, _) in &cases {
        let hook = hook_of(&t, key).unwrap_or_else(|| panic!("preset has hooks.{key}"));
        let (_tx, rx) = watch::channel(false);
        let outcome = hooks::run(&hook, &vars("checkout"), rx).await;
        assert!(outcome.ok, "{key}: {outcome:?}");
        assert_eq!(outcome.attempts, 1, "{key}");
    }
    let expected: Vec<Vec<String>> = cases.into_iter().map(|(_, a)| a).collect();
    assert_eq!(kubectl_calls(), expected);
    // Loaded for real: a blue-green plan with its preview and switch.
    let path = root().join("assets/presets/argo-rollouts-bluegreen.toml");
    let plan = rampdeck::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.rollout.strategy, rampdeck::plan::Strategy::BlueGreen);
    let weights: Vec<u8> = plan.steps.iter().map(|s| s.weight).collect();
    assert_eq!(weights, vec![0, 100]);
    let delay = plan.blue_green.map(|b| b.scale_down_delay);
    assert_eq!(delay, Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn argo_preset_sources_read_step_and_weight_with_jsonpath() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("kubectl.log");
    if !rerun_in_child(
        "argo_preset_sources_read_step_and_weight_with_jsonpath",
        &fake_kubectl_env(&log),
    ) {
        return;
    }
    let t = preset("argo-rollouts.toml");
    let json = rollout_json();
    let want = [
        ("argo_step", json.pointer("/status/currentStepIndex")),
        (
            "argo_weight",
            json.pointer("/status/canary/weights/canary/weight"),
        ),
    ];
    let metrics = t
        .get("metrics")
        .and_then(|m| m.as_array())
        .expect("metrics");
    for (id, expected) in want {
        let m = metrics
            .iter()
            .find(|m| m.get("id").and_then(|v| v.as_str()) == Some(id))
            .unwrap_or_else(|| panic!("metric {id}"));
        let cmd: Vec<String> = m["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(|v| v.as_str().expect("str").to_string())
            .collect();
        let out = tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .output()
            .await
            .expect("run");
        assert!(
            out.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value = first_number(&String::from_utf8_lossy(&out.stdout));
        let expected = expected.and_then(|v| v.as_f64());
        assert!(expected.is_some(), "{id}: the JSON has the field");
        assert_eq!(value, expected, "{id}");
    }
    // Why one jsonpath per number: the first number of `-o json` is the "1"
    // of "argoproj.io/v1alpha1", neither the step (4) nor the weight (25).
    let out = tokio::process::Command::new("kubectl")
        .args(["get", "rollout", "checkout", "-o", "json"])
        .output()
        .await
        .expect("run");
    assert_eq!(
        first_number(&String::from_utf8_lossy(&out.stdout)),
        Some(1.0)
    );
}

#[tokio::test]
async fn argo_preset_against_a_missing_rollout_fails_and_retries_only_abort() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("kubectl.log");
    if !rerun_in_child(
        "argo_preset_against_a_missing_rollout_fails_and_retries_only_abort",
        &fake_kubectl_env(&log),
    ) {
        return;
    }
    let t = preset("argo-rollouts.toml");
    let fast = RetryPolicy {
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
    };
    let promote = hook_of(&t, "promote").expect("promote");
    let (_tx, rx) = watch::channel(false);
    let outcome = hooks::run_with(&promote, &vars("payments"), rx.clone(), fast).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.code, Some(1));
    assert_eq!(
        outcome.summary,
        "exit 1: Error from server (NotFound): rollouts.argoproj.io \"payments\" not found"
    );
    assert_eq!(kubectl_calls().len(), 1, "promote is never retried");

    let rollback = hook_of(&t, "rollback").expect("rollback");
    let outcome = hooks::run_with(&rollback, &vars("payments"), rx, fast).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 1 + rollback.retries);
    assert_eq!(kubectl_calls().len(), 1 + outcome.attempts as usize);
}

/// The preset's steps must mirror the Rollout its comment describes: a
/// leading `pause: {}`, then `setWeight: w` + `pause: {}` per rampdeck step.
#[test]
fn argo_preset_steps_mirror_the_rollout() {
    let t = preset("argo-rollouts.toml");
    let weights: Vec<i64> = t["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["weight"].as_integer().expect("weight"))
        .collect();
    let json = rollout_json();
    let steps = json
        .pointer("/spec/strategy/canary/steps")
        .and_then(|s| s.as_array())
        .expect("rollout steps");
    assert_eq!(steps.len(), 1 + 2 * weights.len());
    assert_eq!(steps[0], serde_json::json!({ "pause": {} }));
    for (k, w) in weights.iter().enumerate() {
        assert_eq!(steps[1 + 2 * k], serde_json::json!({ "setWeight": w }));
        assert_eq!(steps[2 + 2 * k], serde_json::json!({ "pause": {} }));
    }
    // The replayed state is rampdeck step 1: index 2k + 2, weight 25.
    assert_eq!(
        json.pointer("/status/currentStepIndex"),
        Some(&serde_json::json!(4))
    );
    assert_eq!(weights[1], 25);
    // No set_weight (Argo moves traffic); promote must never be retried.
    assert!(hook_of(&t, "set_weight").is_none());
    let promote = hook_of(&t, "promote").expect("promote");
    assert!(!promote.idempotent);
    assert_eq!(promote.retries, 0);
}

// ------------------------------------------------------ feature flag ----

#[tokio::test]
async fn flag_preset_webhooks_set_and_clear_the_percentage() {
    if !rerun_in_child(
        "flag_preset_webhooks_set_and_clear_the_percentage",
        &[("FLAGS_TOKEN", "Bearer flags-s3cret".to_string())],
    ) {
        return;
    }
    let (base, seen) = crate::kit::http::recorder(200, "{}").await;

    let t = preset("feature-flag-webhook.toml");
    let v = vars("checkout");
    for key in ["set_weight", "rollback"] {
        let mut hook = hook_of(&t, key).unwrap_or_else(|| panic!("hooks.{key}"));
        // Point the flag service's URL at the loopback server.
        if let HookAction::Webhook(w) = &mut hook.action {
            w.url = w.url.replace("https://flags.example.com", &base);
        }
        let (_tx, rx) = watch::channel(false);
        let outcome = hooks::run(&hook, &v, rx).await;
        assert!(outcome.ok, "{key}: {outcome:?}");
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    for (req, percentage) in seen.iter().zip([25, 0]) {
        assert_eq!(req.method, Method::PUT);
        assert_eq!(req.uri, "/api/v1/flags/checkout-new-flow/rollout");
        assert_eq!(
            req.headers
                .get("authorization")
                .and_then(|h| h.to_str().ok()),
            Some("Bearer flags-s3cret")
        );
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("JSON body");
        assert_eq!(body["percentage"], serde_json::json!(percentage));
        assert_eq!(body["changed_by"], serde_json::json!("alice"));
        let comment = body["comment"].as_str().expect("comment");
        assert!(comment.ends_with(&v.reason), "{comment}");
    }
}

/// Every preset must load with the real loader, and the small reader above
/// must agree with it on the hooks.
mod config_loader {
    use super::*;

    #[test]
    fn presets_parse_with_the_config_loader() {
        for name in [
            "argo-rollouts.toml",
            "argo-rollouts-bluegreen.toml",
            "feature-flag-webhook.toml",
        ] {
            let path = root().join("assets/presets").join(name);
            let text = std::fs::read_to_string(&path).expect("preset");
            let plan = rampdeck::config::parse(&text, &path.display().to_string())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let t = preset(name);
            for (key, hook) in [
                ("set_weight", &plan.hooks.set_weight),
                ("promote", &plan.hooks.promote),
                ("pause", &plan.hooks.pause),
                ("resume", &plan.hooks.resume),
                ("rollback", &plan.hooks.rollback),
            ] {
                let mut mine = hook_of(&t, key);
                // The loader fills the default expected statuses.
                if let (
                    Some(Hook {
                        action: HookAction::Webhook(w),
                        ..
                    }),
                    Some(Hook {
                        action: HookAction::Webhook(theirs),
                        ..
                    }),
                ) = (&mut mine, hook)
                {
                    if w.expect_status.is_empty() {
                        w.expect_status = theirs.expect_status.clone();
                    }
                }
                assert_eq!(&mine, hook, "{name}: hooks.{key}");
            }
        }
    }
}

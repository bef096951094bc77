//! The summary blames the right metric (issue 10, item 8): breach to
//! rollback comes from the trigger's own record and the first breach of
//! THAT metric in its streak; a rollback for missing data or by a person is
//! described as what it was; the hooks table shows the weight a hook set;
//! numbers read in the metric's display units, as the cockpit shows them.
//!
//! Each journal is written by the real engine (its decisions, in order,
//! through the real writer), then read by the `rampdeck summary` binary.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampdeck::engine::{
    Actor, Cohort, Command as EngineCommand, Effect, Engine, HookCall, HookOutcome, Input, Reading,
    Timestamp,
};
use rampdeck::journal::JournalWriter;

const T0: i64 = 1_735_725_600_000; // 2025-01-01T10:00:00Z

const PLAN: &str = r#"
[rollout]
service = "checkout"
strategy = "canary"
id = "checkout-blame"

[[steps]]
name = "canary-25"
weight = 25
hold = "1h"
gate = "auto"

[sources.prom]
kind = "prometheus"
url = "http://127.0.0.1:9"
interval = "5s"
timeout = "2s"

[[metrics]]
id = "rps"
source = "prom"
query = 'sum(rate(http_requests_total{version="{cohort}"}[1m]))'
baseline = "none"
unit = "req/s"
bad = "down"
threshold = { limit = 100.0 }

[[metrics]]
id = "latency"
source = "prom"
query = 'histogram_quantile(0.95, rate(x{version="{cohort}"}[1m]))'
baseline = "none"
unit = "ms"
display_scale = 1000.0
bad = "up"
threshold = { limit = 0.3 }

[[metrics]]
id = "error_rate"
source = "prom"
query = 'sum(rate(errors{version="{cohort}"}[1m]))'
baseline = "none"
unit = "%"
display_scale = 100.0
bad = "up"
threshold = { limit = 0.1 }
no_data = { action = "rollback", after = 3 }

[[triggers]]
name = "slow"
metric = "latency"
consecutive = 3
action = "rollback"

[hooks.set_weight]
command = ["true", "{weight}"]
idempotent = true

[hooks.rollback]
command = ["true"]
"#;

/// The engine on `PLAN`, writing every decision to a real journal and
/// answering every hook at once with success.
struct Run {
    engine: Engine,
    journal: JournalWriter,
    path: PathBuf,
    hooks: Vec<HookCall>,
}

impl Run {
    fn new(dir: &Path) -> Run {
        let plan = rampdeck::config::parse(PLAN, "plan.toml").unwrap();
        let path = dir.join("checkout-blame.jsonl");
        let journal = JournalWriter::create(&path, "checkout-blame").unwrap();
        let mut run = Run {
            engine: Engine::new(Arc::new(plan)),
            journal,
            path,
            hooks: Vec::new(),
        };
        run.input(
            0,
            Input::Start {
                actor: Actor::named("alice"),
            },
        );
        run.settle(1);
        run
    }

    fn input(&mut self, at_s: i64, input: Input) {
        let now = Timestamp(T0 + at_s * 1000);
        for e in self.engine.handle(input, now) {
            match e {
                Effect::Journal(d) => {
                    self.journal.append(now, &d).unwrap();
                }
                Effect::RunHook(call) => self.hooks.push(call),
                Effect::Notify(_) | Effect::RunCheck { .. } => {}
            }
        }
    }

    /// Every hook asked for succeeds at `at_s`.
    fn settle(&mut self, at_s: i64) {
        while !self.hooks.is_empty() {
            for call in std::mem::take(&mut self.hooks) {
                let outcome = HookOutcome {
                    ok: true,
                    code: Some(0),
                    summary: "exit 0".into(),
                    stdout: String::new(),
                    stderr: String::new(),
                    attempts: 1,
                    duration_ms: 5,
                };
                self.input(
                    at_s,
                    Input::HookResult {
                        id: call.id,
                        outcome,
                    },
                );
            }
        }
    }

    fn sample(&mut self, at_s: i64, metric: &str, reading: Reading) {
        let input = Input::Sample {
            metric: metric.into(),
            cohort: Cohort::Canary,
            reading,
        };
        self.input(at_s, input);
    }

    fn value(&mut self, at_s: i64, metric: &str, value: f64) {
        let reading = Reading::value(value);
        self.sample(at_s, metric, reading);
    }

    /// One poll of every metric: rps far under its limit the whole time
    /// (a breach with no trigger), errors at 6.58 %, latency as given.
    fn poll(&mut self, at_s: i64, latency: f64) {
        self.value(at_s, "rps", 42.0);
        self.value(at_s, "error_rate", 0.0658);
        self.value(at_s, "latency", latency);
    }
}

fn summary(path: &Path, format: &str) -> (i32, String) {
    let (code, stdout, _) = crate::kit::journal::run_summary(path, format);
    (code, stdout)
}

/// The field report: `rps` (no trigger, breaching since the start) was
/// blamed for the rollback the `latency` trigger fired, with a wrong time.
#[test]
fn breach_to_rollback_names_the_trigger_and_its_metric_first_breach() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(dir.path());
    for k in 1..=12 {
        run.poll(5 * k, 0.21);
    }
    // The first latency breach, seen by a person's pause at once.
    run.poll(65, 0.507);
    run.input(
        65,
        Input::Command {
            command: EngineCommand::Pause,
            actor: Actor::named("bob"),
            reason: "p95 jumped".into(),
        },
    );
    run.settle(65);
    run.poll(70, 0.507);
    run.poll(75, 0.507);
    run.settle(76);
    let (code, json) = summary(&run.path, "json");
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let b = &v["breach_to_rollback"];
    assert_eq!(b["cause"], "trigger", "{b}");
    assert_eq!(b["metric"], "latency", "{b}");
    assert_eq!(b["trigger"], "slow", "{b}");
    assert_eq!(b["first_breach_at"], "2025-01-01T10:01:05.000Z", "{b}");
    assert_eq!(b["first_breach_basis"], "journal", "{b}");
    assert_eq!(b["rollback_started_at"], "2025-01-01T10:01:15.000Z", "{b}");
    assert_eq!(b["ms"], 10_000, "{b}");

    let (_, md) = summary(&run.path, "markdown");
    assert!(
        md.contains("**10s** from the first breach of `latency` (trigger `slow`"),
        "{md}"
    );
    assert!(!md.contains("first breach of `rps`"), "{md}");
    // Display units, as the cockpit shows them.
    assert!(md.contains("latency Breach: canary 507 ms"), "{md}");
    assert!(
        md.contains("(limit 300 ms, 3 consecutive breaches)"),
        "{md}"
    );
    assert!(md.contains("error_rate Pass: canary 6.58 %"), "{md}");
    assert!(md.contains("(limit 10 %)"), "{md}");
    assert!(md.contains("rps Breach: canary 42 req/s"), "{md}");
    assert!(!md.contains("canary 0.507"), "raw numbers in\n{md}");

    // The hooks table shows the weight each hook set: set_weight 25 %,
    // the rollback 0 %.
    let hooks = v["hooks"].as_array().unwrap();
    let weight_of = |kind: &str| {
        hooks
            .iter()
            .find(|h| h["kind"] == kind)
            .map(|h| h["weight"].clone())
    };
    assert_eq!(
        weight_of("set_weight"),
        Some(serde_json::json!(25)),
        "{json}"
    );
    assert_eq!(weight_of("rollback"), Some(serde_json::json!(0)), "{json}");
    assert!(md.contains("| set_weight | 1 | 25 % |"), "{md}");
}

/// A rollback for missing data is no breach: the summary says which metric
/// had no data, for how many polls, since when.
#[test]
fn a_no_data_rollback_is_described_as_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(dir.path());
    run.poll(5, 0.21);
    for k in 2..=4 {
        run.value(5 * k, "rps", 42.0);
        run.sample(
            5 * k,
            "error_rate",
            Reading::ProviderError {
                message: "Prometheus at http://127.0.0.1:9 is unreachable".into(),
                code: Some("unreachable".into()),
            },
        );
    }
    run.settle(21);
    let (_, json) = summary(&run.path, "json");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let b = &v["breach_to_rollback"];
    assert_eq!(b["cause"], "no_data", "{b}");
    assert_eq!(b["metric"], "error_rate", "{b}");
    assert_eq!(b["first_breach_at"], "2025-01-01T10:00:10.000Z", "{b}");
    assert_eq!(b["first_breach_basis"], "estimated", "{b}");
    assert_eq!(b["ms"], 10_000, "{b}");
    let (_, md) = summary(&run.path, "markdown");
    assert!(
        md.contains("**10s** from the first poll of `error_rate` without data"),
        "{md}"
    );
    assert!(md.contains("3 polls in a row without data"), "{md}");
    assert!(!md.contains("first breach of"), "{md}");
}

/// A person's rollback is a person's decision, even while a metric
/// without a trigger breaches.
#[test]
fn a_human_rollback_is_described_as_a_persons_decision() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(dir.path());
    run.poll(5, 0.21);
    run.poll(10, 0.21);
    run.input(
        12,
        Input::Command {
            command: EngineCommand::Rollback,
            actor: Actor::named("carol"),
            reason: "customer reports from EU".into(),
        },
    );
    run.settle(13);
    let (_, json) = summary(&run.path, "json");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let b = &v["breach_to_rollback"];
    assert_eq!(b["cause"], "person", "{b}");
    assert_eq!(b["metric"], serde_json::Value::Null, "{b}");
    let (_, md) = summary(&run.path, "markdown");
    assert!(
        md.contains("Rolled back by carol at 2025-01-01T10:00:12.000Z: customer reports from EU"),
        "{md}"
    );
    assert!(md.contains("no trigger fired"), "{md}");
    assert!(!md.contains("first breach of `rps`"), "{md}");
}

/// A +Inf latency (every request in the last bucket) that caused the
/// rollback reads "+Inf" in the journal, the summary and its JSON, never
/// "–" or null (issue 10, item 2).
#[test]
fn an_infinite_value_that_caused_the_rollback_is_shown_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(dir.path());
    for k in 1..=3 {
        run.poll(5 * k, 0.21);
    }
    for k in 4..=6 {
        run.value(5 * k, "rps", 42.0);
        run.value(5 * k, "error_rate", 0.0658);
        run.value(5 * k, "latency", f64::INFINITY);
    }
    run.settle(31);
    let journal = std::fs::read_to_string(&run.path).unwrap();
    let trigger = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["action"] == "trigger_rollback")
        .unwrap();
    assert_eq!(trigger["detail"]["value"], "+Inf", "{trigger}");
    let latency = trigger["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metric"] == "latency")
        .cloned()
        .unwrap();
    assert_eq!(latency["canary"], "+Inf", "{latency}");
    let (_, md) = summary(&run.path, "markdown");
    assert!(md.contains("latency Breach: canary +Inf"), "{md}");
    let (_, json) = summary(&run.path, "json");
    assert!(json.contains("\"canary\": \"+Inf\""), "{json}");
}

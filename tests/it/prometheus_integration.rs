//! rampdeck against a REAL Prometheus.
//!
//! A test exporter (axum on loopback) serves `http_requests_total` and the
//! `http_request_duration_seconds` histogram for `version="baseline"` and
//! `version="canary"`, incremented by a background task at the error ratio
//! and latency profile the test sets. A real `prometheus` scrapes it every
//! second; rampdeck's Prometheus source must read, through the same PromQL
//! as `config.example.toml`, the error ratio and p95 the exporter produces,
//! within 1 % (relative). Then Prometheus is killed and the reading must be
//! a ProviderError, not a value.
//!
//! A missing `prometheus` binary fails this test: `apt-get install prometheus`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kit::field;
use crate::kit::http::*;
use crate::kit::plan::*;
use axum::Router;
use axum::routing::get;
use rampdeck::engine::{Cohort, Reading, Timestamp};
use rampdeck::sources::http::HttpEndpoint;
use rampdeck::sources::prometheus::Prometheus;
use rampdeck::sources::{self, LatestFilter, render_query};
use tokio::sync::{mpsc, watch};

/// The queries of `config.example.toml`.
const ERROR_RATIO: &str = r#"sum(rate(http_requests_total{service="{service}",version="{cohort}",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="{service}",version="{cohort}"}[1m]))"#;
const P95: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{service}",version="{cohort}"}[1m])))"#;

/// Relative tolerance. Both sides of each ratio are incremented in the same
/// tick and scraped in the same scrape, so the real error is far smaller;
/// 1 % leaves room for float rounding and rate() extrapolation.
const TOLERANCE: f64 = 0.01;
const DEADLINE: Duration = Duration::from_secs(60);
const BUCKETS: [f64; 6] = [0.05, 0.1, 0.2, 0.3, 0.5, 1.0];

/// What the exporter produces for one cohort.
#[derive(Clone)]
struct Profile {
    version: &'static str,
    rps: f64,
    error_ratio: f64,
    /// Cumulative fraction of requests at or under each bucket of BUCKETS.
    cumulative: [f64; 6],
    /// A representative latency per request, for `_sum`.
    mean_s: f64,
}

impl Profile {
    /// p95 as histogram_quantile computes it: linear inside the bucket that
    /// holds the 95th percentile.
    fn p95(&self) -> f64 {
        let mut lower = (0.0, 0.0);
        for (le, cum) in BUCKETS.iter().zip(self.cumulative) {
            if cum >= 0.95 {
                return lower.0 + (le - lower.0) * (0.95 - lower.1) / (cum - lower.1);
            }
            lower = (*le, cum);
        }
        f64::INFINITY
    }
}

#[derive(Default, Clone)]
struct Counters {
    ok: f64,
    err: f64,
    buckets: [f64; 6],
    sum: f64,
}

type State = Arc<Mutex<Vec<(Profile, Counters)>>>;

fn exposition(state: &State) -> String {
    let state = state.lock().expect("exporter state");
    let mut out = String::from("# TYPE http_requests_total counter\n");
    for (p, c) in state.iter() {
        let l = format!(r#"service="checkout",version="{}""#, p.version);
        out += &format!("http_requests_total{{{l},code=\"200\"}} {}\n", c.ok);
        out += &format!("http_requests_total{{{l},code=\"500\"}} {}\n", c.err);
    }
    out += "# TYPE http_request_duration_seconds histogram\n";
    for (p, c) in state.iter() {
        let l = format!(r#"service="checkout",version="{}""#, p.version);
        for (le, n) in BUCKETS.iter().zip(c.buckets) {
            out += &format!("http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}\n");
        }
        let count = c.ok + c.err;
        out += &format!("http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {count}\n");
        out += &format!("http_request_duration_seconds_sum{{{l}}} {}\n", c.sum);
        out += &format!("http_request_duration_seconds_count{{{l}}} {count}\n");
    }
    out
}

/// Starts the exporter and the task that counts requests every 50 ms.
async fn start_exporter(profiles: Vec<Profile>) -> String {
    let state: State = Arc::new(Mutex::new(
        profiles
            .into_iter()
            .map(|p| (p, Counters::default()))
            .collect(),
    ));
    let ticker = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(50));
        loop {
            every.tick().await;
            for (p, c) in ticker.lock().expect("exporter state").iter_mut() {
                let n = p.rps * 0.05;
                c.ok += n * (1.0 - p.error_ratio);
                c.err += n * p.error_ratio;
                for (b, cum) in c.buckets.iter_mut().zip(p.cumulative) {
                    *b += n * cum;
                }
                c.sum += n * p.mean_s;
            }
        }
    });
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let body = exposition(&state);
            async move { ([("content-type", "text/plain; version=0.0.4")], body) }
        }),
    );
    serve(router).await.to_string()
}

/// Kills and reaps Prometheus however the test ends.
struct PromGuard {
    child: Child,
    log: PathBuf,
}

impl PromGuard {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PromGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn prometheus_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMETHEUS_BIN") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file());
    match on_path {
        Some(p) => p,
        None => panic!(
            "the `prometheus` binary is not installed, and this test needs a real one: \
             run `apt-get install prometheus` (or set PROMETHEUS_BIN)"
        ),
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_prometheus(dir: &std::path::Path, exporter: &str) -> (PromGuard, String) {
    let bin = prometheus_binary();
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['{exporter}']\n"
        ),
    )
    .expect("write config");
    let log = dir.join("prometheus.log");
    let logfile = std::fs::File::create(&log).expect("log file");
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().expect("log fd"))
        .stderr(logfile)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    (PromGuard { child, log }, format!("http://127.0.0.1:{port}"))
}

/// Polls `/-/ready` until it answers 200, failing past the deadline.
async fn wait_ready(guard: &mut PromGuard, url: &str) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = guard.child.try_wait() {
            panic!("prometheus exited with {status}:\n{}", guard.log());
        }
        if let Ok(r) = client.get(format!("{url}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "prometheus not ready:\n{}",
            guard.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls a query until it yields a value (enough scrapes for rate()).
async fn wait_value(prom: &Prometheus, q: &str) -> f64 {
    let start = Instant::now();
    loop {
        let (r, _) = prom.query(q).await;
        if let Reading::Value {
            value, degraded, ..
        } = r
        {
            assert!(!degraded, "no warnings expected");
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no value for {q} in time; last: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn assert_close(what: &str, got: f64, want: f64) {
    let rel = ((got - want) / want).abs();
    assert!(
        rel <= TOLERANCE,
        "{what}: read {got}, exporter produces {want} (off by {:.3} %)",
        rel * 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_error_ratio_and_p95_from_real_prometheus() {
    let baseline = Profile {
        version: "baseline",
        rps: 200.0,
        error_ratio: 0.01,
        cumulative: [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        mean_s: 0.075,
    };
    let canary = Profile {
        version: "canary",
        rps: 50.0,
        error_ratio: 0.08,
        cumulative: [0.0, 0.9, 0.9, 1.0, 1.0, 1.0],
        mean_s: 0.1,
    };
    assert_close("self-check of the p95 model", canary.p95(), 0.25);
    let exporter = start_exporter(vec![baseline.clone(), canary.clone()]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut guard, url) = start_prometheus(dir.path(), &exporter);
    wait_ready(&mut guard, &url).await;

    let ep = HttpEndpoint::new("prom", &target(&url), Duration::from_secs(2)).expect("endpoint");
    let prom = Prometheus::new(ep);
    for p in [&canary, &baseline] {
        let cohort = if p.version == "canary" {
            Cohort::Canary
        } else {
            Cohort::Baseline
        };
        let err = wait_value(&prom, &render_query(ERROR_RATIO, "checkout", cohort)).await;
        assert_close(&format!("{} error ratio", p.version), err, p.error_ratio);
        let p95 = wait_value(&prom, &render_query(P95, "checkout", cohort)).await;
        assert_close(&format!("{} p95", p.version), p95, p.p95());
    }

    // An injected service name matches nothing instead of returning 1.
    let injected = render_query(ERROR_RATIO, r#"checkout"} or vector(1) #"#, Cohort::Canary);
    assert!(matches!(
        prom.query(&injected).await.0,
        Reading::NoData { .. }
    ));

    // The pollers read the same numbers through the same Prometheus.
    let plan = Arc::new(plan(
        vec![prom_source("prom", &url, 1_000, 2_000)],
        vec![
            promql(
                "error_rate",
                "prom",
                ERROR_RATIO,
                rampdeck::plan::Baseline::Cohort,
            ),
            promql("p95_latency", "prom", P95, rampdeck::plan::Baseline::Cohort),
        ],
    ));
    let (tx, mut rx) = mpsc::channel(16);
    let (stop, shutdown) = watch::channel(false);
    let handles = sources::spawn_pollers(plan.clone(), "checkout".into(), tx, shutdown);
    let mut filter = LatestFilter::new();
    let mut seen = std::collections::HashMap::new();
    tokio::time::timeout(DEADLINE, async {
        while seen.len() < 4 {
            let m = rx.recv().await.expect("pollers running");
            if filter.accept_msg(&m) {
                seen.insert((m.metric.clone(), m.cohort), m.reading);
            }
        }
    })
    .await
    .expect("four polled readings");
    let want = [
        ("error_rate", Cohort::Canary, canary.error_ratio),
        ("error_rate", Cohort::Baseline, baseline.error_ratio),
        ("p95_latency", Cohort::Canary, canary.p95()),
        ("p95_latency", Cohort::Baseline, baseline.p95()),
    ];
    for (metric, cohort, value) in want {
        match &seen[&(metric.to_string(), cohort)] {
            Reading::Value { value: got, .. } => assert_close(metric, *got, value),
            other => panic!("{metric} {cohort:?}: expected a value, got {other:?}"),
        }
    }
    stop.send(true).expect("stop pollers");
    for h in handles {
        h.await.expect("poller ended cleanly");
    }

    // Backfill through query_range: a series of the canary error ratio.
    let now = Timestamp(chrono::Utc::now().timestamp_millis());
    let series = sources::backfill(&plan, "checkout", Timestamp(now.0 - 30_000), now, 1).await;
    let canary_err = series
        .iter()
        .find(|(m, c, _)| m == "error_rate" && *c == Cohort::Canary)
        .expect("backfilled canary error ratio");
    let last = canary_err
        .2
        .iter()
        .rev()
        .find_map(|(_, v)| *v)
        .expect("a value in the last 30 s");
    assert_close("backfilled error ratio", last, canary.error_ratio);

    // Prometheus goes away: the reading is a provider error, not a value.
    guard.stop();
    // (A pooled connection may see the close first: "transport" then.)
    let (r, _) = prom
        .query(&render_query(ERROR_RATIO, "checkout", Cohort::Canary))
        .await;
    assert!(
        matches!(&r, Reading::ProviderError { code: Some(c), .. } if c == "unreachable" || c == "transport"),
        "after Prometheus stopped: {r:?}"
    );
    let (r, _) = prom.query("up").await;
    assert!(
        matches!(&r, Reading::ProviderError { code: Some(c), message } if c == "unreachable" && message.contains(&url)),
        "a new connection is refused: {r:?}"
    );
}

/// Waits (without blocking the runtime) until a record matches `pred`.
async fn wait_record(
    f: &field::Field,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    crate::kit::journal::wait_until_async(&f.journal(), what, DEADLINE, pred).await
}

/// One line per record: time, action, reason, first gate.
fn compact(f: &field::Field) -> String {
    f.records()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} | {} {}",
                r["at"],
                r["action"],
                r["reason"],
                r["gates"][0]["verdict"],
                r["gates"][0]["detail"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ms(r: &serde_json::Value) -> i64 {
    r["at"].as_i64().expect("record time")
}

/// A 12 s Prometheus outage during a step's hold, end to end with a real
/// Prometheus and a real headless driver (issue 10, items 4, 6 and 7): the
/// journal says when the source went down and came back (with the error)
/// and when the step waited for data; and once data is back, the step
/// advances only on `min_samples` fresh samples, not on evidence from
/// before the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_journaled_and_the_step_waits_for_fresh_evidence() {
    let healthy = |version| Profile {
        version,
        rps: 100.0,
        error_ratio: 0.01,
        cumulative: [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        mean_s: 0.075,
    };
    let exporter = start_exporter(vec![healthy("baseline"), healthy("canary")]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut guard, url) = start_prometheus(dir.path(), &exporter);
    wait_ready(&mut guard, &url).await;
    let ep = HttpEndpoint::new("prom", &target(&url), Duration::from_secs(2)).expect("endpoint");
    let prom = Prometheus::new(ep);
    wait_value(
        &prom,
        &render_query(ERROR_RATIO, "checkout", Cohort::Canary),
    )
    .await;

    let f = field::Field::new("checkout-outage");
    let config = f.plan(&format!(
        r#"
[rollout]
service = "checkout"
strategy = "canary"
id = "{id}"

[sources.prom]
kind = "prometheus"
url = "{url}"
interval = "1s"
timeout = "500ms"

[[metrics]]
id = "error_rate"
source = "prom"
query = '{ERROR_RATIO}'
baseline = "cohort"
bad = "up"
threshold = {{ limit = 0.05 }}
min_samples = 3
no_data = {{ action = "hold", after = 1000 }}

[[steps]]
name = "canary"
weight = 10
hold = "15s"

[[steps]]
name = "full"
weight = 100
hold = "1h"
"#,
        id = f.id,
    ));
    let driver = f
        .rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("driver");
    // The first state of the source counts: it is journaled as up.
    let up = wait_record(&f, "source up", |r| {
        r["action"] == "source_state" && r["detail"]["to"] == "up"
    })
    .await;
    assert_eq!(up["detail"]["from"], "unknown", "{up}");
    // Three passing samples (min_samples) while the 15 s hold runs.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Prometheus goes down during the step's hold, for 14 s: past its end.
    guard.stop();
    let down = wait_record(&f, "source down", |r| {
        r["action"] == "source_state" && r["detail"]["to"] == "erroring"
    })
    .await;
    assert!(
        down["reason"]
            .as_str()
            .unwrap_or("")
            .contains("unreachable"),
        "the error text is kept: {down}"
    );
    let waiting = wait_record(&f, "data_hold_started", |r| {
        r["action"] == "data_hold_started"
    })
    .await;
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap_or("")
            .contains("error_rate")
    );
    // The outage lasts past the end of the hold; whether the step advanced
    // meanwhile is read from the journal's order once data is back.
    tokio::time::sleep(Duration::from_secs(12)).await;

    // Back on the same port and data: rate() has its history at once.
    let port = url.rsplit(':').next().expect("port").to_string();
    let config_file = dir.path().join("prometheus.yml");
    let log = dir.path().join("prometheus2.log");
    let logfile = std::fs::File::create(&log).expect("log");
    let child = Command::new(prometheus_binary())
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().expect("fd"))
        .stderr(logfile)
        .spawn()
        .expect("restart prometheus");
    let mut guard = PromGuard { child, log };
    wait_ready(&mut guard, &url).await;

    let back = wait_record(&f, "data_hold_ended", |r| r["action"] == "data_hold_ended").await;
    let advanced = wait_record(&f, "auto_advance", |r| r["action"] == "auto_advance").await;
    // No advance without data: the first advance is journaled after the
    // wait for data ended.
    let all = f.records();
    let at = |r: &serde_json::Value| all.iter().position(|x| x == r).expect("in the journal");
    assert!(
        at(&advanced) > at(&back),
        "advanced during the outage:\n{}",
        compact(&f)
    );
    let after_back = ms(&advanced) - ms(&back);
    // The first fresh sample ends the wait; two more are needed (1 s apart).
    assert!(
        after_back >= 1_500,
        "advanced {after_back} ms after data came back, on stale evidence"
    );
    let gate = &advanced["gates"][0];
    assert_eq!(gate["verdict"], "pass", "{advanced}");
    assert!(gate["samples"].as_u64().unwrap_or(0) >= 3, "{advanced}");
    wait_record(&f, "source back up", |r| {
        r["action"] == "source_state"
            && r["detail"]["from"] == "erroring"
            && r["detail"]["to"] == "up"
    })
    .await;
    let hold = back["detail"]["duration_ms"].as_u64().unwrap_or(0);
    assert!(hold >= 10_000, "the wait lasted the outage: {back}");

    let out = f.rollback("end of the outage test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tokio::task::spawn_blocking(move || {
        crate::kit::proc::wait_with_timeout(driver, Duration::from_secs(20))
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(3));
    f.verify();
    // The summary lists the outage under the step it delayed.
    let summary =
        std::fs::read_to_string(f.path().join(format!("data/rampdeck/{}.summary.md", f.id)))
            .expect("summary written");
    let gates = summary
        .split("## Gate results at each step")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("gate section");
    let step1 = gates.split("- Step 2").next().unwrap_or("");
    for words in [
        "up → erroring",
        "waits for data",
        "data is back after",
        "erroring → up",
    ] {
        assert!(
            step1.contains(words),
            "{words:?} not under step 1:\n{gates}"
        );
    }
}

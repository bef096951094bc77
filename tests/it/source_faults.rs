//! Fault tests: a small misbehaving Prometheus-API server on loopback, and
//! what rampdeck's sources and pollers make of each misbehaviour.

use std::sync::Arc;
use std::time::Duration;

use crate::kit::http::*;
use crate::kit::plan::*;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rampdeck::engine::{Cohort, Reading, Timestamp};
use rampdeck::plan::{Auth, Baseline, MetricQuery, ProbeField, SourceKind};
use rampdeck::sources::http::HttpEndpoint;
use rampdeck::sources::prometheus::Prometheus;
use rampdeck::sources::{self, SampleMsg};
use tokio::sync::{mpsc, watch};

/// How long a test waits for something that should happen in about a
/// second; only a broken poller gets near it.
const DEADLINE: Duration = Duration::from_secs(20);

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

/// `POST /{fault}/api/v1/query`: one reply per kind of fault.
async fn instant(Path(fault): Path<String>) -> Response {
    let ok = StatusCode::OK;
    match fault.as_str() {
        "ok" => json(ok, vector_json(&["0.25"])),
        "http500" => (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response(),
        "unavailable" => json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"error","errorType":"unavailable","error":"TSDB is starting"}"#.into(),
        ),
        "bad_data" => json(
            StatusCode::BAD_REQUEST,
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected }"}"#
                .into(),
        ),
        "status_error" => json(
            ok,
            r#"{"status":"error","errorType":"execution","error":"query timed out"}"#.into(),
        ),
        "slow" | "hung" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            json(ok, vector_json(&["1"]))
        }
        "truncated" => json(
            ok,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0."#
                .into(),
        ),
        "garbage" => (ok, "<html><body>502 Bad Gateway</body></html>").into_response(),
        "nan" => json(ok, vector_json(&["NaN"])),
        "inf" => json(ok, vector_json(&["+Inf"])),
        "neg_inf" => json(ok, vector_json(&["-Inf"])),
        "empty" => json(ok, vector_json(&[])),
        "two" => json(ok, vector_json(&["0.1", "0.2"])),
        "warnings" => json(
            ok,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]},"warnings":["partial response: store-2 unreachable"]}"#.into(),
        ),
        "scalar" => json(
            ok,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#
                .into(),
        ),
        "matrix" => json(ok, matrix_json()),
        _ => (StatusCode::NOT_FOUND, "no such fault").into_response(),
    }
}

fn matrix_json() -> String {
    r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"x"},"values":[[1700000000,"0.1"],[1700000001,"NaN"],[1700000002,"0.3"],[1700000003,"+Inf"]]}]}}"#.into()
}

/// `POST /{fault}/api/v1/query_range`.
async fn range(Path(fault): Path<String>) -> Response {
    match fault.as_str() {
        "matrix" | "ok" => json(StatusCode::OK, matrix_json()),
        "mean" => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"0.1"],[2,"NaN"],[3,"0.3"]]}]}}"#.into(),
        ),
        _ => instant(Path(fault)).await,
    }
}

async fn fault_server() -> String {
    let router = Router::new()
        .route("/{fault}/api/v1/query", post(instant))
        .route("/{fault}/api/v1/query_range", post(range))
        .route(
            "/json",
            get(|| async {
                json(
                    StatusCode::OK,
                    r#"{"data":{"error_rate":"0.02","p95":0.31}}"#.into(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "draining") }),
        );
    format!("http://{}", serve(router).await)
}

fn prom(base: &str, fault: &str, timeout_ms: u64) -> Prometheus {
    let ep = HttpEndpoint::new(
        "prom",
        &target(&format!("{base}/{fault}")),
        Duration::from_millis(timeout_ms),
    )
    .expect("endpoint");
    Prometheus::new(ep)
}

async fn read(base: &str, fault: &str) -> Reading {
    prom(base, fault, 2_000).query("up").await.0
}

fn assert_error(r: &Reading, code: &str, words: &[&str]) {
    match r {
        Reading::ProviderError { message, code: c } => {
            assert_eq!(c.as_deref(), Some(code), "code of {r:?}");
            for w in words {
                assert!(message.contains(w), "{message:?} should mention {w:?}");
            }
        }
        other => panic!("expected ProviderError({code}), got {other:?}"),
    }
}

#[tokio::test]
async fn each_fault_maps_to_its_reading() {
    let base = fault_server().await;
    // A degraded value keeps what the warnings said (issue 10, item 3).
    let value = |v: f64, degraded: bool| Reading::Value {
        value: v,
        degraded,
        warnings: if degraded {
            vec!["partial response: store-2 unreachable".to_string()]
        } else {
            Vec::new()
        },
    };
    assert_eq!(read(&base, "ok").await, value(0.25, false));
    assert_error(
        &read(&base, "http500").await,
        "500",
        &["HTTP 500", "internal server error"],
    );
    assert_error(
        &read(&base, "unavailable").await,
        "unavailable",
        &["503", "TSDB is starting"],
    );
    assert_error(
        &read(&base, "bad_data").await,
        "bad_data",
        &["400", "parse error"],
    );
    assert_error(
        &read(&base, "status_error").await,
        "execution",
        &["query timed out"],
    );
    assert_error(
        &read(&base, "truncated").await,
        "bad_response",
        &["not Prometheus API JSON"],
    );
    assert_error(
        &read(&base, "garbage").await,
        "bad_response",
        &["502 Bad Gateway"],
    );
    assert!(matches!(read(&base, "nan").await, Reading::NoData { why } if why.contains("NaN")));
    assert_eq!(read(&base, "inf").await, value(f64::INFINITY, false));
    assert_eq!(
        read(&base, "neg_inf").await,
        value(f64::NEG_INFINITY, false)
    );
    assert!(matches!(read(&base, "empty").await, Reading::NoData { why } if why.contains("empty")));
    assert_error(
        &read(&base, "two").await,
        "not_aggregated",
        &["2 series", r#"pod="p0""#, r#"pod="p1""#, "sum(...)"],
    );
    assert_eq!(read(&base, "warnings").await, value(0.5, true));
    assert_eq!(read(&base, "scalar").await, value(42.0, false));
    assert_error(&read(&base, "matrix").await, "bad_query", &["range vector"]);
    assert_error(&read(&base, "nowhere").await, "404", &["HTTP 404"]);
}

#[tokio::test]
async fn slow_reply_is_a_timeout_and_unreachable_is_named() {
    let base = fault_server().await;
    let (r, ms) = prom(&base, "slow", 300).query("up").await;
    assert_error(&r, "timeout", &["300 ms", "timeout"]);
    assert!(ms < 3_000, "the timeout bounded the wait ({ms} ms)");

    // A port nothing listens on: bind one, then free it.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    let (r, _) = prom(&dead, "x", 1_000).query("up").await;
    assert_error(&r, "unreachable", &["unreachable", "is it running"]);
}

#[tokio::test]
async fn range_queries_map_nan_and_inf_and_errors() {
    let base = fault_server().await;
    let p = prom(&base, "matrix", 2_000);
    let pts = p
        .query_range("x", Timestamp(0), Timestamp(10_000), 1)
        .await
        .expect("points");
    assert_eq!(
        pts,
        vec![
            (Timestamp(1_700_000_000_000), Some(0.1)),
            (Timestamp(1_700_000_001_000), None),
            (Timestamp(1_700_000_002_000), Some(0.3)),
            (Timestamp(1_700_000_003_000), Some(f64::INFINITY)),
        ]
    );
    let err = prom(&base, "unavailable", 2_000)
        .query_range("x", Timestamp(0), Timestamp(1), 1)
        .await;
    assert!(matches!(err, Err(Reading::ProviderError { code: Some(c), .. }) if c == "unavailable"));
}

#[tokio::test]
async fn backfill_and_pre_deploy_baseline_use_range_queries() {
    let base = fault_server().await;
    let q = r#"sum(rate(x{service="{service}",version="{cohort}"}[1m]))"#;
    let plan = plan(
        vec![
            prom_source("good", &format!("{base}/ok"), 1_000, 2_000),
            prom_source("mean", &format!("{base}/mean"), 1_000, 2_000),
            prom_source("down", &format!("{base}/unavailable"), 1_000, 2_000),
        ],
        vec![
            promql("err", "good", q, Baseline::Cohort),
            promql(
                "pre",
                "mean",
                q,
                Baseline::PreDeploy(Duration::from_secs(600)),
            ),
            promql(
                "broken",
                "down",
                q,
                Baseline::PreDeploy(Duration::from_secs(600)),
            ),
        ],
    );
    let series = sources::backfill(&plan, "checkout", Timestamp(0), Timestamp(10_000), 1).await;
    let keys: Vec<(&str, Cohort, usize)> = series
        .iter()
        .map(|(m, c, p)| (m.as_str(), *c, p.len()))
        .collect();
    // "broken" fails and is left out; the others come in plan order.
    assert_eq!(
        keys,
        vec![
            ("err", Cohort::Canary, 4),
            ("err", Cohort::Baseline, 4),
            ("pre", Cohort::Canary, 3)
        ]
    );

    let pre = sources::pre_deploy_baseline(&plan, "checkout", Timestamp(1_000_000)).await;
    assert_eq!(pre.len(), 2);
    assert_eq!(pre[0].0, "pre");
    match pre[0].1 {
        Reading::Value { value, .. } => assert!(
            (value - 0.2).abs() < 1e-9,
            "mean of 0.1 and 0.3, NaN ignored: {value}"
        ),
        ref other => panic!("expected a value, got {other:?}"),
    }
    assert!(matches!(&pre[1], (m, Reading::ProviderError { .. }) if m == "broken"));
}

/// Receives until `done` says so, failing (not hanging) past the deadline.
async fn collect_until(
    rx: &mut mpsc::Receiver<SampleMsg>,
    mut done: impl FnMut(&[SampleMsg]) -> bool,
) -> Vec<SampleMsg> {
    let mut got = Vec::new();
    let outcome = tokio::time::timeout(DEADLINE, async {
        while let Some(m) = rx.recv().await {
            got.push(m);
            if done(&got) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(outcome, Ok(true)),
        "condition not met; got {got:#?}"
    );
    got
}

#[tokio::test]
async fn a_hung_source_does_not_delay_another_and_its_schedule_goes_on() {
    let base = fault_server().await;
    let plan = Arc::new(plan(
        vec![
            prom_source("hung", &format!("{base}/hung"), 1_000, 5_000),
            prom_source("fast", &format!("{base}/ok"), 1_000, 1_000),
        ],
        vec![
            promql("stuck", "hung", "up", Baseline::None),
            promql("err", "fast", r#"x{version="{cohort}"}"#, Baseline::Cohort),
        ],
    ));
    let (tx, mut rx) = mpsc::channel(64);
    let (stop, shutdown) = watch::channel(false);
    let handles = sources::spawn_pollers(plan, "checkout".into(), tx, shutdown);
    assert_eq!(handles.len(), 2);

    // The fast source delivers rounds 1..=3 for both cohorts while the hung
    // one has not answered at all (its first timeout is 5 s away).
    let got = collect_until(&mut rx, |g| {
        g.iter()
            .filter(|m| m.source == "fast" && m.seq >= 3)
            .count()
            >= 2
    })
    .await;
    assert!(
        got.iter().all(|m| m.source == "fast"),
        "nothing from the hung source yet"
    );
    for m in &got {
        assert_eq!(m.reading, Reading::value(0.25));
    }
    // The hung source's rounds keep starting every interval although each
    // one takes its full 5 s timeout: round 2 started ~1 s after round 1.
    let hung = collect_until(&mut rx, |g| {
        g.iter().filter(|m| m.source == "hung").count() >= 2
    })
    .await;
    let hung: Vec<&SampleMsg> = hung.iter().filter(|m| m.source == "hung").collect();
    assert_eq!((hung[0].seq, hung[1].seq), (1, 2));
    assert!(
        matches!(&hung[0].reading, Reading::ProviderError { code: Some(c), .. } if c == "timeout")
    );
    let gap = hung[1].at.0 - hung[0].at.0;
    assert!(gap < 2_500, "round 2 waited for round 1 ({gap} ms apart)");

    stop.send(true).expect("pollers listen");
    for h in handles {
        tokio::time::timeout(DEADLINE, h)
            .await
            .expect("task ended on shutdown")
            .expect("no panic");
    }
}

#[tokio::test]
async fn pollers_end_when_the_receiver_is_gone() {
    let base = fault_server().await;
    let plan = Arc::new(plan(
        vec![prom_source("hung", &format!("{base}/hung"), 1_000, 30_000)],
        vec![promql("stuck", "hung", "up", Baseline::None)],
    ));
    let (tx, rx) = mpsc::channel(1);
    let (_stop, shutdown) = watch::channel(false);
    let handles = sources::spawn_pollers(plan, "checkout".into(), tx, shutdown);
    drop(rx);
    for h in handles {
        tokio::time::timeout(DEADLINE, h)
            .await
            .expect("task ended")
            .expect("no panic");
    }
}

#[tokio::test]
async fn json_probe_and_command_sources_poll_through_the_same_loop() {
    let base = fault_server().await;
    let plan = Arc::new(plan(
        vec![
            source(
                "json",
                SourceKind::HttpJson(target(&format!("{base}/json"))),
                1_000,
                1_000,
            ),
            source(
                "health",
                SourceKind::Probe {
                    target: target(&format!("{base}/healthz")),
                    expect_status: 200,
                    body_contains: Some("ok".into()),
                },
                1_000,
                1_000,
            ),
            source(
                "down",
                SourceKind::Probe {
                    target: target(&format!("{base}/down")),
                    expect_status: 200,
                    body_contains: None,
                },
                1_000,
                1_000,
            ),
            source("cmd", SourceKind::Command, 1_000, 2_000),
        ],
        vec![
            metric(
                "json_err",
                "json",
                MetricQuery::JsonPointer("/data/error_rate".into()),
                Baseline::None,
            ),
            metric(
                "json_missing",
                "json",
                MetricQuery::JsonPointer("/data/nope".into()),
                Baseline::None,
            ),
            metric(
                "up",
                "health",
                MetricQuery::Probe(ProbeField::Up),
                Baseline::Cohort,
            ),
            metric(
                "lat",
                "health",
                MetricQuery::Probe(ProbeField::LatencyMs),
                Baseline::None,
            ),
            metric(
                "down_up",
                "down",
                MetricQuery::Probe(ProbeField::Up),
                Baseline::None,
            ),
            metric(
                "cmd",
                "cmd",
                MetricQuery::Command(vec!["echo".into(), "{service} {cohort} 7.5".into()]),
                Baseline::Cohort,
            ),
        ],
    ));
    let (tx, mut rx) = mpsc::channel(64);
    let (_stop, shutdown) = watch::channel(false);
    let _handles = sources::spawn_pollers(plan, "checkout".into(), tx, shutdown);
    // 7 (metric, cohort) pairs: a probe has no baseline cohort.
    let got = collect_until(&mut rx, |g| {
        g.iter()
            .map(|m| (m.metric.clone(), m.cohort))
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= 7
    })
    .await;
    let find = |id: &str, c: Cohort| {
        got.iter()
            .find(|m| m.metric == id && m.cohort == c)
            .map(|m| m.reading.clone())
    };
    let v = |value: f64| Some(Reading::value(value));
    assert_eq!(find("json_err", Cohort::Canary), v(0.02));
    assert!(matches!(
        find("json_missing", Cohort::Canary),
        Some(Reading::NoData { .. })
    ));
    assert_eq!(find("up", Cohort::Canary), v(1.0));
    assert_eq!(find("up", Cohort::Baseline), None);
    assert!(
        matches!(find("lat", Cohort::Canary), Some(Reading::Value { value, .. }) if value >= 0.0)
    );
    assert_eq!(
        find("down_up", Cohort::Canary),
        v(0.0),
        "a failed probe is data: down"
    );
    assert_eq!(find("cmd", Cohort::Canary), v(7.5));
    assert_eq!(find("cmd", Cohort::Baseline), v(7.5));
}

#[tokio::test]
async fn a_missing_secret_is_a_clear_error_at_start() {
    let mut t = target("http://127.0.0.1:9");
    t.auth = Auth::Bearer {
        token_env: "RAMPDECK_TEST_SURELY_UNSET_TOKEN".into(),
    };
    let plan = Arc::new(plan(
        vec![source("secured", SourceKind::Prometheus(t), 1_000, 1_000)],
        vec![promql("m", "secured", "up", Baseline::None)],
    ));
    let err = sources::check_sources(&plan).expect_err("the variable is not set");
    let text = err.to_string();
    assert!(
        text.contains("RAMPDECK_TEST_SURELY_UNSET_TOKEN") && text.contains("secured"),
        "{text}"
    );

    // Started anyway, the source reports the same error as its reading.
    let (tx, mut rx) = mpsc::channel(8);
    let (_stop, shutdown) = watch::channel(false);
    let _h = sources::spawn_pollers(plan, "checkout".into(), tx, shutdown);
    let got = collect_until(&mut rx, |g| !g.is_empty()).await;
    assert!(
        matches!(&got[0].reading, Reading::ProviderError { message, code: Some(c) } if c == "config" && message.contains("RAMPDECK_TEST_SURELY_UNSET_TOKEN"))
    );
}

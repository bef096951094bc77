//! The demo service over real HTTP on loopback. Time is a `ManualClock`
//! moved by hand, so nothing here sleeps or depends on timing, except the
//! slow-reply test, which waits for a 200 ms client timeout against a
//! 10 s server delay.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use rampdeck::demo::{self, DemoOptions, DemoService, ManualClock, Scenario};
use serde_json::Value;

/// The Unix time the service starts at (simulated second 0).
const T0: f64 = 1_700_000_000.0;

async fn service(scenario: Scenario) -> (DemoService, Arc<ManualClock>) {
    service_with(scenario, |_| {}).await
}

async fn service_with(
    scenario: Scenario,
    tweak: impl FnOnce(&mut DemoOptions),
) -> (DemoService, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let mut opts = DemoOptions::new(scenario, 1.0);
    opts.clock = clock.clone();
    tweak(&mut opts);
    (demo::start_with(opts).await.unwrap(), clock)
}

fn sel(metric: &str, version: &str) -> String {
    format!("{metric}{{service=\"checkout\",version=\"{version}\"}}")
}

async fn get(svc: &DemoService, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", svc.base_url()))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn post_form(svc: &DemoService, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", svc.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn set_weight(svc: &DemoService, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/admin/weight", svc.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The single value of an instant query's vector, or None when empty.
async fn value(svc: &DemoService, metric: &str, version: &str) -> Option<f64> {
    let (status, body) = get(svc, "/api/v1/query", &[("query", &sel(metric, version))]).await;
    assert_eq!(status, 200, "{body}");
    let result = body["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{body}");
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

/// A threshold from the demo's own plan.
fn threshold(metric: &str, key: &str) -> f64 {
    let cfg: toml::Value = toml::from_str(demo::DEMO_CONFIG).unwrap();
    let m = cfg["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"].as_str() == Some(metric))
        .unwrap();
    m["threshold"][key].as_float().unwrap()
}

#[tokio::test]
async fn instant_query_has_the_prometheus_envelope() {
    let (svc, clock) = service(Scenario::Healthy).await;
    clock.advance(12.25);
    let q = sel("demo:requests_per_second", "baseline");
    let (status, body) = get(&svc, "/api/v1/query", &[("query", &q)]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "vector");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    let metric = &result[0]["metric"];
    assert_eq!(metric["__name__"], "demo:requests_per_second");
    assert_eq!(metric["service"], "checkout");
    assert_eq!(metric["version"], "baseline");
    let pair = result[0]["value"].as_array().unwrap();
    assert_eq!(pair[0].as_f64(), Some(T0 + 12.25), "evaluated now");
    let rps: f64 = pair[1].as_str().unwrap().parse().unwrap();
    assert!((180.0..300.0).contains(&rps), "{rps}");
}

#[tokio::test]
async fn form_post_and_get_agree_and_time_is_honoured() {
    let (svc, clock) = service(Scenario::Healthy).await;
    set_weight(&svc, r#"{"weight": 50}"#).await;
    clock.advance(40.0);
    let q = sel("demo:latency_p95_seconds", "canary");
    let at = format!("{}", T0 + 30.0);
    let form = [("query", q.as_str()), ("time", at.as_str())];
    let (s1, posted) = post_form(&svc, "/api/v1/query", &form).await;
    let (s2, got) = get(&svc, "/api/v1/query", &form).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(posted, got);
    assert_eq!(
        posted["data"]["result"][0]["value"][0].as_f64(),
        Some(T0 + 30.0)
    );
    // RFC 3339 times work too (T0 is 2023-11-14T22:13:20Z).
    let form = [("query", q.as_str()), ("time", "2023-11-14T22:13:50Z")];
    let (_, rfc) = post_form(&svc, "/api/v1/query", &form).await;
    assert_eq!(rfc, posted);
}

#[tokio::test]
async fn range_query_returns_a_matrix_that_follows_the_weight_history() {
    let (svc, clock) = service(Scenario::Healthy).await;
    clock.advance(10.0);
    set_weight(&svc, r#"{"weight": 25}"#).await;
    clock.advance(60.0);
    let q = sel("demo:error_ratio", "canary");
    let (start, end) = (format!("{T0}"), format!("{}", T0 + 60.0));
    let params = [
        ("query", q.as_str()),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", "5"),
    ];
    let (status, body) = get(&svc, "/api/v1/query_range", &params).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "matrix");
    let series = body["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["metric"]["version"], "canary");
    let values = series[0]["values"].as_array().unwrap();
    // Before the weight went to 25 at +10 s the canary had no traffic, so
    // its error-ratio series has no points there.
    let times: Vec<f64> = values.iter().map(|v| v[0].as_f64().unwrap()).collect();
    let expected: Vec<f64> = (2..=12).map(|i| T0 + 5.0 * f64::from(i)).collect();
    assert_eq!(times, expected);
    // Each point is what an instant query at that time says.
    let at = format!("{}", T0 + 35.0);
    let (_, instant) = get(&svc, "/api/v1/query", &[("query", &q), ("time", &at)]).await;
    assert_eq!(values[5][1], instant["data"]["result"][0]["value"][1]);
    // The same as a POSTed form with a duration step.
    let mut form = params;
    form[3] = ("step", "5s");
    let (status, posted) = post_form(&svc, "/api/v1/query_range", &form).await;
    assert_eq!(status, 200);
    assert_eq!(posted, body);
}

#[tokio::test]
async fn weight_endpoint_moves_canary_traffic() {
    let (svc, clock) = service(Scenario::Healthy).await;
    clock.advance(5.0);
    assert_eq!(
        value(&svc, "demo:requests_per_second", "canary").await,
        Some(0.0)
    );
    assert_eq!(value(&svc, "demo:error_ratio", "canary").await, None);

    let (status, body) = set_weight(&svc, r#"{"weight": 50}"#).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["weight"].as_u64(), body["previous"].as_u64()),
        (Some(50), Some(0))
    );
    clock.advance(1.0);
    let canary = value(&svc, "demo:requests_per_second", "canary")
        .await
        .unwrap();
    let baseline = value(&svc, "demo:requests_per_second", "baseline")
        .await
        .unwrap();
    assert!(
        canary > 50.0 && (canary - baseline).abs() < 1e-6,
        "{canary} {baseline}"
    );
    assert!(value(&svc, "demo:error_ratio", "canary").await.is_some());

    let (_, state) = get(&svc, "/admin/state", &[]).await;
    assert_eq!(state["weight"], 50);
    assert_eq!(state["scenario"], "healthy");
    assert_eq!(state["sim_seconds"].as_f64(), Some(6.0));
    assert_eq!(svc.weight(), 50);

    // A quoted number is accepted (webhook templates that quote values).
    assert_eq!(set_weight(&svc, r#"{"weight": "100"}"#).await.0, 200);
    clock.advance(1.0);
    assert_eq!(
        value(&svc, "demo:requests_per_second", "baseline").await,
        Some(0.0)
    );

    for bad in [
        r#"{"weight": 101}"#,
        r#"{"weight": -1}"#,
        r#"{"weight": 25.5}"#,
        r#"{"weight": "half"}"#,
        r#"{"weight": null}"#,
        r#"{"percent": 25}"#,
        "weight=25",
        "",
    ] {
        let (status, body) = set_weight(&svc, bad).await;
        assert_eq!(status, 400, "{bad:?}");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains("integer from 0 to 100"), "{bad:?}: {msg}");
    }
    assert_eq!(svc.weight(), 100, "refused requests change nothing");
}

#[tokio::test]
async fn bad_canary_breaches_from_25_percent_and_rollback_drains_it() {
    let (svc, clock) = service(Scenario::BadCanary).await;
    set_weight(&svc, r#"{"weight": 5}"#).await;
    clock.advance(20.0);
    let err_limit = threshold("error_rate", "limit");
    let p95_limit = threshold("p95_latency", "limit");
    let err = value(&svc, "demo:error_ratio", "canary").await.unwrap();
    assert!(err < err_limit / 2.0, "fine at 5 %: {err}");

    set_weight(&svc, r#"{"weight": 25}"#).await;
    clock.advance(5.0);
    let err = value(&svc, "demo:error_ratio", "canary").await.unwrap();
    let p95 = value(&svc, "demo:latency_p95_seconds", "canary")
        .await
        .unwrap();
    assert!(err > err_limit, "{err}");
    assert!(p95 > p95_limit, "{p95}");
    let baseline = value(&svc, "demo:error_ratio", "baseline").await.unwrap();
    assert!(
        baseline < err_limit / 2.0,
        "the baseline stays healthy: {baseline}"
    );

    // The rollback webhook's body.
    assert_eq!(set_weight(&svc, r#"{"weight": 0}"#).await.0, 200);
    clock.advance(2.0);
    assert_eq!(
        value(&svc, "demo:requests_per_second", "canary").await,
        Some(0.0)
    );
}

#[tokio::test]
async fn flaky_source_answers_503_in_its_outage_stretches() {
    let (svc, clock) = service(Scenario::FlakySource).await;
    clock.advance(10.0);
    assert!(
        value(&svc, "demo:requests_per_second", "baseline")
            .await
            .is_some()
    );

    clock.advance(10.0); // sim 20 s: inside the first outage
    let q = sel("demo:requests_per_second", "baseline");
    let (status, body) = get(&svc, "/api/v1/query", &[("query", &q)]).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "unavailable");
    assert!(body["error"].as_str().unwrap().contains("unavailable"));
    let (status, _) = post_form(&svc, "/api/v1/query", &[("query", &q)]).await;
    assert_eq!(status, 503);
    let range = [
        ("query", q.as_str()),
        ("start", "0"),
        ("end", "1"),
        ("step", "1"),
    ];
    assert_eq!(get(&svc, "/api/v1/query_range", &range).await.0, 503);
    let (_, state) = get(&svc, "/admin/state", &[]).await;
    assert_eq!(state["source_fault"], "unavailable");

    // The service itself and its admin API keep working during the outage.
    let health = reqwest::get(format!("{}/healthz", svc.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap().trim(), "ok");
    assert_eq!(set_weight(&svc, r#"{"weight": 5}"#).await.0, 200);

    clock.advance(10.0); // sim 30 s: healthy again
    assert!(
        value(&svc, "demo:requests_per_second", "baseline")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn flaky_source_replies_later_than_the_timeout_in_slow_stretches() {
    let (svc, clock) = service_with(Scenario::FlakySource, |o| {
        o.slow_reply = Duration::from_secs(10);
    })
    .await;
    clock.advance(45.0); // the second stretch is a slow one
    let (_, state) = get(&svc, "/admin/state", &[]).await;
    assert_eq!(state["source_fault"], "slow");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client
        .post(format!("{}/api/v1/query", svc.base_url()))
        .form(&[("query", sel("demo:error_ratio", "baseline"))])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Shutting down does not wait for the slow reply.
    tokio::time::timeout(Duration::from_secs(5), svc.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_slow_reply_still_carries_the_data() {
    let (svc, clock) = service_with(Scenario::FlakySource, |o| {
        o.slow_reply = Duration::from_millis(20);
    })
    .await;
    clock.advance(45.0);
    assert!(
        value(&svc, "demo:requests_per_second", "baseline")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn unknown_series_give_an_empty_vector() {
    let (svc, _clock) = service(Scenario::Healthy).await;
    for q in [
        sel("http_requests_total", "canary"),
        r#"demo:error_ratio{service="payments"}"#.to_string(),
    ] {
        let (status, body) = get(&svc, "/api/v1/query", &[("query", &q)]).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "success");
        assert_eq!(body["data"]["resultType"], "vector");
        assert_eq!(body["data"]["result"], Value::Array(vec![]), "{q}");
    }
    // Without a version matcher both cohorts answer (a two-series vector).
    let (_, body) = get(&svc, "/api/v1/query", &[("query", "demo:saturation")]).await;
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_queries_are_400_bad_data() {
    let (svc, _clock) = service(Scenario::Healthy).await;
    let cases: [(&str, &[(&str, &str)]); 6] = [
        ("/api/v1/query", &[("query", "sum(rate(x[1m]))")]),
        (
            "/api/v1/query",
            &[("query", "demo:error_ratio{version=~\"can.*\"}")],
        ),
        ("/api/v1/query", &[]),
        (
            "/api/v1/query",
            &[("query", "demo:saturation"), ("time", "soon")],
        ),
        (
            "/api/v1/query_range",
            &[
                ("query", "demo:saturation"),
                ("start", "10"),
                ("end", "5"),
                ("step", "1"),
            ],
        ),
        (
            "/api/v1/query_range",
            &[("query", "demo:saturation"), ("start", "10")],
        ),
    ];
    for (path, params) in cases {
        let (status, body) = get(&svc, path, params).await;
        assert_eq!(status, 400, "{path} {params:?}: {body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "bad_data");
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    let (_, body) = post_form(&svc, "/api/v1/query", &[("query", "up[5m]")]).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("plain series selectors"),
        "{body}"
    );
}

#[tokio::test]
async fn simulated_time_runs_at_speed() {
    let (svc, clock) = service_with(Scenario::Healthy, |o| o.speed = 2.5).await;
    clock.advance(4.0);
    let (_, state) = get(&svc, "/admin/state", &[]).await;
    assert_eq!(state["sim_seconds"].as_f64(), Some(10.0));
    assert_eq!(state["speed"].as_f64(), Some(2.5));
}

#[tokio::test]
async fn invalid_speed_is_refused() {
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = demo::start(Scenario::Healthy, speed).await.unwrap_err();
        assert!(err.to_string().contains("--speed"), "{err}");
    }
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let (svc, _clock) = service(Scenario::Healthy).await;
    let url = format!("{}/healthz", svc.base_url());
    assert!(reqwest::get(&url).await.is_ok());
    svc.shutdown().await;
    let err = reqwest::get(&url).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
}

#[tokio::test]
async fn the_demo_config_points_at_the_bound_address() {
    let svc = demo::start(Scenario::Healthy, 1.0).await.unwrap();
    let text = demo::demo_config(svc.addr());
    assert!(!text.contains(demo::ADDR_PLACEHOLDER));
    let cfg: toml::Value = toml::from_str(&text).unwrap();
    let base = svc.base_url();
    assert_eq!(cfg["sources"]["demo"]["url"].as_str(), Some(base.as_str()));
    let hook_url = format!("{base}/admin/weight");
    for hook in ["set_weight", "rollback"] {
        let url = cfg["hooks"][hook]["webhook"]["url"].as_str();
        assert_eq!(url, Some(hook_url.as_str()), "{hook}");
    }
    // Every demo query names a series the service records.
    for m in cfg["metrics"].as_array().unwrap() {
        let q = m["query"].as_str().unwrap();
        let name = &q[..q.find('{').unwrap()];
        assert!(demo::api::METRIC_NAMES.contains(&name), "{name}");
    }
}

#[tokio::test]
async fn fast_demos_keep_the_baseline_comparable_for_a_wall_minute() {
    // At --speed 10 the last step (100 %) may take 5 wall seconds = 50
    // simulated ones; the baseline's series must outlive that.
    let (svc, clock) = service_with(Scenario::Healthy, |o| o.speed = 10.0).await;
    set_weight(&svc, r#"{"weight": 100}"#).await;
    clock.advance(30.0); // 300 simulated seconds without baseline traffic
    assert_eq!(
        value(&svc, "demo:requests_per_second", "baseline").await,
        Some(0.0)
    );
    assert!(value(&svc, "demo:error_ratio", "baseline").await.is_some());
    clock.advance(31.0);
    assert_eq!(value(&svc, "demo:error_ratio", "baseline").await, None);
}

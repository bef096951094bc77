//! Speed of the safety net: how long from the instant a canary's error ratio
//! jumps to the rollback hook starting, with a 1 s poll and a consecutive
//! count of 1. Run with `cargo bench --bench safety_net` (20 runs by default;
//! `RUNS=50 cargo bench --bench safety_net` for more).
//!
//! `VIEWERS=50 cargo bench --bench safety_net` runs the same with 50 views
//! attached over the driver's socket, each rebuilding every snapshot, to
//! show that watchers do not slow the driver's decisions.
//!
//! A local Prometheus-API stand-in on loopback answers `0.001` until a
//! chosen instant and `0.5` after it; the rollback hook is a real process
//! that writes its own start time. The driver, pollers, engine, journal
//! (fsync) and hook runner are the real ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::any;
use rampdeck::driver::{self, DriverSetup};
use rampdeck::engine::{Actor, Phase};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn query(State(jump_at): State<Arc<AtomicI64>>) -> String {
    let t = now_ms();
    let v = if t >= jump_at.load(Ordering::SeqCst) {
        0.5
    } else {
        0.001
    };
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{},"{}"]}}]}}}}"#,
        t as f64 / 1000.0,
        v
    )
}

fn plan_text(addr: SocketAddr, out: &str) -> String {
    format!(
        r#"
[rollout]
service = "bench"
strategy = "canary"

[sources.prom]
kind = "prometheus"
url = "http://{addr}"
interval = "1s"
timeout = "500ms"

[[metrics]]
id = "error_rate"
source = "prom"
query = 'bench:error_ratio{{version="{{cohort}}"}}'
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}
no_data = {{ action = "hold", after = 100 }}

[[triggers]]
name = "errors"
metric = "error_rate"
consecutive = 1

[[steps]]
name = "canary"
weight = 10
hold = "1h"
gate = "auto"

[hooks.rollback]
command = ["/bin/sh", "-c", "date +%s%N > {out}"]
timeout = "5s"
"#
    )
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let viewers: usize = std::env::var("VIEWERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut answer_to_hook = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut lat = Vec::new();
    rt.block_on(async {
        let jump_at = Arc::new(AtomicI64::new(i64::MAX));
        let app = Router::new()
            .route("/api/v1/query", any(query))
            .with_state(jump_at.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().expect("tempdir");
        for run in 0..runs {
            let out = dir.path().join(format!("hook-{run}.ns"));
            let text = plan_text(addr, &out.display().to_string());
            let plan = rampdeck::config::parse(&text, "safety_net.toml").expect("plan");
            jump_at.store(i64::MAX, Ordering::SeqCst);
            let socket = (viewers > 0).then(|| dir.path().join(format!("bench-{run}.sock")));
            let handle = driver::start(DriverSetup {
                freeze_exception: None,
                preflight_confirmed: None,
                history: Default::default(),
                plan: Arc::new(plan),
                rollout_id: format!("bench-{run}"),
                journal_path: dir.path().join(format!("bench-{run}.jsonl")),
                starter: Actor::named("bench"),
                warnings: vec![],
                exit_when_done: true,
                local_view: true,
                socket: socket.clone(),
                took_over: None,
                resume: None,
            })
            .await
            .expect("driver");
            let mut views = Vec::new();
            if let Some(path) = &socket {
                for _ in 0..viewers {
                    views.push(rampdeck::session::connect(path).await.expect("attach"));
                }
            }
            let mut events = handle.events.subscribe();
            // Jump at a random moment relative to the poll schedule.
            let offset = 1500 + (rand::random::<u64>() % 1000) as i64;
            let jump = now_ms() + offset;
            jump_at.store(jump, Ordering::SeqCst);
            // When the breaching answer reached the driver: the verdict event.
            let seen = tokio::spawn(async move {
                while let Ok(ev) = events.recv().await {
                    if ev.kind == "verdict" && ev.text.contains("Breach") {
                        return Some(ev.at.0);
                    }
                }
                None
            });
            let outcome = tokio::time::timeout(Duration::from_secs(15), handle.task)
                .await
                .expect("rollback within 15 s")
                .expect("join")
                .expect("driver");
            assert_eq!(
                outcome.phase,
                Phase::RolledBack,
                "run {run} did not roll back"
            );
            let ns: i64 = std::fs::read_to_string(&out)
                .expect("hook output")
                .trim()
                .parse()
                .expect("ns");
            let ms = ns / 1_000_000 - jump;
            let decided = seen.await.ok().flatten().map(|at| ns / 1_000_000 - at);
            println!(
                "run {run:>2}: jump → rollback hook started in {ms} ms (breaching sample → hook: {} ms)",
                decided.map_or("?".into(), |d| d.to_string())
            );
            lat.push(ms);
            answer_to_hook.extend(decided);
            drop(views);
        }
    });
    lat.sort();
    let median = lat[lat.len() / 2];
    let max = lat[lat.len() - 1];
    println!(
        "safety net over {runs} runs with {viewers} viewers: median {median} ms, max {max} ms (target: ≤ 1250 ms = 1 s poll + 250 ms)"
    );
    answer_to_hook.sort();
    if !answer_to_hook.is_empty() {
        println!(
            "breaching sample judged → rollback hook started: median {} ms, max {} ms",
            answer_to_hook[answer_to_hook.len() / 2],
            answer_to_hook[answer_to_hook.len() - 1]
        );
    }
}

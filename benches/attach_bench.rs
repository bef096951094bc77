//! 50 views attached to a driver that publishes a snapshot every second.
//!
//! Measures, per view and per change, the time from `publish` to the
//! rebuilt snapshot being visible in the view's `watch`; and the
//! publisher's own cost per tick (build the next snapshot + publish), with
//! no views and with all of them attached.
//!
//! `cargo bench --bench attach_bench` (env: ATTACH_BENCH_CLIENTS=50,
//! ATTACH_BENCH_SECS=20, ATTACH_BENCH_METRICS=8).

#[path = "../tests/it/kit/mod.rs"]
mod kit;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampdeck::session::protocol::{self, ServerMsg};
use rampdeck::session::{client, serve};
use rampdeck::snapshot::Snapshot;
use tokio::sync::{mpsc, watch};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn fmt(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Publish `ticks` snapshots one second apart; returns the publisher's
/// per-tick cost and when each version went out.
async fn publish(
    tx: &watch::Sender<Arc<Snapshot>>,
    ticks: usize,
) -> (Vec<Duration>, HashMap<u64, Instant>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.tick().await;
    let mut costs = Vec::new();
    let mut sent = HashMap::new();
    for _ in 0..ticks {
        interval.tick().await;
        let start = Instant::now();
        let next = Arc::new(kit::snapshot::next_poll(&tx.borrow()));
        let v = next.version;
        tx.send_replace(next);
        let done = Instant::now();
        costs.push(done - start);
        sent.insert(v, done);
    }
    (costs, sent)
}

async fn run() {
    let clients = env("ATTACH_BENCH_CLIENTS", 50);
    let secs = env("ATTACH_BENCH_SECS", 20);
    let metrics = env("ATTACH_BENCH_METRICS", 8);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run/bench.sock");
    let plan = Arc::new(kit::snapshot::plan("bench", metrics));
    // 30 minutes into the rollout, 6 hours of retention at 1 s polls.
    let first = Arc::new(kit::snapshot::snapshot(&plan, 1800, 21_600));
    let full_len = protocol::encode(&ServerMsg::Snapshot(Box::new((*first).clone())))
        .expect("encode")
        .len();
    let upd = kit::snapshot::next_poll(&first);
    let upd_len = protocol::encode(&protocol::diff(&first, &upd))
        .expect("encode")
        .len();
    let (tx, rx) = watch::channel(first);
    let (req_tx, mut req_rx) = mpsc::channel(1024);
    tokio::spawn(async move { while req_rx.recv().await.is_some() {} });
    let (_stop, stop_rx) = watch::channel(false);
    let server = serve(&path, rx, req_tx, stop_rx).await.expect("serve");

    let (alone, _) = publish(&tx, secs.div_ceil(2)).await;

    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let attach_start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut c = client::connect(&path).await.expect("connect");
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            while c.snapshots.changed().await.is_ok() {
                let v = c.snapshots.borrow_and_update().version;
                if let Ok(mut s) = seen.lock() {
                    s.push((v, Instant::now()));
                }
            }
        }));
    }
    let attach_all = attach_start.elapsed();
    assert_eq!(server.clients(), clients);
    let (with_views, sent) = publish(&tx, secs).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for t in &tasks {
        t.abort();
    }

    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut lat: Vec<Duration> = seen
        .iter()
        .filter_map(|(v, at)| sent.get(v).map(|s| at.saturating_duration_since(*s)))
        .collect();
    lat.sort();
    let expected = clients * sent.len();
    let mut alone = alone;
    let mut with_views = with_views;
    alone.sort();
    with_views.sort();
    let over_100 = lat
        .iter()
        .filter(|d| **d > Duration::from_millis(100))
        .count();

    println!(
        "attach bench: {clients} views, {metrics} metrics x 2 cohorts, 1800 points each, 1 publish/s for {secs} s"
    );
    println!("  full snapshot on attach: {full_len} bytes; one-poll update: {upd_len} bytes");
    println!("  attaching all {clients} views: {}", fmt(attach_all));
    println!(
        "  changes received: {} of {expected}; publish -> view latency p50 {}, p99 {}, max {}; over 100 ms: {over_100}",
        lat.len(),
        fmt(pct(&lat, 0.5)),
        fmt(pct(&lat, 0.99)),
        fmt(pct(&lat, 1.0)),
    );
    println!(
        "  publisher cost per tick (build + publish): no views p50 {} max {}; {clients} views p50 {} max {}",
        fmt(pct(&alone, 0.5)),
        fmt(pct(&alone, 1.0)),
        fmt(pct(&with_views, 0.5)),
        fmt(pct(&with_views, 1.0)),
    );
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("attach bench: no runtime: {e}");
            return;
        }
    };
    rt.block_on(run());
}

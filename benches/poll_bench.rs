//! Polling benchmark: `cargo bench --bench poll_bench`.
//!
//! Polls 200 Prometheus queries (100 metrics × canary and baseline) every
//! second for ~20 s against a fast Prometheus-API stand-in on loopback,
//! while another source hangs (its server never answers) and a third, fast
//! source polls one query every second. Reports, for this process only
//! (the stand-in runs as a child process so its work is not counted):
//! CPU as a % of one core, peak RSS (VmHWM), and how late the fast source's
//! samples arrive against their schedule (p50 / max).
//!
//! Targets (issue 3): < 10 % CPU, < 40 MB RSS, < 10 ms lateness.

#[path = "../tests/it/kit/mod.rs"]
mod kit;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::post;
use kit::http::*;
use kit::plan::*;
use rampdeck::engine::Reading;
use rampdeck::plan::Baseline;
use rampdeck::sources::{self, SampleMsg};
use tokio::sync::{mpsc, watch};

const RUN: Duration = Duration::from_secs(20);
const WARMUP: Duration = Duration::from_secs(2);
const METRICS: usize = 100;
const ROLE: &str = "POLL_BENCH_ROLE";

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("server") {
        serve_stand_in();
        return;
    }
    // `cargo bench` passes `--bench`; nothing else to parse.
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(ROLE, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("stand-in prints its address");
    let addr = line.trim().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(measure(&addr));
    drop(rt);
    // Closing its stdin ends the stand-in.
    drop(child.stdin.take());
    let _ = child.wait();
    print!("{report}");
}

/// The stand-in: `/fast/api/v1/query` answers at once, `/hang/...` never.
fn serve_stand_in() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let router = Router::new().route(
            "/{mode}/api/v1/query",
            post(|Path(mode): Path<String>| async move {
                if mode == "hang" {
                    std::future::pending::<()>().await;
                }
                (
                    [("content-type", "application/json")],
                    vector_json(&["0.0125"]),
                )
            }),
        );
        let addr = serve(router).await;
        println!("{addr}");
        let _ = std::io::stdout().flush();
        // Until the parent closes stdin (or dies).
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .expect("stdin watcher");
    });
}

/// CPU time of this process in seconds (utime + stime from /proc/self/stat;
/// USER_HZ is 100 in the Linux ABI for /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after ')'.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("field in /proc/self/status")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

async fn measure(addr: &str) -> String {
    let q = r#"sum(rate(http_requests_total{service="{service}",version="{cohort}",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="{service}",version="{cohort}"}[1m]))"#;
    let mut metrics: Vec<_> = (0..METRICS)
        .map(|i| {
            promql(
                &format!("m{i}"),
                "prom",
                &format!("{q} + {i}"),
                Baseline::Cohort,
            )
        })
        .collect();
    metrics.push(promql("stuck", "hung", "up", Baseline::None));
    metrics.push(promql("fast", "fast", "up", Baseline::None));
    let plan = Arc::new(plan(
        vec![
            prom_source("prom", &format!("http://{addr}/fast"), 1_000, 2_000),
            prom_source("hung", &format!("http://{addr}/hang"), 1_000, 5_000),
            prom_source("fast", &format!("http://{addr}/fast"), 1_000, 1_000),
        ],
        metrics,
    ));
    let (tx, mut rx) = mpsc::channel::<SampleMsg>(1024);
    let (stop, shutdown) = watch::channel(false);
    let handles = sources::spawn_pollers(plan, "checkout".into(), tx, shutdown);

    let started = Instant::now();
    let mut cpu_start = None;
    let (mut values, mut errors, mut hung_timeouts) = (0u64, 0u64, 0u64);
    let mut fast: Vec<(u64, i64, i64)> = Vec::new(); // (seq, at, received)
    let deadline = tokio::time::Instant::now() + RUN;
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let Some(m) = msg else { break };
        let received = chrono::Utc::now().timestamp_millis();
        if cpu_start.is_none() && started.elapsed() >= WARMUP {
            cpu_start = Some((cpu_seconds(), Instant::now()));
        }
        match (&m.source[..], &m.reading) {
            ("fast", _) => fast.push((m.seq, m.at.0, received)),
            ("hung", Reading::ProviderError { .. }) => hung_timeouts += 1,
            (_, Reading::Value { .. }) => values += 1,
            _ => errors += 1,
        }
    }
    let (cpu0, t0) = cpu_start.expect("ran past the warm-up");
    let cpu_pct = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let hwm_mb = status_kb("VmHWM:") as f64 / 1024.0;
    stop.send(true).expect("stop");
    for h in handles {
        let _ = h.await;
    }

    // Lateness: arrival against the fast source's schedule. A round never
    // starts before its slot, so the schedule's phase is the smallest
    // `at - seq * interval` seen; lateness counts any start delay, the
    // request and the delivery through the channel.
    let phase = fast
        .iter()
        .map(|(seq, at, _)| at - *seq as i64 * 1_000)
        .min()
        .expect("fast samples");
    let mut late: Vec<f64> = fast
        .iter()
        .map(|(seq, _, recv)| (recv - (phase + *seq as i64 * 1_000)) as f64)
        .collect();
    let first = late.first().copied().unwrap_or(f64::NAN);
    late.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&late, 0.5), percentile(&late, 0.95));
    let max = late.last().copied().unwrap_or(f64::NAN);
    let secs = RUN.as_secs_f64();
    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    format!(
        "poll_bench: {} Prometheus queries at 1 s for {secs:.0} s, one hung source, one fast source\n\
         values received      {values} ({:.0}/s), provider errors {errors}, hung-source timeouts {hung_timeouts}\n\
         CPU                  {cpu_pct:.1} % of one core (target < 10 %: {})\n\
         peak RSS (VmHWM)     {hwm_mb:.1} MB (target < 40 MB: {})\n\
         fast-source lateness p50 {p50:.0} ms, p95 {p95:.0} ms, max {max:.0} ms over {} samples (target < 10 ms: {}); first sample (new connection) {first:.0} ms\n",
        METRICS * 2,
        values as f64 / secs,
        mark(cpu_pct < 10.0),
        mark(hwm_mb < 40.0),
        late.len(),
        mark(max < 10.0),
    )
}

//! The kill switch while sources are hostile: from `rampdeck rollback`
//! starting in another shell to the rollback hook starting, with a real
//! headless driver polling three hostile sources at once: one that never
//! answers (slow), one that sends a 200 MB answer (huge), and a command
//! that prints without end (endless). Run with
//! `cargo bench --bench kill_switch` (20 tries; `RUNS=50` for more).
//!
//! Target (issue 9): at most 250 ms.

#![allow(clippy::unwrap_used)]

#[path = "../tests/it/kit/mod.rs"]
mod kit;

use std::process::Stdio;
use std::time::{Duration, Instant};

use kit::field::Field;
use kit::http::{hostile_http, silent_http};

fn now_ns() -> i128 {
    i128::from(chrono::Utc::now().timestamp_nanos_opt().unwrap())
}

fn one_try(i: usize) -> Duration {
    static NINES: [u8; 64 * 1024] = [b'9'; 64 * 1024];
    let f = Field::new(&format!("bench-kill-{i}"));
    let slow = silent_http();
    let huge = hostile_http(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n",
        &NINES,
        Duration::ZERO,
    );
    let hook_out = f.path().join("hook-started");
    let config = f.plan(&format!(
        r#"
[rollout]
service = "bench"
strategy = "canary"
id = "{id}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"

[sources.slow]
kind = "prometheus"
url = "{slow}"
interval = "1s"
timeout = "900ms"

[sources.huge]
kind = "http_json"
url = "{huge}"
interval = "1s"
timeout = "900ms"

[sources.endless]
kind = "command"
interval = "1s"
timeout = "900ms"

[[metrics]]
id = "slow"
source = "slow"
query = "up"
baseline = "none"
bad = "up"
threshold = {{}}

[[metrics]]
id = "huge"
source = "huge"
pointer = "/0"
baseline = "none"
bad = "up"
threshold = {{}}

[[metrics]]
id = "endless"
source = "endless"
command = ["cat", "/dev/zero"]
baseline = "none"
bad = "up"
threshold = {{}}

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["/bin/sh", "-c", "date +%s%N > {out}"]
timeout = "5s"
"#,
        id = f.id,
        out = hook_out.display(),
    ));
    let mut driver = f
        .rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    f.wait_for("step_entered", Duration::from_secs(20));
    // Let every hostile source be polled a few times first.
    std::thread::sleep(Duration::from_millis(2500));
    let started = now_ns();
    let out = f
        .rampdeck(&["rollback", &f.id, "--reason", "bench"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let hook_ns: i128 = loop {
        if let Some(ns) = std::fs::read_to_string(&hook_out)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break ns;
        }
        assert!(Instant::now() < deadline, "the rollback hook never started");
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = driver.wait();
    Duration::from_nanos(u64::try_from(hook_ns - started).unwrap_or(0))
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let mut took: Vec<Duration> = (0..runs)
        .map(|i| {
            let d = one_try(i);
            eprintln!("try {:>2}: {:>4} ms", i + 1, d.as_millis());
            d
        })
        .collect();
    took.sort();
    let median = took[took.len() / 2];
    let max = took[took.len() - 1];
    println!(
        "kill switch (rampdeck rollback -> hook started) with slow, huge and endless sources: \
         median {} ms, max {} ms over {runs} tries (target <= 250 ms)",
        median.as_millis(),
        max.as_millis()
    );
}

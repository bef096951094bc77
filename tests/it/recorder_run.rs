//! The flight recorder through the real binary (issue 15): a headless
//! rollout polling a loopback Prometheus API leaves a gzipped recording
//! beside its journal whose SHA-256 the `rollout_ended` record carries;
//! `verify` passes, and fails naming the recording once a byte of it
//! changes or it goes missing; `backtest` reads it. A driver killed mid-ramp
//! whose live recording lost half its last line resumes, appends after it,
//! and seals a recording that reads, holds the `Resume`, and verifies.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rampdeck::engine::Input;
use sha2::Digest;

use crate::kit::field::Field;
use crate::kit::journal::{self, action};
use crate::kit::proc::said;

/// A loopback Prometheus API answering 0.01 for every query, on a runtime
/// kept alive as long as the returned value.
fn prometheus() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let reply: &'static str = Box::leak(crate::kit::http::vector_json(&["0.01"]).into_boxed_str());
    let (url, _) = rt.block_on(crate::kit::http::recorder(200, reply));
    (rt, url)
}

/// A plan with `f`'s id, one metric on the loopback source for both
/// cohorts, and three automatic steps with holds of `hold`.
fn plan(f: &Field, url: &str, hold: &str) -> PathBuf {
    let id = &f.id;
    let text = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"

[sources.prom]
kind = "prometheus"
url = "{url}"
interval = "1s"
timeout = "800ms"

[[metrics]]
id = "errors"
source = "prom"
query = 'errors{{version="{{cohort}}"}}'
baseline = "cohort"
bad = "up"
threshold = {{ limit = 0.05 }}

[[triggers]]
name = "errors"
metric = "errors"
consecutive = 2

[[steps]]
name = "first"
weight = 10
hold = "{hold}"

[[steps]]
name = "half"
weight = 50
hold = "{hold}"

[[steps]]
name = "full"
weight = 100
hold = "1s"

[hooks.set_weight]
command = ["true"]
timeout = "5s"
idempotent = true
"#
    );
    f.plan(&text)
}

fn verify(path: &Path) -> (i32, String) {
    let out = journal::run_verify(path);
    (out.status.code().unwrap_or(-1), said(&out))
}

fn last_record(path: &Path) -> serde_json::Value {
    journal::records(path).pop().unwrap()
}

#[test]
fn a_rollout_seals_its_recording_into_the_journal_and_verify_checks_it() {
    let (_rt, url) = prometheus();
    let f = Field::new("rec-1");
    let dir = &f.dir;
    let config = plan(&f, &url, "2s");
    let (code, out, err) = crate::kit::proc::run_headless(dir.path(), &config, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let path = dir.path().join("data/rampdeck/rec-1.jsonl");
    let gz = dir.path().join("data/rampdeck/rec-1.rec.jsonl.gz");
    assert!(gz.exists());
    assert!(
        !dir.path()
            .join("data/rampdeck/rec-1.rec.jsonl.live")
            .exists()
    );

    let end = last_record(&path);
    assert_eq!(action(&end), "rollout_ended");
    let sealed = &end["detail"]["recording"];
    let bytes = std::fs::read(&gz).unwrap();
    assert_eq!(sealed["file"], "rec-1.rec.jsonl.gz");
    assert_eq!(sealed["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(sealed["bytes"], bytes.len() as u64);

    let rec = rampdeck::recording::open(&gz).unwrap();
    assert_eq!(rec.header.rollout_id, "rec-1");
    assert_eq!(sealed["entries"], rec.entries.len() as u64);
    let samples: Vec<_> = rec
        .entries
        .iter()
        .filter(|e| e.sample().is_some())
        .collect();
    assert!(samples.len() >= 10, "{} samples", samples.len());
    assert!(samples.iter().all(|e| e.verdict.is_some()));
    assert!(rec.entries.iter().any(|e| matches!(e.input, Input::Tick)));
    assert!(
        rec.entries
            .iter()
            .any(|e| matches!(e.input, Input::Start { .. }))
    );
    assert!(
        rec.entries
            .iter()
            .any(|e| matches!(e.input, Input::HookResult { .. }))
    );

    let (code, text) = verify(&path);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("rec-1.rec.jsonl.gz: OK"), "{text}");

    // The backtest reads it: the same plan promotes it, as really happened.
    let out = crate::kit::proc::rampdeck(&["backtest", "--json", "--config"])
        .arg(&config)
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        reports[0]["plan"]["ending"]["result"], "promoted",
        "{reports}"
    );
    assert_eq!(reports[0]["real"]["result"], "promoted", "{reports}");
    let out = crate::kit::proc::rampdeck(&["backtest", "--config"])
        .arg(&config)
        .arg(dir.path().join("nope.rec.jsonl.gz"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.rec.jsonl.gz"));

    // One byte changed: verify fails and names the recording.
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    std::fs::write(&gz, &flipped).unwrap();
    let (code, text) = verify(&path);
    assert_eq!(code, 6, "{text}");
    assert!(text.contains("RECORDING MISMATCH"), "{text}");
    assert!(text.contains(&gz.display().to_string()), "{text}");

    std::fs::remove_file(&gz).unwrap();
    let (code, text) = verify(&path);
    assert_eq!(code, 6, "{text}");
    assert!(text.contains("RECORDING MISSING"), "{text}");
    assert!(text.contains("rec-1.rec.jsonl.gz"), "{text}");
}

#[test]
fn a_driver_killed_mid_ramp_with_a_torn_recording_resumes_it_and_seals_it_whole() {
    let (_rt, url) = prometheus();
    let f = Field::new("rec-crash");
    let dir = &f.dir;
    let config = plan(&f, &url, "3s");
    let path = dir.path().join("data/rampdeck/rec-crash.jsonl");
    let live = dir.path().join("data/rampdeck/rec-crash.rec.jsonl.live");
    let mut first = f.spawn_headless(&config);
    journal::wait_nth(&path, "step 2 entered", 1, journal::WAIT, |r| {
        action(r) == "step_entered" && r["step"] == 1
    });
    // Let a sample or two after it be flushed, then no chance to flush more.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    first.kill().unwrap();
    first.wait().unwrap();

    // The crash cut the last line in half.
    let text = std::fs::read(&live).unwrap();
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let last_start = body.iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let cut = last_start + (body.len() - last_start) / 2;
    std::fs::write(&live, &text[..cut]).unwrap();
    let before = rampdeck::recording::open(&live).unwrap().entries.len();

    let second = f.spawn_headless(&config);
    let out = crate::kit::proc::wait_with_timeout(second, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(!live.exists());
    let gz = dir.path().join("data/rampdeck/rec-crash.rec.jsonl.gz");
    let rec = rampdeck::recording::open(&gz).unwrap();
    let resume = rec
        .entries
        .iter()
        .position(|e| matches!(e.input, Input::Resume { .. }))
        .expect("a Resume entry");
    assert_eq!(resume, before, "appended right after the entries kept");
    assert_eq!(
        last_record(&path)["detail"]["recording"]["entries"],
        rec.entries.len() as u64
    );
    let (code, text) = verify(&path);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("rec-crash.rec.jsonl.gz: OK"), "{text}");
}

#[test]
fn a_recorder_that_cannot_write_never_stops_the_rollout_and_the_journal_says_so() {
    let (_rt, url) = prometheus();
    let f = Field::new("rec-blocked");
    let dir = &f.dir;
    let config = plan(&f, &url, "1s");
    // A directory where the live recording would go: it cannot be created.
    let live = dir.path().join("data/rampdeck/rec-blocked.rec.jsonl.live");
    std::fs::create_dir_all(&live).unwrap();
    let (code, out, err) = crate::kit::proc::run_headless(dir.path(), &config, &[]);
    assert_eq!(code, 0, "promoted all the same: {out}{err}");
    assert!(out.contains("the flight recorder stopped"), "{out}");
    let path = dir.path().join("data/rampdeck/rec-blocked.jsonl");
    assert_eq!(journal::count(&path, "recording_incomplete"), 1);
    let incomplete = journal::wait_record(&path, "recording_incomplete", journal::WAIT);
    let why = incomplete["reason"].as_str().unwrap();
    assert!(why.contains("could not open the recording"), "{why}");
    assert!(last_record(&path)["detail"]["recording"].is_null());
    let (code, text) = verify(&path);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("names no flight recording"), "{text}");
}

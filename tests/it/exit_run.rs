//! Exit criteria and HTTP-probe checks through the real binary (issue 13):
//! a headless run whose plan has `[exit]` observes at 100 %, runs its exit
//! check as a real process, and is promoted once the period is over; its
//! journal verifies. A pre-flight HTTP probe against a real local server
//! passes on the status it expects and fails on another, and a server that
//! never answers is cut at the check's timeout.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::kit::journal;

fn run(dir: &Path, plan: &str) -> (i32, String, String) {
    let config = dir.join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    crate::kit::proc::run_headless(dir, &config, &[])
}

/// A server on loopback answering every request with `status` (or, when
/// `hang`, reading the request and never answering).
fn server(status: u16, hang: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            if hang {
                std::thread::sleep(Duration::from_secs(30));
                continue;
            }
            let body = "status page: no maintenance";
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}/status")
}

fn probe_plan(url: &str) -> String {
    format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"

[[preflight]]
title = "status page reachable"
check = {{ http = "{url}", status = 200, timeout = "2s" }}

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"
"#
    )
}

#[test]
fn an_http_probe_passes_on_its_status_and_the_rollout_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(dir.path(), &probe_plan(&server(200, false)));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let path = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "rollout_started",
        journal::WAIT,
    );
    let records = journal::records(&path);
    let check = records
        .iter()
        .find(|r| journal::action(r) == "preflight_check")
        .unwrap();
    assert_eq!(check["detail"]["ok"], true, "{check}");
    let output = check["detail"]["output"].as_str().unwrap();
    assert!(output.contains("HTTP 200: status page"), "{output}");
}

#[test]
fn an_http_probe_on_another_status_or_no_answer_keeps_the_start_refused() {
    for (status, hang) in [(503, false), (200, true)] {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let (code, stdout, stderr) = run(dir.path(), &probe_plan(&server(status, hang)));
        assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(stderr.contains("status page reachable"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a hung server is cut at the check's timeout"
        );
        let path = journal::wait_for_journal_in(
            &dir.path().join("data/rampdeck"),
            "preflight_check",
            journal::WAIT,
        );
        let records = journal::records(&path);
        let check = records
            .iter()
            .find(|r| journal::action(r) == "preflight_check")
            .unwrap();
        assert_eq!(check["detail"]["ok"], false, "{check}");
        let output = check["detail"]["output"].as_str().unwrap();
        let want = if hang {
            "no answer within 2s"
        } else {
            "HTTP 503"
        };
        assert!(output.contains(want), "{output}");
        assert_eq!(journal::count(&path, "rollout_started"), 0);
    }
}

#[test]
fn exit_criteria_observe_at_full_then_promote_with_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("smoke.sh");
    std::fs::write(&script, "#!/bin/sh\necho 42 smoke tests passed\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plan = format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"

[exit]
observe = "3s"
[[exit.items]]
title = "smoke tests pass"
check = {{ command = ["{}"], timeout = "10s" }}
"#,
        script.display()
    );
    let started = Instant::now();
    let (code, stdout, stderr) = run(dir.path(), &plan);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "observed first"
    );
    let path =
        journal::wait_for_journal_in(&dir.path().join("data/rampdeck"), "promoted", journal::WAIT);
    let records = journal::records(&path);
    let order: Vec<&str> = records.iter().map(journal::action).collect();
    let at = |a: &str| order.iter().position(|x| *x == a).unwrap();
    assert!(at("observation_started") < at("exit_check"), "{order:?}");
    assert!(at("exit_check") < at("promoted"), "{order:?}");
    let promoted = &records[at("promoted")];
    let criteria = promoted["detail"]["criteria"].as_array().unwrap();
    assert_eq!(criteria.len(), 3, "{promoted}");
    assert!(criteria.iter().all(|c| c["met"] == true), "{promoted}");
    assert!(
        promoted
            .to_string()
            .contains("passed: exit 0: 42 smoke tests passed"),
        "{promoted}"
    );
    // The summary beside the journal lists each criterion with its evidence.
    let md = std::fs::read_to_string(path.with_extension("summary.md")).unwrap();
    assert!(md.contains("smoke tests pass"), "{md}");
    assert!(md.contains("42 smoke tests passed"), "{md}");
    assert!(md.contains("observed 3s at 100 %"), "{md}");
    assert!(
        md.contains("[x] Smoke checks passed — 1 of 1 passed"),
        "{md}"
    );
    let verify = crate::kit::proc::rampdeck(&[])
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// A headless rollout waits at 100 % for its manual hand-off item; a
/// driver ticks it from another shell with `rampdeck tick`, and the
/// rollout is promoted with who ticked it in the evidence.
#[test]
fn a_hand_off_item_ticked_from_another_shell_lets_the_rollout_finish() {
    let dir = tempfile::tempdir().unwrap();
    let plan = r#"
[rollout]
service = "shop"
strategy = "canary"

[[steps]]
name = "all"
weight = 100
hold = "1s"
gate = "auto"

[exit]
observe = "1s"
[[exit.items]]
title = "on-call briefed"
"#;
    let config = dir.path().join("plan.toml");
    std::fs::write(&config, plan).unwrap();
    let env = |c: &mut std::process::Command| {
        c.env("XDG_DATA_HOME", dir.path().join("data"))
            .env("RAMPDECK_RUNTIME_DIR", dir.path().join("run"))
            .env("HOME", dir.path());
    };
    let mut run = crate::kit::proc::rampdeck(&[]);
    run.args(["run", "--headless", "--config"]).arg(&config);
    env(&mut run);
    let mut child = run
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let path = journal::wait_for_journal_in(
        &dir.path().join("data/rampdeck"),
        "observation_started",
        journal::WAIT,
    );
    // Past the period, still observing: the item is not ticked.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(journal::count(&path, "promoted"), 0);
    assert!(child.try_wait().unwrap().is_none());
    let mut tick = crate::kit::proc::rampdeck(&[]);
    tick.args(["tick", "--item", "1", "--reason", "briefed in #oncall"]);
    env(&mut tick);
    let out = tick.output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let records = journal::records(&path);
    let confirmed = records
        .iter()
        .find(|r| journal::action(r) == "exit_confirmed")
        .unwrap();
    assert!(
        confirmed.to_string().contains("briefed in #oncall"),
        "{confirmed}"
    );
    let promoted = records
        .iter()
        .find(|r| journal::action(r) == "promoted")
        .unwrap();
    assert!(promoted.to_string().contains("confirmed by"), "{promoted}");
}

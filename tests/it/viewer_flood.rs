//! A viewer cannot flood the journal or lock the drivers out (issue 9,
//! item 9). A real read-only client process (uid 65534 under `setpriv`)
//! opens 1,000 connections at once, then repeats refused rollbacks with
//! reconnects for seconds; meanwhile the driver's own `rampdeck rollback`
//! still works at once, the journal stays small (refusals and views past
//! the first few are counted in `held_back` records), and it verifies.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::kit::field::{Field, RECORD_ARGV};
use crate::kit::proc::wait_with_timeout;

const CHILD: &str = "RAMPDECK_FLOOD_CHILD_SOCKET";

/// The flooder, run by the test below as another user. Not a test of its
/// own: without the variable it returns at once.
#[test]
fn flood_child() {
    let Some(socket) = std::env::var_os(CHILD) else {
        return;
    };
    let socket = std::path::PathBuf::from(socket);
    // 1,000 connections at once: how many are turned away with a Bye?
    let mut held = Vec::new();
    let mut byes = 0;
    for _ in 0..1000 {
        let Ok(s) = UnixStream::connect(&socket) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut line = String::new();
        let _ = BufReader::new(&s).read_line(&mut line);
        if line.contains("\"bye\"") {
            byes += 1;
        }
        held.push(s);
    }
    println!("connections refused: {byes} of 1000");
    drop(held);
    // Refused commands as fast as the socket takes them, reconnecting
    // whenever the driver closes the connection.
    let until = Instant::now() + Duration::from_secs(5);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let line =
                    b"{\"type\":\"command\",\"command\":\"rollback\",\"reason\":\"flood\"}\n";
                let mut sent = 0u64;
                while Instant::now() < until {
                    let Ok(mut s) = UnixStream::connect(&socket) else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    // Stay past the peek time now and then, so the
                    // connection counts as a view coming and going.
                    if sent % 3 == 0 {
                        std::thread::sleep(Duration::from_millis(450));
                    }
                    for _ in 0..200 {
                        if s.write_all(line).is_err() {
                            break;
                        }
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let sent: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    println!("commands sent: {sent}");
}

#[test]
fn a_flooding_viewer_neither_fills_the_journal_nor_blocks_the_kill_switch() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run the flooder as another user");
        return;
    }
    let f = Field::new("shop-flood");
    // The flooder (uid 65534) must reach the socket inside.
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"
session_group = "nogroup"

[[steps]]
name = "canary"
weight = 10
hold = "1h"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["{RECORD_ARGV}", "{out}", "{{actor}}", "{{reason}}"]
timeout = "5s"
"#,
        id = f.id,
        out = f.path().join("rollback").display(),
    ));
    let driver = f.start_headless(&config);
    let socket = f.path().join(format!("run/{}.sock", f.id));
    let flooder = crate::kit::proc::as_nobody(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::kit::proc::test_name(module_path!(), "flood_child"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &socket)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux) runs the flooder as another user");

    // Into the flood: the driver's own kill switch from another shell.
    f.wait_for("refused", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let out = f.rollback("the kill switch during a flood");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "rollback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(5),
        "the kill switch took {took:?}"
    );
    f.wait_for("rolled_back", Duration::from_secs(10));

    let flood = wait_with_timeout(flooder, Duration::from_secs(60));
    let flood_out = String::from_utf8_lossy(&flood.stdout);
    assert!(flood.status.success(), "flooder: {flood_out}");
    let out = wait_with_timeout(driver, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3));

    // 1,000 connections at once: the per-person cap turned most away.
    let refused_now: u64 = flood_out
        .lines()
        .find_map(|l| l.split_once("connections refused: ").map(|(_, n)| n))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{flood_out}"));
    assert!(refused_now >= 900, "{flood_out}");
    let sent: u64 = flood_out
        .lines()
        .find_map(|l| l.split_once("commands sent: ").map(|(_, n)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{flood_out}"));
    assert!(sent > 1000, "the flood was a flood: {flood_out}");

    let records: Vec<serde_json::Value> = f
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_nobody = |action: &str| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["actor"]["uid"] == 65534)
            .count()
    };
    // A few of each, one by one; the rest counted.
    assert!(
        by_nobody("refused") >= 1 && by_nobody("refused") <= 10,
        "{}",
        by_nobody("refused")
    );
    assert!(by_nobody("viewer_attached") <= 10);
    assert!(by_nobody("viewer_detached") <= 10);
    for r in &records {
        if r["action"] == "held_back" || r["action"] == "connections_refused" {
            println!("{}: {}", r["action"], r["reason"]);
        }
    }
    println!("{} records in the journal", records.len());
    let held: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["action"] == "held_back")
        .collect();
    assert!(
        held.iter().any(|r| r["detail"]["kind"] == "refused"
            && r["detail"]["count"].as_u64().unwrap() > 100
            && r["reason"].as_str().unwrap().contains("refused")),
        "{held:?}"
    );
    let conns = records
        .iter()
        .filter(|r| r["action"] == "connections_refused")
        .map(|r| r["detail"]["count"].as_u64().unwrap())
        .sum::<u64>();
    assert!(conns >= refused_now, "{conns} < {refused_now}");
    assert!(records.len() < 100, "{} records", records.len());
    assert!(
        std::fs::metadata(f.journal()).unwrap().len() < 1 << 20,
        "the journal stayed small"
    );
    // The summary counts, and does not list, what repeated.
    let summary =
        std::fs::read_to_string(f.path().join(format!("data/rampdeck/{}.summary.md", f.id)))
            .unwrap();
    assert!(summary.contains("held_back"), "{summary}");
    f.verify();
}

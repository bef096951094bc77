//! A hostile source never delays the kill switch or a trigger, and never
//! takes the driver's memory (issue 9, items 3, 4 and 10). Each test runs a
//! real headless driver beside a source that misbehaves as sources do in
//! the field (a million digits, an endless stdout, a 200 MB or endless HTTP
//! body, a daemon that keeps stdout open) and asserts the one thing that
//! matters: the rollback still happens, and the journal still verifies.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::kit::field::{Field, RECORD_ARGV};
use crate::kit::http::hostile_http;
use crate::kit::proc::{peak_rss_kib, processes_with, wait_with_timeout};

/// A plan holding at 10 %: a well-behaved command source `good` whose value
/// (`err`, read from a file) rolls back on a breach, beside the hostile
/// source and metric given.
fn plan(f: &Field, hostile_source: &str, hostile_metric: &str) -> std::path::PathBuf {
    let err = f.path().join("err");
    std::fs::write(&err, "0.01\n").unwrap();
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{id}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"

[sources.good]
kind = "command"
interval = "1s"
timeout = "900ms"

[sources.hostile]
{hostile_source}

[[metrics]]
id = "err"
source = "good"
command = ["cat", "{err}"]
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}

[[metrics]]
id = "hostile"
source = "hostile"
baseline = "none"
bad = "up"
threshold = {{}}
{hostile_metric}

[[triggers]]
name = "errors"
metric = "err"
consecutive = 1

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["{RECORD_ARGV}", "{out}", "{{actor}}", "{{reason}}"]
timeout = "5s"
"#,
        id = f.id,
        err = err.display(),
        out = f.path().join("rollback").display(),
    ))
}

/// A script in the field's directory that appends a line to `polls` each
/// time it runs, then does `body`.
fn script(f: &Field, name: &str, body: &str) -> String {
    let path = f.path().join(name);
    let polls = f.path().join("polls");
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho x >> '{}'\n{body}\n", polls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn polls(f: &Field) -> usize {
    std::fs::read_to_string(f.path().join("polls"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn wait_polls(f: &Field, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while polls(f) < n {
        assert!(
            Instant::now() < deadline,
            "the hostile source ran {} times",
            polls(f)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until the journal says `source` went to erroring with `words` in
/// its problem (the same line is printed on stdout first).
fn wait_erroring(f: &Field, source: &str, words: &str) {
    crate::kit::journal::wait_until(
        &f.journal(),
        &format!("source {source} erroring with {words:?}"),
        crate::kit::journal::WAIT,
        |r| {
            r["action"] == "source_state"
                && r["detail"]["source"] == source
                && r["detail"]["to"] == "erroring"
                && r["detail"]["problem"]
                    .as_str()
                    .is_some_and(|p| p.contains(words))
        },
    );
}

/// `rampdeck rollback` answers at once and the rollback hook runs.
fn kill_switch_works(f: &Field) {
    let started = Instant::now();
    let out = f.rollback("kill switch while a source is hostile");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "rollback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a benchmark (BENCHMARKS.md has the figures): a frozen driver
    // makes the CLI wait out its own 10 s timeout.
    assert!(
        took < Duration::from_secs(5),
        "the kill switch took {took:?}"
    );
    f.wait_for("rolled_back", Duration::from_secs(10));
    assert!(f.path().join("rollback").exists(), "the rollback hook ran");
}

/// A command printing a million digits pinned a runtime worker in number
/// parsing: `rampdeck rollback` timed out and SIGINT was ignored.
#[test]
fn a_million_digits_from_a_command_never_delays_the_kill_switch() {
    let f = Field::new("shop-digits");
    let digits = script(&f, "digits.sh", "head -c 1000000 /dev/zero | tr '\\0' 9");
    let config = plan(
        &f,
        "kind = \"command\"\ninterval = \"1s\"\ntimeout = \"900ms\"",
        &format!("command = [\"{digits}\"]"),
    );
    let child = f.start_headless(&config);
    wait_polls(&f, 3);
    kill_switch_works(&f);
    let out = wait_with_timeout(child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("printed no number"), "{stdout}");
    f.verify();
}

/// A command printing without end (1 GB and more) is cut at the source's
/// cap, reported as a provider error naming it, and costs no memory; a
/// breach of another metric still rolls back by its trigger.
#[test]
fn an_endless_stdout_is_cut_at_the_cap_and_a_breach_still_rolls_back() {
    let f = Field::new("shop-endless-stdout");
    let endless = script(&f, "endless.sh", "exec cat /dev/zero");
    let config = plan(
        &f,
        "kind = \"command\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nmax_response = \"256KiB\"",
        &format!("command = [\"{endless}\"]"),
    );
    let child = f.start_headless(&config);
    wait_polls(&f, 4);
    let rss = peak_rss_kib(child.id());
    std::fs::write(f.path().join("err"), "0.5\n").unwrap();
    f.wait_for("rolled_back", Duration::from_secs(10));
    let out = wait_with_timeout(child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("printed more than 256 KiB") && stdout.contains("max_response"),
        "{stdout}"
    );
    println!("driver peak RSS: {rss} KiB");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
    assert_eq!(f.count("trigger_rollback"), 1, "{}", f.text());
    f.verify();
}

/// A 200 MB answer took the driver to 610 MB. Now: refused at the cap,
/// named in the error, and the kill switch answers at once.
#[test]
fn a_200_mb_http_answer_is_refused_at_the_cap_and_the_kill_switch_works() {
    static NINES: [u8; 64 * 1024] = [b'9'; 64 * 1024];
    let f = Field::new("shop-huge-http");
    // Announced as 200 MB with a Content-Length, and one sent without.
    let announced = hostile_http(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n",
        &NINES,
        Duration::ZERO,
    );
    let unannounced = hostile_http(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
        &NINES,
        Duration::ZERO,
    );
    let config = plan(
        &f,
        &format!(
            "kind = \"http_json\"\nurl = \"{unannounced}\"\ninterval = \"1s\"\ntimeout = \"900ms\""
        ),
        "pointer = \"/0\"",
    );
    // A second hostile source with the announced body, through the same
    // plan: append it.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[sources.announced]\nkind = \"http_json\"\nurl = \"{announced}\"\ninterval = \"1s\"\ntimeout = \"900ms\"\n\n[[metrics]]\nid = \"announced\"\nsource = \"announced\"\npointer = \"/0\"\nbaseline = \"none\"\nbad = \"up\"\nthreshold = {{}}\n"
    ));
    std::fs::write(&config, text).unwrap();
    let child = f.start_headless(&config);
    // Several polls of each hostile source, and each refused at the cap.
    std::thread::sleep(Duration::from_secs(4));
    wait_erroring(&f, "hostile", "sent more than 1 MiB");
    wait_erroring(&f, "announced", "sent more than 1 MiB");
    let rss = peak_rss_kib(child.id());
    kill_switch_works(&f);
    let out = wait_with_timeout(child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.matches("sent more than 1 MiB").count() >= 2,
        "both sources refused at the cap:\n{stdout}"
    );
    println!("driver peak RSS: {rss} KiB");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
    f.verify();
}

/// An answer that trickles without end is cut by the source's timeout;
/// the kill switch answers at once meanwhile.
#[test]
fn an_endless_trickle_is_cut_by_the_timeout_and_the_kill_switch_works() {
    let f = Field::new("shop-trickle");
    let url = hostile_http(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
        b"9",
        Duration::from_millis(20),
    );
    let config = plan(
        &f,
        &format!("kind = \"http_json\"\nurl = \"{url}\"\ninterval = \"1s\"\ntimeout = \"900ms\""),
        "pointer = \"/0\"",
    );
    let child = f.start_headless(&config);
    std::thread::sleep(Duration::from_secs(3));
    wait_erroring(&f, "hostile", "did not answer within 900 ms");
    kill_switch_works(&f);
    let out = wait_with_timeout(child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("did not answer within 900 ms"), "{stdout}");
    f.verify();
}

/// A command whose daemon (`setsid`) keeps stdout open made every poll
/// time out although the value was printed, and leaked a process per poll.
/// Now the value is read when the command exits, and the daemon is killed.
#[test]
fn a_daemon_holding_stdout_neither_times_out_the_poll_nor_leaks() {
    let f = Field::new("shop-daemon");
    // A marker no other process on the machine has in its argv.
    let marker = format!("{}.{}", 300 + std::process::id() % 100, std::process::id());
    let daemon = script(
        &f,
        "daemon.sh",
        &format!("echo 0.25\nsetsid sleep {marker} &\nexit 0"),
    );
    let config = plan(
        &f,
        "kind = \"command\"\ninterval = \"1s\"\ntimeout = \"900ms\"",
        &format!("command = [\"{daemon}\"]"),
    );
    let child = f.start_headless(&config);
    wait_polls(&f, 5);
    kill_switch_works(&f);
    let out = wait_with_timeout(child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(!stdout.contains("did not finish within"), "{stdout}");
    // The rollback record carries the gates it was decided on: the value
    // the command printed was read.
    let record = f
        .text()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["action"] == "rollback")
        .unwrap();
    let gate = record["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metric"] == "hostile")
        .cloned()
        .unwrap();
    assert_eq!(gate["canary"], 0.25, "{gate}");
    let left = processes_with(&format!("sleep {marker}"));
    assert!(left.is_empty(), "leaked daemons: {left:?}");
    f.verify();
}

/// The same at the library level, timed: the value is back long before the
/// timeout, and nothing of the command's is left running.
#[tokio::test]
async fn a_command_source_reads_its_value_when_the_command_exits() {
    use rampdeck::engine::Reading;
    use rampdeck::sources::command::{Limits, run};
    let marker = format!("{}.{}", 400 + std::process::id() % 100, std::process::id());
    let argv: Vec<String> = [
        "sh",
        "-c",
        &format!("echo 42; setsid sleep {marker} & sleep {marker} & exit 0"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let limits = Limits {
        timeout: Duration::from_secs(5),
        max_response: 1 << 20,
    };
    let (reading, ms) = run(&argv, &limits).await;
    assert_eq!(reading, Reading::value(42.0));
    assert!(ms < 2_000, "took {ms} ms against a 5 s timeout");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&format!("sleep {marker}")).is_empty() {
        assert!(Instant::now() < deadline, "leftovers still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Secrets never reach the journal or any printed output (issue 10, item
//! 12, redaction): a metrics source that echoes the request's headers in
//! its error body, a hook that prints its environment, and every secret
//! the plan names (bearer token, basic-auth user and password, webhook
//! header, chat webhook URL, journal key) are redacted as
//! `[redacted VAR]` in the journal, the summary, headless text and JSON
//! lines, and chat notices. Real processes on loopback.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kit::field::Field;
use crate::kit::proc::wait_with_timeout;

const TOKEN: &str = "s3cr3t-bearer-9f8e7d6c5b4a";
const USER: &str = "metrics-reader";
const PASSWORD: &str = "pa55-w0rd-tr0ub4dor";
/// base64 of "metrics-reader:pa55-w0rd-tr0ub4dor", as it goes on the wire.
const BASIC: &str = "bWV0cmljcy1yZWFkZXI6cGE1NS13MHJkLXRyMHViNGRvcg==";
const HOOK_KEY: &str = "hook-api-key-0a1b2c3d";
const JOURNAL_KEY: &str = "journal key of some length 42";

/// An HTTP server that answers every request 500 with the request's
/// Authorization header in the body, as a misconfigured proxy does.
fn echoing_source() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut auth = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    if line.to_ascii_lowercase().starts_with("authorization:") {
                        auth = line.trim_end().to_string();
                    }
                    line.clear();
                }
                let body = format!("upstream failed; request had {auth}");
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}")
}

/// A chat webhook that keeps every message's body.
fn chat() -> (String, Arc<Mutex<Vec<String>>>) {
    crate::kit::http::chat(&format!("/hook/{TOKEN}-chat"))
}

fn plan(f: &Field, source: &str) -> std::path::PathBuf {
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
gate = "auto"

[sources.prom]
kind = "prometheus"
url = "{source}"
interval = "1s"
timeout = "900ms"
auth = {{ bearer = {{ token_env = "RD_TEST_TOKEN" }} }}

[sources.api]
kind = "http_json"
url = "{source}"
interval = "1s"
timeout = "900ms"
auth = {{ basic = {{ user_env = "RD_TEST_USER", password_env = "RD_TEST_PASSWORD" }} }}

[[metrics]]
id = "error_rate"
source = "prom"
query = 'sum(rate(errors{{version="{{cohort}}"}}[1m]))'
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}
no_data = {{ action = "rollback", after = 3 }}

[[metrics]]
id = "queue"
source = "api"
pointer = "/queue"
baseline = "none"
bad = "up"
threshold = {{ limit = 100 }}
no_data = {{ action = "hold", after = 100 }}

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["sh", "-c", 'echo "env: $RD_TEST_TOKEN $RD_TEST_PASSWORD $RD_TEST_HOOK_KEY $RD_TEST_JKEY $RD_TEST_CHAT"; echo "stderr $RD_TEST_TOKEN" >&2']
timeout = "5s"

[hooks.pause]
webhook = {{ url = "{source}/pause", headers_env = {{ "X-Api-Key" = "RD_TEST_HOOK_KEY" }} }}

[notify]
slack_webhook_env = "RD_TEST_CHAT"

[journal]
key_env = "RD_TEST_JKEY"
"#,
        id = f.id
    ))
}

/// Every secret, and the forms it takes on the wire.
fn leaks(text: &str) -> Vec<&'static str> {
    [TOKEN, PASSWORD, BASIC, HOOK_KEY, JOURNAL_KEY, USER]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

fn run(json: bool) -> (Field, String, Vec<String>) {
    let f = Field::new(if json {
        "shop-redact-json"
    } else {
        "shop-redact"
    });
    let source = echoing_source();
    let (chat_url, chat) = chat();
    let config = plan(&f, &source);
    let mut args = vec!["run", "--headless"];
    if json {
        args.push("--json");
    }
    args.push("--config");
    let child = f
        .rampdeck(&args)
        .arg(&config)
        .env("RD_TEST_TOKEN", TOKEN)
        .env("RD_TEST_USER", USER)
        .env("RD_TEST_PASSWORD", PASSWORD)
        .env("RD_TEST_HOOK_KEY", HOOK_KEY)
        .env("RD_TEST_JKEY", JOURNAL_KEY)
        .env("RD_TEST_CHAT", &chat_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !chat
        .lock()
        .unwrap()
        .iter()
        .any(|t| t.contains("rollout ended"))
    {
        assert!(Instant::now() < deadline, "{:?}", chat.lock().unwrap());
        std::thread::sleep(Duration::from_millis(25));
    }
    let notices = chat.lock().unwrap().clone();
    (f, stdout, notices)
}

/// The field report: the bearer token, echoed by the source in a 500 body,
/// was in the journal six times. No secret is anywhere now, and the
/// journal says which variable's value was there.
#[test]
fn secrets_echoed_by_a_source_or_printed_by_a_hook_are_redacted_everywhere() {
    let (f, stdout, notices) = run(false);
    let journal = f.text();
    assert_eq!(leaks(&journal), Vec::<&str>::new(), "{journal}");
    assert!(
        journal.contains("[redacted RD_TEST_TOKEN]"),
        "the source's error was journaled, redacted:\n{journal}"
    );
    assert!(
        journal.contains("[redacted RD_TEST_USER:RD_TEST_PASSWORD]"),
        "{journal}"
    );
    // The rollback hook's output, kept in its record.
    assert!(
        journal.contains(
            "env: [redacted RD_TEST_TOKEN] [redacted RD_TEST_PASSWORD] [redacted RD_TEST_HOOK_KEY] [redacted RD_TEST_JKEY] [redacted RD_TEST_CHAT]"
        ),
        "{journal}"
    );
    assert_eq!(leaks(&stdout), Vec::<&str>::new(), "{stdout}");
    assert!(stdout.contains("[redacted RD_TEST_TOKEN]"), "{stdout}");
    for n in &notices {
        assert_eq!(leaks(n), Vec::<&str>::new(), "{n}");
    }
    let md = std::fs::read_to_string(f.journal().with_extension("summary.md")).unwrap();
    assert_eq!(leaks(&md), Vec::<&str>::new(), "{md}");
    // The redacted journal is still a sealed chain that verifies.
    let out = f
        .rampdeck(&["verify"])
        .arg(f.journal())
        .env("RD_TEST_JKEY", JOURNAL_KEY)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `--json` lines carry no secret either.
#[test]
fn json_lines_are_redacted_too() {
    let (f, stdout, _) = run(true);
    assert_eq!(leaks(&stdout), Vec::<&str>::new(), "{stdout}");
    assert!(stdout.contains("[redacted RD_TEST_TOKEN]"), "{stdout}");
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert_eq!(leaks(&f.text()), Vec::<&str>::new());
}

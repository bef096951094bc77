//! `rampdeck history` over journals written by real headless runs (issue
//! 15): one promoted, one rolled back by a trigger, one with a byte flipped
//! afterwards, one left open by SIGKILL mid-run. Each is listed, newest
//! first, and the tampered and open ones are flagged, never hidden. Then
//! `rampdeck plan` warns where a changed plan is weaker than the step that
//! caught the rollback.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::kit::{journal, proc};

/// A plan of service `shop` whose one metric reads the number in
/// `value` (a file), with an `errors` trigger after 2 breaches.
fn plan(dir: &Path, id: &str, hold2: &str, consecutive: u32) -> String {
    let value = dir.join("value");
    format!(
        r#"
[rollout]
id = "{id}"
service = "shop"
strategy = "canary"
journal_dir = "{journals}"

[sources.cmd]
kind = "command"
interval = "1s"

[[metrics]]
id = "err"
source = "cmd"
command = ["cat", "{value}"]
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}
from_weight = 0

[[triggers]]
name = "errors"
metric = "err"
consecutive = {consecutive}

[[steps]]
name = "canary"
weight = 10
hold = "1s"

[[steps]]
name = "half"
weight = 50
hold = "{hold2}"
"#,
        journals = dir.join("j").display(),
        value = value.display(),
    )
}

fn run(dir: &Path, id: &str, value: &str) -> i32 {
    std::fs::write(dir.join("value"), value).unwrap();
    let config = dir.join(format!("{id}.toml"));
    std::fs::write(&config, plan(dir, id, "1s", 2)).unwrap();
    let (code, _, _) = proc::run_headless(dir, &config, &[]);
    code
}

fn history(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = proc::rampdeck(&["history", "--dir"])
        .arg(dir.join("j"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

/// What `rampdeck plan` says on stderr of the plan with `consecutive`,
/// given the journals of `dir`.
fn plan_warnings(dir: &Path, id: &str, consecutive: u32) -> String {
    let config = dir.join(format!("{id}.toml"));
    std::fs::write(&config, plan(dir, id, "1s", consecutive)).unwrap();
    let out = proc::rampdeck(&["plan", "--config"])
        .arg(&config)
        .arg("--history-dir")
        .arg(dir.join("j"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Flips one byte inside the reason of the journal's `step_entered` record.
fn tamper(path: &Path) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"step_entered")
        .unwrap();
    bytes[at + 2] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    text[..at].matches('\n').count() + 1
}

#[test]
fn history_lists_real_journals_and_flags_the_tampered_and_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journals = d.join("j");
    assert_eq!(run(d, "shop-a", "0.01"), 0);
    assert_eq!(run(d, "shop-b", "0.09"), 3, "rolled back");
    assert_eq!(run(d, "shop-c", "0.01"), 0);
    let bad_line = tamper(&journals.join("shop-c.jsonl"));
    // Left open: killed (SIGKILL) while holding its second step.
    std::fs::write(d.join("value"), "0.01").unwrap();
    let config = d.join("shop-d.toml");
    std::fs::write(&config, plan(d, "shop-d", "1h", 2)).unwrap();
    let mut driver = proc::rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .env("XDG_DATA_HOME", d.join("data"))
        .env("RAMPDECK_RUNTIME_DIR", d.join("run"))
        .env("HOME", d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let open = journals.join("shop-d.jsonl");
    journal::wait_nth(&open, "step_entered", 2, journal::WAIT, |r| {
        r["action"] == "step_entered"
    });
    driver.kill().unwrap();
    driver.wait().unwrap();
    // Neither a flight recording nor garbage is a past rollout; the
    // garbage is said.
    std::fs::write(journals.join("shop-a.rec.jsonl"), "{}\n").unwrap();
    std::fs::write(journals.join("notes.jsonl"), "not json\n").unwrap();

    let (code, json) = history(d, &["--json"]);
    assert_eq!(code, 1, "a tampered journal fails the command: {json}");
    let h: Value = serde_json::from_str(&json).unwrap();
    let entries = h["entries"].as_array().unwrap();
    let ids: Vec<&str> = entries
        .iter()
        .map(|e| e["rollout"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["shop-d", "shop-c", "shop-b", "shop-a"],
        "newest first"
    );
    let by = |id: &str| entries.iter().find(|e| e["rollout"] == id).unwrap();
    assert_eq!(by("shop-a")["outcome"], "promoted");
    assert_eq!(by("shop-a")["chain"]["state"], "verified");
    let b = by("shop-b");
    assert_eq!(b["outcome"], "rolled_back");
    let fired = &b["fired"][0];
    assert_eq!(fired["kind"], "trigger_rollback");
    assert_eq!(fired["trigger"], "errors");
    assert_eq!(fired["weight"], 10);
    assert_eq!(fired["step"], 0);
    assert_eq!(fired["streak"], 2);
    let ms = b["breach_to_rollback_ms"].as_u64().unwrap();
    assert!(ms < 10_000, "breach to rollback {ms} ms");
    let c = by("shop-c");
    assert_eq!(c["chain"]["state"], "tampered");
    assert_eq!(c["chain"]["line"], bad_line);
    let dd = by("shop-d");
    assert_eq!(dd["outcome"], "open");
    assert_eq!(dd["chain"]["state"], "open");
    let unreadable = h["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(
        unreadable[0]["journal"]
            .as_str()
            .unwrap()
            .ends_with("notes.jsonl")
    );

    let (_, text) = history(d, &[]);
    for l in text.lines() {
        assert!(l.chars().count() <= 80, "wider than 80: {l:?}");
    }
    assert!(
        text.contains(&format!("TAMPERED at line {bad_line}")),
        "{text}"
    );
    assert!(text.contains("still open"), "{text}");
    assert!(
        text.contains("trigger_rollback `errors` at step 1, 10 %"),
        "{text}"
    );
    let (_, other) = history(d, &["billing"]);
    assert!(other.contains("no rollouts"), "{other}");

    // A plan that needs more breaches than caught shop-b is warned about.
    let err = plan_warnings(d, "shop-e", 4);
    assert!(
        err.contains(
            "warning: step 1 (10 %): trigger `errors` now needs 4 breaches in a row, 2 caught it: rollout shop-b"
        ),
        "{err}"
    );
    let err = plan_warnings(d, "shop-f", 2);
    assert!(!err.contains("caught it"), "{err}");
}

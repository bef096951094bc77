//! Journals on disk: read their records, wait (polling the file, with a
//! deadline) until a record appears, and prove the chain with the
//! `rampdeck verify` binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::proc;

/// How long a wait on a journal lasts before the test fails: generous, for
/// a debug build on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// The journal's text ("" while it does not exist).
pub fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The journal's complete lines.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes `lines` back, each ended by a newline.
pub fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The journal's records, parsed (a torn last line is left out).
pub fn records(path: &Path) -> Vec<Value> {
    text(path)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The journal's records, every line of which must be one.
pub fn strict_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad journal line {l}: {e}")))
        .collect()
}

/// A record's action.
pub fn action(r: &Value) -> &str {
    r["action"].as_str().unwrap_or("")
}

/// How many records of `action` the journal holds.
pub fn count(path: &Path, action: &str) -> usize {
    text(path)
        .matches(&format!("\"action\":\"{action}\""))
        .count()
}

/// Waits until the journal holds `n` records satisfying `pred`; returns
/// the `n`th. Fails after `within`, showing the journal.
pub fn wait_nth(
    path: &Path,
    what: &str,
    n: usize,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = records(path).into_iter().filter(|r| pred(r)).nth(n - 1) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {within:?} in {}:\n{}",
            path.display(),
            text(path)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until a record satisfies `pred`; returns it.
pub fn wait_until(
    path: &Path,
    what: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    wait_nth(path, what, 1, within, pred)
}

/// Waits until the journal holds a record of `action`; returns the first.
pub fn wait_record(path: &Path, action: &str, within: Duration) -> Value {
    wait_until(path, action, within, |r| r["action"] == action)
}

/// [`wait_until`] for async tests: sleeps without blocking the runtime.
pub async fn wait_until_async(
    path: &Path,
    what: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = records(path).into_iter().find(|r| pred(r)) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {within:?}; journal:\n{}",
            text(path)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one journal (`*.jsonl`) in `dir`, once it holds a record of
/// `action`.
pub fn wait_for_journal_in(dir: &Path, action: &str, within: Duration) -> PathBuf {
    let deadline = Instant::now() + within;
    let needle = format!("\"action\":\"{action}\"");
    loop {
        let found = std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        });
        if let Some(p) = found
            && std::fs::read_to_string(&p).is_ok_and(|t| t.contains(&needle))
        {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "no {action} record in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `rampdeck verify` on the journal, as is.
pub fn run_verify(path: &Path) -> Output {
    proc::rampdeck(&["verify"]).arg(path).output().unwrap()
}

/// `rampdeck verify` on the journal must pass: the chain holds, and the
/// journal is closed (0) when its rollout ended, open (4) when its driver
/// runs or was stopped before the end.
pub fn verify(path: &Path) {
    let out = run_verify(path);
    let closed = count(path, "rollout_ended") > 0;
    assert_eq!(
        out.status.code(),
        Some(if closed { 0 } else { 4 }),
        "verify {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rampdeck summary --format FORMAT` on the journal: exit code, stdout,
/// stderr.
pub fn run_summary(path: &Path, format: &str) -> (i32, String, String) {
    let out = proc::rampdeck(&["summary", "--format", format])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

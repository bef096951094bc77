//! What `rampdeck verify` can and cannot prove (issue 10, item 11): a
//! finished rollout's journal ends with `rollout_ended`, so a cut end is
//! told from a finished one; a record after the end is caught; the head is
//! printed everywhere and `--expect-head` checks it against one kept
//! elsewhere; with `[journal] key_env` every record carries an HMAC seal
//! that nobody without the key can forge. Real driver processes, a real
//! chat webhook on loopback, and the `rampdeck verify` binary.

#![allow(clippy::unwrap_used)]

use crate::kit::journal::{lines, write_lines};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::kit::field::Field;
use crate::kit::http::{self, chat_texts};
use crate::kit::proc::wait_with_timeout;
use rampdeck::engine::resume::ResumePoint;
use rampdeck::engine::{Actor, Decision, Timestamp};
use rampdeck::journal::JournalWriter;
use sha2::{Digest, Sha256};

fn plan(f: &Field, extra: &str) -> PathBuf {
    f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"
gate = "auto"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[hooks.rollback]
command = ["true"]
timeout = "5s"
{extra}
"#,
        f.id
    ))
}

/// `rampdeck run --headless` with `env`, once its first step is entered.
fn start(f: &Field, config: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = f.rampdeck(&["run", "--headless", "--config"]);
    cmd.arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.count("step_entered") == 0 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the driver ended early ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "no step_entered");
        std::thread::sleep(Duration::from_millis(25));
    }
    child
}

/// Rolls the rollout back from another shell and waits for the driver.
fn roll_back(f: &Field, child: Child, reason: &str) -> Output {
    let out = f.rollback(reason);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wait_with_timeout(child, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn verify(path: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = crate::kit::proc::rampdeck(&[]);
    cmd.arg("verify").arg(path).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

/// Re-seals a line after editing it, as a careful forger does: its hash
/// recomputed, `prev` set to the line before.
fn reseal(line: &str, prev: &str) -> String {
    let mut v = line.to_string();
    if let Some(at) = v.find("\"prev\":\"") {
        let start = at + 8;
        v.replace_range(start..start + 64, prev);
    }
    let body = &v[..v.len() - 75];
    let hash = hex::encode(Sha256::digest(format!("{body}}}").as_bytes()));
    format!("{body},\"hash\":\"{hash}\"}}")
}

/// Re-seals every line from `from` on, so the SHA-256 chain holds again.
fn rechain(lines: &mut [String], from: usize) {
    for i in from..lines.len() {
        let prev = if i == 0 {
            "0".repeat(64)
        } else {
            json(&lines[i - 1])["hash"].as_str().unwrap().to_string()
        };
        lines[i] = reseal(&lines[i], &prev);
    }
}

/// A rollout rolled back from another shell: its journal ends with
/// `rollout_ended` (outcome and record count), verifies as closed, and its
/// head is printed by verify, in the summary, in headless output's last
/// lines and in every chat notice (the last one whole).
#[test]
fn a_finished_rollout_is_closed_and_its_head_is_kept_everywhere() {
    let f = Field::new("shop-closed");
    let (url, chat) = http::chat("/hook");
    let config = plan(&f, "[notify]\nslack_webhook_env = \"RAMPDECK_TEST_CHAT\"\n");
    let child = start(&f, &config, &[("RAMPDECK_TEST_CHAT", &url)]);
    let out = roll_back(&f, child, "enough <!channel>");
    let stdout = String::from_utf8_lossy(&out.stdout);

    let l = lines(&f.journal());
    let last = json(l.last().unwrap());
    assert_eq!(last["action"], "rollout_ended", "{}", l.last().unwrap());
    assert_eq!(last["detail"]["outcome"], "rolled_back");
    assert_eq!(last["detail"]["records"], l.len());
    assert_eq!(last["seq"], l.len());
    let head = last["hash"].as_str().unwrap().to_string();

    let (code, said) = verify(&f.journal(), &[], &[]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("closed"), "{said}");
    assert!(said.contains(&head), "{said}");
    assert!(said.contains(&format!("{} records", l.len())), "{said}");

    assert!(
        stdout.contains(&format!(
            "head: {head} ({} records, journal closed)",
            l.len()
        )),
        "{stdout}"
    );
    let md = std::fs::read_to_string(f.journal().with_extension("summary.md")).unwrap();
    assert!(md.contains(&format!("**Head:** `{head}`")), "{md}");
    assert!(md.contains(&format!("**Records:** {}", l.len())), "{md}");

    // Chat: every notice has the head so far; the last one, the whole head.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !chat_texts(&chat)
        .iter()
        .any(|t| t.contains("rollout ended"))
    {
        assert!(Instant::now() < deadline, "{:?}", chat_texts(&chat));
        std::thread::sleep(Duration::from_millis(25));
    }
    let notices = chat_texts(&chat);
    assert!(notices.len() >= 3, "{notices:?}");
    for n in &notices {
        assert!(n.contains("head "), "{n}");
        assert!(!n.contains("<!channel>"), "a mention passed to chat: {n}");
    }
    let end = notices
        .iter()
        .find(|t| t.contains("rollout ended"))
        .unwrap();
    assert!(end.contains(&head), "{end}");
    assert!(
        notices.iter().any(|n| n.contains("&lt;!channel&gt;")),
        "{notices:?}"
    );
}

const T0: i64 = 1_735_725_600_000;

fn decision(action: &str, reason: &str, phase: &str) -> Decision {
    Decision {
        action: rampdeck::engine::DecisionKind::from_word(action),
        actor: Actor::named("alice"),
        reason: reason.into(),
        step: Some(0),
        weight: 10,
        phase: serde_json::from_value(serde_json::json!(phase)).unwrap(),
        gates: vec![],
        hook: None,
        at: None,
        detail: serde_json::Value::Null,
    }
}

/// A journal of `actions`, one a second.
fn journal_of(dir: &Path, actions: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("shop-9.jsonl");
    let mut w = JournalWriter::create(&path, "shop-9").unwrap();
    for (i, (action, phase)) in actions.iter().enumerate() {
        let d = decision(action, &format!("record {i}"), phase);
        w.append(Timestamp(T0 + i as i64 * 1000), &d).unwrap();
    }
    path
}

const FINISHED: &[(&str, &str)] = &[
    ("rollout_started", "promoting"),
    ("step_entered", "holding"),
    ("pause", "paused"),
    ("rollback", "rolling_back"),
    ("hook_result", "rolling_back"),
    ("rolled_back", "rolled_back"),
    ("rollout_ended", "rolled_back"),
];

/// Cutting the last records of a finished journal leaves a chain that
/// holds: verify says it is open (exit 4), cut after its last seq. A record
/// appended after `rollout_ended`, hash chain and all, is caught (exit 1).
/// A journal from before rampdeck closed journals reads as open too.
#[test]
fn a_cut_end_or_a_record_after_the_end_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_of(dir.path(), FINISHED);
    let whole = lines(&path);
    let (code, said) = verify(&path, &[], &[]);
    assert_eq!(code, 0, "{said}");

    write_lines(&path, &whole[..5]);
    let (code, said) = verify(&path, &[], &[]);
    assert_eq!(code, 4, "{said}");
    assert!(
        said.contains("OPEN (running, or cut after seq 5)"),
        "{said}"
    );

    // A forged record after the end, its SHA-256 chain correct.
    let mut forged = whole.clone();
    let mut extra = whole[3].replace("\"seq\":4", "\"seq\":8");
    extra = extra.replace("record 3", "promoted after all");
    forged.push(extra);
    rechain(&mut forged, 7);
    write_lines(&path, &forged);
    let (code, said) = verify(&path, &[], &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("line 8 (seq 8): after the end"), "{said}");

    // Written before rampdeck closed journals: open, and still summarized.
    let old = journal_of(&dir.path().join("old"), &FINISHED[..6]);
    let (code, said) = verify(&old, &[], &[]);
    assert_eq!(code, 4, "{said}");
    let out = crate::kit::proc::rampdeck(&[])
        .arg("summary")
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("- **Outcome:** rolled_back"), "{md}");
    assert!(md.contains("OPEN (running, or cut after seq 6)"), "{md}");
}

/// `--expect-head` checks the journal against a head kept elsewhere: the
/// whole hash or a prefix of 12 or more hex digits matches (0); another
/// head, or a journal that went on past it, is a failure of its own (5)
/// naming both hashes; a head too short to mean anything is refused (2).
#[test]
fn expect_head_checks_the_head_against_one_kept_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_of(dir.path(), FINISHED);
    let whole = lines(&path);
    let head = json(whole.last().unwrap())["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, said) = verify(&path, &["--expect-head", &head], &[]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("matches"), "{said}");
    let (code, said) = verify(&path, &["--expect-head", &head[..12].to_uppercase()], &[]);
    assert_eq!(code, 0, "{said}");

    let other = "0123456789abcdef0123";
    let (code, said) = verify(&path, &["--expect-head", other], &[]);
    assert_eq!(code, 5, "{said}");
    assert!(said.contains("HEAD MISMATCH"), "{said}");
    assert!(said.contains(other) && said.contains(&head), "{said}");

    let (code, said) = verify(&path, &["--expect-head", &head[..11]], &[]);
    assert_eq!(code, 2, "{said}");

    // The head kept at seq 6; the journal went on (here: a forger cut
    // the real end and appended a record of its own).
    let kept = json(&whole[5])["hash"].as_str().unwrap().to_string();
    let (code, said) = verify(&path, &["--expect-head", &kept], &[]);
    assert_eq!(code, 5, "{said}");
    assert!(said.contains("is the hash of seq 6"), "{said}");
    assert!(said.contains(&head), "{said}");
}

const KEY: &str = "correct horse battery staple 42";

/// With `[journal] key_env`, every record is sealed. Verify with the key
/// checks every seal; without it, it says the seals could not be checked.
/// A forger who edits a record and recomputes the whole SHA-256 chain
/// fools the chain alone, never the seals.
#[test]
fn hmac_seals_stop_a_forger_who_lacks_the_key() {
    let f = Field::new("shop-sealed");
    let config = plan(&f, "[journal]\nkey_env = \"RAMPDECK_TEST_KEY\"\n");
    let child = start(&f, &config, &[("RAMPDECK_TEST_KEY", KEY)]);
    roll_back(&f, child, "sealed rollback");
    let whole = lines(&f.journal());
    for l in &whole {
        assert!(l.contains(",\"hmac\":\""), "unsealed: {l}");
    }
    let with_key = [("RAMPDECK_TEST_KEY", KEY)];
    let (code, said) = verify(&f.journal(), &[], &with_key);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("checked on every record"), "{said}");
    let (code, said) = verify(&f.journal(), &[], &[]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("could NOT be checked"), "{said}");
    assert!(said.contains("RAMPDECK_TEST_KEY"), "{said}");
    let (code, said) = verify(
        &f.journal(),
        &[],
        &[("RAMPDECK_TEST_KEY", "another key of enough length")],
    );
    assert_eq!(code, 1, "{said}");

    // Who rolled back, rewritten; the SHA-256 chain recomputed after it.
    let mut forged = whole.clone();
    let i = forged
        .iter()
        .position(|l| l.contains("sealed rollback"))
        .unwrap();
    forged[i] = forged[i].replace("sealed rollback", "approved by the CAB");
    rechain(&mut forged, i);
    write_lines(&f.journal(), &forged);
    let (code, said) = verify(&f.journal(), &[], &[]);
    assert_eq!(code, 0, "the chain alone cannot tell: {said}");
    let (code, said) = verify(&f.journal(), &[], &with_key);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("line {} (seq {}): seal", i + 1, i + 1)),
        "{said}"
    );
}

/// A plan asking for seals never runs without its key: exit 2 naming the
/// variable, before anything is journaled or moved.
#[test]
fn a_missing_journal_key_is_a_config_error_before_anything_runs() {
    let f = Field::new("shop-nokey");
    let config = plan(&f, "[journal]\nkey_env = \"RAMPDECK_TEST_NO_KEY\"\n");
    let out = f
        .rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .env_remove("RAMPDECK_TEST_NO_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("RAMPDECK_TEST_NO_KEY"), "{stderr}");
    assert!(stderr.contains("is not set"), "{stderr}");
    assert!(!f.journal().exists(), "nothing was journaled");
    // A key too short to be one is refused too.
    let out = f
        .rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .env("RAMPDECK_TEST_NO_KEY", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!f.journal().exists(), "nothing was journaled");
}

/// A journal closed by `rollout_ended` is over, whatever its last phase
/// says: a driver never resumes it.
#[test]
fn a_closed_journal_is_never_resumed() {
    let ds = [
        decision("rollout_started", "", "promoting"),
        decision("step_entered", "", "holding"),
        decision("failed", "set_weight hook failed", "failed"),
        decision("rollout_ended", "over", "failed"),
    ];
    let p = ResumePoint::from_decisions(ds.iter()).unwrap();
    assert!(p.ended(), "{p:?}");
    let open = ResumePoint::from_decisions(ds[..3].iter()).unwrap();
    assert!(!open.ended(), "a failed rollout can still be rolled back");
}

#[test]
fn an_endless_journal_line_is_refused_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    // One 17 MiB "record": damage or a foreign file, past the readers' limit.
    let mut line = String::from("{\"seq\":1,\"x\":\"");
    line.push_str(&"a".repeat(17 << 20));
    line.push_str("\"}\n");
    std::fs::write(&path, line).unwrap();
    for verb in ["verify", "summary"] {
        let out = crate::kit::proc::rampdeck(&[verb])
            .arg(&path)
            .output()
            .unwrap();
        let said = crate::kit::proc::said(&out);
        assert_eq!(out.status.code(), Some(2), "{verb}: {said}");
        assert!(said.contains("longer than 16 MiB"), "{verb}: {said}");
    }
}

//! A damaged journal still gets a summary (issue 10, item 9): the verified
//! records up to the break are summarized as usual, everything after it is
//! shown under a loud "NOT VERIFIED" section, a line that is not a record
//! stops nothing, and `rampdeck summary` exits 1.

#![allow(clippy::unwrap_used)]

use crate::kit::journal::{lines, run_summary as summary, write_lines};
use std::path::{Path, PathBuf};

use rampdeck::engine::{Actor, Decision, Timestamp};
use rampdeck::journal::JournalWriter;
use sha2::{Digest, Sha256};

const T0: i64 = 1_735_725_600_000; // 2025-01-01T10:00:00Z

fn decision(action: &str, who: &str, reason: &str, phase: &str) -> Decision {
    Decision {
        action: rampdeck::engine::DecisionKind::from_word(action),
        actor: Actor::named(who),
        reason: reason.into(),
        step: Some(0),
        weight: 10,
        phase: serde_json::from_value(serde_json::json!(phase)).expect("phase"),
        gates: vec![],
        hook: None,
        at: None,
        detail: serde_json::Value::Null,
    }
}

/// Eight records: started, entered, paused by alice, resumed, a rollback
/// by bob, its hook, rolled back, and the end.
fn journal(dir: &Path) -> PathBuf {
    let path = dir.join("shop-7.jsonl");
    let mut w = JournalWriter::create(&path, "shop-7").unwrap();
    let records = [
        decision("rollout_started", "alice", "canary of shop", "pending"),
        decision("step_entered", "rampdeck", "step 1", "holding"),
        decision("pause", "alice", "checking the dashboards", "paused"),
        decision("resume", "alice", "dashboards fine", "holding"),
        decision("rollback", "bob", "errors in EU", "rolling_back"),
        decision("hook_result", "rampdeck", "rollback ok", "rolling_back"),
        decision("rolled_back", "rampdeck", "canary at 0 %", "rolled_back"),
        decision("rollout_ended", "rampdeck", "over", "rolled_back"),
    ];
    for (i, d) in records.iter().enumerate() {
        w.append(Timestamp(T0 + i as i64 * 1000), d).unwrap();
    }
    path
}

/// The part of the document from `heading` to the next `## `.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in\n{md}"));
    let rest = &md[start + heading.len()..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i);
    &rest[..end]
}

/// Somebody changed who rolled back. The summary of the verified part is
/// there; the rest is shown, labelled NOT VERIFIED; exit 1.
#[test]
fn an_edited_record_splits_the_summary_at_the_break() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let mut l = lines(&path);
    l[4] = l[4].replace("errors in EU", "approved by the CAB");
    write_lines(&path, &l);

    let (code, md, stderr) = summary(&path, "markdown");
    assert_eq!(code, 1, "{md}{stderr}");
    assert!(md.contains("line 5 (seq 5)"), "{md}");
    // The verified decisions: seq 1 to 4, nothing after.
    let verified = section(&md, "## Decisions");
    for seq in 1..=4 {
        assert!(
            verified.contains(&format!("\n| {seq} |")),
            "seq {seq} in\n{verified}"
        );
    }
    assert!(!verified.contains("approved by the CAB"), "{verified}");
    assert!(!verified.contains("\n| 5 |"), "{verified}");
    // The rest, loudly.
    let after = section(&md, "## After the break (line 5, seq 5): NOT VERIFIED");
    for seq in 5..=8 {
        assert!(
            after.contains(&format!("\n| {seq} |")),
            "seq {seq} in\n{after}"
        );
    }
    assert!(after.contains("approved by the CAB"), "{after}");
    // The outcome comes from the verified records only.
    assert!(md.contains("- **Outcome:** in progress (holding)"), "{md}");
    assert!(
        md.contains("the unverified part claims: rolled_back"),
        "{md}"
    );

    let (code, json, _) = summary(&path, "json");
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decisions"].as_array().unwrap().len(), 4);
    assert_eq!(v["after_break"]["line"], 5);
    assert_eq!(v["after_break"]["seq"], 5);
    assert_eq!(v["after_break"]["decisions"].as_array().unwrap().len(), 4);
}

/// A forger who recomputed the edited record's hash moved the break to the
/// next link: that record is not shown as verified either.
#[test]
fn a_resealed_record_is_not_counted_as_verified() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let mut l = lines(&path);
    let edited = l[4].replace("errors in EU", "approved by the CAB");
    let body = &edited[..edited.len() - 75];
    let hash = hex::encode(Sha256::digest(format!("{body}}}").as_bytes()));
    l[4] = format!("{body},\"hash\":\"{hash}\"}}");
    write_lines(&path, &l);
    let (code, md, _) = summary(&path, "markdown");
    assert_eq!(code, 1, "{md}");
    assert!(
        !section(&md, "## Decisions").contains("approved by the CAB"),
        "{md}"
    );
    assert!(
        section(&md, "NOT VERIFIED").contains("approved by the CAB"),
        "{md}"
    );
}

/// A line that is not a record at all (a stray paste, a half-written
/// line from another tool) stops nothing: records after it are shown, it
/// is named, and the summary exits 1 instead of 2.
#[test]
fn a_line_that_is_not_a_record_does_not_stop_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let mut l = lines(&path);
    l.insert(3, "this is not a journal record".into());
    l.insert(6, "{\"seq\": 6, \"half\": ".into());
    write_lines(&path, &l);
    let (code, md, stderr) = summary(&path, "markdown");
    assert_eq!(code, 1, "{md}{stderr}");
    let after = section(&md, "## After the break (line 4, seq 4): NOT VERIFIED");
    assert!(after.contains("line 4: not a record"), "{after}");
    assert!(after.contains("line 7: not a record"), "{after}");
    assert!(after.contains("errors in EU"), "{after}");
    assert!(after.contains("rolled_back"), "{after}");
    let verified = section(&md, "## Decisions");
    assert!(verified.contains("\n| 3 |"), "{verified}");
    assert!(!verified.contains("\n| 4 |"), "{verified}");
}

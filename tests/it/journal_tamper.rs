//! Tampering with a real journal made by the writer: each kind of change to
//! a middle record is found at the right line and seq, with the right kind.

use crate::kit::journal::{lines, write_lines};
use rampdeck::engine::{DecisionKind, PhaseKind};
use std::fs;
use std::path::{Path, PathBuf};

use rampdeck::engine::{Actor, Decision, GateStatus, Timestamp, Verdict};
use rampdeck::journal::{
    JournalError, JournalWriter, ProblemKind, Record, read_records, verify, verify_cli,
};
use sha2::{Digest, Sha256};

fn decision(i: u64) -> Decision {
    Decision {
        action: if i % 3 == 0 {
            DecisionKind::AutoAdvance
        } else {
            DecisionKind::HookResult
        },
        actor: Actor::named(&format!("user{i}")),
        reason: format!("reason number {i}"),
        step: Some(i as usize / 3),
        weight: (i * 5).min(100) as u8,
        phase: PhaseKind::Holding,
        gates: vec![GateStatus {
            kinds: Vec::new(),
            metric: "error_rate".into(),
            verdict: Verdict::Pass,
            canary: Some(0.01 * i as f64),
            baseline: Some(0.01),
            limit: Some(0.05),
            detail: "ok".into(),
            breaches: 0,
            no_data_polls: 0,
            samples: i as u32,
            degraded: false,
            warnings: Vec::new(),
            gating: true,
            baseline_frozen_at: None,
        }],
        hook: None,
        at: None,
        detail: serde_json::Value::Null,
    }
}

/// A journal of `n` records, 1 s apart.
fn journal(dir: &Path, n: u64) -> (PathBuf, Vec<Record>) {
    let path = dir.join("nested/dir/r1.jsonl");
    let mut w = JournalWriter::create(&path, "r1").expect("create");
    let records = (1..=n)
        .map(|i| w.append(Timestamp::from_secs(1_700_000_000 + i as i64), &decision(i)))
        .collect::<Result<Vec<_>, _>>()
        .expect("append");
    (path, records)
}

/// Verifies and returns (line, seq, kind) of the first problem.
fn problem(path: &Path) -> (usize, u64, ProblemKind) {
    let report = verify(path).expect("verify");
    let p = report.problem.expect("a problem is reported");
    (p.line, p.seq, p.kind)
}

/// Re-seals a line after editing it, the way a careful forger would.
fn reseal(line: &str) -> String {
    let body = &line[..line.len() - 75];
    let hash = hex::encode(Sha256::digest(format!("{body}}}").as_bytes()));
    format!("{body},\"hash\":\"{hash}\"}}")
}

#[test]
fn an_untouched_journal_verifies_with_its_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, written) = journal(dir.path(), 10);
    let report = verify(&path).expect("verify");
    assert!(report.holds());
    assert_eq!(report.records, 10);
    assert_eq!(report.rollout.as_deref(), Some("r1"));
    assert_eq!(report.first_ts, Some(Timestamp::from_secs(1_700_000_001)));
    assert_eq!(report.last_ts, Some(Timestamp::from_secs(1_700_000_010)));
    // No `rollout_ended` closes it: the chain holds, the journal is open.
    assert_eq!(report.exit_code(), 4);
    let line = report.one_line();
    assert!(
        line.contains("OPEN") && line.contains("10 records"),
        "{line}"
    );
    assert!(line.contains("2023-11-14T22:13:21.000Z"), "{line}");
    assert_eq!(verify_cli(&path, &Default::default()), 4);
    assert_eq!(read_records(&path).expect("read"), written);
    assert_eq!(written[0].prev, rampdeck::journal::GENESIS);
    assert_eq!(written[1].prev, written[0].hash);
}

#[test]
fn an_edited_middle_record_is_found_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    l[4] = l[4].replace("reason number 5", "reason number 6");
    write_lines(&path, &l);
    assert_eq!(problem(&path), (5, 5, ProblemKind::Edited));
    assert_eq!(verify_cli(&path, &Default::default()), 1);
}

#[test]
fn an_edit_with_a_recomputed_hash_is_found_at_the_edited_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    l[4] = reseal(&l[4].replace("\"weight\":25", "\"weight\":5"));
    write_lines(&path, &l);
    assert_eq!(problem(&path), (5, 5, ProblemKind::Edited));
}

#[test]
fn an_inserted_middle_record_is_found_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    // A replayed copy of record 2 slipped in after record 5.
    let copy = l[1].clone();
    l.insert(5, copy);
    write_lines(&path, &l);
    assert_eq!(problem(&path), (6, 2, ProblemKind::Inserted));
    assert_eq!(verify_cli(&path, &Default::default()), 1);
}

#[test]
fn a_forged_record_inserted_with_a_plausible_seq_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    // Claims to be seq 6 and links to record 5, hash and all.
    let forged = reseal(&l[5].replace("reason number 6", "approved by nobody"));
    l.insert(5, forged);
    write_lines(&path, &l);
    assert_eq!(problem(&path), (6, 6, ProblemKind::Inserted));
}

#[test]
fn reordered_middle_records_are_found_at_the_first_out_of_place_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    l.swap(4, 5);
    write_lines(&path, &l);
    assert_eq!(problem(&path), (5, 6, ProblemKind::Reordered));
    let detail = verify(&path).expect("v").problem.expect("p").detail;
    assert!(
        detail.contains("seq 5") && detail.contains("line 6"),
        "{detail}"
    );
}

#[test]
fn a_removed_middle_record_is_found_where_it_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    l.remove(4);
    write_lines(&path, &l);
    assert_eq!(problem(&path), (5, 5, ProblemKind::Removed));
    let report = verify(&path).expect("v");
    assert_eq!(report.records, 4);
    assert!(
        report
            .one_line()
            .contains("BROKEN at line 5 (seq 5): removed"),
        "{}",
        report.one_line()
    );
}

#[test]
fn a_removed_first_record_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 5);
    let mut l = lines(&path);
    l.remove(0);
    write_lines(&path, &l);
    assert_eq!(problem(&path), (1, 1, ProblemKind::Removed));
}

#[test]
fn a_garbage_middle_line_is_malformed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let mut l = lines(&path);
    l[6] = "{\"not\":\"a record\"}".into();
    write_lines(&path, &l);
    assert_eq!(problem(&path), (7, 7, ProblemKind::Malformed));
    assert!(matches!(
        read_records(&path),
        Err(JournalError::Parse { line: 7, .. })
    ));
}

#[test]
fn a_torn_last_line_is_reported_as_a_crash_with_exit_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 10);
    let full = fs::read(&path).expect("read");
    fs::write(&path, &full[..full.len() - 40]).expect("tear");
    let report = verify(&path).expect("verify");
    let p = report.problem.clone().expect("problem");
    assert_eq!((p.line, p.seq, p.kind), (10, 10, ProblemKind::TornLastLine));
    assert_eq!(report.records, 9);
    assert_eq!(report.exit_code(), 3);
    assert!(
        report.one_line().contains("recovered"),
        "{}",
        report.one_line()
    );
    assert_eq!(verify_cli(&path, &Default::default()), 3);
    // The summary reader skips the partial line.
    assert_eq!(read_records(&path).expect("read").len(), 9);
}

#[test]
fn reopening_after_a_torn_line_truncates_it_and_journals_recovered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, written) = journal(dir.path(), 10);
    let full = fs::read(&path).expect("read");
    fs::write(&path, &full[..full.len() - 100]).expect("tear");
    let (mut w, recovery) =
        JournalWriter::open_at(&path, Timestamp::from_secs(1_700_000_100)).expect("open");
    let recovery = recovery.expect("a recovery");
    assert_eq!(recovery.line, 10);
    let last_line_len = full[..full.len() - 1]
        .iter()
        .rev()
        .position(|b| *b == b'\n')
        .expect("several lines") as u64;
    assert_eq!(recovery.truncated_bytes, last_line_len + 1 - 100);
    assert_eq!(recovery.record.seq, 10);
    assert_eq!(recovery.record.decision.action, DecisionKind::Recovered);
    assert_eq!(recovery.record.prev, written[8].hash);
    assert_eq!(recovery.record.decision.weight, written[8].decision.weight);
    assert_eq!(w.last_seq(), 10);
    let next = w
        .append(Timestamp::from_secs(1_700_000_101), &decision(11))
        .expect("append after recovery");
    assert_eq!(next.seq, 11);
    drop(w);
    let report = verify(&path).expect("verify");
    assert!(report.holds(), "{}", report.one_line());
    assert_eq!(report.records, 11);
    // A second reopen finds nothing to repair.
    let (w, again) = JournalWriter::open(&path).expect("reopen");
    assert!(again.is_none());
    assert_eq!(w.last_seq(), 11);
    assert_eq!(w.rollout_id(), "r1");
}

#[test]
fn a_broken_journal_is_never_continued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 6);
    let mut l = lines(&path);
    l.remove(2);
    write_lines(&path, &l);
    let before = fs::read(&path).expect("read");
    let err = JournalWriter::open(&path).expect_err("must refuse");
    assert!(matches!(err, JournalError::Broken { .. }));
    assert!(err.to_string().contains("line 3 (seq 3): removed"), "{err}");
    assert_eq!(fs::read(&path).expect("read"), before, "file untouched");
}

#[test]
fn create_refuses_a_non_empty_file_and_reuses_an_empty_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 2);
    let err = JournalWriter::create(&path, "r1").expect_err("refuse");
    assert!(matches!(err, JournalError::Exists { .. }), "{err}");
    assert!(err.to_string().contains("never overwrites"), "{err}");
    assert_eq!(verify(&path).expect("v").records, 2);

    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, b"").expect("touch");
    assert!(matches!(
        JournalWriter::open(&empty),
        Err(JournalError::Empty { .. })
    ));
    let mut w = JournalWriter::create(&empty, "r2").expect("reuse empty");
    assert_eq!(w.append(Timestamp(5), &decision(1)).expect("a").seq, 1);
    assert_eq!(verify(&empty).expect("v").rollout.as_deref(), Some("r2"));
}

#[test]
fn a_second_writer_on_the_same_journal_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 2);
    let (_first, _) = JournalWriter::open(&path).expect("open");
    let err = JournalWriter::open(&path).expect_err("locked");
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
}

#[test]
fn a_missing_journal_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        verify_cli(&dir.path().join("nope.jsonl"), &Default::default()),
        2
    );
    assert!(matches!(
        verify(&dir.path().join("nope.jsonl")),
        Err(JournalError::Io { .. })
    ));
}

#[test]
fn a_cut_at_any_byte_of_the_last_line_is_torn_and_reopening_repairs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = journal(dir.path(), 4);
    let full = fs::read(&path).expect("read");
    let last_start = full[..full.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("several lines")
        + 1;
    let copy = dir.path().join("cut.jsonl");
    for cut in last_start + 1..full.len() {
        fs::write(&copy, &full[..cut]).expect("cut");
        let report = verify(&copy).expect("verify");
        assert_eq!(report.exit_code(), 3, "cut at {cut}: {}", report.one_line());
        assert_eq!(report.records, 3);
        let (_w, recovery) = JournalWriter::open(&copy).expect("reopen");
        assert_eq!(
            recovery.expect("recovered").truncated_bytes,
            (cut - last_start) as u64
        );
        let after = verify(&copy).expect("verify");
        assert_eq!((after.exit_code(), after.records), (4, 4), "cut at {cut}");
    }
}

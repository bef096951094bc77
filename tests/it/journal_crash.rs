//! Crash test: a child process appends records as fast as it can and is
//! killed with SIGKILL at a random moment, over and over. After every kill
//! the journal must verify (0) or show only a torn last line (3), and
//! reopening it must leave a journal that verifies (0).
//!
//! The child is this test binary itself, re-executed to run only the
//! ignored `crash_child` test with `RAMPDECK_JOURNAL_CHILD` naming the
//! journal, so no extra binary is needed.

use rampdeck::engine::{DecisionKind, PhaseKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampdeck::engine::{Actor, Decision, Timestamp};
use rampdeck::journal::{JournalError, JournalWriter, ProblemKind, verify};
use rand::Rng;

const CHILD_ENV: &str = "RAMPDECK_JOURNAL_CHILD";
const KILLS: usize = 200;
/// Kills per journal file: the first child creates it, later ones reopen.
const KILLS_PER_FILE: usize = 5;

fn decision(pad: usize) -> Decision {
    Decision {
        action: DecisionKind::HookResult,
        actor: Actor::named("crash"),
        reason: "append until killed".into(),
        step: Some(1),
        weight: 10,
        phase: PhaseKind::Holding,
        gates: vec![],
        hook: None,
        // Records of up to a few pages, so a kill can land between pages of
        // one write and tear a line, as a crash would.
        at: None,
        detail: serde_json::json!({ "pad": "x".repeat(pad) }),
    }
}

/// The writer, run in a child process: append until killed.
#[test]
#[ignore = "child process of killing_a_writer_at_random_moments_never_breaks_the_chain"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let resume = std::fs::metadata(&path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    let mut w = if resume {
        JournalWriter::open(&path).expect("child reopens").0
    } else {
        JournalWriter::create(&path, "crash-test").expect("child creates")
    };
    let mut rng = rand::rng();
    for _ in 0..1_000_000 {
        let now = Timestamp(1_700_000_000_000 + w.last_seq() as i64);
        w.append(now, &decision(rng.random_range(0..9_000)))
            .expect("child appends");
    }
}

struct Stats {
    kills: usize,
    no_file: usize,
    empty: usize,
    torn: usize,
    recovered: usize,
    /// Torn first lines: cut on reopen, leaving an empty journal (no
    /// record to append `recovered` after).
    cut_to_empty: usize,
    records: usize,
}

/// Runs one child on `path`, kills it after `delay`, then checks.
fn kill_and_check(exe: &Path, path: &Path, delay: Duration, stats: &mut Stats) {
    let mut child = Command::new(exe)
        .args([
            "--exact",
            &crate::kit::proc::test_name(module_path!(), "crash_child"),
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    std::thread::sleep(delay);
    let early = child.try_wait().expect("try_wait");
    assert!(early.is_none(), "the child exited on its own: {early:?}");
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    child.wait().expect("reap child");
    stats.kills += 1;
    if !path.exists() {
        stats.no_file += 1;
        return;
    }
    let report = verify(path).expect("verify");
    assert!(
        // Open (no rollout_ended: the writer was killed) or a torn last line.
        matches!(report.exit_code(), 4 | 3),
        "after a kill: {}",
        report.one_line()
    );
    let torn = report.problem.as_ref().map(|p| p.kind) == Some(ProblemKind::TornLastLine);
    stats.torn += usize::from(torn);
    match JournalWriter::open(path) {
        Ok((w, recovery)) => {
            assert_eq!(recovery.is_some(), torn);
            stats.recovered += usize::from(recovery.is_some());
            drop(w);
        }
        Err(JournalError::Empty { .. }) => {
            assert_eq!(report.records, 0, "Empty only when no record was complete");
            stats.empty += 1;
            if torn {
                let len = std::fs::metadata(path).expect("journal").len();
                assert_eq!(len, 0, "a torn first line is cut on reopen");
                stats.cut_to_empty += 1;
            }
        }
        Err(e) => panic!("reopen after a kill failed: {e}"),
    }
    let after = verify(path).expect("verify after reopen");
    assert!(after.holds(), "after reopen: {}", after.one_line());
    assert_eq!(after.exit_code(), 4, "after reopen: {}", after.one_line());
    let expected = report.records + usize::from(torn && report.records > 0);
    assert_eq!(after.records, expected);
    stats.records = stats.records.max(after.records);
}

#[test]
fn killing_a_writer_at_random_moments_never_breaks_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current_exe");
    let mut rng = rand::rng();
    let mut stats = Stats {
        kills: 0,
        no_file: 0,
        empty: 0,
        torn: 0,
        recovered: 0,
        cut_to_empty: 0,
        records: 0,
    };
    let started = Instant::now();
    for i in 0..KILLS {
        let path = dir.path().join(format!("j{}.jsonl", i / KILLS_PER_FILE));
        let delay = Duration::from_micros(rng.random_range(0..40_000));
        kill_and_check(&exe, &path, delay, &mut stats);
    }
    eprintln!(
        "crash test: {} kills in {:.1?}: {} before the file existed, {} left no complete record, \
         {} torn last lines (recovered: {}, torn first lines cut: {}), up to {} records per journal",
        stats.kills,
        started.elapsed(),
        stats.no_file,
        stats.empty,
        stats.torn,
        stats.recovered,
        stats.cut_to_empty,
        stats.records
    );
    assert_eq!(stats.kills, KILLS);
    assert_eq!(stats.torn, stats.recovered + stats.cut_to_empty);
    assert!(stats.records > 0, "the children never wrote a record");
}

//! Checking a journal's hash chain: `rampdeck verify JOURNAL`.
//!
//! The scan walks the lines in order and stops at the FIRST problem, then
//! looks around it (the next line, later lines) to say what happened:
//! a record edited, inserted, reordered or removed, a line that is not a
//! record, or a torn last line left by a crash mid-write.

use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::JournalError;
pub use super::check::{
    DEFAULT_KEY_ENV, MIN_HEAD_PREFIX, VerifyError, VerifyOptions, verify_cli, verify_opts,
};
use super::record::{GENESIS, Parsed, Record, Seal, SealKey, check_seal, format_ts, parse_line};
use super::writer::ROLLOUT_ENDED;
use crate::engine::Timestamp;

mod diagnose;
pub mod recording;
use diagnose::judge;

/// What is wrong at the first bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The record's bytes no longer match its hash, or its hash was
    /// recomputed and no longer matches what the next record recorded.
    Edited,
    /// A record that does not belong in the chain at this place.
    Inserted,
    /// A record that belongs later (or earlier) in the chain.
    Reordered,
    /// One or more records are missing here.
    Removed,
    /// A complete line that is not a journal record.
    Malformed,
    /// The last line has no newline: a crash mid-write. Not tampering.
    TornLastLine,
    /// A record after `rollout_ended`: nothing is journaled once a rollout
    /// ended, so it was added later.
    AfterEnd,
    /// With the journal key set: a record whose HMAC seal is missing or is
    /// not the key's seal (forged, or sealed with another key).
    Seal,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::Removed => "removed",
            ProblemKind::Malformed => "malformed",
            ProblemKind::TornLastLine => "torn last line",
            ProblemKind::AfterEnd => "after the end",
            ProblemKind::Seal => "seal",
        }
    }
}

/// The first problem found in a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line number in the file.
    pub line: usize,
    /// The sequence number concerned: the record at that line, or for
    /// `Removed` the first missing one, or for a torn line the one that was
    /// being written.
    pub seq: u64,
    pub kind: ProblemKind,
    /// What was found, in words.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} (seq {}): {}: {}",
            self.line,
            self.seq,
            self.kind.as_str(),
            self.detail
        )
    }
}

/// The result of checking a journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub path: PathBuf,
    /// Records that verified, from the first line up to the first problem.
    pub records: usize,
    pub rollout: Option<String>,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// `None` when the whole chain holds.
    pub problem: Option<Problem>,
    /// The hash of the last record that verified: the journal's head.
    pub head: Option<String>,
    /// The last record that verified is `rollout_ended`.
    pub closed: bool,
    pub seals: Seals,
    /// The head kept elsewhere that it was checked against, if any.
    pub expected_head: Option<HeadCheck>,
    /// The flight recording the last record names, when it was checked
    /// (`rampdeck verify` checks it; [`verify`] alone does not).
    pub recording: Option<recording::RecordingCheck>,
}

/// What `verify` could say about the records' HMAC seals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Seals {
    /// The variable the key came from, when one was set: every record's
    /// seal was then checked.
    pub key_env: Option<String>,
    /// The variables looked at for a key.
    pub looked_for: Vec<String>,
    /// Records that verified and carry a seal.
    pub sealed: usize,
}

/// The journal's head against one kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadCheck {
    /// As given (a prefix of at least 12 hex digits, or the whole hash).
    pub expected: String,
    pub matches: bool,
    /// The seq of the verified record whose hash it is, when one is.
    pub found_at: Option<u64>,
}

impl VerifyReport {
    /// The whole chain holds (no problem at all).
    pub fn holds(&self) -> bool {
        self.problem.is_none()
    }

    /// Only a torn last line is wrong: everything before it holds.
    pub fn only_torn(&self) -> bool {
        matches!(&self.problem, Some(p) if p.kind == ProblemKind::TornLastLine)
    }

    /// See [`verify_cli`]: 0 closed and the chain holds, 1 broken, 6 its
    /// recording missing or changed, 5 the head is not the expected one,
    /// 3 a torn last line, 4 open.
    pub fn exit_code(&self) -> i32 {
        match &self.problem {
            Some(p) if p.kind != ProblemKind::TornLastLine => 1,
            _ if self.recording.as_ref().is_some_and(|r| r.fails()) => 6,
            _ if self.expected_head.as_ref().is_some_and(|h| !h.matches) => 5,
            Some(_) => 3,
            None if !self.closed => 4,
            None => 0,
        }
    }

    /// The one-line summary `rampdeck verify` prints.
    pub fn one_line(&self) -> String {
        let path = self.path.display();
        let span = match (
            self.first_ts.and_then(format_ts),
            self.last_ts.and_then(format_ts),
        ) {
            (Some(a), Some(b)) => format!(", {a} to {b}"),
            _ => String::new(),
        };
        let rollout = self
            .rollout
            .as_deref()
            .map(|r| format!(", rollout {r}"))
            .unwrap_or_default();
        let last_seq = self.records;
        match &self.problem {
            None if self.records == 0 => {
                format!("{path}: OPEN: empty journal (no records yet)")
            }
            None if self.closed => format!(
                "{path}: OK: closed: the chain holds from seq 1 to the rollout_ended record at seq {last_seq}: {} records{rollout}{span}",
                self.records
            ),
            None => format!(
                "{path}: OPEN (running, or cut after seq {last_seq}): the chain holds over {} records{rollout}{span}, but no rollout_ended record closes it; records removed from the end cannot be told from a rollout still running (or a journal written before rampdeck closed journals)",
                self.records
            ),
            Some(p) if p.kind == ProblemKind::TornLastLine => format!(
                "{path}: TORN: {p}; the {} records before it verify{rollout}{span}. \
                 This is a crash mid-write, not tampering: reopening the journal with \
                 rampdeck truncates the partial line and journals a `recovered` record",
                self.records
            ),
            Some(p) => format!(
                "{path}: BROKEN at {p}; only the {} records before it verify{rollout}",
                self.records
            ),
        }
    }
}

/// A journal, scanned.
pub(crate) struct Scan {
    /// Records that verified, from the first line up to the first problem.
    pub count: usize,
    /// The first and last records that verified.
    pub first: Option<Record>,
    pub last: Option<Record>,
    pub problem: Option<Problem>,
    /// Byte length of the lines that verified (where a torn line starts).
    pub complete_len: u64,
    /// Records that verified and carry a seal.
    pub sealed: usize,
}

/// Lines read after the first problem to say what it is (a record moved
/// further than this is reported as removed or edited, not as reordered).
const LOOKAHEAD_LINES: usize = 10_000;

/// One line of a journal: its bytes (without newline) and whether it ended
/// with a newline (only the last line may not).
struct Lines<R> {
    reader: R,
}

impl<R: BufRead> Lines<R> {
    fn next_line(&mut self) -> std::io::Result<Option<(Vec<u8>, bool)>> {
        use std::io::Read;
        let mut buf = Vec::new();
        let limit = super::MAX_LINE as u64 + 1;
        if (&mut self.reader).take(limit).read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        if buf.len() > super::MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a line longer than {} MiB: not a record rampdeck writes (a damaged or foreign file)",
                    super::MAX_LINE >> 20
                ),
            ));
        }
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        }
        Ok(Some((buf, complete)))
    }
}

/// The line's record, parsed, or `None` for a torn (incomplete) line.
type Slot = Option<Result<Parsed, String>>;

fn parse_slot((bytes, complete): &(Vec<u8>, bool)) -> Slot {
    complete.then(|| parse_line(bytes))
}

/// Checks a journal line by line, calling `visit` with each record that
/// continues the chain, and stops at the first problem. Memory stays small
/// whatever the journal's size: one line at a time and 32 bytes per
/// record, plus a bounded look-ahead once a problem is found.
/// With a `key`, every record's HMAC seal must hold too.
pub(crate) fn scan<R: BufRead>(
    reader: R,
    key: Option<&SealKey>,
    visit: &mut dyn FnMut(&Record),
) -> std::io::Result<Scan> {
    let mut lines = Lines { reader };
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let mut first: Option<Record> = None;
    let mut last: Option<Record> = None;
    let mut complete_len = 0u64;
    let mut sealed = 0usize;
    let mut problem = None;
    let mut current = lines.next_line()?;
    while let Some(line) = current.take() {
        let i = hashes.len();
        let prev_hash = last.as_ref().map_or(GENESIS, |r| r.hash.as_str());
        let expect = i as u64 + 1;
        let parsed = parse_slot(&line);
        if let Some(Ok(p)) = &parsed {
            let r = &p.record;
            let same_rollout = first.as_ref().is_none_or(|f| f.rollout == r.rollout);
            let mut raw = [0u8; 32];
            if p.hash_ok
                && r.prev == prev_hash
                && r.seq == expect
                && same_rollout
                && hex::decode_to_slice(&r.hash, &mut raw).is_ok()
            {
                if let Some(end) = last.as_ref().filter(|l| l.decision.action == ROLLOUT_ENDED) {
                    problem = Some(Problem {
                        line: i + 1,
                        seq: r.seq,
                        kind: ProblemKind::AfterEnd,
                        detail: format!(
                            "a record follows the rollout_ended record at seq {}: nothing is journaled after a rollout ends, so it was added later",
                            end.seq
                        ),
                    });
                    break;
                }
                if let Some(key) = key {
                    let why = match check_seal(&line.0, key) {
                        Seal::Holds => None,
                        Seal::Missing => Some(
                            "the record carries no HMAC seal, yet the journal key is set: it was written without the key, or its seal was stripped",
                        ),
                        Seal::Broken => Some(
                            "the record's HMAC seal is not the key's: it was forged or rewritten by someone without the key (or sealed with another key)",
                        ),
                    };
                    if let Some(why) = why {
                        problem = Some(Problem {
                            line: i + 1,
                            seq: r.seq,
                            kind: ProblemKind::Seal,
                            detail: why.into(),
                        });
                        break;
                    }
                }
                if r.hmac.is_some() {
                    sealed += 1;
                }
                visit(r);
                hashes.push(raw);
                complete_len += line.0.len() as u64 + 1;
                if first.is_none() {
                    first = Some(r.clone());
                }
                last = parsed.and_then(Result::ok).map(|p| p.record);
                current = lines.next_line()?;
                continue;
            }
        }
        // The first problem: read a bounded window after it to say what
        // happened.
        let mut window = vec![parsed];
        while window.len() <= LOOKAHEAD_LINES {
            match lines.next_line()? {
                Some(l) => window.push(parse_slot(&l)),
                None => break,
            }
        }
        problem = Some(judge(i, &line, &window, &hashes, prev_hash));
        break;
    }
    Ok(Scan {
        count: hashes.len(),
        first,
        last,
        problem,
        complete_len,
        sealed,
    })
}

/// Checks a journal file's hash chain (no key, no expected head).
///
/// `Err` only when the file cannot be read; every problem with its content
/// is in the report.
pub fn verify(path: &Path) -> Result<VerifyReport, JournalError> {
    verify_with(path, &mut |_| {})
}

/// [`verify`], calling `visit` with each record that verifies, in order:
/// one pass over the file for both.
pub fn verify_with(
    path: &Path,
    visit: &mut dyn FnMut(&Record),
) -> Result<VerifyReport, JournalError> {
    let file = std::fs::File::open(path).map_err(|e| JournalError::io(path, "read", e))?;
    let scanned = scan(
        std::io::BufReader::with_capacity(1 << 16, file),
        None,
        visit,
    )
    .map_err(|e| JournalError::io(path, "read", e))?;
    Ok(report_of(path, &scanned))
}

pub(crate) fn report_of(path: &Path, scan: &Scan) -> VerifyReport {
    VerifyReport {
        path: path.to_path_buf(),
        records: scan.count,
        rollout: scan.first.as_ref().map(|r| r.rollout.clone()),
        first_ts: scan.first.as_ref().map(|r| r.ts),
        last_ts: scan.last.as_ref().map(|r| r.ts),
        problem: scan.problem.clone(),
        head: scan.last.as_ref().map(|r| r.hash.clone()),
        closed: scan
            .last
            .as_ref()
            .is_some_and(|r| r.decision.action == ROLLOUT_ENDED),
        seals: Seals {
            sealed: scan.sealed,
            ..Seals::default()
        },
        expected_head: None,
        recording: None,
    }
}

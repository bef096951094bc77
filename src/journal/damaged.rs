//! Reading a journal for its summary, damaged or not: the records that
//! verify (from the first line up to the first break of the chain) and,
//! after a break, everything else the file holds, read leniently and kept
//! apart as unverified. A line that is not a record stops nothing.

use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

use super::record::{Record, parse_line};
use super::summary::{DecisionLine, Keeper, MetricUnits, Repeated, decision_line, outcome};
use super::verify::{ProblemKind, VerifyError, VerifyOptions, VerifyReport, verify_opts};
use super::{JournalError, verify};

/// Lines that are not records, named one by one up to this many.
const NOT_RECORDS_LISTED: usize = 20;

/// Everything a journal holds after the first break of its chain: shown,
/// but proving nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AfterBreak {
    /// Where the chain breaks: the first line and seq not verified.
    pub line: usize,
    pub seq: u64,
    /// What `verify` found there ("edited", "inserted", ...), and why.
    pub kind: String,
    pub detail: String,
    /// The records after the break, as the file has them.
    pub decisions: Vec<DecisionLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeated: Vec<Repeated>,
    /// Lines after the break that are not records (the first few).
    pub not_records: Vec<NotRecord>,
    /// How many lines after the break are not records.
    pub not_records_total: usize,
    /// What the unverified records say the outcome was.
    pub claimed_outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotRecord {
    pub line: usize,
    pub why: String,
}

/// A journal read for its summary.
pub(crate) struct Collected {
    pub report: VerifyReport,
    /// The verified records (kept by a [`Keeper`]).
    pub verified: Keeper,
    /// Records after the break, when the chain breaks.
    pub after: Option<(Keeper, Vec<NotRecord>, usize)>,
}

/// Verifies the journal, then reads it again: lines before the break go to
/// the verified records, lines after it to the unverified part. Memory
/// follows what the summary keeps, not the journal's size.
pub(crate) fn collect(path: &Path) -> Result<Collected, JournalError> {
    // The seals are checked when the journal's key is in the environment
    // (as where the driver writes the summary); a key too short to use
    // leaves them unchecked, which the summary says.
    let report = match verify_opts(path, &VerifyOptions::default()) {
        Ok(r) => r,
        Err(VerifyError::Journal(e)) => return Err(*e),
        Err(_) => verify(path)?,
    };
    // A torn last line is a crash, not a break: nothing follows it.
    let cut = report
        .problem
        .as_ref()
        .filter(|p| p.kind != ProblemKind::TornLastLine)
        .map(|p| p.line);
    // A forger's recomputed hash can move the break before a record the
    // scan had accepted: only lines before the break count as verified.
    let verified_lines = match cut {
        Some(line) => report.records.min(line.saturating_sub(1)),
        None => report.records,
    };
    let file = std::fs::File::open(path).map_err(|e| JournalError::io(path, "read", e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut verified = Keeper::default();
    let mut after = cut.map(|_| (Keeper::default(), Vec::new(), 0usize));
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| JournalError::io(path, "read", e))?;
        // The end, or a torn last line (no newline).
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        buf.pop();
        line += 1;
        let parsed = parse_line(&buf);
        if line <= verified_lines {
            if let Ok(p) = parsed {
                verified.push(p.record);
            }
            continue;
        }
        // Lines appended since the check are not part of this summary.
        let Some((kept, not_records, total)) = after.as_mut() else {
            break;
        };
        match parsed {
            Ok(p) => kept.push(p.record),
            Err(why) => {
                *total += 1;
                if not_records.len() < NOT_RECORDS_LISTED {
                    not_records.push(NotRecord { line, why });
                }
            }
        }
    }
    Ok(Collected {
        report,
        verified,
        after,
    })
}

/// The unverified part, as the summary shows it.
pub(crate) fn after_break(
    report: &VerifyReport,
    kept: Keeper,
    not_records: Vec<NotRecord>,
    not_records_total: usize,
    units: &MetricUnits,
) -> Option<AfterBreak> {
    let problem = report.problem.as_ref()?;
    let (records, repeated): (Vec<Record>, _) = kept.finish();
    Some(AfterBreak {
        line: problem.line,
        seq: problem.seq,
        kind: problem.kind.as_str().into(),
        detail: problem.detail.clone(),
        decisions: records.iter().map(|r| decision_line(r, units)).collect(),
        repeated,
        not_records,
        not_records_total,
        claimed_outcome: outcome(&records),
    })
}

//! What happened at the first line that does not continue the chain: a
//! record edited, inserted, reordered or removed, a line that is not a
//! record, or a torn last line. [`judge`] reads the bounded window the scan
//! took after that line to tell them apart.

use super::{Problem, ProblemKind, Slot};
use crate::journal::record::{GENESIS, Parsed, Record};

/// What is wrong at line `i` (0-based): `window[0]` is that line, the rest
/// follow it.
pub(super) fn judge(
    i: usize,
    line: &(Vec<u8>, bool),
    window: &[Slot],
    hashes: &[[u8; 32]],
    prev_hash: &str,
) -> Problem {
    let expect = hashes.len() as u64 + 1;
    let links_here = |j: usize| -> bool {
        matches!(window.get(j), Some(Some(Ok(p)))
            if p.hash_ok && p.record.prev == prev_hash && p.record.seq == expect)
    };
    match &window[0] {
        None => Problem {
            line: i + 1,
            seq: expect,
            kind: ProblemKind::TornLastLine,
            detail: format!(
                "{} bytes without a newline: a record cut off by a crash mid-write",
                line.0.len()
            ),
        },
        Some(Err(why)) => Problem {
            line: i + 1,
            seq: expect,
            kind: if links_here(1) {
                ProblemKind::Inserted
            } else {
                ProblemKind::Malformed
            },
            detail: why.clone(),
        },
        Some(Ok(p)) => classify(i, p, hashes, window, links_here(1)),
    }
}

/// Says what happened at line `i` (0-based), the first line that does not
/// continue the chain.
fn classify(
    i: usize,
    p: &Parsed,
    hashes: &[[u8; 32]],
    window: &[Slot],
    next_links_here: bool,
) -> Problem {
    let here = Break {
        i,
        line: i + 1,
        r: &p.record,
        expect: hashes.len() as u64 + 1,
        prev_hash: hashes
            .last()
            .map_or_else(|| GENESIS.to_string(), hex::encode),
        hashes,
        window,
    };
    let r = here.r;
    // A record whose own predecessor sits later in the file was moved up.
    if p.hash_ok && r.seq > here.expect {
        if let Some(problem) = here.predecessor_later() {
            return problem;
        }
    }
    if next_links_here {
        return here.at(
            r.seq,
            ProblemKind::Inserted,
            format!(
                "this record (claiming seq {}) does not belong here: line {} continues the chain from line {}",
                r.seq,
                here.line + 1,
                here.line.saturating_sub(1)
            ),
        );
    }
    if !p.hash_ok {
        return here.wrong_hash();
    }
    if r.seq < here.expect {
        return here.seq_taken();
    }
    here.expected_later()
        .or_else(|| here.records_missing())
        .unwrap_or_else(|| here.rewritten())
}

/// The first line (`i`, 0-based) that does not continue the chain, and what
/// the chain expected there.
struct Break<'a> {
    i: usize,
    line: usize,
    r: &'a Record,
    expect: u64,
    prev_hash: String,
    hashes: &'a [[u8; 32]],
    window: &'a [Slot],
}

impl Break<'_> {
    fn at(&self, seq: u64, kind: ProblemKind, detail: String) -> Problem {
        Problem {
            line: self.line,
            seq,
            kind,
            detail,
        }
    }

    /// This record's predecessor sits later in the file.
    fn predecessor_later(&self) -> Option<Problem> {
        let (r, expect) = (self.r, self.expect);
        let j = self
            .window
            .iter()
            .enumerate()
            .skip(1)
            .find_map(|(j, x)| match x {
                Some(Ok(q)) if q.hash_ok && q.record.hash == r.prev => Some(self.i + j),
                _ => None,
            })?;
        Some(self.at(
            r.seq,
            ProblemKind::Reordered,
            format!(
                "seq {} is out of place: it follows seq {} at line {}, and seq {expect} belongs here",
                r.seq,
                r.seq - 1,
                j + 1
            ),
        ))
    }

    /// The record's bytes do not match its own hash.
    fn wrong_hash(&self) -> Problem {
        let r = self.r;
        if r.seq < self.expect {
            return self.at(
                r.seq,
                ProblemKind::Inserted,
                format!("a record claiming earlier seq {} with a wrong hash", r.seq),
            );
        }
        self.at(
            self.expect,
            ProblemKind::Edited,
            "the record's bytes do not match its hash: it was changed after it was written".into(),
        )
    }

    /// The record claims a seq the chain already holds.
    fn seq_taken(&self) -> Problem {
        let (r, line, expect) = (self.r, self.line, self.expect);
        // Two records claim this seq. If the chain goes on from this one,
        // the one accepted earlier is the intruder.
        let idx = (r.seq as usize).saturating_sub(1);
        let parent = match idx {
            0 => Some(GENESIS.to_string()),
            n => self.hashes.get(n - 1).map(hex::encode),
        };
        let continues =
            matches!(self.window.get(1), Some(Some(Ok(q))) if q.hash_ok && q.record.prev == r.hash);
        if r.seq >= 1 && parent.as_deref() == Some(r.prev.as_str()) && continues {
            return Problem {
                line: idx + 1,
                seq: r.seq,
                kind: ProblemKind::Inserted,
                detail: format!(
                    "line {line} also claims seq {}, and the chain continues from that one: \
                     this record was slipped in",
                    r.seq
                ),
            };
        }
        self.at(
            r.seq,
            ProblemKind::Inserted,
            format!(
                "a copy of, or a second, record seq {} (seq {expect} expected here)",
                r.seq
            ),
        )
    }

    /// The record the chain expects here sits later in the file.
    fn expected_later(&self) -> Option<Problem> {
        let (r, expect) = (self.r, self.expect);
        let j = self
            .window
            .iter()
            .enumerate()
            .skip(1)
            .find_map(|(j, x)| match x {
                Some(Ok(q))
                    if q.hash_ok && q.record.seq == expect && q.record.prev == self.prev_hash =>
                {
                    Some(self.i + j)
                }
                _ => None,
            })?;
        Some(self.at(
            r.seq,
            ProblemKind::Reordered,
            format!(
                "seq {} is out of place: seq {expect}, which belongs here, is at line {}",
                r.seq,
                j + 1
            ),
        ))
    }

    /// Records between the chain's last and this one are gone.
    fn records_missing(&self) -> Option<Problem> {
        let (r, expect) = (self.r, self.expect);
        if !(r.seq > expect && r.prev != self.prev_hash) {
            return None;
        }
        let missing = if r.seq - expect == 1 {
            format!("seq {expect} is missing")
        } else {
            format!("seq {expect} to {} are missing", r.seq - 1)
        };
        Some(self.at(
            expect,
            ProblemKind::Removed,
            format!("{missing} before this line (it holds seq {})", r.seq),
        ))
    }

    /// A record was rewritten and its hash recomputed: the one before this
    /// line when this one's `prev` no longer matches it, else this one.
    fn rewritten(&self) -> Problem {
        let (r, expect) = (self.r, self.expect);
        if r.seq == expect && r.prev != self.prev_hash && self.i > 0 {
            return Problem {
                line: self.i,
                seq: expect - 1,
                kind: ProblemKind::Edited,
                detail: format!(
                    "its hash is not the one seq {expect} recorded as `prev`: it was rewritten and its hash recomputed"
                ),
            };
        }
        self.at(
            expect,
            ProblemKind::Edited,
            format!(
                "the record was rewritten with a recomputed hash (seq {}, rollout {}, prev {}…)",
                r.seq,
                r.rollout,
                r.prev.get(..12).unwrap_or(&r.prev)
            ),
        )
    }
}

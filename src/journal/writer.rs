//! The append-only writer: one line per decision, one `write`, then
//! `fsync` (data) before `append` returns, so a hook the driver runs after
//! `append` always has its decision on disk first.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::JournalError;
use super::record::{GENESIS, Record, SealKey, parse_line, seal_of, seal_with};
use super::redact::Redactor;
use super::verify::{ProblemKind, report_of, scan};
use crate::engine::{Actor, Decision, DecisionKind, Timestamp};

/// Appends records to one journal file. Holds an exclusive advisory lock
/// (`flock`) so two rampdeck processes never write the same journal.
#[derive(Debug)]
pub struct JournalWriter {
    file: Flock<File>,
    path: PathBuf,
    rollout: String,
    last_seq: u64,
    last_hash: String,
    /// Time of the last record: stamps a `recovered` record from `open`.
    last_ts: Timestamp,
    /// A write or sync failed: the file may end in a partial line, so no
    /// further record may follow it until the journal is reopened.
    poisoned: bool,
    /// The last record is `rollout_ended`: nothing may follow it.
    closed: bool,
    /// Seals every record (HMAC-SHA256) when the plan names a key.
    key: Option<SealKey>,
    /// Known secrets never reach the file.
    redactor: Redactor,
}

/// How a journal is written: with a seal key or without, and which
/// secrets never reach it.
#[derive(Debug, Clone, Default)]
pub struct JournalOptions {
    pub key: Option<SealKey>,
    /// Applied to every record before it is sealed.
    pub redactor: Redactor,
}

impl JournalOptions {
    /// What `plan` asks for, the key read from the variable its
    /// `[journal] key_env` names. A variable that is unset or holds too
    /// short a key is an error naming it: a plan that asks for seals never
    /// runs without them.
    pub fn from_plan(plan: &crate::plan::Plan) -> Result<JournalOptions, JournalError> {
        let Some(var) = &plan.journal.key_env else {
            return Ok(JournalOptions {
                key: None,
                redactor: Redactor::from_plan(plan),
            });
        };
        let value = std::env::var_os(var).ok_or_else(|| JournalError::Key {
            var: var.clone(),
            why: "is not set".into(),
        })?;
        let key = SealKey::new(value.as_encoded_bytes()).ok_or_else(|| JournalError::Key {
            var: var.clone(),
            why: format!(
                "holds {} bytes, fewer than the {} a key needs",
                value.len(),
                super::record::MIN_KEY_BYTES
            ),
        })?;
        Ok(JournalOptions {
            key: Some(key),
            redactor: Redactor::from_plan(plan),
        })
    }
}

/// The action of the record that closes a journal: the rollout is over and
/// nothing is journaled after it, so `verify` can tell a finished journal
/// from one whose end was cut off.
pub const ROLLOUT_ENDED: DecisionKind = DecisionKind::RolloutEnded;

/// What `open` repaired: a torn last line was cut off and a `recovered`
/// record appended.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// 1-based line number of the torn line.
    pub line: usize,
    /// Bytes cut off.
    pub truncated_bytes: u64,
    /// The `recovered` record that was appended.
    pub record: Record,
}

fn lock(file: File, path: &Path) -> Result<Flock<File>, JournalError> {
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| JournalError::Locked {
        path: path.to_path_buf(),
        why: errno.desc().to_string(),
    })
}

impl JournalWriter {
    /// Starts a new journal for `rollout_id` at `path`, creating parent
    /// directories. An existing empty file is reused (a crash right after
    /// creating it); a non-empty one is refused, never overwritten.
    pub fn create(path: &Path, rollout_id: &str) -> Result<Self, JournalError> {
        Self::create_with(path, rollout_id, JournalOptions::default())
    }

    /// [`Self::create`], sealing records with `opts.key` when it is set.
    pub fn create_with(
        path: &Path,
        rollout_id: &str,
        opts: JournalOptions,
    ) -> Result<Self, JournalError> {
        if rollout_id.is_empty() {
            return Err(JournalError::EmptyRolloutId);
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, "create directory", e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| JournalError::io(path, "create", e))?;
        let file = lock(file, path)?;
        let len = file
            .metadata()
            .map_err(|e| JournalError::io(path, "inspect", e))?
            .len();
        if len > 0 {
            return Err(JournalError::Exists {
                path: path.to_path_buf(),
                bytes: len,
            });
        }
        // Make the new directory entry itself durable, not only the data.
        if let Some(dir) = parent {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| JournalError::io(dir, "sync directory", e))?;
        }
        Ok(JournalWriter {
            file,
            path: path.to_path_buf(),
            rollout: rollout_id.to_string(),
            last_seq: 0,
            last_hash: GENESIS.to_string(),
            last_ts: Timestamp(0),
            poisoned: false,
            closed: false,
            key: opts.key,
            redactor: opts.redactor,
        })
    }

    /// Reopens an existing journal to continue it (after a crash or a
    /// restart). Verifies the whole chain first: a broken chain is an
    /// error, never continued. A torn last line (a crash mid-write) is
    /// truncated and a `recovered` record appended, stamped with the last
    /// record's time (the writer reads no clock; see [`Self::open_at`]).
    pub fn open(path: &Path) -> Result<(Self, Option<Recovery>), JournalError> {
        Self::open_with(path, None, JournalOptions::default())
    }

    /// Like [`Self::open`], stamping a `recovered` record with `now`.
    pub fn open_at(path: &Path, now: Timestamp) -> Result<(Self, Option<Recovery>), JournalError> {
        Self::open_with(path, Some(now), JournalOptions::default())
    }

    /// [`Self::open`] with options: with a key, every record's seal is
    /// checked before the journal is continued, and new records are sealed.
    pub fn open_with(
        path: &Path,
        now: Option<Timestamp>,
        opts: JournalOptions,
    ) -> Result<(Self, Option<Recovery>), JournalError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| JournalError::io(path, "open", e))?;
        // Lock before reading so nobody appends between the check and us.
        let file = lock(file, path)?;
        let reader = std::io::BufReader::with_capacity(1 << 16, &*file);
        let scanned = scan(reader, opts.key.as_ref(), &mut |_| {})
            .map_err(|e| JournalError::io(path, "read", e))?;
        let mut torn = None;
        if let Some(problem) = &scanned.problem {
            if problem.kind != ProblemKind::TornLastLine {
                return Err(JournalError::Broken {
                    report: Box::new(report_of(path, &scanned)),
                });
            }
            let size = file
                .metadata()
                .map_err(|e| JournalError::io(path, "read", e))?
                .len();
            let cut = size - scanned.complete_len;
            file.set_len(scanned.complete_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| JournalError::io(path, "truncate the torn last line of", e))?;
            torn = Some((problem.line, problem.seq, cut));
        }
        let Some(last) = scanned.last.as_ref() else {
            return Err(JournalError::Empty {
                path: path.to_path_buf(),
            });
        };
        let mut writer = JournalWriter {
            file,
            path: path.to_path_buf(),
            rollout: last.rollout.clone(),
            last_seq: last.seq,
            last_hash: last.hash.clone(),
            last_ts: last.ts,
            poisoned: false,
            closed: last.decision.action == ROLLOUT_ENDED,
            key: opts.key,
            redactor: opts.redactor,
        };
        let recovery = match torn {
            None => None,
            Some((line, seq, cut)) => {
                let d = Decision {
                    action: DecisionKind::Recovered,
                    actor: Actor::system(),
                    reason: format!(
                        "reopened after a crash: cut off a torn last line ({cut} bytes at line {line}); \
                         seq {seq} was never completed, so its action never ran"
                    ),
                    step: last.decision.step,
                    weight: last.decision.weight,
                    phase: last.decision.phase,
                    gates: Vec::new(),
                    hook: None,
                    at: None,
                    detail: serde_json::json!({
                        "torn_line": line,
                        "truncated_bytes": cut,
                    }),
                };
                let record = writer.append(now.unwrap_or(last.ts), &d)?;
                Some(Recovery {
                    line,
                    truncated_bytes: cut,
                    record,
                })
            }
        };
        Ok((writer, recovery))
    }

    /// Appends one decision as the next record: the whole line in one
    /// write, then `sync_data`. When this returns `Ok`, the record is on
    /// disk and the driver may run the decision's hook.
    pub fn append(&mut self, now: Timestamp, d: &Decision) -> Result<Record, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned {
                path: self.path.clone(),
            });
        }
        if self.closed {
            return Err(JournalError::Closed {
                path: self.path.clone(),
                seq: self.last_seq,
            });
        }
        let seq = self.last_seq + 1;
        // The one place on the way in: whatever a record holds, a known
        // secret is written as `[redacted VAR]`.
        let d = self.redactor.decision(d);
        let d = d.as_ref();
        let (line, hash) = seal_with(
            seq,
            now,
            &self.rollout,
            d,
            &self.last_hash,
            self.key.as_ref(),
        )
        .map_err(|e| JournalError::Encode { seq, source: e })?;
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.poisoned = true;
            return Err(JournalError::io(&self.path, "append to", e));
        }
        let record = Record {
            seq,
            ts: now,
            rollout: self.rollout.clone(),
            decision: d.clone(),
            prev: std::mem::replace(&mut self.last_hash, hash.clone()),
            hmac: self
                .key
                .as_ref()
                .and_then(|_| seal_of(&line[..line.len() - 1])),
            hash,
        };
        self.last_seq = seq;
        self.last_ts = now;
        self.closed = d.action == ROLLOUT_ENDED;
        Ok(record)
    }

    /// The hash of the last record (the journal's head; [`GENESIS`] when
    /// it has none). Kept elsewhere, it proves later that nothing was
    /// removed, added or rewritten (`rampdeck verify --expect-head`).
    pub fn head(&self) -> &str {
        &self.last_hash
    }

    /// A `rollout_ended` record closed the journal: nothing may follow.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Records are sealed with a key.
    pub fn is_sealed(&self) -> bool {
        self.key.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seq of the last record written (0 for a new journal).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn rollout_id(&self) -> &str {
        &self.rollout
    }
}

/// Reads every complete record of a journal, in file order, without
/// checking the chain (run [`super::verify`] for that). A torn last line is
/// skipped; a complete line that is not a record is an error naming it.
pub fn read_records(path: &Path) -> Result<Vec<Record>, JournalError> {
    records(path)?.collect()
}

/// The complete records of a journal one at a time, in file order, without
/// checking the chain: memory stays one line whatever the journal's size.
/// A torn last line is skipped; a complete line that is not a record is an
/// error naming it (and ends the iteration).
pub fn records(path: &Path) -> Result<Records, JournalError> {
    let file = fs::File::open(path).map_err(|e| JournalError::io(path, "read", e))?;
    Ok(Records {
        reader: std::io::BufReader::with_capacity(1 << 16, file),
        path: path.to_path_buf(),
        line: 0,
        done: false,
    })
}

/// See [`records`].
pub struct Records {
    reader: std::io::BufReader<fs::File>,
    path: std::path::PathBuf,
    line: usize,
    done: bool,
}

impl Iterator for Records {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::{BufRead, Read};
        if self.done {
            return None;
        }
        let mut buf = Vec::new();
        let limit = super::MAX_LINE as u64 + 1;
        let read = (&mut self.reader).take(limit).read_until(b'\n', &mut buf);
        self.line += 1;
        if buf.len() > super::MAX_LINE {
            self.done = true;
            return Some(Err(JournalError::Parse {
                path: self.path.clone(),
                line: self.line,
                why: format!(
                    "longer than {} MiB: not a record rampdeck writes (a damaged or foreign file)",
                    super::MAX_LINE >> 20
                ),
            }));
        }
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                return Some(Err(JournalError::io(&self.path, "read", e)));
            }
        };
        // The end, or a torn last line (no newline).
        if n == 0 || buf.last() != Some(&b'\n') {
            self.done = true;
            return None;
        }
        buf.pop();
        match parse_line(&buf) {
            Ok(p) => Some(Ok(p.record)),
            Err(why) => {
                self.done = true;
                Some(Err(JournalError::Parse {
                    path: self.path.clone(),
                    line: self.line,
                    why,
                }))
            }
        }
    }
}

//! `rampdeck verify` beyond the chain: the journal key (HMAC seals) from
//! the environment, a head kept elsewhere (`--expect-head`), and what the
//! command prints and exits with.

use std::io::{BufRead, Read};
use std::path::Path;

use super::JournalError;
use super::record::{Record, SealKey, parse_line};
use super::verify::{HeadCheck, VerifyReport, report_of, scan};

/// The shortest `--expect-head` accepted: 12 hex digits (48 bits).
pub const MIN_HEAD_PREFIX: usize = 12;

/// What `rampdeck verify` checks beyond the chain.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The variable holding the journal key; by default the one the
    /// journal's plan names (`journal.key_env`), then
    /// `RAMPDECK_JOURNAL_KEY`.
    pub key_env: Option<String>,
    /// A head kept elsewhere (a change ticket, a chat message).
    pub expect_head: Option<String>,
}

/// The variable `verify` reads a key from when neither `--key-env` nor the
/// journal's plan names one.
pub const DEFAULT_KEY_ENV: &str = "RAMPDECK_JOURNAL_KEY";

/// The variable the journal's own plan names for its key
/// (`journal.key_env` in its `rollout_started` record), if its first line
/// says so. Unverified: only a place to look, never a reason to skip one.
fn plan_key_env(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut first = Vec::new();
    std::io::BufReader::new(file)
        .take(64 << 20)
        .read_until(b'\n', &mut first)
        .ok()?;
    let line = first.strip_suffix(b"\n")?;
    let d = parse_line(line).ok()?.record.decision.detail;
    let plan = if d.get("rollout").is_some() {
        &d
    } else {
        d.get("plan")?
    };
    plan.pointer("/journal/key_env")?
        .as_str()
        .map(str::to_string)
}

/// `verify` with a journal key (from the environment) and a head kept
/// elsewhere. `Err` when the file cannot be read or `--expect-head` is not
/// a hash (prefix).
pub fn verify_opts(path: &Path, opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let expected = match &opts.expect_head {
        None => None,
        Some(h) => {
            let h = h.trim().to_ascii_lowercase();
            let hex = h.chars().all(|c| c.is_ascii_hexdigit());
            if !hex || h.len() < MIN_HEAD_PREFIX || h.len() > 64 {
                return Err(VerifyError::BadHead(h));
            }
            Some(h)
        }
    };
    let mut looked_for: Vec<String> = Vec::new();
    match &opts.key_env {
        Some(v) => looked_for.push(v.clone()),
        None => {
            looked_for.extend(plan_key_env(path));
            looked_for.push(DEFAULT_KEY_ENV.to_string());
            looked_for.dedup();
        }
    }
    let mut key = None;
    for var in &looked_for {
        if let Some(value) = std::env::var_os(var) {
            let k = SealKey::new(value.as_encoded_bytes())
                .ok_or_else(|| VerifyError::ShortKey { var: var.clone() })?;
            key = Some((var.clone(), k));
            break;
        }
    }
    let unreadable = |e| Box::new(JournalError::io(path, "read", e));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut found_at = None;
    let mut visit = |r: &Record| {
        if let Some(h) = &expected
            && r.hash.starts_with(h.as_str())
        {
            found_at = Some(r.seq);
        }
    };
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let scanned = scan(reader, key.as_ref().map(|(_, k)| k), &mut visit).map_err(unreadable)?;
    let mut report = report_of(path, &scanned);
    report.recording = Some(super::verify::recording::check(path, scanned.last.as_ref()));
    report.seals.key_env = key.map(|(var, _)| var);
    report.seals.looked_for = looked_for;
    report.expected_head = expected.map(|expected| HeadCheck {
        matches: report
            .head
            .as_deref()
            .is_some_and(|h| h.starts_with(expected.as_str())),
        expected,
        found_at,
    });
    Ok(report)
}

/// Why `rampdeck verify` could not check at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Journal(#[from] Box<JournalError>),
    #[error(
        "--expect-head {0:?} is not a record hash: give the head as printed (64 hex digits), or at least its first {MIN_HEAD_PREFIX}"
    )]
    BadHead(String),
    #[error(
        "${var} holds a key shorter than {min} bytes; a journal key must be at least that long",
        min = super::record::MIN_KEY_BYTES
    )]
    ShortKey { var: String },
}

/// `rampdeck verify JOURNAL [--expect-head HASH] [--key-env VAR]`: prints
/// what holds and returns the exit code.
///
/// Exit codes:
/// - `0`: closed and the chain holds: it ends with the `rollout_ended`
///   record rampdeck writes when a rollout is over (and, with a key, every
///   seal holds; with `--expect-head`, the head matches);
/// - `1`: tampered or broken: the line names the line number and seq of the
///   first record that was edited, inserted, reordered or removed, that is
///   not a record at all, that follows `rollout_ended`, or (with the key)
///   whose seal does not hold;
/// - `2`: the journal could not be read (missing file, permissions), or
///   `--expect-head` is not a hash;
/// - `3`: only the last line is torn (a crash mid-write); everything before
///   it holds, and reopening the journal with rampdeck truncates the partial
///   line and journals a `recovered` record;
/// - `4`: open: the chain holds but no `rollout_ended` closes it: the
///   rollout is still running, its driver was stopped before it ended, or
///   records were cut from the end (which the chain alone cannot tell
///   apart); journals written before rampdeck closed them are open too;
/// - `5`: the head is not the one `--expect-head` names;
/// - `6`: the chain holds, but the flight recording its `rollout_ended`
///   record names is missing beside it, or its SHA-256 is not the one
///   sealed there (changed or replaced after the end).
pub fn verify_cli(path: &Path, opts: &VerifyOptions) -> i32 {
    match verify_opts(path, opts) {
        Ok(report) => {
            println!("{}", super::escape::line(&report.one_line()));
            for l in report.details() {
                println!("{}", super::escape::line(&l));
            }
            if let Some(r) = &report.recording {
                println!("{}", super::escape::line(&r.line()));
            }
            report.exit_code()
        }
        Err(e) => {
            eprintln!("rampdeck verify: {}", super::escape::line(&e.to_string()));
            2
        }
    }
}

impl VerifyReport {
    /// The lines `rampdeck verify` prints after [`Self::one_line`]: the
    /// head and record count, the seals, the expected head.
    pub fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(head) = &self.head {
            out.push(format!(
                "head: {head} (seq {}, {} records verified)",
                self.records, self.records
            ));
        }
        out.push(self.seals_line());
        if let Some(h) = &self.expected_head {
            let head = self.head.as_deref().unwrap_or("(none: no record verifies)");
            out.push(match (h.matches, h.found_at) {
                (true, _) => format!("expected head {}: matches", h.expected),
                (false, Some(seq)) => format!(
                    "HEAD MISMATCH: expected head {} is the hash of seq {seq}, but the journal goes on to seq {} (head {head}): {} records were added after the head that was kept",
                    h.expected,
                    self.records,
                    self.records as u64 - seq
                ),
                (false, None) => format!(
                    "HEAD MISMATCH: expected head {}, but the journal's head is {head} (seq {}) and no record in its chain has the expected hash: records were removed or rewritten since that head was kept",
                    h.expected, self.records
                ),
            });
        }
        out
    }

    fn seals_line(&self) -> String {
        let s = &self.seals;
        match &s.key_env {
            Some(var) => format!(
                "seals: HMAC-SHA256 seal checked on every record that verifies, with the key in ${var}"
            ),
            None if s.sealed > 0 => format!(
                "seals: {} records carry HMAC-SHA256 seals that could NOT be checked: no key is set (looked for ${}); without it, only the chain is checked",
                s.sealed,
                s.looked_for.join(", $")
            ),
            None => "seals: none (the plan names no journal key): the chain shows edits, inserts and reorders, but whoever can write the file could rebuild it whole".to_string(),
        }
    }
}

//! The flight recorder's file format: what a rollout's engine was given,
//! and when.
//!
//! A recording is JSON lines. The first line is a [`Header`] (the whole
//! plan, so a recording replays without its config file); every later line
//! is an [`Entry`]: one [`Input`] the driver handed the engine, at the
//! time it handed it, with the metric's verdict after a sample. The engine
//! is pure, so feeding the entries to a fresh engine under the header's
//! plan gives back every state the cockpit showed (replay), and feeding the
//! samples under another plan says what that plan would have done
//! (backtest).
//!
//! While the rollout runs the file is `<journal stem>.rec.jsonl.live` beside the
//! journal, appended to; when it ends it is gzipped to
//! `<journal stem>.rec.jsonl.gz` and the journal's last record carries the
//! compressed file's SHA-256. [`read`] takes either.
//!
//! This module is pure: it parses and prints lines; opening files is the
//! caller's (see [`super::open`]).

use serde::{Deserialize, Serialize};

use crate::engine::Timestamp;
use crate::engine::types::{Cohort, Input, Reading, Verdict};
use crate::plan::Plan;

/// The format's version, in every header. A reader refuses another.
pub const FORMAT: u32 = 1;

/// The longest line a reader accepts (a sample's warnings and a command's
/// reason are bounded well below it).
pub const MAX_LINE: usize = 64 * 1024;

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub recording: u32,
    pub rollout_id: String,
    /// The plan the engine ran (after the config's defaults were applied).
    pub plan: Plan,
    /// [`crate::engine::decision::plan_hash`] of `plan`, as journaled.
    pub plan_hash: String,
    /// When the recording began.
    pub started: Timestamp,
}

/// One input the engine was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When the driver handed it over (engine time, ms since the epoch).
    pub t: Timestamp,
    pub input: Input,
    /// After a sample: the metric's gate verdict once the engine had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

impl Entry {
    /// The sample this entry carries, if it is one.
    pub fn sample(&self) -> Option<(&str, Cohort, &Reading)> {
        match &self.input {
            Input::Sample {
                metric,
                cohort,
                reading,
            } => Some((metric.as_str(), *cohort, reading)),
            _ => None,
        }
    }
}

/// A whole recording in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub header: Header,
    pub entries: Vec<Entry>,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("the recording is empty: it has no header line")]
    Empty,
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("line {line} is longer than {MAX_LINE} bytes")]
    TooLong { line: usize },
    #[error(
        "this recording is format {found}; this rampdeck reads format {FORMAT} (use the rampdeck that wrote it)"
    )]
    Version { found: u32 },
    #[error(
        "the recording holds more than {} MiB (the recorder stops at less): it is not a rampdeck recording, or it was appended to",
        max >> 20
    )]
    TooBig { max: u64 },
    #[error("reading the recording: {0}")]
    Io(#[from] std::io::Error),
}

/// The header's line (no newline).
pub fn header_line(h: &Header) -> String {
    serde_json::to_string(h).unwrap_or_default()
}

/// An entry's line (no newline).
pub fn entry_line(e: &Entry) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

/// Parse the header line.
pub fn parse_header(line: &str) -> Result<Header, FormatError> {
    if line.len() > MAX_LINE {
        return Err(FormatError::TooLong { line: 1 });
    }
    let h: Header = serde_json::from_str(line).map_err(|e| FormatError::Line {
        line: 1,
        message: format!("not a recording header: {e}"),
    })?;
    if h.recording != FORMAT {
        return Err(FormatError::Version { found: h.recording });
    }
    Ok(h)
}

/// Parse entry line number `line` (1-based, for the error).
pub fn parse_entry(text: &str, line: usize) -> Result<Entry, FormatError> {
    if text.len() > MAX_LINE {
        return Err(FormatError::TooLong { line });
    }
    serde_json::from_str(text).map_err(|e| FormatError::Line {
        line,
        message: e.to_string(),
    })
}

/// Line number `line` (1-based, for the error) of at most [`MAX_LINE`]
/// bytes into `buf`, without its newline; `None` at the end. Never reads
/// more than a line's limit past the line's start, so an endless line costs
/// [`MAX_LINE`] bytes, not memory up to the file's size. The flag says the
/// line ended with a newline (a last line without one may have been cut by
/// a crash).
pub fn next_line(
    reader: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
    line: usize,
) -> Result<Option<bool>, FormatError> {
    use std::io::{BufRead as _, Read as _};
    buf.clear();
    let limit = MAX_LINE as u64 + 1;
    reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    let whole = buf.last() == Some(&b'\n');
    if whole {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        return Err(FormatError::TooLong { line });
    }
    Ok(Some(whole))
}

/// Read a whole recording from its lines. A last line cut short by a crash
/// (no newline, not JSON) is dropped: the recording ends where the crash
/// cut it. Any other bad line is an error.
pub fn read(mut reader: impl std::io::BufRead) -> Result<Recording, FormatError> {
    let mut buf = Vec::new();
    if next_line(&mut reader, &mut buf, 1)?.is_none() {
        return Err(FormatError::Empty);
    }
    let header = parse_header(&String::from_utf8_lossy(&buf))?;
    let mut entries = Vec::new();
    let mut line = 1;
    loop {
        line += 1;
        let Some(whole) = next_line(&mut reader, &mut buf, line)? else {
            break;
        };
        if buf.is_empty() {
            continue;
        }
        match parse_entry(&String::from_utf8_lossy(&buf), line) {
            Ok(e) => entries.push(e),
            Err(_) if !whole => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Recording { header, entries })
}

/// Write a whole recording as lines (for tests, fixtures and backtests of
/// simulated rollouts; the driver appends line by line).
pub fn write(rec: &Recording, mut out: impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{}", header_line(&rec.header))?;
    for e in &rec.entries {
        writeln!(out, "{}", entry_line(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::types::Actor;

    fn rec() -> Recording {
        let plan = crate::tui::fixtures::plan();
        Recording {
            header: Header {
                recording: FORMAT,
                rollout_id: "checkout-1".into(),
                plan_hash: crate::engine::decision::plan_hash(&plan),
                plan,
                started: Timestamp(1_000),
            },
            entries: vec![
                Entry {
                    t: Timestamp(1_000),
                    input: Input::Start {
                        actor: Actor::named("ana"),
                    },
                    verdict: None,
                },
                Entry {
                    t: Timestamp(2_000),
                    input: Input::Sample {
                        metric: "error_rate".into(),
                        cohort: Cohort::Canary,
                        reading: Reading::Value {
                            value: 0.5,
                            degraded: false,
                            warnings: vec![],
                        },
                    },
                    verdict: Some(Verdict::Pass),
                },
                Entry {
                    t: Timestamp(3_000),
                    input: Input::Tick,
                    verdict: None,
                },
            ],
        }
    }

    #[test]
    fn a_recording_reads_back_as_written() {
        let r = rec();
        let mut buf = Vec::new();
        write(&r, &mut buf).expect("write");
        let back = read(&buf[..]).expect("read");
        assert_eq!(back, r);
        assert_eq!(back.entries[1].sample().map(|s| s.0), Some("error_rate"));
    }

    #[test]
    fn a_last_line_cut_by_a_crash_is_dropped_but_a_bad_middle_line_is_an_error() {
        let r = rec();
        let mut buf = Vec::new();
        write(&r, &mut buf).expect("write");
        let mut cut = buf.clone();
        cut.extend_from_slice(b"{\"t\":4000,\"inp");
        assert_eq!(read(&cut[..]).expect("read").entries.len(), 3);

        let text = String::from_utf8(buf).expect("utf8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(2, "not json");
        let bad = lines.join("\n");
        let err = read(bad.as_bytes()).expect_err("bad line");
        assert!(err.to_string().starts_with("line 3:"), "{err}");
    }

    /// Counts the bytes read through it.
    struct Counting<R> {
        inner: R,
        read: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl<R: std::io::Read> std::io::Read for Counting<R> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(out)?;
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn an_endless_line_is_refused_after_a_line_s_limit_not_read_whole() {
        use std::io::Read as _;
        for header_too in [false, true] {
            let mut start = Vec::new();
            if !header_too {
                write(&rec(), &mut start).expect("write");
            }
            let endless = start.chain(std::io::repeat(b'x').take(64 * MAX_LINE as u64));
            let read_so_far = std::rc::Rc::new(std::cell::Cell::new(0));
            let counting = Counting {
                inner: endless,
                read: read_so_far.clone(),
            };
            let err = read(std::io::BufReader::new(counting)).expect_err("endless line");
            assert!(matches!(err, FormatError::TooLong { .. }), "{err}");
            assert!(
                read_so_far.get() < 3 * MAX_LINE,
                "{} bytes read to refuse a line",
                read_so_far.get()
            );
        }
    }

    #[test]
    fn another_format_version_is_refused_with_what_to_do() {
        let mut r = rec();
        r.header.recording = 9;
        let mut buf = Vec::new();
        write(&r, &mut buf).expect("write");
        let err = read(&buf[..]).expect_err("version");
        assert!(err.to_string().contains("format 9"), "{err}");
        assert!(matches!(read(&b""[..]), Err(FormatError::Empty)));
    }
}

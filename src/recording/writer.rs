//! The flight recorder's writer: the driver hands it every input it gave
//! the engine, and it appends them to `<journal stem>.rec.jsonl.live`.
//!
//! Writes are buffered: the file is flushed at most once a second while
//! only samples and ticks come, and at once after any other input (a
//! command, a hook result), so a crash loses at most a second of samples
//! and no decision's input. No fsync per line: the journal is the record
//! that must survive; the recording is evidence beside it, and the journal's
//! last record carries the sealed file's SHA-256.
//!
//! A recorder never stops the rollout: an I/O error or the size cap
//! ([`MAX_BYTES`]) stops the recording, and [`Recorder::take_stop`] says
//! why, once, for the driver to warn and journal.
//!
//! When the rollout ends, [`Recorder::seal`] gzips the file to
//! `<journal stem>.rec.jsonl.gz`, fsyncs it, removes the live file and
//! returns what the final record says of it ([`Sealed`]).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::format::{self, Entry, Header};
use super::{finished_path, live_path};
use crate::engine::{Input, Timestamp};

/// The most a live recording may grow to: 512 MiB. A 6 h rollout with 8
/// metrics × 2 cohorts polled every second, ticks included, is about
/// 60 MB (BENCHMARKS.md, "Flight recorder and backtest"): the cap holds
/// it eight times over, and bounds the disk a runaway source can fill.
pub const MAX_BYTES: u64 = 512 << 20;

/// While only samples and ticks come, flush at most this often.
const FLUSH_EVERY_MS: i64 = 1000;

/// The write buffer.
const BUFFER: usize = 64 << 10;

/// What the journal's last record says of the sealed recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The .gz's file name, beside the journal.
    pub file: String,
    /// SHA-256 of the .gz's bytes, hex.
    pub sha256: String,
    /// The .gz's size.
    pub bytes: u64,
    /// Entries in the recording (the header not counted).
    pub entries: u64,
    /// The recording stopped early (see `recording_incomplete`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// The recording of one rollout, while it runs.
pub struct Recorder {
    journal: PathBuf,
    out: Option<BufWriter<File>>,
    bytes: u64,
    entries: u64,
    last_flush: Timestamp,
    /// Why the recording stopped, once it did.
    stopped: Option<String>,
    /// The stop was handed to the driver.
    stop_said: bool,
    sealed: bool,
    line: Vec<u8>,
}

impl Recorder {
    /// The recording of the rollout journaled at `journal`: a new file
    /// with `header` for a new rollout; on a resume, the live file it left
    /// (its last line cut by a crash dropped), or the sealed one reopened
    /// when the crash came after sealing, or a new one if neither exists.
    /// Never fails: a recorder that cannot record says why through
    /// [`Recorder::take_stop`].
    pub fn start(journal: &Path, header: &Header, resuming: bool) -> Recorder {
        let mut r = Recorder {
            journal: journal.to_path_buf(),
            out: None,
            bytes: 0,
            entries: 0,
            last_flush: header.started,
            stopped: None,
            stop_said: false,
            sealed: false,
            line: Vec::with_capacity(512),
        };
        let opened = if resuming {
            r.reopen(header)
        } else {
            r.create(header)
        };
        if let Err(e) = opened {
            r.stopped = Some(format!(
                "could not open the recording {}: {e}",
                live_path(journal).display()
            ));
        }
        r
    }

    fn create(&mut self, header: &Header) -> std::io::Result<()> {
        let path = live_path(&self.journal);
        let file = File::create(&path)?;
        let mut out = BufWriter::with_capacity(BUFFER, file);
        let line = format::header_line(header);
        writeln!(out, "{line}")?;
        out.flush()?;
        self.bytes = line.len() as u64 + 1;
        self.out = Some(out);
        Ok(())
    }

    fn reopen(&mut self, header: &Header) -> std::io::Result<()> {
        let path = live_path(&self.journal);
        let done = finished_path(&self.journal);
        if !path.exists() && done.exists() {
            // Sealed, then the driver died before `rollout_ended`: carry on
            // with what was sealed.
            let mut gz = flate2::read::GzDecoder::new(File::open(&done)?);
            let mut live = File::create(&path)?;
            std::io::copy(&mut gz, &mut live)?;
            live.sync_all()?;
        }
        if !path.exists() {
            return self.create(header);
        }
        let (complete, entries) = complete_lines(&path, &header.rollout_id)?;
        let mut file = OpenOptions::new().write(true).open(&path)?;
        // A line cut short by the crash goes: the next entry starts clean.
        file.set_len(complete)?;
        file.seek(SeekFrom::End(0))?;
        self.bytes = complete;
        self.entries = entries;
        self.out = Some(BufWriter::with_capacity(BUFFER, file));
        Ok(())
    }

    /// Appends one entry. Never fails: a problem stops the recording.
    pub fn record(&mut self, entry: &Entry) {
        if self.sealed || self.stopped.is_some() {
            return;
        }
        let Some(out) = self.out.as_mut() else {
            return;
        };
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, entry) {
            self.stop(format!("an input could not be written: {e}"));
            return;
        }
        self.line.push(b'\n');
        let len = self.line.len() as u64;
        if self.bytes + len > MAX_BYTES {
            self.stop(format!(
                "the recording reached its size cap of {} MiB",
                MAX_BYTES >> 20
            ));
            return;
        }
        if let Err(e) = out.write_all(&self.line) {
            self.stop(format!("writing the recording failed: {e}"));
            return;
        }
        self.bytes += len;
        self.entries += 1;
        let routine = matches!(entry.input, Input::Sample { .. } | Input::Tick);
        if !routine || entry.t.0 - self.last_flush.0 >= FLUSH_EVERY_MS {
            self.flush(entry.t);
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self, now: Timestamp) {
        self.last_flush = now;
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.flush()
        {
            self.stop(format!("writing the recording failed: {e}"));
        }
    }

    fn stop(&mut self, why: String) {
        if let Some(out) = self.out.as_mut() {
            // What was recorded up to here stays readable.
            let _ = out.flush();
        }
        self.out = None;
        self.stopped = Some(why);
    }

    /// Why the recording stopped, the first time it is asked after it did.
    pub fn take_stop(&mut self) -> Option<String> {
        if self.stop_said {
            return None;
        }
        let why = self.stopped.clone()?;
        self.stop_said = true;
        Some(why)
    }

    /// Entries recorded so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Flush, gzip the live file to [`finished_path`], fsync it, remove
    /// the live file. `Ok(None)` when there is nothing to seal (it never
    /// opened, or was sealed already).
    pub fn seal(&mut self) -> std::io::Result<Option<Sealed>> {
        if self.sealed {
            return Ok(None);
        }
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        let live = live_path(&self.journal);
        if self.bytes == 0 || !live.exists() {
            return Ok(None);
        }
        let done = finished_path(&self.journal);
        let (sha256, bytes) = gzip(&live, &done)?;
        std::fs::remove_file(&live)?;
        self.sealed = true;
        let file = done
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Some(Sealed {
            file,
            sha256,
            bytes,
            entries: self.entries,
            incomplete: self.stopped.is_some(),
        }))
    }
}

/// The byte length of `path`'s complete lines (each entry ends with a
/// newline; a last one without it was cut by a crash) and how many
/// entries they hold. Refuses a recording of another rollout.
fn complete_lines(path: &Path, rollout_id: &str) -> std::io::Result<(u64, u64)> {
    let mut reader = BufReader::with_capacity(BUFFER, File::open(path)?);
    let mut line = Vec::new();
    let (mut complete, mut lines) = (0u64, 0u64);
    loop {
        // At most a line's limit at a time: a garbage or endless line is
        // refused, not read whole into memory.
        let whole = format::next_line(&mut reader, &mut line, lines as usize + 1)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if whole != Some(true) {
            break;
        }
        let n = line.len() + 1;
        if lines == 0 {
            let text = String::from_utf8_lossy(&line);
            let h =
                format::parse_header(&text).map_err(|e| std::io::Error::other(e.to_string()))?;
            if h.rollout_id != rollout_id {
                return Err(std::io::Error::other(format!(
                    "it holds rollout {}, not {rollout_id}",
                    h.rollout_id
                )));
            }
        }
        complete += n as u64;
        lines += 1;
    }
    if lines == 0 {
        return Err(std::io::Error::other("it has no complete header line"));
    }
    Ok((complete, lines - 1))
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Gzips `from` to `to` (fsynced, and its directory), returning the .gz's
/// SHA-256 and size.
fn gzip(from: &Path, to: &Path) -> std::io::Result<(String, u64)> {
    let mut input = BufReader::with_capacity(BUFFER, File::open(from)?);
    let out = Hashing {
        inner: BufWriter::with_capacity(BUFFER, File::create(to)?),
        hash: Sha256::new(),
        bytes: 0,
    };
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    std::io::copy(&mut input, &mut gz)?;
    let mut out = gz.finish()?;
    out.flush()?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    file.sync_all()?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name survives a power cut too.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok((hex::encode(out.hash.finalize()), out.bytes))
}

/// SHA-256 of a file's bytes, hex, and its size (for `verify`).
pub fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut h = Hashing {
        inner: std::io::sink(),
        hash: Sha256::new(),
        bytes: 0,
    };
    std::io::copy(&mut file, &mut h)?;
    Ok((hex::encode(h.hash.finalize()), h.bytes))
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;

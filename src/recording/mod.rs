//! The flight recorder: every input a rollout's engine was given, beside
//! its journal (see [`format`] for the file and why it holds inputs).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

pub mod backtest;
pub mod format;
pub mod player;
pub mod writer;

pub use format::{Entry, FormatError, Header, Recording};
pub use writer::{Recorder, Sealed};

/// The recording of the rollout journaled at `journal`, while it runs:
/// `checkout-1.jsonl` → `checkout-1.rec.jsonl.live`. Not `.jsonl` at the
/// end: whatever looks for journals in the directory (`*.jsonl`) must not
/// take a recording for one.
pub fn live_path(journal: &Path) -> PathBuf {
    journal.with_extension("rec.jsonl.live")
}

/// The same, once the rollout ended and it was compressed.
pub fn finished_path(journal: &Path) -> PathBuf {
    journal.with_extension("rec.jsonl.gz")
}

/// The most a recording may hold once decompressed: the recorder's size
/// cap and a line to spare. A file (or a .gz that inflates) past it is
/// refused rather than read into memory.
pub const MAX_READ: u64 = writer::MAX_BYTES + format::MAX_LINE as u64;

/// Read the recording at `path`, gzipped (`.gz`) or not, refusing one that
/// holds more than [`MAX_READ`] bytes.
pub fn open(path: &Path) -> Result<Recording, FormatError> {
    use std::io::Read;
    let file = File::open(path)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let inner: Box<dyn std::io::Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(1 << 16, inner.take(MAX_READ + 1));
    let rec = format::read(&mut reader)?;
    if reader.get_ref().limit() == 0 {
        return Err(FormatError::TooBig { max: MAX_READ });
    }
    Ok(rec)
}

/// The recording file of the rollout journaled at `journal`: the finished
/// one if there is one, else the live one; `None` when neither is a file.
/// The one place that says where a journal's recording is (replay,
/// summary's charts, backtest by journal).
pub fn recording_of(journal: &Path) -> Option<PathBuf> {
    [finished_path(journal), live_path(journal)]
        .into_iter()
        .find(|p| p.is_file())
}

/// The recording of the rollout journaled at `journal` (see
/// [`recording_of`]), read.
pub fn open_for_journal(journal: &Path) -> Result<(PathBuf, Recording), FormatError> {
    let path = recording_of(journal).unwrap_or_else(|| finished_path(journal));
    let rec = open(&path)?;
    Ok((path, rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_sit_beside_their_journal() {
        let j = Path::new("/var/rampdeck/checkout-1.jsonl");
        assert_eq!(
            live_path(j),
            Path::new("/var/rampdeck/checkout-1.rec.jsonl.live")
        );
        assert_eq!(
            finished_path(j),
            Path::new("/var/rampdeck/checkout-1.rec.jsonl.gz")
        );
    }

    #[test]
    fn a_journal_s_recording_is_a_file_finished_first_then_live() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = dir.path().join("r-1.jsonl");
        assert_eq!(recording_of(&j), None);
        std::fs::write(live_path(&j), b"x").expect("write");
        // A directory where the sealed file would be is no recording.
        std::fs::create_dir(finished_path(&j)).expect("mkdir");
        assert_eq!(recording_of(&j), Some(live_path(&j)));
        std::fs::remove_dir(finished_path(&j)).expect("rmdir");
        std::fs::write(finished_path(&j), b"x").expect("write");
        assert_eq!(recording_of(&j), Some(finished_path(&j)));
    }
}

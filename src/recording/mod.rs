//! The flight recorder: every input a rollout's engine was given, beside
//! its journal (see [`format`] for the file and why it holds inputs).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

pub mod backtest;
pub mod format;
pub mod writer;

pub use format::{Entry, FormatError, Header, Recording};
pub use writer::{Recorder, Sealed};

/// The recording of the rollout journaled at `journal`, while it runs:
/// `checkout-1.jsonl` → `checkout-1.rec.jsonl`.
pub fn live_path(journal: &Path) -> PathBuf {
    journal.with_extension("rec.jsonl")
}

/// The same, once the rollout ended and it was compressed.
pub fn finished_path(journal: &Path) -> PathBuf {
    journal.with_extension("rec.jsonl.gz")
}

/// Read the recording at `path`, gzipped (`.gz`) or not.
pub fn open(path: &Path) -> Result<Recording, FormatError> {
    let file = File::open(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        format::read(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        format::read(BufReader::new(file))
    }
}

/// The recording of the rollout journaled at `journal`: the finished one
/// if there is one, else the live one.
pub fn open_for_journal(journal: &Path) -> Result<(PathBuf, Recording), FormatError> {
    let done = finished_path(journal);
    let path = if done.exists() {
        done
    } else {
        live_path(journal)
    };
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
            Path::new("/var/rampdeck/checkout-1.rec.jsonl")
        );
        assert_eq!(
            finished_path(j),
            Path::new("/var/rampdeck/checkout-1.rec.jsonl.gz")
        );
    }
}

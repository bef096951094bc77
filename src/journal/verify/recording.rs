//! `rampdeck verify` checks the flight recording too: the journal's
//! `rollout_ended` record names the sealed recording beside it and its
//! SHA-256 (see [`crate::recording::Sealed`]), so the hash chain covers
//! the recording; a missing or changed file fails verify.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::journal::record::Record;
use crate::recording::Sealed;
use crate::recording::writer::sha256_of;

/// What `verify` found of the recording its journal names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordingCheck {
    /// The journal is not closed yet: its recording is sealed at the end.
    Open,
    /// The final record names no recording (a journal written before the
    /// flight recorder, or a recorder that could not open its file).
    None,
    /// The file's SHA-256 is the one the final record carries.
    Holds {
        file: PathBuf,
        entries: u64,
        bytes: u64,
        incomplete: bool,
    },
    /// No such file beside the journal.
    Missing { file: PathBuf },
    /// The file is not the one that was sealed.
    Mismatch {
        file: PathBuf,
        expected: String,
        found: String,
    },
    /// The final record's `recording` is not a sealed recording's, or the
    /// file cannot be read.
    Bad { file: Option<PathBuf>, why: String },
}

impl RecordingCheck {
    /// The recording fails verify.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            RecordingCheck::Missing { .. }
                | RecordingCheck::Mismatch { .. }
                | RecordingCheck::Bad { .. }
        )
    }

    /// The line `verify` prints.
    pub fn line(&self) -> String {
        match self {
            RecordingCheck::Open => {
                "recording: not checked: the journal is open; its recording is sealed into the last record when the rollout ends".into()
            }
            RecordingCheck::None => {
                "recording: none: the rollout_ended record names no flight recording (a journal from before the recorder, or a recorder that could not open its file); nothing to check".into()
            }
            RecordingCheck::Holds {
                file,
                entries,
                bytes,
                incomplete,
            } => format!(
                "recording: {}: OK: its SHA-256 is the one in the rollout_ended record ({entries} entries, {bytes} bytes){}",
                file.display(),
                if *incomplete {
                    "; it is incomplete: the recorder stopped early (see the recording_incomplete record)"
                } else {
                    ""
                }
            ),
            RecordingCheck::Missing { file } => format!(
                "RECORDING MISSING: the rollout_ended record names {}, but there is no such file beside the journal. Copy the recording back beside the journal from where the journal came from (it travels with it); without it the recorded series cannot be checked or replayed",
                file.display()
            ),
            RecordingCheck::Mismatch {
                file,
                expected,
                found,
            } => format!(
                "RECORDING MISMATCH: {} has SHA-256 {found}, but the rollout_ended record says {expected}: the recording was changed or replaced after the rollout ended and is not evidence. Restore the original file (from a backup or the host that ran the rollout)",
                file.display()
            ),
            RecordingCheck::Bad { file, why } => format!(
                "RECORDING UNCHECKABLE{}: {why}",
                file.as_ref()
                    .map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default()
            ),
        }
    }
}

/// Checks the recording that `last` (the journal's last verified record)
/// names, beside `journal`.
pub fn check(journal: &Path, last: Option<&Record>) -> RecordingCheck {
    let Some(last) = last.filter(|r| r.decision.action == crate::journal::writer::ROLLOUT_ENDED)
    else {
        return RecordingCheck::Open;
    };
    let value = match last.decision.detail.get("recording") {
        None | Some(serde_json::Value::Null) => return RecordingCheck::None,
        Some(v) => v,
    };
    let sealed: Sealed = match serde_json::from_value(value.clone()) {
        Ok(s) => s,
        Err(e) => {
            return RecordingCheck::Bad {
                file: None,
                why: format!(
                    "the rollout_ended record's `recording` is not a sealed recording: {e}"
                ),
            };
        }
    };
    // Only a file beside the journal: a name with a path in it could make
    // verify read anywhere.
    let plain = Path::new(&sealed.file);
    if sealed.file.is_empty() || plain.components().count() != 1 || plain.file_name().is_none() {
        return RecordingCheck::Bad {
            file: None,
            why: format!(
                "the rollout_ended record names {:?}, not a file beside the journal",
                sealed.file
            ),
        };
    }
    // The file replay, summary and backtest read (`<journal>.rec.jsonl.gz`)
    // when there is one: a journal copied under another name travels with
    // its recording renamed alike, and whatever lies under the journal's
    // own name is what a reader is shown, so it is the one to check.
    let own = crate::recording::finished_path(journal);
    let file = if own.exists() {
        own
    } else {
        journal
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(&sealed.file)
    };
    if !file.exists() {
        return RecordingCheck::Missing { file };
    }
    match sha256_of(&file) {
        Ok((found, _)) if found != sealed.sha256 => RecordingCheck::Mismatch {
            file,
            expected: sealed.sha256,
            found,
        },
        Ok((_, bytes)) => RecordingCheck::Holds {
            file,
            entries: sealed.entries,
            bytes,
            incomplete: sealed.incomplete,
        },
        Err(e) => RecordingCheck::Bad {
            why: format!("it cannot be read: {e}"),
            file: Some(file),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Actor, Decision, DecisionKind, PhaseKind, Timestamp};

    fn ended(detail: serde_json::Value) -> Record {
        Record {
            seq: 9,
            ts: Timestamp(1_000),
            rollout: "r-1".into(),
            decision: Decision {
                action: DecisionKind::RolloutEnded,
                actor: Actor::system(),
                reason: "over".into(),
                step: None,
                weight: 0,
                phase: PhaseKind::Promoted,
                gates: vec![],
                hook: None,
                detail,
                at: None,
            },
            prev: String::new(),
            hmac: None,
            hash: String::new(),
        }
    }

    #[test]
    fn a_recording_named_with_a_path_is_not_read() {
        let j = Path::new("/tmp/none/r-1.jsonl");
        for file in ["../../etc/passwd", "/etc/passwd", "a/b.gz", ""] {
            let r = ended(serde_json::json!({ "recording": {
                "file": file, "sha256": "00", "bytes": 1, "entries": 1 } }));
            let got = check(j, Some(&r));
            assert!(
                matches!(&got, RecordingCheck::Bad { file: None, why } if why.contains("not a file beside the journal")),
                "{file}: {got:?}"
            );
            assert!(got.fails());
        }
    }

    #[test]
    fn the_recording_readers_are_shown_is_the_one_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("r-1.rec.jsonl.gz"), b"sealed").expect("write");
        let (sha, _) = sha256_of(&dir.path().join("r-1.rec.jsonl.gz")).expect("sha");
        let r = ended(serde_json::json!({ "recording": {
            "file": "r-1.rec.jsonl.gz", "sha256": sha, "bytes": 6, "entries": 1 } }));
        // The journal copied as copy.jsonl with its recording renamed alike.
        std::fs::write(dir.path().join("copy.rec.jsonl.gz"), b"sealed").expect("write");
        let copy = dir.path().join("copy.jsonl");
        assert!(
            matches!(check(&copy, Some(&r)), RecordingCheck::Holds { file, .. } if file.ends_with("copy.rec.jsonl.gz"))
        );
        // What replay would show under the copy's name is not what was sealed.
        std::fs::write(dir.path().join("copy.rec.jsonl.gz"), b"other").expect("write");
        let got = check(&copy, Some(&r));
        assert!(
            matches!(&got, RecordingCheck::Mismatch { file, .. } if file.ends_with("copy.rec.jsonl.gz")),
            "{got:?}"
        );
        // No file under the copy's name: the sealed name beside it.
        std::fs::remove_file(dir.path().join("copy.rec.jsonl.gz")).expect("rm");
        assert!(
            matches!(check(&copy, Some(&r)), RecordingCheck::Holds { file, .. } if file.ends_with("r-1.rec.jsonl.gz"))
        );
    }

    #[test]
    fn no_recording_passes_an_open_journal_is_not_checked_and_a_missing_one_fails() {
        let j = Path::new("/tmp/rampdeck-no-such-dir/r-1.jsonl");
        let none = check(
            j,
            Some(&ended(serde_json::json!({ "outcome": "promoted" }))),
        );
        assert_eq!(none, RecordingCheck::None);
        assert!(!none.fails());
        assert_eq!(check(j, None), RecordingCheck::Open);
        let r = ended(serde_json::json!({ "recording": {
            "file": "r-1.rec.jsonl.gz", "sha256": "00", "bytes": 1, "entries": 1 } }));
        let missing = check(j, Some(&r));
        assert!(missing.fails());
        assert!(
            missing
                .line()
                .contains("/tmp/rampdeck-no-such-dir/r-1.rec.jsonl.gz")
        );
    }
}

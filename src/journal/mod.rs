//! The audit journal: append-only JSONL, one record per engine
//! [`Decision`](crate::engine::Decision), each carrying the SHA-256 of the
//! previous record (a hash chain), written and fsynced before the
//! decision's hook runs.
//!
//! - [`JournalWriter`] creates, reopens (repairing a torn last line) and
//!   appends.
//! - [`verify`] / [`verify_cli`] check the chain (`rampdeck verify`).
//! - [`read_records`] reads records back for the summary and for views
//!   that attach late.
//! - [`summarize`], [`render_markdown`], [`render_json`], [`summary_cli`]
//!   and [`write_summary_next_to`] make the post-deploy summary.
//!
//! The line format is described in [`record`].

use std::path::{Path, PathBuf};

mod blame;
pub mod charts;
mod check;
mod checklist;
mod damaged;
pub mod escape;
pub mod history;
pub mod phases;
pub mod record;
pub mod redact;
pub mod render;
mod render_phases;
pub mod summary;
pub mod verify;
pub mod writer;

pub use record::{GENESIS, MIN_KEY_BYTES, Record, SealKey, format_ts, parse_ts};
pub use redact::Redactor;
pub use render::{render_json, render_markdown, summary_cli, write_summary_next_to};
pub use summary::{CheckState, Summary, summarize};
pub use verify::{
    DEFAULT_KEY_ENV, HeadCheck, MIN_HEAD_PREFIX, Problem, ProblemKind, Seals, VerifyError,
    VerifyOptions, VerifyReport, verify, verify_cli, verify_opts, verify_with,
};
pub use writer::{
    JournalOptions, JournalWriter, ROLLOUT_ENDED, Records, Recovery, read_records, records,
};

/// The longest journal line a reader takes in: far above any record
/// rampdeck writes (reasons are at most 4 KiB, hook output is bounded, the
/// plan on `rollout_started` is a config file's worth), so a longer line is
/// damage or a hostile file, refused once this much is read rather than
/// read whole.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Everything that can go wrong with a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not {action} journal {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal {} already holds {bytes} bytes; rampdeck never overwrites a journal. \
         Continue it by reopening it, or choose another rollout id or journal directory",
        path.display()
    )]
    Exists { path: PathBuf, bytes: u64 },
    #[error(
        "journal {} holds no complete record, so there is nothing to continue; \
         start the rollout again (an empty journal file is reused)",
        path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "journal {} is locked by another process ({why}); is another rampdeck driving this rollout?",
        path.display()
    )]
    Locked { path: PathBuf, why: String },
    #[error(
        "refusing to continue a broken journal: {}. Keep the file as evidence \
         (`rampdeck verify` shows the problem) and start a new journal",
        report.one_line()
    )]
    Broken { report: Box<VerifyReport> },
    #[error(
        "journal {}: an earlier write failed and may have left a partial line; \
         reopen the journal (it repairs a torn last line) before appending again",
        path.display()
    )]
    Poisoned { path: PathBuf },
    #[error("could not encode journal record seq {seq}: {source}")]
    Encode {
        seq: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("journal {} line {line} is not a journal record: {why}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("a journal needs a rollout id; the plan gives none and none was generated")]
    EmptyRolloutId,
    #[error(
        "journal {} is closed: its rollout ended at seq {seq} (`rollout_ended`), and nothing \
         may follow that record",
        path.display()
    )]
    Closed { path: PathBuf, seq: u64 },
    #[error(
        "the plan's [journal] key_env names ${var}, which {why}: export the journal key in it \
         (at least 16 bytes, e.g. from `openssl rand -hex 32`), or remove key_env to run \
         without seals"
    )]
    Key { var: String, why: String },
}

impl JournalError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        JournalError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

//! The thin reader behind `rampdeck history` and the cockpit's prior
//! rollbacks: lists the journals (`*.jsonl`, not the flight recordings
//! `*.rec.jsonl`, nor anything compressed) of some directories, newest file
//! first, and turns each into an [`Entry`] with [`entry_of`]. Bounded: a
//! journal over [`ReadOptions::max_bytes`] is skipped and listed as
//! unreadable, at most [`ReadOptions::max_journals`] files are read, and a
//! deadline can stop the reading early (said in `cut_short`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::{Entry, History, Unreadable, entry_of};
use crate::journal::summary::Keeper;
use crate::journal::verify::{ProblemKind, verify_with};

/// Entries of one directory looked at, at most: a directory with more is
/// not a journal directory.
const MAX_DIR_ENTRIES: usize = 200_000;

/// How much `history` reads.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// A journal larger than this is skipped (listed as unreadable).
    pub max_bytes: u64,
    /// Journal files read at most, newest first.
    pub max_journals: usize,
    /// Only this service's rollouts.
    pub service: Option<String>,
    /// Keep at most this many entries (after the service filter).
    pub max_entries: usize,
    /// Leave out this rollout (the one running now).
    pub except_rollout: Option<String>,
    /// Stop reading after this long.
    pub time_limit: Option<Duration>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: 64 << 20,
            max_journals: 100_000,
            service: None,
            max_entries: usize::MAX,
            except_rollout: None,
            time_limit: None,
        }
    }
}

/// Whether a file name is a journal's: `*.jsonl` but not a flight
/// recording (`*.rec.jsonl`); compressed files end otherwise.
pub fn is_journal_name(name: &str) -> bool {
    name.ends_with(".jsonl") && !name.ends_with(".rec.jsonl") && !name.starts_with('.')
}

/// The journal files of `dirs`, newest (last modified) first. A directory
/// that does not exist holds none; one that cannot be read is said.
fn journal_files(dirs: &[PathBuf], unreadable: &mut Vec<Unreadable>) -> Vec<(PathBuf, u64)> {
    let mut files: Vec<(SystemTime, PathBuf, u64)> = Vec::new();
    for dir in dirs {
        let listing = match std::fs::read_dir(dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                unreadable.push(Unreadable {
                    journal: dir.display().to_string(),
                    why: format!("cannot list the directory: {e}"),
                });
                continue;
            }
        };
        for entry in listing.take(MAX_DIR_ENTRIES).flatten() {
            let name = entry.file_name();
            if !name.to_str().is_some_and(is_journal_name) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((modified, entry.path(), meta.len()));
        }
    }
    files.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    files.dedup_by(|a, b| a.1 == b.1);
    files.into_iter().map(|(_, p, len)| (p, len)).collect()
}

/// One journal, read and verified in one pass.
fn read_one(path: &Path, len: u64, max_bytes: u64) -> Result<Entry, String> {
    if len > max_bytes {
        return Err(format!(
            "{len} bytes, over the {max_bytes}-byte limit of `history` (check it with `rampdeck verify`)"
        ));
    }
    let mut keeper = Keeper::default();
    let report = verify_with(path, &mut |r| keeper.push(r.clone())).map_err(|e| e.to_string())?;
    let (records, _) = keeper.finish();
    if records.is_empty() {
        return Err(match &report.problem {
            Some(p) if p.kind == ProblemKind::Malformed => {
                format!("line {} is not a journal record", p.line)
            }
            Some(p) => format!("no record verifies: {p}"),
            None => "empty: no records yet".into(),
        });
    }
    Ok(entry_of(&records, &report))
}

/// Past rollouts from the journals of `dirs`, newest first.
pub fn read_dirs(dirs: &[PathBuf], opts: &ReadOptions) -> History {
    let started = Instant::now();
    let mut history = History::default();
    let files = journal_files(dirs, &mut history.unreadable);
    let total = files.len();
    for (n, (path, len)) in files.into_iter().enumerate() {
        if n >= opts.max_journals {
            history.cut_short = Some(format!(
                "read the newest {} of {total} journals",
                opts.max_journals
            ));
            break;
        }
        if history.entries.len() >= opts.max_entries {
            break;
        }
        if opts.time_limit.is_some_and(|t| started.elapsed() > t) {
            history.cut_short = Some(format!(
                "stopped after {n} of {total} journals (time limit)"
            ));
            break;
        }
        match read_one(&path, len, opts.max_bytes) {
            Ok(e) => {
                let service_ok = opts
                    .service
                    .as_ref()
                    .is_none_or(|s| e.service.as_ref() == Some(s));
                let other = opts.except_rollout.as_ref() != Some(&e.rollout);
                if service_ok && other {
                    history.entries.push(e);
                }
            }
            // Whose it is cannot be told: said whatever the filter.
            Err(why) => history.unreadable.push(Unreadable {
                journal: path.display().to_string(),
                why,
            }),
        }
    }
    history.sort();
    history
}

/// Journals looked at, at most, for the rollbacks a starting rollout shows.
pub const PRIOR_JOURNALS: usize = 200;
/// Past rollouts of the service kept for the cockpit.
pub const PRIOR_ENTRIES: usize = 20;
/// The longest the start waits for them.
pub const PRIOR_TIME: Duration = Duration::from_millis(1500);

/// What a starting rollout of `service` shows of its past: the newest
/// [`PRIOR_ENTRIES`] rollouts among the newest [`PRIOR_JOURNALS`] journals
/// of `dir`, within [`PRIOR_TIME`].
pub fn prior_for(dir: &Path, service: &str, except_rollout: &str) -> History {
    read_dirs(
        &[dir.to_path_buf()],
        &ReadOptions {
            max_bytes: 16 << 20,
            max_journals: PRIOR_JOURNALS,
            service: Some(service.to_string()),
            max_entries: PRIOR_ENTRIES,
            except_rollout: Some(except_rollout.to_string()),
            time_limit: Some(PRIOR_TIME),
        },
    )
}

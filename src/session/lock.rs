//! One driver per rollout: an exclusive `flock` on `<runtime dir>/<id>.lock`.
//!
//! The kernel drops a `flock` when its holder dies, however it dies, so a
//! lock can never outlive its process and pid reuse cannot fool it. The file
//! also records who holds it (pid, the process's start time from
//! `/proc/PID/stat`, user, since when) so a refused second driver can say
//! whom to ask, and so a driver that finds a leftover record knows it took
//! over from a driver that died without cleaning up (and journals that).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::paths::{self, DirError};
use crate::engine::Timestamp;

/// Who holds (or held) a rollout's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub rollout_id: String,
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat` (clock ticks after boot): with the pid,
    /// names one process even after the pid is reused.
    pub start_ticks: Option<u64>,
    pub user: String,
    pub uid: u32,
    /// When the lock was taken.
    pub since: Timestamp,
}

impl LockInfo {
    /// This process, now.
    fn current(rollout_id: &str) -> Self {
        let pid = std::process::id();
        let uid = nix::unistd::getuid().as_raw();
        LockInfo {
            rollout_id: rollout_id.to_string(),
            pid,
            start_ticks: process_start_ticks(pid),
            user: crate::identity::user_name(uid),
            uid,
            since: Timestamp(chrono::Utc::now().timestamp_millis()),
        }
    }

    /// The recorded process still runs (same pid and same start time).
    pub fn process_alive(&self) -> bool {
        match (process_start_ticks(self.pid), self.start_ticks) {
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug, Error)]
pub enum LockError {
    #[error(
        "rollout {rollout_id} is already being driven by {user} (pid {pid}, since {}). \
         Watch it with `rampdeck attach {rollout_id}`, or ask {user} to stop that driver first.",
        crate::engine::words::date_time(*.since)
    )]
    Held {
        rollout_id: String,
        pid: u32,
        user: String,
        since: Timestamp,
    },
    #[error(transparent)]
    Dir(#[from] DirError),
    #[error("cannot use the lock file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the lock file {path} keeps being replaced while we take it; \
         is another rampdeck starting the same rollout right now?"
    )]
    Contended { path: PathBuf },
}

/// The held lock; released (file removed, then unlocked) on drop.
#[derive(Debug)]
pub struct LockGuard {
    file: Flock<File>,
    path: PathBuf,
    info: LockInfo,
    took_over_from: Option<LockInfo>,
}

impl LockGuard {
    /// What this guard wrote into the lock file.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }
    /// The previous holder's record when it died without releasing: the
    /// driver journals this as a takeover.
    pub fn took_over_from(&self) -> Option<&LockInfo> {
        self.took_over_from.as_ref()
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, and only if it is
        // still ours, so a waiting driver never locks an orphaned inode
        // (acquire re-checks the inode for the same reason).
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Take the lock of `rollout_id` in [`paths::runtime_dir`].
pub fn acquire(rollout_id: &str) -> Result<LockGuard, LockError> {
    acquire_at(&paths::lock_path(rollout_id), rollout_id)
}

/// Take the lock at an explicit path (tests, custom layouts).
pub fn acquire_at(path: &Path, rollout_id: &str) -> Result<LockGuard, LockError> {
    if let Some(dir) = path.parent() {
        paths::check_dir(dir)?;
    }
    let io_err = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    for _ in 0..16 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(f) => f,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let held = read_info(&mut file).unwrap_or_else(|| LockInfo {
                    rollout_id: rollout_id.to_string(),
                    pid: 0,
                    start_ticks: None,
                    user: "another process (still starting)".into(),
                    uid: 0,
                    since: Timestamp(0),
                });
                return Err(LockError::Held {
                    rollout_id: rollout_id.to_string(),
                    pid: held.pid,
                    user: held.user,
                    since: held.since,
                });
            }
            Err((_, errno)) => return Err(io_err(io::Error::from(errno))),
        };
        // The holder we waited on may have removed the file between our
        // open and our lock: then we hold an orphan and must start over.
        if !same_file(&file, path) {
            continue;
        }
        let took_over_from = read_info(&mut file);
        let info = LockInfo::current(rollout_id);
        let line = serde_json::to_vec(&info).map_err(|e| io_err(io::Error::other(e)))?;
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        file.write_all(&line).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        return Ok(LockGuard {
            file,
            path: path.to_path_buf(),
            info,
            took_over_from,
        });
    }
    Err(LockError::Contended {
        path: path.to_path_buf(),
    })
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.take(64 * 1024).read_to_string(&mut s).ok()?;
    serde_json::from_str(s.trim()).ok()
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Start time of a process in clock ticks after boot (`/proc/PID/stat`
/// field 22), or `None` when there is no such process.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its closing parenthesis, which starts at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_naming_the_holder_and_attach() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("run/r1.lock");
        let g = acquire_at(&p, "r1").unwrap();
        assert!(g.took_over_from().is_none());
        assert_eq!(g.info().pid, std::process::id());
        let e = acquire_at(&p, "r1").unwrap_err();
        let msg = e.to_string();
        match e {
            LockError::Held { pid, .. } => assert_eq!(pid, std::process::id()),
            other => panic!("expected Held, got {other}"),
        }
        assert!(msg.contains("rampdeck attach r1"), "{msg}");
        assert!(msg.contains(&g.info().user), "{msg}");
        drop(g);
        assert!(!p.exists());
        let again = acquire_at(&p, "r1").unwrap();
        assert!(again.took_over_from().is_none());
    }

    #[test]
    fn leftover_record_is_reported_as_takeover() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("r2.lock");
        let dead = LockInfo {
            rollout_id: "r2".into(),
            pid: 999_999_999,
            start_ticks: Some(1),
            user: "alice".into(),
            uid: 1000,
            since: Timestamp(1_700_000_000_000),
        };
        fs::write(&p, serde_json::to_vec(&dead).unwrap()).unwrap();
        assert!(!dead.process_alive());
        let g = acquire_at(&p, "r2").unwrap();
        assert_eq!(g.took_over_from(), Some(&dead));
    }

    #[test]
    fn start_ticks_of_self_are_known_and_stable() {
        let me = std::process::id();
        let a = process_start_ticks(me);
        assert!(a.is_some());
        assert_eq!(a, process_start_ticks(me));
        assert_eq!(process_start_ticks(999_999_999), None);
    }
}

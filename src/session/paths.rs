//! Where rollout sockets and lock files live, and who may enter.
//!
//! One directory per user: `$XDG_RUNTIME_DIR/rampdeck` when the session has
//! a runtime dir, else `<data dir>/run`. The directory is the access
//! boundary (a Unix socket is reachable by whoever can traverse its
//! directory), so it is created `0700` (`0750` when a group is configured to
//! watch) and refused when someone else owns it or others may write to it.
//!
//! `RAMPDECK_RUNTIME_DIR` overrides the location (tests, or several
//! rampdeck installs on one host); the same checks apply to it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Environment variable that overrides [`runtime_dir`].
pub const RUNTIME_DIR_ENV: &str = "RAMPDECK_RUNTIME_DIR";

/// Why the runtime directory cannot be used.
#[derive(Debug, Error)]
pub enum DirError {
    #[error("cannot create {path}: {source}. Check that the parent directory exists and is yours.")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot inspect {path}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
    #[error(
        "{path} is owned by uid {owner}, not by you (uid {me}): refusing to put rollout sockets there. \
         Remove it or set {RUNTIME_DIR_ENV} to a directory of your own."
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{path} is writable by others (mode {mode:o}): anyone could replace the rollout socket. \
         Fix it with `chmod 700 {path}` (or 750 with a group), or remove it."
    )]
    WorldWritable { path: PathBuf, mode: u32 },
    #[error("{path} is not a directory (a symlink or a file is in the way); remove it")]
    NotADirectory { path: PathBuf },
    #[error("unknown group {group:?}: check `session_group` in the config (see `getent group`)")]
    UnknownGroup { group: String },
    #[error("cannot set owner or mode of {path}: {source}")]
    Permissions { path: PathBuf, source: io::Error },
}

/// The directory for this user's rollout sockets and locks (not created).
///
/// Order: `$RAMPDECK_RUNTIME_DIR`, then `$XDG_RUNTIME_DIR/rampdeck`, then
/// the data dir + `/run`, then `/tmp/rampdeck-<uid>` when there is no home.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(RUNTIME_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    match directories::ProjectDirs::from("", "", "rampdeck") {
        Some(p) => match p.runtime_dir() {
            Some(run) => run.to_path_buf(),
            None => p.data_dir().join("run"),
        },
        None => std::env::temp_dir().join(format!("rampdeck-{}", nix::unistd::getuid())),
    }
}

/// A rollout id made safe as a file name: anything outside
/// `[A-Za-z0-9._-]` becomes `_`, and a leading `.` too, so an id can never
/// climb out of the runtime dir or hide.
pub fn file_stem(rollout_id: &str) -> String {
    let mut s: String = rollout_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// `<runtime dir>/<rollout id>.sock`.
pub fn socket_path(rollout_id: &str) -> PathBuf {
    runtime_dir().join(format!("{}.sock", file_stem(rollout_id)))
}

/// `<runtime dir>/<rollout id>.lock`.
pub fn lock_path(rollout_id: &str) -> PathBuf {
    runtime_dir().join(format!("{}.lock", file_stem(rollout_id)))
}

/// Look up a group id by name.
pub fn group_id(group: &str) -> Result<u32, DirError> {
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(DirError::UnknownGroup {
            group: group.to_string(),
        }),
    }
}

/// Create `path` (and its parents) if needed and make sure only this user
/// (and `group`, read and traverse only) can enter it.
///
/// An existing directory of ours that is too open but not writable by
/// others (e.g. `0755`) is tightened; one owned by someone else, writable by
/// others, or a symlink is refused.
pub fn ensure_dir(path: &Path, group: Option<&str>) -> Result<(), DirError> {
    let gid = group.map(group_id).transpose()?;
    prepare(path, gid, true)
}

/// Create `path` (`0700`) if it is missing, and check that an existing one
/// is ours and not writable by others, without changing its mode or group
/// (so a lock taken after the server set up a group dir leaves it alone).
pub fn check_dir(path: &Path) -> Result<(), DirError> {
    prepare(path, None, false)
}

fn prepare(path: &Path, gid: Option<u32>, adjust: bool) -> Result<(), DirError> {
    let want: u32 = if gid.is_some() { 0o750 } else { 0o700 };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| DirError::Create {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(DirError::Create {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let meta = fs::symlink_metadata(path).map_err(|source| DirError::Inspect {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.file_type().is_dir() {
        return Err(DirError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let me = nix::unistd::getuid().as_raw();
    if meta.uid() != me {
        return Err(DirError::NotOwned {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(DirError::WorldWritable {
            path: path.to_path_buf(),
            mode,
        });
    }
    if !adjust {
        return Ok(());
    }
    if let Some(gid) = gid
        && meta.gid() != gid
    {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| {
            DirError::Permissions {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    if mode != want {
        fs::set_permissions(path, fs::Permissions::from_mode(want)).map_err(|source| {
            DirError::Permissions {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_private_dir_and_tightens_a_loose_one() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/run");
        ensure_dir(&d, None).unwrap();
        assert_eq!(mode(&d), 0o700);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&d, None).unwrap();
        assert_eq!(mode(&d), 0o700);
    }

    #[test]
    fn group_dir_is_0750_with_that_group() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        ensure_dir(&d, Some("nogroup")).unwrap();
        assert_eq!(mode(&d), 0o750);
        assert_eq!(
            fs::metadata(&d).unwrap().gid(),
            group_id("nogroup").unwrap()
        );
    }

    #[test]
    fn refuses_world_writable_symlink_and_unknown_group() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_dir(&d, None).unwrap_err();
        assert!(matches!(e, DirError::WorldWritable { .. }), "{e}");
        assert!(e.to_string().contains("chmod 700"));

        let link = t.path().join("link");
        std::os::unix::fs::symlink(t.path(), &link).unwrap();
        let e = ensure_dir(&link, None).unwrap_err();
        assert!(matches!(e, DirError::NotADirectory { .. }), "{e}");

        let e = ensure_dir(&t.path().join("x"), Some("no-such-group-rd")).unwrap_err();
        assert!(matches!(e, DirError::UnknownGroup { .. }));
    }

    #[test]
    fn refuses_a_dir_owned_by_someone_else() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        fs::create_dir(&d).unwrap();
        // We are root in the test environment; elsewhere chown fails and
        // there is nothing to test.
        if std::os::unix::fs::chown(&d, Some(65534), None).is_err() {
            return;
        }
        let e = ensure_dir(&d, None).unwrap_err();
        assert!(matches!(e, DirError::NotOwned { owner: 65534, .. }), "{e}");
    }

    #[test]
    fn check_dir_leaves_a_group_dir_alone() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        ensure_dir(&d, Some("nogroup")).unwrap();
        check_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o750);
        let fresh = t.path().join("fresh");
        check_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }

    #[test]
    fn file_stems_cannot_escape() {
        assert_eq!(file_stem("checkout-20250101"), "checkout-20250101");
        assert_eq!(file_stem("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem(""), "_");
        assert_eq!(file_stem(".hidden"), "_.hidden");
    }
}

//! Checks of a plan against the host it will run on: the journal directory
//! can be written, and the session group exists and can be given the
//! socket. They touch the file system and the group database, so they are
//! kept out of [`super::parse`]; `plan` and `run` call [`check`] after it,
//! and `run`/`demo` check the journal directory they are given once more
//! before anything starts ([`journal_dir_usable`], [`session_group_usable`]).

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::Ctx;
use super::raw::RawPlan;
use super::values::R;

/// `journal_dir` as written: an absolute path, or `~/...` in the home
/// directory. A relative path would depend on where rampdeck is started
/// (and `~` is not a shell here), so it is refused.
pub(crate) fn journal_dir_form(ctx: &Ctx, v: &Spanned<String>) -> R<String> {
    let s = v.get_ref();
    let help = "write an absolute path such as \"/var/lib/rampdeck/journals\", or \"~/rampdeck/journals\" for one in your home directory";
    if s.trim().is_empty() {
        return Err(ctx.err(v.span(), "`journal_dir` is empty", help));
    }
    if !(Path::new(s).is_absolute() || s.starts_with("~/")) {
        return Err(ctx.err(
            v.span(),
            format!(
                "`journal_dir` \"{s}\" is a relative path: the journal would land wherever rampdeck happens to be started"
            ),
            help,
        ));
    }
    Ok(s.clone())
}

/// `~/x` in the home directory; anything else as is.
pub fn expand_home(dir: &str) -> PathBuf {
    match dir.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new()
            .map_or_else(|| PathBuf::from(dir), |b| b.home_dir().join(rest)),
        None => PathBuf::from(dir),
    }
}

/// The host checks of a parsed plan, located in its source.
pub(crate) fn check(ctx: &Ctx, raw: &RawPlan) -> R<()> {
    let r = raw.rollout.get_ref();
    if let Some(dir) = &r.journal_dir {
        let path = expand_home(dir.get_ref());
        if let Err(why) = journal_dir_usable(&path) {
            return Err(ctx.err(
                dir.span(),
                format!("`journal_dir` cannot be used: {why}"),
                "point it at a directory you can write (it is created if missing), or remove `journal_dir` for the default in your data dir",
            ));
        }
    }
    if let Some(group) = &r.session_group {
        if let Err((why, help)) = session_group_usable(group.get_ref()) {
            return Err(ctx.err(group.span(), why, help));
        }
    }
    Ok(())
}

/// Whether rampdeck can create `dir` (with its parents) and write a file
/// in it. Whatever this creates to find out is removed again.
pub fn journal_dir_usable(dir: &Path) -> Result<(), String> {
    // The missing ancestors, deepest first: what the test creates, and
    // removes again (only while empty, so nothing of anyone else's goes).
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| std::fs::symlink_metadata(a).is_err())
        .collect();
    let result = probe(dir);
    for created in missing {
        let _ = std::fs::remove_dir(created);
    }
    result
}

fn probe(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let probe = dir.join(format!(".rampdeck-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Whether the rollout's socket can be handed to `group`: it exists, and
/// this user is in it (or is root, who may give a file to any group).
/// Err carries what is wrong and how to fix it.
pub fn session_group_usable(group: &str) -> Result<(), (String, String)> {
    let found = nix::unistd::Group::from_name(group).ok().flatten();
    let Some(g) = found else {
        return Err((
            format!("`session_group` \"{group}\" is not a group on this host"),
            "name an existing group (`getent group` lists them), or remove `session_group` so only you can attach".into(),
        ));
    };
    let euid = nix::unistd::geteuid();
    if euid.is_root() || nix::unistd::getegid() == g.gid {
        return Ok(());
    }
    let member = nix::unistd::getgroups().is_ok_and(|gs| gs.contains(&g.gid));
    if member {
        return Ok(());
    }
    let me = crate::identity::user_name(euid.as_raw());
    Err((
        format!(
            "you ({me}) are not in `session_group` \"{group}\", so the rollout's socket could not be given to it"
        ),
        format!(
            "add yourself to it (`usermod -aG {group} {me}`, then log in again), run as a member, or remove `session_group`"
        ),
    ))
}

//! Who is at this terminal: the local actor for journal records.
//!
//! Taken from the process credentials (uid → user name), the host name, the
//! login uid the kernel keeps per session (`/proc/self/loginuid`, which
//! survives `sudo` and shared accounts on bastions), and the SSH client
//! address of this session when there is one.

use crate::engine::Actor;

/// The actor for commands typed into this process's own terminal.
pub fn local_actor() -> Actor {
    let uid = nix::unistd::getuid().as_raw();
    actor_for_uid(uid, read_login_uid("self"), ssh_client_from_env())
}

/// An actor for a uid (and optionally a login uid read from a peer's
/// /proc entry), with this host's name.
pub fn actor_for_uid(uid: u32, login_uid: Option<u32>, ssh_client: Option<String>) -> Actor {
    let user = user_name(uid);
    let groups = groups_of(uid);
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    Actor {
        user,
        uid: Some(uid),
        login_uid: login_uid.filter(|l| *l != uid),
        host,
        ssh_client,
        groups,
    }
}

/// The names of the Unix groups `uid` is in (its primary group and the
/// supplementary ones from the group database), for `@group` approvers.
/// Empty when the system has no entry for the uid: such an actor matches
/// only by name.
pub fn groups_of(uid: u32) -> Vec<String> {
    use nix::unistd::{Group, User, getgrouplist};
    let Ok(Some(user)) = User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user.name.as_bytes()) else {
        return Vec::new();
    };
    let gids = getgrouplist(&name, user.gid).unwrap_or_else(|_| vec![user.gid]);
    let mut names: Vec<String> = gids
        .into_iter()
        .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The user name for a uid, or `uid:N` when the system has no entry.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid:{uid}"),
    }
}

/// `/proc/<pid>/loginuid`; `None` when absent or unset (4294967295).
pub fn read_login_uid(pid: &str) -> Option<u32> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/loginuid")).ok()?;
    let v: u32 = raw.trim().parse().ok()?;
    (v != u32::MAX).then_some(v)
}

/// The client address of this SSH session, from `SSH_CONNECTION` (or the
/// older `SSH_CLIENT`). Only used for the local terminal's own actor: an
/// attached client's identity never comes from variables it sends.
pub fn ssh_client_from_env() -> Option<String> {
    ["SSH_CONNECTION", "SSH_CLIENT"].iter().find_map(|k| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.split_whitespace().next().map(str::to_string))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_actor_has_uid_and_a_name() {
        let a = local_actor();
        assert_eq!(a.uid, Some(nix::unistd::getuid().as_raw()));
        assert!(!a.user.is_empty());
        assert!(!a.is_system());
    }

    #[test]
    fn unknown_uid_is_named_by_number() {
        assert_eq!(user_name(4_000_000_001), "uid:4000000001");
    }
}

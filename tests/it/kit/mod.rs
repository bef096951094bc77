//! What the integration tests share, in one place: plans (`plan`), the
//! snapshots of a live rollout (`snapshot`), journals and waiting on them
//! (`journal`), loopback servers (`http`), `rampdeck` processes (`proc`),
//! a real rollout in a directory of its own (`field`) and a real terminal
//! (`pty`). Every wait polls with a deadline; nothing sleeps and hopes.
//!
//! The benchmarks use it too (`#[path = "../tests/it/kit/mod.rs"]`), so
//! nothing here names `crate::`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod field;
pub mod http;
pub mod journal;
pub mod plan;
pub mod proc;
pub mod pty;
pub mod snapshot;

use std::path::PathBuf;

/// A file or directory under `tests/` (the data: scenarios, configs, hook
/// scripts, the fake kubectl).
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// The path of a hook script in `tests/hooks/`.
pub fn hook_script(name: &str) -> String {
    data("hooks").join(name).display().to_string()
}

/// Waits until `path` exists; fails after `within`.
pub fn wait_for_file(path: &std::path::Path, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not appear within {within:?}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

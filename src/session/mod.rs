//! Attach and pairing: one driver, many views.
//!
//! - [`paths`]: the per-user runtime dir (`RAMPDECK_RUNTIME_DIR` overrides),
//!   socket and lock file names.
//! - [`lock`]: one driver per rollout (`flock`, with pid, start time, user).
//! - [`server`]: the driver's Unix socket; views' commands come out as
//!   [`server::Request`]s tagged with the peer-credential identity.
//! - [`client`]: `rampdeck attach` and `rampdeck ls`.
//! - [`protocol`]: newline-delimited JSON, versioned.
//! - [`access`]: who may drive, who is in control, the two-person rule.

pub mod access;
pub mod client;
pub mod flood;
mod hub;
pub mod lock;
pub mod paths;
pub mod protocol;
pub mod server;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub use access::{Access, Decision as AccessDecision, Refusal};
pub use client::{Client, RolloutListing, connect, connect_when_ready, list};
pub use lock::{LockError, LockGuard, LockInfo, acquire};
pub use paths::{lock_path, runtime_dir, socket_path};
pub use protocol::{ClientMsg, PROTOCOL_VERSION, Role, ServerMsg};
pub use server::{Request, ServerConfig, ServerHandle, serve, serve_with};

/// What can go wrong serving or attaching.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Dir(#[from] paths::DirError),
    #[error(
        "cannot listen on {path}: {source}. (Socket paths are limited to 107 bytes; \
         set RAMPDECK_RUNTIME_DIR to a shorter directory if this one is long.)"
    )]
    Bind { path: PathBuf, source: io::Error },
    #[error(
        "another driver is already listening on {path}: attach to it with `rampdeck attach`, \
         or stop it first"
    )]
    AlreadyServing { path: PathBuf },
    #[error("{path} exists and is not a socket; remove it if it is not needed")]
    NotASocket { path: PathBuf },
    #[error(
        "cannot reach the driver at {path}: {source}. Is the rollout still running? \
         `rampdeck ls` lists the running ones."
    )]
    Connect { path: PathBuf, source: io::Error },
    #[error(
        "the driver speaks protocol version {theirs} and this rampdeck speaks {ours}: \
         attach with the same rampdeck version that runs the rollout"
    )]
    VersionMismatch { theirs: u32, ours: u32 },
    #[error("unexpected greeting from the driver: {0}")]
    Handshake(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error(transparent)]
    Protocol(#[from] protocol::ProtocolError),
    #[error("connection closed: {0}")]
    Closed(String),
}

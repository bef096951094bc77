//! Why a driver could not start or had to stop, typed so the caller can
//! tell a journal that cannot be written (the one failure that must stop a
//! rollout's driver) from a source that cannot start or a socket that
//! cannot be opened.

use crate::journal::JournalError;
use crate::session::SessionError;
use crate::sources::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The journal could not be opened, written or closed: nothing may be
    /// decided that cannot be recorded.
    #[error("the journal failed: {0}")]
    Journal(#[from] JournalError),
    /// A source cannot start (a missing secret, a bad URL).
    #[error("a source cannot start: {0}")]
    Source(#[from] SourceError),
    /// The session socket for attached views could not be opened.
    #[error("the session socket: {0}")]
    Session(#[from] SessionError),
    /// The engine refused to start: a required pre-flight item is not
    /// done (the refusal is journaled). The text says what and how.
    #[error("{0}")]
    Preflight(String),
}

//! What reaches the driver's loop: views' inputs, and the channels it
//! reads them, hook and check results, samples and socket requests from.

use tokio::sync::mpsc;

use crate::engine::{Actor, Command, Input, Stage};
use crate::session;
use crate::sources::SampleMsg;

/// Messages from views (local TUI, attached clients, signals) to the driver.
#[derive(Debug, Clone)]
pub enum DriverInput {
    Command {
        command: Command,
        actor: Actor,
        reason: String,
    },
    /// The local view (this process's terminal) came or went: SIGHUP or a
    /// dropped SSH link sends `attached: false`.
    Presence { attached: bool, actor: Actor },
    /// End the task once the rollout is over (the local view is gone).
    ExitWhenDone,
    /// Stop the driver (the last view closed, or a signal). Journaled.
    Shutdown { actor: Actor, why: String },
    /// The local view ticks a manual checklist item (every manual item of
    /// the stage when `item` is `None`), with a note.
    Confirm {
        stage: Stage,
        item: Option<usize>,
        actor: Actor,
        reason: String,
    },
    /// The local view asks to run a stage's automatic checks again.
    RunChecks { stage: Stage, item: Option<usize> },
}

/// Where the driver's loop hears from views, hooks, checks and sources.
pub(super) struct Channels {
    pub inputs: mpsc::Receiver<DriverInput>,
    pub hook_results: mpsc::Receiver<(u64, crate::engine::HookOutcome)>,
    pub check_results: mpsc::Receiver<Input>,
    pub samples: mpsc::Receiver<SampleMsg>,
    pub requests: mpsc::Receiver<session::Request>,
}

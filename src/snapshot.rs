//! What the driver publishes to every view (local TUI, attached TUIs,
//! headless lines): everything needed to draw one frame, and nothing that
//! needs I/O to read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::series::MetricSeries;
use crate::engine::{EngineView, Timestamp};
use crate::plan::Plan;

/// Health of one source, for the data-health lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// No poll has finished yet.
    Unknown,
    /// The latest poll answered with data.
    Up,
    /// The latest poll answered without data (empty vector, no traffic).
    NoData,
    /// No answer for longer than two intervals.
    Stale,
    /// The latest poll failed (HTTP error, timeout, unreachable).
    Erroring,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub name: String,
    /// "prometheus", "http_json", "probe", "command".
    pub kind: String,
    pub state: SourceState,
    pub last_ok: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Latency of the latest poll.
    pub latency_ms: Option<u64>,
    /// The latest answer carried warnings.
    pub degraded: bool,
    /// What those warnings said ("partial data: store-1 unreachable").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl SourceHealth {
    /// A source no poll has answered yet.
    pub fn unknown(name: &str, kind: &str) -> SourceHealth {
        SourceHealth {
            name: name.to_string(),
            kind: kind.to_string(),
            state: SourceState::Unknown,
            last_ok: None,
            last_error: None,
            latency_ms: None,
            degraded: false,
            warning: None,
        }
    }
}

/// One published state of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Bumps on every publish; views redraw when it changes.
    pub version: u64,
    pub rollout_id: String,
    pub plan: Arc<Plan>,
    pub engine: EngineView,
    /// One entry per metric, in plan order.
    pub series: Arc<Vec<MetricSeries>>,
    pub sources: Vec<SourceHealth>,
    /// Who is driving (None: nobody attached).
    pub driver: Option<String>,
    /// How many other views are watching.
    pub watchers: usize,
    /// The driver's clock at publish time.
    pub now: Timestamp,
    pub journal_path: String,
    /// Written when the rollout ends.
    pub summary_path: Option<String>,
    /// Config warnings worth showing on every screen (insecure TLS, ...).
    pub warnings: Vec<String>,
    /// A replay of a recording, not a live rollout: read-only, and where
    /// the playback stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::recording::player::ReplayView>,
    /// The service's past rollouts, read once when the rollout starts: the
    /// ramp shows their rollbacks. Shared, never copied per frame.
    #[serde(default)]
    pub history: Arc<crate::journal::history::History>,
}

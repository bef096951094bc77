//! What the views see of the engine at one moment: the step table, the
//! next thing the engine will do on its own, and the whole [`EngineView`]
//! snapshots carry. Pure data, built by `Engine::view`.

use serde::{Deserialize, Serialize};

use super::types::{Allowed, Decision, GateStatus, Phase, Timestamp};
use crate::plan::HookKind;

/// The next thing the engine will do on its own, for the always-visible
/// countdown line. [`crate::engine::words::next_action`] says it in words
/// (the sentences below).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum NextAction {
    /// "advance to 25 % in 03:12"
    Advance { to_weight: u8, in_ms: u64 },
    /// "waiting for approval to advance to 50 %"
    AwaitApproval { to_weight: u8 },
    /// "waiting for 1 more approval (of 2) from bob, @deployers"
    AwaitApprovals {
        missing: u32,
        need: u32,
        from: Vec<String>,
    },
    /// "approval for 50 % opens in 03:12" (manual step, hold not over yet)
    ApprovalIn { to_weight: u8, in_ms: u64 },
    /// "promote to 100 % in 00:30" (last step)
    PromoteFull { in_ms: u64 },
    /// "hold at 100 % over in 09:10" (the last step already at 100 %)
    HoldEnds { in_ms: u64 },
    /// "switch all traffic to the new stack in 01:00" (blue-green preview)
    SwitchIn { in_ms: u64 },
    /// "batch 3 (6 of 8 instances) in 00:30" (rolling)
    NextBatch {
        batch: usize,
        instances: u32,
        of: u32,
        in_ms: u64,
    },
    /// "rollback in 2 more breaches of error_rate (~10 s)"
    RollbackIn {
        metric: String,
        breaches_left: u32,
        approx_ms: u64,
    },
    /// "pause in 2 more breaches (~10 s)" (a pause trigger's streak)
    PauseIn {
        metric: String,
        breaches_left: u32,
        approx_ms: u64,
    },
    /// "pause in 3 polls without data (error_rate)"
    NoDataAction {
        metric: String,
        action: crate::plan::NoDataAction,
        polls_left: u32,
    },
    /// "holding: error_rate is Breach" (hold over but a gate is not Pass)
    HoldingForGates { blocking: Vec<String> },
    /// "paused by alice: 3 polls without data"
    Paused { by: String, reason: String },
    /// "waiting for set_weight hook"
    WaitingForHook { kind: HookKind },
    /// "holding: operator detached (unattended = hold)"
    HoldingUnattended,
    /// "retrying the rollback (attempt 3) in 00:30" after a rollback failed
    RetryRollback { attempt: u32, in_ms: u64 },
    /// "waiting for pre-flight: \"release notes reviewed\"" (before the
    /// start, while required pre-flight items are not done)
    AwaitPreflight { missing: Vec<String> },
    /// "promoted in 04:12 if every gate keeps passing" (at 100 %, observing
    /// the exit criteria)
    Observe(super::exit::ObservationView),
    /// "nothing more will happen on its own"
    None,
}

/// Status of one step on the ramp timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    Current,
    AwaitingApproval,
    Pending,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub weight: u8,
    pub state: StepState,
    pub hold_ms: u64,
    /// Hold left for the current step.
    pub hold_left_ms: Option<u64>,
    pub owner: Option<String>,
    /// The cohort the step targets, if it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<String>,
    /// When the step was entered and left (for chart boundaries).
    pub entered_at: Option<Timestamp>,
    pub left_at: Option<Timestamp>,
    /// For the current step with `approvals`: who approved, who still can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<super::approvals::ApprovalsView>,
}

/// What views need of the engine at one moment. Cheap to clone relative to
/// a frame; series live separately (see `series`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineView {
    pub phase: Phase,
    /// Current step index, if started.
    pub step: Option<usize>,
    pub steps: Vec<StepView>,
    /// Current traffic weight to the canary, as last confirmed by a hook.
    pub weight: u8,
    pub gates: Vec<GateStatus>,
    pub next: NextAction,
    pub started_at: Option<Timestamp>,
    pub step_entered_at: Option<Timestamp>,
    /// Hook currently running, if any.
    pub hook_running: Option<HookKind>,
    /// Set when a rollback hook failed and nothing has cleared it.
    pub rollback_failed: bool,
    /// The most recent decisions, newest last (bounded).
    /// Shared with the engine and earlier views (a view is built several
    /// times a second; copying each decision's gates and detail was most
    /// of its cost).
    pub recent: Vec<std::sync::Arc<Decision>>,
    /// Which operator commands the engine would carry out now.
    #[serde(default)]
    pub allowed: Allowed,
    /// The change window now, when the plan has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<super::windowed::WindowView>,
    /// Nothing more will happen ([`super::Engine::is_over`]): the phase is
    /// terminal and no failed rollback is being retried.
    #[serde(default)]
    pub over: bool,
    /// Pre-flight items and where each stands (issue 13).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<super::checklist::ItemView>,
    /// The checklist on screen now (see `Engine::checklist_on_screen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<super::checklist::Stage>,
    /// Exit items (`[exit]`) and where each stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit: Vec<super::checklist::ItemView>,
    /// While observing at 100 %: where the exit criteria stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<super::exit::ObservationView>,
    /// Blue-green: the old stack, and how long a rollback stays instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<super::strategy::BlueGreenView>,
    /// Rolling: the instances on each version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<super::strategy::RollingView>,
}

//! The plan's hooks: what runs when the rollout moves, pauses, rolls back
//! or finishes, and the blue-green ones (issue 14).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    SetWeight,
    Promote,
    Pause,
    Resume,
    Rollback,
    OnStepEnter,
    OnFinish,
    /// Blue-green: all traffic to the new stack in one step.
    Switch,
    /// Blue-green: scale the old stack down after `scale_down_delay`.
    ScaleDown,
    /// Blue-green: the rollback once the old stack is scaled down
    /// (redeploy the old version).
    Redeploy,
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::SetWeight => "set_weight",
            HookKind::Promote => "promote",
            HookKind::Pause => "pause",
            HookKind::Resume => "resume",
            HookKind::Rollback => "rollback",
            HookKind::OnStepEnter => "on_step_enter",
            HookKind::OnFinish => "on_finish",
            HookKind::Switch => "switch",
            HookKind::ScaleDown => "scale_down",
            HookKind::Redeploy => "redeploy",
        }
    }
}

/// Hooks per action. `on_step_enter` may hold several checks, run in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hooks {
    pub set_weight: Option<Hook>,
    pub promote: Option<Hook>,
    pub pause: Option<Hook>,
    pub resume: Option<Hook>,
    pub rollback: Option<Hook>,
    pub on_step_enter: Vec<Hook>,
    pub on_finish: Option<Hook>,
    /// Blue-green (see `engine::strategy`): the switch, the old stack's
    /// scale-down, and the rollback after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<Hook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<Hook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeploy: Option<Hook>,
    /// After a failed rollback, the longest wait before the next attempt
    /// (the backoff doubles from 5 s up to it); `None` is
    /// [`DEFAULT_ROLLBACK_RETRY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_retry: Option<Duration>,
    /// How the target reports its own step, so a resume can check it
    /// without re-running a traffic hook that is not idempotent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_step: Option<TargetStep>,
}

/// `[hooks.target_step]`: a metric whose canary value is the target's
/// step, `scale × step index + offset` at rampdeck's step index (0-based).
/// Argo Rollouts' `currentStepIndex` is `2k + 2` with the preset's steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStep {
    pub metric: String,
    pub scale: f64,
    pub offset: f64,
}

/// The default of `[hooks] rollback_retry`.
pub const DEFAULT_ROLLBACK_RETRY: Duration = Duration::from_secs(30);

impl Hooks {
    /// The longest wait between two attempts of a failed rollback.
    pub fn rollback_retry(&self) -> Duration {
        self.rollback_retry.unwrap_or(DEFAULT_ROLLBACK_RETRY)
    }

    pub fn get(&self, kind: HookKind) -> Option<&Hook> {
        match kind {
            HookKind::SetWeight => self.set_weight.as_ref(),
            HookKind::Promote => self.promote.as_ref(),
            HookKind::Pause => self.pause.as_ref(),
            HookKind::Resume => self.resume.as_ref(),
            HookKind::Rollback => self.rollback.as_ref(),
            HookKind::OnStepEnter => self.on_step_enter.first(),
            HookKind::OnFinish => self.on_finish.as_ref(),
            HookKind::Switch => self.switch.as_ref(),
            HookKind::ScaleDown => self.scale_down.as_ref(),
            HookKind::Redeploy => self.redeploy.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub action: HookAction,
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    /// Extra attempts after the first failure (idempotent hooks only).
    pub retries: u32,
    pub idempotent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookAction {
    /// argv, run without a shell; placeholders are replaced per argument.
    Command(Vec<String>),
    Webhook(Webhook),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub method: String,
    pub url: String,
    /// JSON body template; placeholders are replaced with JSON-escaped values.
    pub body: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub headers_env: BTreeMap<String, String>,
    pub expect_status: Vec<u16>,
}

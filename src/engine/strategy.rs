//! Strategies beyond the canary (issue 14). Blue-green: the new stack is
//! previewed at 0 % (its gates judge the preview's own metrics), then all
//! traffic moves in one step by the `switch` hook (journaled `switched`);
//! the gates then judge the new stack against the old stack's numbers from
//! before the switch (the frozen baseline, labelled as such). After
//! `scale_down_delay` from the switch the `scale_down` hook scales the old
//! stack down (journaled `scaled_down`). Until then a rollback is an
//! instant switch back (the `rollback` hook); after it a rollback
//! redeploys the old version (the `redeploy` hook). The rollout is
//! promoted once the observation's criteria hold and the old stack is
//! scaled down.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, HookOutcome, Phase, Timestamp};
use super::view::StepState;
use super::words::{clock, duration};
use crate::plan::{HookKind, Strategy};

/// `[blue_green]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlueGreenPlan {
    /// From the switch to the old stack's scale-down (Argo Rollouts'
    /// `scaleDownDelaySeconds`, default 30 s).
    #[serde(with = "crate::plan::duration_ms")]
    pub scale_down_delay: Duration,
    /// Steps between 0 % and 100 % are wanted (a partial switch).
    #[serde(default)]
    pub partial_switch: bool,
}

/// `[rolling]`: the instances the batches update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingPlan {
    pub instances: u32,
    /// At most this many instances down at once during a batch: for the
    /// deploy tool, shown by `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
}

/// Argo Rollouts' default `scaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY: Duration = Duration::from_secs(30);

impl Default for BlueGreenPlan {
    fn default() -> Self {
        BlueGreenPlan {
            scale_down_delay: DEFAULT_SCALE_DOWN_DELAY,
            partial_switch: false,
        }
    }
}

/// Where the old stack of a blue-green rollout stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldStack {
    /// Not switched yet (or no blue-green).
    #[default]
    Active,
    /// Switched: the old stack idles, ready for an instant switch back.
    Idle,
    /// The scale_down hook is running.
    ScalingDown,
    /// Scaled down: a rollback redeploys the old version.
    ScaledDown,
    /// The scale_down hook failed: the old stack still runs (an instant
    /// switch back is still possible).
    ScaleDownFailed,
}

/// The blue-green state views show: "instant rollback available for 04:12".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlueGreenView {
    pub old_stack: OldStack,
    /// When the switch happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_at: Option<Timestamp>,
    /// Left before the scale-down, while a switch back is instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instant_rollback_ms: Option<u64>,
    /// Rolled back: what the rollback moved ("switched back: all traffic
    /// on the old stack").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<String>,
}

impl BlueGreenView {
    /// The blue-green stages in order, each with its state: preview →
    /// switch → observe → scale down, the last with its countdown while
    /// the old stack idles.
    pub fn stages(&self) -> Vec<(String, StepState)> {
        use StepState::{Current, Done, Failed, Pending};
        let down = match self.instant_rollback_ms {
            Some(ms) if self.old_stack == OldStack::Idle => format!("scale down in {}", clock(ms)),
            _ => "scale down".into(),
        };
        let mut states = match self.old_stack {
            OldStack::Active => [Current, Pending, Pending, Pending],
            OldStack::Idle => [Done, Done, Current, Pending],
            OldStack::ScalingDown => [Done, Done, Done, Current],
            OldStack::ScaledDown => [Done, Done, Done, Done],
            OldStack::ScaleDownFailed => [Done, Done, Done, Failed],
        };
        // Rolled back: the stage it was in failed.
        if self.rolled_back.is_some()
            && let Some(s) = states.iter_mut().find(|s| **s == Current)
        {
            *s = Failed;
        }
        let names = [
            "preview".to_string(),
            "switch".into(),
            "observe".into(),
            down,
        ];
        names.into_iter().zip(states).collect()
    }

    /// The line the ramp shows under the steps.
    pub fn line(&self) -> String {
        if let Some(words) = &self.rolled_back {
            return words.clone();
        }
        match (self.old_stack, self.instant_rollback_ms) {
            (OldStack::Active, _) => "preview: the new stack takes no user traffic yet".into(),
            (OldStack::Idle, Some(ms)) => {
                format!("instant rollback (switch back) available for {}", clock(ms))
            }
            (OldStack::Idle, None) => "old stack idle: a rollback switches back".into(),
            (OldStack::ScalingDown, _) => "old stack scaling down".into(),
            (OldStack::ScaledDown, _) => {
                "old stack scaled down: a rollback redeploys the old version".into()
            }
            (OldStack::ScaleDownFailed, _) => {
                "scale-down failed: the old stack still runs; a rollback switches back".into()
            }
        }
    }
}

impl Engine {
    fn blue_green(&self) -> bool {
        self.plan.rollout.strategy == Strategy::BlueGreen
    }

    fn scale_down_delay(&self) -> Duration {
        self.plan
            .blue_green
            .as_ref()
            .map_or(DEFAULT_SCALE_DOWN_DELAY, |b| b.scale_down_delay)
    }

    /// Blue-green with a `scale_down` hook whose run is still to come or
    /// running: the rollout is not promoted before it.
    pub(super) fn scale_down_pending(&self) -> bool {
        self.blue_green()
            && self.plan.hooks.scale_down.is_some()
            && matches!(
                self.old_stack,
                OldStack::Active | OldStack::Idle | OldStack::ScalingDown
            )
    }

    /// A rollback's hooks: the redeploy once the old stack is scaled down.
    pub(super) fn redeploys(&self) -> bool {
        self.blue_green() && self.old_stack == OldStack::ScaledDown
    }

    /// The switch hook succeeded: all traffic is on the new stack.
    pub(super) fn switched(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        self.switched_at = Some(now);
        self.old_stack = OldStack::Idle;
        let delay = self.scale_down_delay();
        let reason = if self.plan.hooks.scale_down.is_some() {
            format!(
                "all traffic on the new stack; the old stack idles {} before its scale-down: until then a rollback switches back at once",
                duration(delay)
            )
        } else {
            "all traffic on the new stack; the old stack idles (no scale_down hook): a rollback switches back".into()
        };
        let detail = json!({ "scale_down_delay_ms": delay.as_millis() as u64 });
        self.journal(
            out,
            DecisionKind::Switched,
            &Actor::system(),
            reason,
            detail,
        );
    }

    /// On a tick: the scale-down, once its delay from the switch is over
    /// and nothing else moves the rollout.
    pub(super) fn maybe_scale_down(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let due = self
            .switched_at
            .is_some_and(|at| now.since(at) >= self.scale_down_delay());
        let moving = matches!(
            self.phase,
            Phase::RollingBack | Phase::RolledBack | Phase::Failed { .. } | Phase::Promoting { .. }
        );
        if !due
            || moving
            || self.old_stack != OldStack::Idle
            || self.plan.hooks.scale_down.is_none()
        {
            return;
        }
        self.old_stack = OldStack::ScalingDown;
        let why = format!(
            "{} since the switch: scaling the old stack down",
            duration(self.scale_down_delay())
        );
        self.run_side(HookKind::ScaleDown, &Actor::system(), why, now, out);
    }

    /// After a resume: the switch and the scale-down the journal recorded,
    /// so the scale-down is not run twice and a rollback after it still
    /// redeploys.
    pub(super) fn restore_old_stack(&mut self, p: &super::resume::ResumePoint) {
        if !self.blue_green() {
            return;
        }
        self.switched_at = p.switched_at;
        self.old_stack = match (p.switched_at, p.scaled_down) {
            (_, true) => OldStack::ScaledDown,
            (Some(_), false) => OldStack::Idle,
            (None, false) => OldStack::Active,
        };
    }

    /// The scale_down hook's result.
    pub(super) fn scale_down_result(&mut self, outcome: &HookOutcome, out: &mut Vec<Effect>) {
        if self.old_stack != OldStack::ScalingDown {
            return;
        }
        if outcome.ok {
            self.old_stack = OldStack::ScaledDown;
            let what = if self.plan.hooks.redeploy.is_some() {
                "a rollback now redeploys the old version (hooks.redeploy)"
            } else {
                "a rollback now needs the old version redeployed: the plan has no [hooks.redeploy], so it is only recorded"
            };
            let reason = format!("old stack scaled down; {what}");
            self.journal(
                out,
                DecisionKind::ScaledDown,
                &Actor::system(),
                reason,
                json!(null),
            );
        } else {
            self.old_stack = OldStack::ScaleDownFailed;
        }
    }

    /// Blue-green with a `scale_down` hook: the old stack must be scaled
    /// down before the rollout is promoted.
    pub(super) fn scale_down_criterion(&self) -> Option<super::exit::Criterion> {
        if !self.blue_green() || self.plan.hooks.scale_down.is_none() {
            return None;
        }
        let delay = duration(self.scale_down_delay());
        let evidence = match self.old_stack {
            OldStack::ScaledDown => format!("scaled down {delay} after the switch"),
            OldStack::ScaleDownFailed => {
                "the scale_down hook failed: the old stack still runs".into()
            }
            OldStack::ScalingDown => "scale_down hook running".into(),
            OldStack::Idle => format!("idle until {delay} after the switch"),
            OldStack::Active => "not switched yet".into(),
        };
        Some(super::exit::Criterion {
            criterion: "old stack scaled down".into(),
            met: self.old_stack == OldStack::ScaledDown,
            evidence,
        })
    }

    /// The blue-green state, for views.
    pub(super) fn blue_green_view(&self, now: Timestamp) -> Option<BlueGreenView> {
        if !self.blue_green() {
            return None;
        }
        let left = self
            .switched_at
            .filter(|_| self.old_stack == OldStack::Idle && self.plan.hooks.scale_down.is_some())
            .map(|at| {
                let end = at.plus(self.scale_down_delay());
                end.0.saturating_sub(now.0).max(0) as u64
            });
        let rolled_back = matches!(self.phase, Phase::RolledBack)
            .then(|| self.rolled_back_words())
            .flatten();
        Some(BlueGreenView {
            old_stack: self.old_stack,
            switched_at: self.switched_at,
            instant_rollback_ms: left.filter(|_| rolled_back.is_none()),
            rolled_back,
        })
    }
}

/// A rolling rollout's instances, for views: "4 of 8 instances on the new
/// version (batch 2 of 4)".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingView {
    pub instances: u32,
    /// On the new version now (0 once rolled back).
    pub updated: u32,
    /// The batch in progress or done (1-based), of `batches`.
    pub batch: usize,
    pub batches: usize,
    /// Rolled back: the instances the old version was redeployed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeployed: Option<u32>,
}

impl RollingView {
    /// The same in a few words, for the 80-column ramp line.
    pub fn short(&self) -> String {
        match self.redeployed {
            Some(n) => format!("old version back on {n} of {}", self.instances),
            None => format!(
                "{} of {} new, {} old",
                self.updated,
                self.instances,
                self.instances.saturating_sub(self.updated)
            ),
        }
    }

    /// The line the ramp shows under the steps.
    pub fn line(&self) -> String {
        match self.redeployed {
            Some(n) => format!(
                "old version redeployed to {n} instance{}; {} of {} on the new version",
                if n == 1 { "" } else { "s" },
                self.updated,
                self.instances
            ),
            None => format!(
                "{} of {} instances on the new version, {} on the old (batch {} of {})",
                self.updated,
                self.instances,
                self.instances.saturating_sub(self.updated),
                self.batch,
                self.batches
            ),
        }
    }
}

impl Engine {
    fn rolling(&self) -> Option<u32> {
        match self.plan.rollout.strategy {
            Strategy::Rolling => self.plan.rolling.as_ref().map(|r| r.instances),
            _ => None,
        }
    }

    /// Instances on the new version at step `k` (rolling).
    fn updated_at(&self, k: usize) -> u32 {
        self.plan
            .steps
            .get(k)
            .and_then(|s| s.instances)
            .unwrap_or(0)
    }

    /// Rolling: step `k`'s batch is done (its traffic hooks succeeded).
    pub(super) fn batch_done(&mut self, k: usize, out: &mut Vec<Effect>) {
        let Some(total) = self.rolling() else {
            return;
        };
        let before = k.checked_sub(1).map_or(0, |p| self.updated_at(p));
        let now = self.updated_at(k);
        let reason = format!(
            "batch {} of {} done: {} more, {now} of {total} instances on the new version",
            k + 1,
            self.plan.steps.len(),
            now.saturating_sub(before)
        );
        let detail = json!({ "batch": k + 1, "instances": now, "of": total });
        self.journal(
            out,
            DecisionKind::BatchDone,
            &Actor::system(),
            reason,
            detail,
        );
    }

    /// A rollback's detail, with what a rolling rollback undoes: the
    /// batches done so far and their instances.
    pub(super) fn rollback_scope(&self, detail: serde_json::Value) -> serde_json::Value {
        let (Some(total), Some(k)) = (self.rolling(), self.step) else {
            return detail;
        };
        let mut detail = match detail {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                if !other.is_null() {
                    m.insert("detail".into(), other);
                }
                m
            }
        };
        let scope = json!({ "batches": k + 1, "instances": self.updated_at(k), "of": total });
        detail.insert("rolls_back".into(), scope);
        serde_json::Value::Object(detail)
    }

    /// The words of a blue-green or rolling rollout's `rolled_back`
    /// record: what the rollback moved, in the strategy's terms.
    pub(super) fn rolled_back_words(&self) -> Option<String> {
        if self.blue_green() {
            return Some(
                match (self.switched_at, self.old_stack) {
                    (None, _) => {
                        "the switch never ran: the old stack kept all traffic; the preview stack is left for inspection"
                    }
                    (Some(_), OldStack::ScaledDown) => {
                        "old version redeployed: all traffic back on it"
                    }
                    (Some(_), _) => "switched back: all traffic on the old stack",
                }
                .into(),
            );
        }
        self.rolling()?;
        let k = self.step?;
        let n = self.updated_at(k);
        Some(format!(
            "old version redeployed to the {n} updated instance{} ({} batch{})",
            if n == 1 { "" } else { "s" },
            k + 1,
            if k == 0 { "" } else { "es" }
        ))
    }

    /// The rolling state, for views.
    pub(super) fn rolling_view(&self) -> Option<RollingView> {
        let instances = self.rolling()?;
        let k = self.step;
        let rolled_back = matches!(self.phase, Phase::RolledBack);
        let entered = matches!(self.phase, Phase::Pending | Phase::Promoting { .. });
        let done = match k {
            // A batch counts once its hooks are done.
            Some(k) if entered => k.checked_sub(1).map_or(0, |p| self.updated_at(p)),
            Some(k) => self.updated_at(k),
            None => 0,
        };
        Some(RollingView {
            instances,
            updated: if rolled_back { 0 } else { done },
            batch: k.map_or(0, |k| k + 1),
            batches: self.plan.steps.len(),
            redeployed: rolled_back.then(|| k.map_or(0, |k| self.updated_at(k))),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "strategy_tests.rs"]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "strategy_words_tests.rs"]
mod words_tests;

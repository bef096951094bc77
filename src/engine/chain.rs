//! Hook sequencing. Moving the rollout (entering a step, promoting to full,
//! rolling back) is a chain of hooks run one at a time; each hook is
//! journaled (`hook_started`) before its `RunHook` and again when its result
//! comes back (`hook_result`). Pause, resume and on_finish hooks are "side"
//! hooks: journaled the same way, but their result changes no phase.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::json;

use crate::plan::HookKind;

use super::rollout::Engine;
use super::types::{
    Actor, DecisionKind, Effect, HookCall, HookOutcome, HookRecord, Phase, Timestamp,
};

/// What a chain achieves when all its hooks succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    Enter(usize),
    Full,
    Rollback,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Planned {
    kind: HookKind,
    index: usize,
    weight: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Chain {
    pub goal: Goal,
    queue: VecDeque<Planned>,
    /// The id of the chain's hook now running.
    pub current: Option<u64>,
    actor: Actor,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Part of the current chain.
    Chain,
    /// pause / resume / on_finish.
    Side,
    /// Was part of a chain a rollback replaced: its result is ignored.
    Superseded,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct InFlight {
    pub call: HookCall,
    pub role: Role,
}

impl Engine {
    /// Start entering step `k`: journal `action` (when it is a decision of
    /// its own), then set_weight, promote and each on_step_enter check.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn begin_enter(
        &mut self,
        k: usize,
        action: Option<DecisionKind>,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let Some(step) = self.plan.steps.get(k) else {
            return;
        };
        let weight = step.weight;
        if let Some(prev) = self.step
            && let Some(t) = self.step_times.get_mut(prev)
        {
            t.left = Some(now);
        }
        if let Some(t) = self.step_times.get_mut(k) {
            *t = super::rollout::StepTimes {
                entered: Some(now),
                left: None,
            };
        }
        self.step = Some(k);
        self.phase = Phase::Promoting { step: k };
        self.hold_started_at = None;
        self.pause_from_check = false;
        if let Some(action) = action {
            self.journal(out, action, actor, reason.clone(), detail);
        }
        let hooks = &self.plan.hooks;
        let mut queue = VecDeque::new();
        if hooks.set_weight.is_some() {
            queue.push_back(Planned {
                kind: HookKind::SetWeight,
                index: 0,
                weight,
            });
        } else {
            // No traffic hook: the deploy tool moves traffic on its own and
            // rampdeck takes the step's weight as given.
            self.weight = weight;
        }
        if hooks.promote.is_some() {
            queue.push_back(Planned {
                kind: HookKind::Promote,
                index: 0,
                weight,
            });
        }
        for index in 0..hooks.on_step_enter.len() {
            queue.push_back(Planned {
                kind: HookKind::OnStepEnter,
                index,
                weight,
            });
        }
        self.chain = Some(Chain {
            goal: Goal::Enter(k),
            queue,
            current: None,
            actor: actor.clone(),
            reason,
        });
        self.pump(now, out);
    }

    /// After a resume: re-run the idempotent set_weight at the confirmed
    /// `weight` (never another one), then step `k`'s hold starts again.
    pub(super) fn begin_reassert(
        &mut self,
        k: usize,
        weight: u8,
        actor: &Actor,
        reason: String,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let mut queue = VecDeque::new();
        queue.push_back(Planned {
            kind: HookKind::SetWeight,
            index: 0,
            weight,
        });
        self.chain = Some(Chain {
            goal: Goal::Enter(k),
            queue,
            current: None,
            actor: actor.clone(),
            reason,
        });
        self.pump(now, out);
    }

    /// Step `k` is entered (its hooks done or not needed): the hold starts.
    pub(super) fn finish_entering(&mut self, k: usize, now: Timestamp, out: &mut Vec<Effect>) {
        self.complete(Goal::Enter(k), now, out);
    }

    /// Start the full promotion: set_weight(100) when below 100, promote.
    pub(super) fn begin_full(
        &mut self,
        action: DecisionKind,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let last = self.plan.steps.len().saturating_sub(1);
        self.phase = Phase::Promoting { step: last };
        self.hold_started_at = None;
        self.journal(out, action, actor, reason.clone(), detail);
        let mut queue = VecDeque::new();
        if self.weight < 100 {
            if self.plan.hooks.set_weight.is_some() {
                queue.push_back(Planned {
                    kind: HookKind::SetWeight,
                    index: 0,
                    weight: 100,
                });
            } else {
                self.weight = 100;
            }
        }
        if self.plan.hooks.promote.is_some() {
            queue.push_back(Planned {
                kind: HookKind::Promote,
                index: 0,
                weight: 100,
            });
        }
        self.chain = Some(Chain {
            goal: Goal::Full,
            queue,
            current: None,
            actor: actor.clone(),
            reason,
        });
        self.pump(now, out);
    }

    /// Start rolling back. Wins over any chain in flight: that chain's
    /// running hook is marked superseded and its late result ignored.
    pub(super) fn begin_rollback(
        &mut self,
        action: DecisionKind,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if let Some(old) = self.chain.take()
            && let Some(id) = old.current
            && let Some(f) = self.in_flight.get_mut(&id)
        {
            f.role = Role::Superseded;
        }
        self.phase = Phase::RollingBack;
        self.hold_started_at = None;
        self.rollback_retry_at = None;
        self.journal(out, action, actor, reason.clone(), detail);
        let mut queue = VecDeque::new();
        if self.plan.hooks.rollback.is_some() {
            queue.push_back(Planned {
                kind: HookKind::Rollback,
                index: 0,
                weight: 0,
            });
        } else if self.plan.hooks.set_weight.is_some() {
            queue.push_back(Planned {
                kind: HookKind::SetWeight,
                index: 0,
                weight: 0,
            });
        }
        self.chain = Some(Chain {
            goal: Goal::Rollback,
            queue,
            current: None,
            actor: actor.clone(),
            reason,
        });
        self.pump(now, out);
    }

    /// Run the chain's next hook, or finish the chain when none is left.
    fn pump(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let Some(chain) = self.chain.as_mut() else {
            return;
        };
        if chain.current.is_some() {
            return;
        }
        let Some(p) = chain.queue.pop_front() else {
            let goal = chain.goal;
            self.chain = None;
            self.complete(goal, now, out);
            return;
        };
        let (actor, reason) = (chain.actor.clone(), chain.reason.clone());
        let id = self.run_hook(p.kind, p.index, p.weight, actor, reason, Role::Chain, out);
        if let Some(chain) = self.chain.as_mut() {
            chain.current = Some(id);
        }
    }

    /// Journal `hook_started`, then ask the driver to run the hook.
    #[allow(clippy::too_many_arguments)]
    fn run_hook(
        &mut self,
        kind: HookKind,
        index: usize,
        weight: u8,
        actor: Actor,
        reason: String,
        role: Role,
        out: &mut Vec<Effect>,
    ) -> u64 {
        let id = self.next_hook_id;
        self.next_hook_id += 1;
        let call = HookCall {
            id,
            kind,
            index,
            step: self.step.unwrap_or(0),
            weight,
            actor: actor.clone(),
            reason,
        };
        let what = match kind {
            HookKind::OnStepEnter => format!("on_step_enter check {}", index + 1),
            HookKind::SetWeight => format!("set_weight to {weight} %"),
            k => k.as_str().to_string(),
        };
        let record = HookRecord {
            id,
            kind,
            weight: Some(weight),
            outcome: None,
        };
        self.journal_hook(
            out,
            DecisionKind::HookStarted,
            &actor,
            what,
            json!(null),
            Some(record),
        );
        self.in_flight.insert(
            id,
            InFlight {
                call: call.clone(),
                role,
            },
        );
        out.push(Effect::RunHook(call));
        id
    }

    /// Run a pause/resume/on_finish hook when configured.
    pub(super) fn run_side(
        &mut self,
        kind: HookKind,
        actor: &Actor,
        reason: String,
        _now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if self.plan.hooks.get(kind).is_some() {
            let w = self.weight;
            self.run_hook(kind, 0, w, actor.clone(), reason, Role::Side, out);
        }
    }

    /// Every hook of a chain succeeded.
    fn complete(&mut self, goal: Goal, now: Timestamp, out: &mut Vec<Effect>) {
        let system = Actor::system();
        match goal {
            Goal::Enter(k) => {
                self.hold_started_at = Some(now);
                for g in &mut self.gates {
                    g.reset_step();
                }
                // A pause that came while entering stays; the hold runs.
                if matches!(self.phase, Phase::Promoting { .. }) {
                    self.phase = Phase::Holding { step: k };
                }
                let (name, hold) = match self.plan.steps.get(k) {
                    Some(s) => (s.name.clone(), s.hold.as_millis() as u64),
                    None => (String::new(), 0),
                };
                let reason = format!(
                    "step {} '{name}' at {} %: hold {}",
                    k + 1,
                    self.weight,
                    super::words::clock(hold)
                );
                self.journal(out, DecisionKind::StepEntered, &system, reason, json!(null));
            }
            Goal::Full => {
                self.weight = 100;
                self.phase = Phase::Promoted;
                if let Some(k) = self.step
                    && let Some(t) = self.step_times.get_mut(k)
                {
                    t.left = Some(now);
                }
                self.journal(
                    out,
                    DecisionKind::Promoted,
                    &system,
                    "100 % on the new version".into(),
                    json!(null),
                );
                self.run_side(HookKind::OnFinish, &system, "promoted".into(), now, out);
            }
            Goal::Rollback => {
                self.weight = 0;
                self.phase = Phase::RolledBack;
                self.rollback_failed = false;
                self.rollback_attempts = 0;
                self.rollback_retry_at = None;
                if let Some(k) = self.step
                    && let Some(t) = self.step_times.get_mut(k)
                {
                    t.left = Some(now);
                }
                let reason = if self.plan.hooks.rollback.is_none()
                    && self.plan.hooks.set_weight.is_none()
                {
                    "no rollback or set_weight hook configured: traffic is not moved by rampdeck"
                } else {
                    "canary at 0 %"
                };
                self.journal(
                    out,
                    DecisionKind::RolledBack,
                    &system,
                    reason.into(),
                    json!(null),
                );
                self.run_side(HookKind::OnFinish, &system, "rolled back".into(), now, out);
            }
        }
    }

    pub(super) fn on_hook_result(
        &mut self,
        id: u64,
        outcome: HookOutcome,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let system = Actor::system();
        let Some(f) = self.in_flight.remove(&id) else {
            let detail = json!({ "id": id, "outcome": outcome });
            let reason = format!("result for unknown hook id {id} ignored");
            self.journal(
                out,
                DecisionKind::HookResultIgnored,
                &system,
                reason,
                detail,
            );
            return;
        };
        let kind = f.call.kind;
        let record = Some(HookRecord {
            id,
            kind,
            weight: Some(f.call.weight),
            outcome: Some(outcome.clone()),
        });
        let is_current = self.chain.as_ref().and_then(|c| c.current) == Some(id);
        if f.role == Role::Superseded || (f.role == Role::Chain && !is_current) {
            let reason = format!(
                "late {} result ({}) ignored: superseded by rollback",
                kind.as_str(),
                outcome.summary
            );
            self.journal_hook(
                out,
                DecisionKind::HookResultIgnored,
                &system,
                reason,
                json!(null),
                record,
            );
            return;
        }
        let verdict = if outcome.ok { "ok" } else { "failed" };
        let what = format!("{} {verdict}: {}", kind.as_str(), outcome.summary);
        if f.role == Role::Side {
            self.journal_hook(
                out,
                DecisionKind::HookResult,
                &f.call.actor,
                what,
                json!(null),
                record,
            );
            return;
        }
        // The chain's current hook.
        let Some(goal) = self.chain.as_ref().map(|c| c.goal) else {
            return;
        };
        if outcome.ok {
            if kind == HookKind::SetWeight {
                self.weight = f.call.weight;
            }
            self.journal_hook(
                out,
                DecisionKind::HookResult,
                &f.call.actor,
                what,
                json!(null),
                record,
            );
            if let Some(c) = self.chain.as_mut() {
                c.current = None;
            }
            self.pump(now, out);
            return;
        }
        self.journal_hook(
            out,
            DecisionKind::HookResult,
            &f.call.actor,
            what,
            json!(null),
            record,
        );
        self.chain = None;
        match (goal, kind) {
            (Goal::Rollback, _) => {
                // Never give up: retry with a backoff that doubles from 5 s
                // up to the plan's `rollback_retry`, until a rollback
                // succeeds or a person stops the driver.
                self.rollback_failed = true;
                self.rollback_attempts += 1;
                let cap = self.plan.hooks.rollback_retry().max(Duration::from_secs(1));
                let shift = self.rollback_attempts.saturating_sub(1).min(16);
                let delay = Duration::from_secs(5u64 << shift).min(cap);
                self.rollback_retry_at = Some(now.plus(delay));
                let reason = format!(
                    "ROLLBACK FAILED: manual action needed ({} hook: {}); retrying in {} s",
                    kind.as_str(),
                    outcome.summary,
                    delay.as_secs()
                );
                self.phase = Phase::Failed {
                    reason: reason.clone(),
                };
                let detail = json!({
                    "attempts": self.rollback_attempts,
                    "retry_in_ms": delay.as_millis() as u64,
                });
                self.journal(out, DecisionKind::Failed, &system, reason, detail);
            }
            (Goal::Enter(k), HookKind::OnStepEnter) => {
                let reason = format!(
                    "on_step_enter check {} failed: {}",
                    f.call.index + 1,
                    outcome.summary
                );
                self.phase = Phase::Paused {
                    step: k,
                    by: system.user.clone(),
                    reason: reason.clone(),
                };
                self.pause_from_check = true;
                self.journal(
                    out,
                    DecisionKind::CheckFailedPause,
                    &system,
                    reason.clone(),
                    json!(null),
                );
                self.run_side(HookKind::Pause, &system, reason, now, out);
            }
            _ => {
                let reason = format!(
                    "{} hook failed ({}): a human must act; rollback is still accepted",
                    kind.as_str(),
                    outcome.summary
                );
                self.phase = Phase::Failed {
                    reason: reason.clone(),
                };
                self.journal(out, DecisionKind::Failed, &system, reason, json!(null));
            }
        }
    }

    /// The kind of the chain hook now running, else any side hook's.
    pub(super) fn hook_running(&self) -> Option<HookKind> {
        let current = self.chain.as_ref().and_then(|c| c.current);
        if let Some(f) = current.and_then(|id| self.in_flight.get(&id)) {
            return Some(f.call.kind);
        }
        self.in_flight
            .values()
            .find(|f| f.role == Role::Side)
            .map(|f| f.call.kind)
    }

    /// The chain hook now running, if any.
    pub(super) fn chain_hook(&self) -> Option<HookKind> {
        let id = self.chain.as_ref()?.current?;
        self.in_flight.get(&id).map(|f| f.call.kind)
    }

    /// A chain entering step `k` is still running.
    pub(super) fn entering(&self) -> bool {
        matches!(self.chain.as_ref().map(|c| c.goal), Some(Goal::Enter(_)))
    }
}

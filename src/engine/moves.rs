//! The engine's moves through its hooks: entering a step, the full
//! promotion, a rollback, and what each hook result means for the phase.
//! Which hook runs next is the [`HookChain`]'s; journaling and the phase are
//! the engine's, here. Each hook is journaled (`hook_started`) before its
//! `RunHook` and again when its result comes back (`hook_result`).

use std::time::Duration;

use serde_json::json;

use crate::plan::HookKind;

use super::chain::{Answer, Goal, Next, Planned};
use super::rollout::{Engine, StepTimes};
use super::types::{
    Actor, DecisionKind, Effect, HookCall, HookOutcome, HookRecord, Phase, Timestamp,
};

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
            *t = StepTimes {
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
        if self.plan.hooks.set_weight.is_none() {
            // No traffic hook: the deploy tool moves traffic on its own and
            // rampdeck takes the step's weight as given.
            self.weight = weight;
        }
        let queue = Planned::enter(&self.plan.hooks, weight);
        self.hooks.begin(Goal::Enter(k), queue, actor, reason);
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
        self.hooks
            .begin(Goal::Enter(k), Planned::reassert(weight), actor, reason);
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
        let queue = Planned::full(&self.plan.hooks, self.weight);
        if self.plan.hooks.set_weight.is_none() {
            self.weight = 100;
        }
        self.hooks.begin(Goal::Full, queue, actor, reason);
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
        self.phase = Phase::RollingBack;
        self.hold_started_at = None;
        self.rollback_retry_at = None;
        let detail = self.rollback_scope(detail);
        self.journal(out, action, actor, reason.clone(), detail);
        let queue = Planned::rollback(&self.plan.hooks, self.redeploys());
        self.hooks.begin(Goal::Rollback, queue, actor, reason);
        self.pump(now, out);
    }

    /// Run the chain's next hook, or finish the chain when none is left.
    fn pump(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        match self.hooks.next(self.step.unwrap_or(0)) {
            Next::Run(call) => self.run_hook(call, out),
            Next::Done(goal) => self.complete(goal, now, out),
            Next::Wait => {}
        }
    }

    /// Journal `hook_started`, then ask the driver to run the hook.
    fn run_hook(&mut self, call: HookCall, out: &mut Vec<Effect>) {
        let what = match call.kind {
            HookKind::OnStepEnter => format!("on_step_enter check {}", call.index + 1),
            HookKind::SetWeight => format!("set_weight to {} %", call.weight),
            k => k.as_str().to_string(),
        };
        let record = HookRecord {
            id: call.id,
            kind: call.kind,
            weight: Some(call.weight),
            outcome: None,
        };
        let actor = call.actor.clone();
        self.journal_hook(
            out,
            DecisionKind::HookStarted,
            &actor,
            what,
            json!(null),
            Some(record),
        );
        out.push(Effect::RunHook(call));
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
            let step = self.step.unwrap_or(0);
            let call = self.hooks.side(kind, step, self.weight, actor, reason);
            self.run_hook(call, out);
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
                self.batch_done(k, out);
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
                self.reached_full(now, out);
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
                let reason = match self.rolled_back_words() {
                    Some(words) => words,
                    None if self.plan.hooks.rollback.is_none()
                        && self.plan.hooks.set_weight.is_none() =>
                    {
                        "no rollback or set_weight hook configured: traffic is not moved by rampdeck"
                            .into()
                    }
                    None => "canary at 0 %".into(),
                };
                self.journal(out, DecisionKind::RolledBack, &system, reason, json!(null));
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
        let answer = self.hooks.answer(id, outcome.ok);
        let (call, goal) = match answer {
            Answer::Unknown => {
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
            }
            Answer::Superseded(call) => {
                let reason = format!(
                    "late {} result ({}) ignored: superseded by rollback",
                    call.kind.as_str(),
                    outcome.summary
                );
                let record = record_of(&call, &outcome);
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
            Answer::Side(call) => {
                self.journal_result(&call, &outcome, out);
                if call.kind == HookKind::ScaleDown {
                    self.scale_down_result(&outcome, out);
                }
                return;
            }
            Answer::Chain(call, goal) => (call, goal),
        };
        let kind = call.kind;
        if outcome.ok {
            if kind == HookKind::SetWeight {
                self.weight = call.weight;
            }
            if kind == HookKind::Switch {
                self.weight = 100;
                self.journal_result(&call, &outcome, out);
                self.switched(now, out);
                self.pump(now, out);
                return;
            }
            self.journal_result(&call, &outcome, out);
            self.pump(now, out);
            return;
        }
        self.journal_result(&call, &outcome, out);
        let f = call;
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
                    f.index + 1,
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

    /// Journal a hook's result (`hook_result`).
    fn journal_result(&mut self, call: &HookCall, outcome: &HookOutcome, out: &mut Vec<Effect>) {
        let verdict = if outcome.ok { "ok" } else { "failed" };
        let what = format!("{} {verdict}: {}", call.kind.as_str(), outcome.summary);
        let record = record_of(call, outcome);
        self.journal_hook(
            out,
            DecisionKind::HookResult,
            &call.actor,
            what,
            json!(null),
            record,
        );
    }

    /// The kind of the chain hook now running, else any side hook's.
    pub(super) fn hook_running(&self) -> Option<HookKind> {
        self.hooks.running()
    }

    /// The chain hook now running, if any.
    pub(super) fn chain_hook(&self) -> Option<HookKind> {
        self.hooks.chain_hook()
    }

    /// A chain entering a step is still running.
    pub(super) fn entering(&self) -> bool {
        matches!(self.hooks.goal(), Some(Goal::Enter(_)))
    }
}

fn record_of(call: &HookCall, outcome: &HookOutcome) -> Option<HookRecord> {
    Some(HookRecord {
        id: call.id,
        kind: call.kind,
        weight: Some(call.weight),
        outcome: Some(outcome.clone()),
    })
}

//! Backtest: what a plan would have done with a past rollout's data.
//!
//! A fresh [`Engine`] under the plan starts at the recording's first
//! entry and is fed the recorded samples and ticks, in order, at their
//! times. What people and hooks did is not replayed: every hook the engine
//! asks for succeeds at once, every automatic check passes, the pre-flight
//! and exit items are confirmed and manual steps approved as soon as the
//! engine allows it ([`Outcome::assisted`] says which were). The result is
//! what the plan's gates and triggers decide on the same data.
//!
//! Beside it, [`real`] replays every recorded input (commands and hook
//! results included) under the recording's own plan: what really happened.
//! After a real rollback the canary took no more traffic, so the samples
//! after it are the old version's and prove nothing about the new plan.
//!
//! Pure: no I/O, no clock; time is the recording's.

use std::sync::Arc;

use serde::Serialize;

use super::{Entry, Recording};
use crate::engine::words::plural;
use crate::engine::{
    Actor, Decision, DecisionKind, Effect, Engine, HookOutcome, Input, Phase, Stage, Timestamp,
};
use crate::plan::Plan;

/// Who the backtest acts as.
pub const ACTOR: &str = "backtest";

/// How a run under a plan ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Ending {
    /// The plan rolled the canary back.
    RolledBack(Rollback),
    /// The plan promoted it, `at_secs` after the start.
    Promoted { at_secs: f64 },
    /// The recording ended first; the rollout was at this step (1-based).
    Running {
        step: Option<usize>,
        weight: u8,
        phase: String,
    },
    /// A hook failed (only in [`real`]: the backtest's hooks succeed).
    Failed { reason: String },
}

/// A rollback decision: where, when, and why in the engine's words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollback {
    /// 1-based, as the ramp shows it.
    pub step: Option<usize>,
    pub weight: u8,
    /// Seconds after the start.
    pub at_secs: f64,
    /// The trigger's name, or the decision's kind (`no_data_rollback`,
    /// `window_rollback`, `rollback` by a person).
    pub by: String,
    pub reason: String,
}

impl Rollback {
    fn of(d: &Decision, secs: f64) -> Rollback {
        let by = d
            .detail
            .get("trigger")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| d.action.as_str().to_string());
        Rollback {
            step: d.step.map(|s| s + 1),
            weight: d.weight,
            at_secs: secs,
            by,
            reason: d.reason.clone(),
        }
    }
}

/// One recording run under one plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub ending: Ending,
    /// What the backtest did in people's and hooks' place.
    pub assisted: Vec<String>,
    /// Recorded samples and ticks fed.
    pub fed: usize,
    /// Recorded inputs of people, hooks and checks not fed.
    pub skipped: usize,
}

impl Outcome {
    pub fn rolled_back(&self) -> bool {
        matches!(self.ending, Ending::RolledBack(_))
    }
    pub fn promoted(&self) -> bool {
        matches!(self.ending, Ending::Promoted { .. })
    }
}

/// The engine under test and what it did so far.
struct Run {
    engine: Engine,
    start: Timestamp,
    rollback: Option<Rollback>,
    promoted_at: Option<f64>,
    hooks: usize,
    checks: usize,
    assisted: Vec<String>,
}

impl Run {
    fn secs(&self, now: Timestamp) -> f64 {
        (now.0 - self.start.0) as f64 / 1000.0
    }

    /// Hands `input` to the engine, and answers every hook and check it
    /// asks for at once (success), until it asks for nothing more.
    fn feed(&mut self, input: Input, now: Timestamp) {
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for effect in self.engine.handle(input, now) {
                match effect {
                    Effect::RunHook(call) => {
                        self.hooks += 1;
                        let outcome = HookOutcome::succeeded("backtest: succeeded at once");
                        queue.push_back(Input::HookResult {
                            id: call.id,
                            outcome,
                        });
                    }
                    Effect::RunCheck { stage, item } => {
                        self.checks += 1;
                        queue.push_back(Input::CheckResult {
                            stage,
                            item,
                            ok: true,
                            summary: "backtest: passed".into(),
                        });
                    }
                    Effect::Journal(d) => self.note(&d, now),
                    Effect::Notify(_) => {}
                }
            }
        }
    }

    fn note(&mut self, d: &Decision, now: Timestamp) {
        let secs = self.secs(now);
        if d.action.is_rollback() && self.rollback.is_none() {
            self.rollback = Some(Rollback::of(d, secs));
        }
        if d.action == DecisionKind::Promoted && self.promoted_at.is_none() {
            self.promoted_at = Some(secs);
        }
        let said = match d.action {
            DecisionKind::PreflightConfirmed => "confirmed the pre-flight items".to_string(),
            DecisionKind::ExitConfirmed => "confirmed the exit items".to_string(),
            DecisionKind::Approve | DecisionKind::Approval if d.actor.user != ACTOR => format!(
                "approved step {} as {}",
                d.step.map_or(0, |s| s + 1),
                d.actor.user
            ),
            DecisionKind::Approve | DecisionKind::Approval => {
                format!("approved step {}", d.step.map_or(0, |s| s + 1))
            }
            _ => return,
        };
        if !self.assisted.contains(&said) {
            self.assisted.push(said);
        }
    }

    /// Does what people would: approve a manual step whose gates pass, and
    /// confirm the exit items once observing.
    fn assist(&mut self, now: Timestamp, observed: &mut bool) {
        match self.engine.phase().clone() {
            Phase::AwaitingApproval { step } => {
                for actor in approvers(&self.engine, step, now) {
                    let input = Input::ApproveStep {
                        step,
                        actor,
                        reason: "approved by the backtest".into(),
                    };
                    self.feed(input, now);
                    if !matches!(self.engine.phase(), Phase::AwaitingApproval { .. }) {
                        break;
                    }
                }
            }
            Phase::Observing { .. } if !*observed => {
                *observed = true;
                // The engine ran the exit checks itself on reaching 100 %.
                self.confirm(Stage::Exit, now);
            }
            _ => {}
        }
    }

    /// Confirms a checklist's manual items.
    fn confirm(&mut self, stage: Stage, now: Timestamp) {
        let confirm = Input::Confirm {
            stage,
            item: None,
            actor: Actor::named(ACTOR),
            reason: "confirmed by the backtest".into(),
        };
        self.feed(confirm, now);
    }

    fn outcome(mut self, last: Timestamp, fed: usize, skipped: usize) -> Outcome {
        let ending = if let Some(r) = self.rollback.take() {
            Ending::RolledBack(r)
        } else if let Some(at_secs) = self.promoted_at {
            Ending::Promoted { at_secs }
        } else if let Phase::Failed { reason } = self.engine.phase() {
            Ending::Failed {
                reason: reason.clone(),
            }
        } else {
            let view = self.engine.view(last);
            Ending::Running {
                step: view.step.map(|s| s + 1),
                weight: view.weight,
                phase: view.phase.name().to_string(),
            }
        };
        let mut assisted = Vec::new();
        if self.hooks > 0 {
            let hooks = plural(self.hooks as u32, "hook", "hooks");
            assisted.push(format!(
                "answered {} {hooks} at once with success",
                self.hooks
            ));
        }
        if self.checks > 0 {
            let checks = plural(self.checks as u32, "automatic check", "automatic checks");
            assisted.push(format!("passed {} {checks}", self.checks));
        }
        assisted.append(&mut self.assisted);
        Outcome {
            ending,
            assisted,
            fed,
            skipped,
        }
    }
}

/// Who may approve `step` now: the plan's approvers (a member for a
/// `@group`), or the backtest itself when the step names none.
fn approvers(engine: &Engine, step: usize, now: Timestamp) -> Vec<Actor> {
    let view = engine.view(now);
    let can = view
        .steps
        .get(step)
        .and_then(|s| s.approvals.as_ref())
        .map(|a| a.can.clone())
        .unwrap_or_default();
    if can.is_empty() {
        return vec![Actor::named(ACTOR)];
    }
    can.iter()
        .map(|c| match c.strip_prefix('@') {
            Some(group) => Actor {
                groups: vec![group.to_string()],
                ..Actor::named(&format!("{ACTOR}-{group}"))
            },
            None => Actor::named(c),
        })
        .collect()
}

/// The recording's first entry's time (its header's start when empty).
fn start_of(rec: &Recording) -> Timestamp {
    rec.entries.first().map_or(rec.header.started, |e| e.t)
}

/// Backtest `rec` under `plan`.
pub fn run(rec: &Recording, plan: &Plan) -> Outcome {
    let start = start_of(rec);
    let mut run = Run {
        engine: Engine::new(Arc::new(plan.clone())),
        start,
        rollback: None,
        promoted_at: None,
        hooks: 0,
        checks: 0,
        assisted: Vec::new(),
    };
    let checks = Input::RunChecks {
        stage: Stage::Preflight,
        item: None,
    };
    run.feed(checks, start);
    run.confirm(Stage::Preflight, start);
    run.feed(
        Input::Start {
            actor: Actor::named(ACTOR),
        },
        start,
    );
    let (mut fed, mut skipped, mut observed) = (0, 0, false);
    let mut last = start;
    for e in &rec.entries {
        if run.engine.phase().is_terminal() {
            break;
        }
        last = e.t;
        match e.input {
            Input::Sample { .. } | Input::Tick => {
                fed += 1;
                run.feed(e.input.clone(), e.t);
                run.assist(e.t, &mut observed);
            }
            _ => skipped += 1,
        }
    }
    run.outcome(last, fed, skipped)
}

/// What really happened: every recorded input replayed under the
/// recording's own plan, a fresh engine at each `Resume` as the driver
/// that resumed had.
pub fn real(rec: &Recording) -> Ending {
    real_and_gone(rec).0
}

/// [`real`], and when a real rollback was done (the `rolled_back`
/// record: the canary's traffic gone), in seconds after the start.
fn real_and_gone(rec: &Recording) -> (Ending, Option<f64>) {
    let plan = Arc::new(rec.header.plan.clone());
    let start = start_of(rec);
    let mut engine = Engine::new(Arc::clone(&plan));
    let mut rollback = None;
    let mut gone = None;
    let mut promoted_at = None;
    for Entry { t, input, .. } in &rec.entries {
        if matches!(input, Input::Resume { .. }) {
            engine = Engine::new(Arc::clone(&plan));
        }
        let secs = (t.0 - start.0) as f64 / 1000.0;
        for effect in engine.handle(input.clone(), *t) {
            if let Effect::Journal(d) = effect {
                if d.action.is_rollback() && rollback.is_none() {
                    rollback = Some(Rollback::of(&d, secs));
                }
                if d.action == DecisionKind::Promoted {
                    promoted_at = Some(secs);
                }
                if d.action == DecisionKind::RolledBack && gone.is_none() {
                    gone = Some(secs);
                }
            }
        }
    }
    if let Some(r) = rollback {
        return (Ending::RolledBack(r), gone);
    }
    if let Some(at_secs) = promoted_at {
        return (Ending::Promoted { at_secs }, None);
    }
    if let Phase::Failed { reason } = engine.phase() {
        let reason = reason.clone();
        return (Ending::Failed { reason }, None);
    }
    let last = rec.entries.last().map_or(start, |e| e.t);
    let view = engine.view(last);
    let running = Ending::Running {
        step: view.step.map(|s| s + 1),
        weight: view.weight,
        phase: view.phase.name().to_string(),
    };
    (running, None)
}

/// One recording backtested: under the plan, under its own plan, and what
/// really happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rollout_id: String,
    /// Seconds from the first entry to the last.
    pub span_secs: f64,
    /// Under the plan being tested.
    pub plan: Outcome,
    /// The same backtest under the recording's own plan.
    pub original: Outcome,
    /// Every recorded input replayed under the recording's own plan.
    pub real: Ending,
    /// The original plan promoted it and this plan rolls it back.
    pub false_alarm: bool,
    /// Samples recorded once the real rollback was done (the canary's
    /// traffic gone: they are the old version's).
    pub samples_after_real_rollback: usize,
}

/// Backtest `rec` under `plan`, beside its own plan and what happened.
pub fn report(rec: &Recording, plan: &Plan) -> Report {
    let start = start_of(rec);
    let end = rec.entries.last().map_or(start, |e| e.t);
    let tested = run(rec, plan);
    let original = run(rec, &rec.header.plan);
    let false_alarm = original.promoted() && tested.rolled_back();
    let (real, gone) = real_and_gone(rec);
    let samples_after_real_rollback = gone.map_or(0, |secs| {
        let at = start.0 + (secs * 1000.0) as i64;
        rec.entries
            .iter()
            .filter(|e| e.t.0 > at && e.sample().is_some())
            .count()
    });
    Report {
        rollout_id: rec.header.rollout_id.clone(),
        span_secs: (end.0 - start.0) as f64 / 1000.0,
        plan: tested,
        original,
        real,
        false_alarm,
        samples_after_real_rollback,
    }
}

#[cfg(all(test, feature = "demo"))]
#[path = "backtest_tests.rs"]
mod tests;

//! The rollout state machine: the `Engine` value, its inputs, and the
//! automatic decisions (advance, triggers, no-data policies). Commands live
//! in `commands.rs`, hook sequencing in `chain.rs`, the view in `next.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::plan::{GateKind, Plan, Unattended};

use super::analysis::classifier::{MetricJudgement, OnMarginal, StepResult, StepScore, score_step};
use super::chain::HookChain;
use super::decision::{Recent, effects, plan_line, plan_summary};
use super::gates::GateState;
use super::series::MetricSeries;
use super::types::{
    Actor, Decision, DecisionKind, Effect, GateStatus, HookRecord, Input, Phase, Timestamp, Verdict,
};
use super::windowed::WindowGuard;

/// Most points one series keeps, whatever retention / interval says.
const MAX_SERIES_POINTS: u64 = 200_000;

/// When a step was entered and left, for chart boundaries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct StepTimes {
    pub entered: Option<Timestamp>,
    pub left: Option<Timestamp>,
}

/// The pure rollout engine. Feed it [`Input`]s with the time they happened;
/// run the [`Effect`]s it returns, in order.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(super) plan: Arc<Plan>,
    pub(super) phase: Phase,
    /// Current step index, once started.
    pub(super) step: Option<usize>,
    /// Canary weight as last confirmed by a hook (or set at once when no
    /// traffic hook is configured).
    pub(super) weight: u8,
    /// One per plan metric, in plan order.
    pub(super) gates: Vec<GateState>,
    pub(super) series: Vec<MetricSeries>,
    pub(super) started_at: Option<Timestamp>,
    /// The `now` of the input being handled, stamped on its decisions.
    pub(super) handling_at: Timestamp,
    /// When the current step's hold started (None until its hooks are done).
    pub(super) hold_started_at: Option<Timestamp>,
    pub(super) step_times: Vec<StepTimes>,
    /// The hook sequence that moves the rollout (enter a step, promote to
    /// full, roll back; at most one at a time) and every hook in flight.
    pub(super) hooks: HookChain,
    /// Whether the driving view is attached (issue 6).
    pub(super) attached: bool,
    pub(super) rollback_failed: bool,
    /// After a resume, the value `[hooks.target_step]` must read before the
    /// step's hold starts again.
    pub(super) resume_check: Option<f64>,
    /// A `resume_mismatch` was journaled (once per resume).
    pub(super) resume_mismatch: bool,
    /// Failed rollbacks since the last success (the retry's backoff).
    pub(super) rollback_attempts: u32,
    /// When the next automatic rollback retry starts (after a rollback
    /// failed, until one succeeds).
    pub(super) rollback_retry_at: Option<Timestamp>,
    /// The current pause came from a failed on_step_enter check: resuming
    /// starts the step's hold afresh.
    pub(super) pause_from_check: bool,
    pub(super) recent: Recent,
    /// The baseline cohort was seen empty (the canary reached 100 %) and
    /// the gates were told.
    pub(super) baseline_gone: bool,
    /// The step waits because gating metrics have had no data for a while
    /// (an outage): since when, and which.
    pub(super) data_hold: Option<DataHold>,
    /// Change windows and freezes: their state now and any exception.
    pub(super) window: WindowGuard,
    /// Who started the rollout: the driver, who cannot approve their own
    /// promotion unless the step's approvals allow it.
    pub(super) driver: Option<String>,
    /// Approvals given to N-of-M steps (see `approvals.rs`).
    pub(super) approvals: Vec<super::approvals::Given>,
    /// Pre-flight items and where each stands (see `preflight.rs`).
    pub(super) preflight: super::checklist::Checklist,
    /// Exit items (`[exit]`) and where each stands (see `exit.rs`).
    pub(super) exit_items: super::checklist::Checklist,
    /// While observing at 100 %: since when, and the last gate not passing.
    pub(super) observation: super::exit::Observation,
    /// Blue-green: when all traffic moved to the new stack, and where the
    /// old stack stands (see `strategy.rs`).
    pub(super) switched_at: Option<Timestamp>,
    pub(super) old_stack: super::strategy::OldStack,
}

/// A wait for data: the step cannot advance because gating metrics keep
/// getting no data (NoData or ProviderError). Its start and end are
/// journaled, so an outage shows in the record of the step it delayed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DataHold {
    pub since: Timestamp,
    pub metrics: Vec<String>,
}

/// Polls in a row without data before a gating metric holds its step for
/// want of data (one missed poll is noise, not an outage).
pub const DATA_HOLD_POLLS: u32 = 2;

impl Engine {
    /// A pending engine for `plan`. Each metric's series keeps
    /// `ui.retention / interval` points of its source.
    pub fn new(plan: Arc<Plan>) -> Engine {
        let gates = plan.metrics.iter().map(GateState::new).collect();
        let series = plan
            .metrics
            .iter()
            .map(|m| {
                let interval = plan.interval_of(&m.id).max(Duration::from_millis(100));
                let cap = (plan.ui.retention.as_millis() / interval.as_millis()) as u64;
                MetricSeries::new(&m.id, cap.clamp(2, MAX_SERIES_POINTS) as usize)
            })
            .collect();
        let step_times = vec![StepTimes::default(); plan.steps.len()];
        let plan_ref = Arc::clone(&plan);
        Engine {
            plan,
            phase: Phase::Pending,
            step: None,
            weight: 0,
            gates,
            series,
            started_at: None,
            handling_at: Timestamp::default(),
            hold_started_at: None,
            step_times,
            hooks: HookChain::default(),
            attached: true,
            rollback_failed: false,
            resume_check: None,
            resume_mismatch: false,
            rollback_attempts: 0,
            rollback_retry_at: None,
            pause_from_check: false,
            recent: Recent::default(),
            baseline_gone: false,
            data_hold: None,
            window: WindowGuard::of(&plan_ref),
            driver: None,
            approvals: Vec::new(),
            preflight: super::preflight::of(&plan_ref),
            exit_items: super::exit::of(&plan_ref),
            observation: Default::default(),
            switched_at: None,
            old_stack: Default::default(),
        }
    }

    /// Apply one input that happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Vec<Effect> {
        self.handling_at = now;
        let mut out = Vec::new();
        self.update_window(now, &mut out);
        match input {
            Input::Start { actor } => self.on_start(actor, now, &mut out),
            Input::Resume { point, actor } => self.on_resume(*point, actor, now, &mut out),
            Input::Sample {
                metric,
                cohort,
                reading,
            } => {
                self.on_sample(&metric, cohort, reading, now, &mut out);
                // Data coming back is said before the step it frees moves.
                self.update_data_hold(now, &mut out);
                self.auto_advance(now, &mut out);
            }
            Input::Tick => {
                self.expire_approvals(now, &mut out);
                self.retry_rollback(now, &mut out);
                self.maybe_scale_down(now, &mut out);
                self.auto_advance(now, &mut out);
            }
            Input::Command {
                command,
                actor,
                reason,
            } => {
                // Checked where it was typed; made safe here whatever came.
                let reason = super::reason::clean_reason(reason);
                self.on_command(command, actor, reason, now, &mut out)
            }
            Input::HookResult { id, outcome } => self.on_hook_result(id, outcome, now, &mut out),
            Input::OperatorPresence { attached, actor } => {
                self.on_presence(attached, actor, &mut out)
            }
            Input::FreezeException {
                approver,
                actor,
                reason,
            } => self.on_freeze_exception(&approver, &actor, reason, &mut out),
            Input::RunChecks { stage, item } => self.on_run_checks(stage, item, &mut out),
            Input::CheckResult {
                stage,
                item,
                ok,
                summary,
            } => self.on_check_result(stage, item, ok, &summary, &mut out),
            Input::Confirm {
                stage,
                item,
                actor,
                reason,
            } => self.on_confirm(stage, item, &actor, reason, &mut out),
            Input::ApproveStep {
                step,
                actor,
                reason,
            } => self.on_approve_step(step, actor, reason, now, &mut out),
            Input::PeerFreezeException { approver, reason } => {
                self.on_peer_freeze_exception(approver, reason, &mut out)
            }
        }
        self.after_input(now, &mut out);
        out
    }

    /// Journal a decision taken now (state already updated), and notify
    /// when the action is one humans want to hear about.
    pub(super) fn journal(
        &mut self,
        out: &mut Vec<Effect>,
        action: DecisionKind,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
    ) {
        self.journal_hook(out, action, actor, reason, detail, None);
    }

    /// Like [`Engine::journal`], with the hook the record is about: the
    /// record carries the step, confirmed weight, resulting phase and every
    /// gate's numbers at this moment.
    pub(super) fn journal_hook(
        &mut self,
        out: &mut Vec<Effect>,
        action: DecisionKind,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
        hook: Option<HookRecord>,
    ) {
        let d = Decision {
            action,
            actor: actor.clone(),
            reason,
            step: self.step,
            weight: self.weight,
            phase: self.phase.kind(),
            gates: self.gate_statuses(),
            hook,
            detail,
            at: Some(self.handling_at),
        };
        effects(&self.plan, &d, &self.phase, out);
        self.recent.push(d);
    }

    /// What follows from any input: the baseline cohort emptying once the
    /// canary takes all traffic, and waits for data starting or ending.
    fn after_input(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        if self.weight == 100 && !self.baseline_gone {
            self.baseline_gone = true;
            let plan = Arc::clone(&self.plan);
            for (g, m) in self.gates.iter_mut().zip(&plan.metrics) {
                g.baseline_emptied(m, now);
            }
        }
        self.update_data_hold(now, out);
        self.observe(now, out);
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Nothing more will happen: the phase is terminal and no failed
    /// rollback is being retried. A driver runs until this is true (or a
    /// person stops it): a canary whose rollback failed is never left
    /// without someone trying to take it out.
    pub fn is_over(&self) -> bool {
        self.phase.is_terminal() && self.rollback_retry_at.is_none()
    }

    /// After a failed rollback, start the next attempt once its time came.
    fn retry_rollback(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let due = self.rollback_retry_at.is_some_and(|at| now >= at);
        if !due || self.hooks.goal().is_some() || !matches!(self.phase, Phase::Failed { .. }) {
            return;
        }
        let attempt = self.rollback_attempts + 1;
        let reason = format!(
            "retrying the rollback (attempt {attempt}): the last one failed and the canary may still take traffic"
        );
        let detail = json!({ "attempt": attempt, "from": self.phase.name() });
        self.begin_rollback(
            DecisionKind::RollbackRetry,
            &Actor::system(),
            reason,
            detail,
            now,
            out,
        );
    }

    /// One series per plan metric, in plan order.
    pub fn series(&self) -> &[MetricSeries] {
        &self.series
    }

    /// The cohort the current step targets (`beta`), empty when it names
    /// none or no step has begun: what `{cohort_name}` in a metric's query
    /// is asked for.
    pub fn cohort_name(&self) -> &str {
        self.step
            .and_then(|k| self.plan.steps.get(k))
            .and_then(|s| s.cohort.as_deref())
            .unwrap_or("")
    }

    /// The plan this engine runs.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Every gate's status, in plan order.
    pub fn gate_statuses(&self) -> Vec<GateStatus> {
        self.plan
            .metrics
            .iter()
            .enumerate()
            .zip(&self.gates)
            .map(|((i, m), g)| g.status(&m.id, self.gating(i)))
            .collect()
    }

    /// Whether metric `idx` gates the current step (every metric does
    /// outside the steps).
    pub(super) fn gating(&self, idx: usize) -> bool {
        // At 100 % (observing the exit criteria) the last step's gates
        // apply, whichever step the full promotion came from.
        let step = match self.phase {
            Phase::Observing { .. } => Some(self.plan.steps.len().saturating_sub(1)),
            _ => self.step,
        };
        match (step, self.plan.metrics.get(idx)) {
            (Some(k), Some(m)) => self.plan.gates_step(m, k),
            _ => true,
        }
    }

    /// Gates of the current step that are not `Pass`, as "error_rate is
    /// Breach".
    pub(super) fn blocking(&self) -> Vec<String> {
        self.plan
            .metrics
            .iter()
            .zip(&self.gates)
            .enumerate()
            .filter(|(i, (_, g))| g.verdict != Verdict::Pass && self.gating(*i))
            .map(|(_, (m, g))| format!("{} is {}", m.id, g.verdict.as_str()))
            .chain(self.judge_score_short())
            .chain(self.window.closed())
            .collect()
    }

    /// The step score of the judged metrics that gate this step (Kayenta's
    /// score), once any has been judged.
    pub(super) fn judge_score(&self) -> Option<StepScore> {
        let judged: Vec<(&str, &MetricJudgement)> = self
            .plan
            .metrics
            .iter()
            .zip(&self.gates)
            .enumerate()
            .filter(|(i, _)| self.gating(*i))
            .filter_map(|(_, (m, g))| g.analyses.judged.as_ref().map(|j| (m.id.as_str(), j)))
            .collect();
        (!judged.is_empty()).then(|| score_step(judged, &self.plan.judge))
    }

    /// The step score when it is below `[judge] pass`: "judge score 50 < 95
    /// (marginal: ...)". A marginal or failed score holds the step.
    pub(super) fn judge_score_short(&self) -> Option<String> {
        let s = self.judge_score()?;
        (s.result != StepResult::Pass).then(|| {
            format!(
                "judge score {} < {} ({}: {})",
                super::words::number(s.score),
                super::words::number(self.plan.judge.pass),
                s.result.as_str(),
                s.reason
            )
        })
    }

    /// Hold left in the current step, if its hold has started.
    pub(super) fn hold_left(&self, now: Timestamp) -> Option<Duration> {
        let step = self.plan.steps.get(self.step?)?;
        let started = self.hold_started_at?;
        Some(step.hold.saturating_sub(now.since(started)))
    }

    /// Phases in which triggers and no-data policies act.
    pub(super) fn armed(&self) -> bool {
        matches!(
            self.phase,
            Phase::Promoting { .. }
                | Phase::Holding { .. }
                | Phase::AwaitingApproval { .. }
                | Phase::Paused { .. }
                | Phase::Observing { .. }
        )
    }

    /// A start or a journal resume once the rollout has begun is refused
    /// (and journaled); true when it was.
    pub(super) fn refused_once_started(
        &mut self,
        command: &str,
        actor: &Actor,
        out: &mut Vec<Effect>,
    ) -> bool {
        if self.phase == Phase::Pending {
            return false;
        }
        let why = format!(
            "already started (phase: {})",
            super::words::phase_in_text(&self.phase)
        );
        let detail = json!({ "command": command });
        self.journal(out, DecisionKind::Refused, actor, why, detail);
        true
    }

    fn on_start(&mut self, actor: Actor, now: Timestamp, out: &mut Vec<Effect>) {
        if self.refused_once_started("start", &actor, out) {
            return;
        }
        let closed = self.start_refusal();
        let window = closed.as_ref().map(|why| {
            format!(
                "start refused: {why}; wait for the window, or record a freeze exception \
                 approved by someone other than the driver"
            )
        });
        let preflight = || {
            self.preflight_refusal()
                .map(|why| format!("start refused: {why}"))
        };
        if let Some(why) = window.or_else(preflight) {
            // The window's words, when it is the window that refuses: the
            // summary lists the start refused under the change windows.
            let detail = match closed {
                Some(w) => json!({ "command": "start", "window": w }),
                None => json!({ "command": "start" }),
            };
            self.journal(out, DecisionKind::Refused, &actor, why, detail);
            return;
        }
        self.started_at = Some(now);
        self.driver = Some(actor.user.clone());
        let reason = plan_line(&self.plan);
        let detail = plan_summary(&self.plan);
        if self.plan.steps.is_empty() {
            self.journal(out, DecisionKind::RolloutStarted, &actor, reason, detail);
            self.begin_full(
                DecisionKind::PromoteFull,
                &actor,
                "plan has no steps".into(),
                json!(null),
                now,
                out,
            );
            return;
        }
        self.phase = Phase::Promoting { step: 0 };
        self.journal(out, DecisionKind::RolloutStarted, &actor, reason, detail);
        self.begin_enter(0, None, &actor, String::new(), json!(null), now, out);
    }

    /// The automatic step: in `Holding`, when the hold is over and every
    /// gate passes, advance (auto gate) or wait for approval (manual gate).
    fn auto_advance(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let Phase::Holding { step: k } = self.phase else {
            return;
        };
        if !self.attached && self.plan.rollout.unattended == Unattended::Hold {
            return;
        }
        let Some(left) = self.hold_left(now) else {
            return;
        };
        if left.is_zero()
            && self.plan.judge.on_marginal == OnMarginal::Pause
            && let Some(s) = self
                .judge_score()
                .filter(|s| s.result == StepResult::Marginal)
        {
            let reason = format!(
                "judge score {} is marginal (< {}): paused for a person to decide \
                 (on_marginal = \"pause\"); {}",
                super::words::number(s.score),
                super::words::number(self.plan.judge.pass),
                s.reason
            );
            let detail = serde_json::to_value(&s).unwrap_or_default();
            self.auto_pause(DecisionKind::TriggerPause, reason, detail, now, out);
            return;
        }
        if !left.is_zero() || !self.blocking().is_empty() {
            return;
        }
        let Some(step) = self.plan.steps.get(k) else {
            return;
        };
        let hold = super::words::clock(step.hold.as_millis() as u64);
        let system = Actor::system();
        match step.gate {
            GateKind::Auto => {
                let reason = format!("hold {hold} over and every gate passes");
                self.advance_from(
                    k,
                    DecisionKind::AutoAdvance,
                    &system,
                    reason,
                    json!(null),
                    now,
                    out,
                );
            }
            GateKind::Manual => {
                self.phase = Phase::AwaitingApproval { step: k };
                let reason = format!("hold {hold} over and every gate passes; manual gate");
                self.journal(
                    out,
                    DecisionKind::AwaitingApproval,
                    &system,
                    reason,
                    json!(null),
                );
            }
        }
    }

    /// Leave step `k` for the next one, or promote to full from the last.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn advance_from(
        &mut self,
        k: usize,
        action: DecisionKind,
        actor: &Actor,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if k + 1 < self.plan.steps.len() {
            self.begin_enter(k + 1, Some(action), actor, reason, detail, now, out);
        } else {
            self.begin_full(action, actor, reason, detail, now, out);
        }
    }

    fn on_presence(&mut self, attached: bool, actor: Actor, out: &mut Vec<Effect>) {
        if attached == self.attached {
            return;
        }
        self.attached = attached;
        let hold = self.plan.rollout.unattended == Unattended::Hold;
        let (action, reason) = match (attached, hold) {
            (false, true) => (
                DecisionKind::OperatorDetached,
                "driving view went away; unattended = hold: triggers stay armed, no advance",
            ),
            (false, false) => (
                DecisionKind::OperatorDetached,
                "driving view went away; unattended = continue: carrying on",
            ),
            (true, _) => (DecisionKind::OperatorAttached, "driving view is back"),
        };
        self.journal(out, action, &actor, reason.into(), json!(null));
    }
}

//! Resuming a rollout from its journal after its driver died (SIGKILL, a
//! crash, a reboot) or was stopped.
//!
//! The journal is the truth: [`ResumePoint::from_decisions`] reads where it
//! left the rollout (phase, step, the confirmed weight, hooks that started
//! and never answered), and [`Input::Resume`](super::Input::Resume) rebuilds
//! the engine there instead of starting over. Traffic is never lowered or
//! raised by a resume:
//!
//! * an idempotent `set_weight` re-asserts the confirmed weight, then the
//!   step's hold starts again (`step_entered`);
//! * a traffic hook that is not idempotent (Argo Rollouts' `promote`
//!   releases one more pause each time) is not run again: with
//!   `[hooks.target_step]` the engine waits, paused, for the target's own
//!   step reading and goes on only when it agrees with the journal
//!   (`resume_confirmed`), else it stays paused for a person
//!   (`resume_mismatch`); without it, it stays paused for a person;
//! * a traffic hook in flight when the driver died leaves the weight
//!   unknown: paused for a person;
//! * a rollback in flight (or a failed one) is run again (rollback hooks
//!   are idempotent);
//! * a journal whose rollout ended is refused by the driver, naming a new id.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::plan::HookKind;

use super::rollout::Engine;
use super::types::{Actor, Decision, DecisionKind, Effect, Phase, PhaseKind, Timestamp};

/// Where a journal left its rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// When the rollout started (its `rollout_started` record).
    pub started_at: Option<Timestamp>,
    /// The phase of the last record.
    pub phase: PhaseKind,
    /// Who paused it and why, when it was paused.
    pub paused: Option<(String, String)>,
    /// The reason of the last `failed` record.
    pub failed_reason: Option<String>,
    /// The last record's step.
    pub step: Option<usize>,
    /// The confirmed weight of the last record.
    pub weight: u8,
    /// Hooks that started and never answered, by id.
    pub in_flight: Vec<(u64, HookKind)>,
    /// The largest hook id used, so new hooks get new ids.
    pub max_hook_id: u64,
    /// The last record's action and time, for the `resumed` record.
    pub last_action: DecisionKind,
    pub last_at: Option<Timestamp>,
    pub records: usize,
    /// A `rollout_ended` record closed the journal.
    #[serde(default)]
    pub closed: bool,
    /// Who started the rollout: approvals do not count the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Approvals given to N-of-M steps: (step, who, when, the hash of the
    /// plan they were given under), so a restart keeps them (and their
    /// age) when the plan is the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<(usize, String, Timestamp, Option<String>)>,
    /// Exit items a person ticked: (title, who, note), so a restart while
    /// observing keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_confirmed: Vec<(String, String, String)>,
    /// Blue-green: when the switch happened, and whether the old stack was
    /// scaled down since (a rollback then redeploys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_at: Option<Timestamp>,
    #[serde(default)]
    pub scaled_down: bool,
    /// The hash of the plan the rollout last ran under (its
    /// `rollout_started`, then each `resumed` record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// A freeze exception granted for this rollout (before its start or
    /// while it ran): (approver, reason), kept across a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_exception: Option<(String, String)>,
}

/// The plan hash a `rollout_started` record holds, or works out from the
/// plan it holds (journals from before the hash was written).
fn plan_hash_of(d: &Decision) -> Option<String> {
    if let Some(h) = d.detail["plan_hash"].as_str() {
        return Some(h.to_string());
    }
    let plan = &d.detail["plan"];
    (!plan.is_null()).then(|| super::decision::plan_value_hash(plan))
}

/// (approver, reason) of a granted `freeze_exception` record.
fn freeze_exception_of(d: &Decision) -> Option<(String, String)> {
    let approver = d.detail["approver"].as_str()?;
    let reason = d.detail["reason"].as_str().unwrap_or_default();
    Some((approver.to_string(), reason.to_string()))
}

impl ResumePoint {
    /// Reads the decisions of one journal, in order. `None` when they hold
    /// no `rollout_started` (nothing to resume).
    pub fn from_decisions<D: std::borrow::Borrow<Decision>>(
        decisions: impl IntoIterator<Item = D>,
    ) -> Option<Self> {
        let mut p: Option<ResumePoint> = None;
        // Granted before the start (`--freeze-exception-by`), it comes
        // before `rollout_started`.
        let mut exception = None;
        for d in decisions {
            let d = d.borrow();
            if d.action == DecisionKind::FreezeException {
                exception = freeze_exception_of(d).or(exception);
            }
            let p = match (&mut p, &d.action) {
                (None, DecisionKind::RolloutStarted) => p.insert(ResumePoint {
                    started_at: d.at,
                    phase: d.phase,
                    paused: None,
                    failed_reason: None,
                    step: d.step,
                    weight: d.weight,
                    in_flight: Vec::new(),
                    max_hook_id: 0,
                    last_action: d.action.clone(),
                    last_at: d.at,
                    records: 0,
                    closed: false,
                    driver: Some(d.actor.user.clone()),
                    approvals: Vec::new(),
                    exit_confirmed: Vec::new(),
                    switched_at: None,
                    scaled_down: false,
                    plan_hash: plan_hash_of(d),
                    freeze_exception: None,
                }),
                (None, _) => continue,
                (Some(p), _) => p,
            };
            p.records += 1;
            if d.action == DecisionKind::RolloutEnded {
                // The driver closed the journal: whatever the phase says,
                // nothing more happens to this rollout.
                p.closed = true;
            }
            if d.phase == PhaseKind::Paused && p.phase != PhaseKind::Paused {
                p.paused = Some((d.actor.user.clone(), d.reason.clone()));
            }
            if let (DecisionKind::Approval, Some(k), Some(at)) = (&d.action, d.step, d.at) {
                let under = d.detail["plan_hash"].as_str().map(str::to_string);
                let under = under.or_else(|| p.plan_hash.clone());
                p.approvals.push((k, d.actor.user.clone(), at, under));
            }
            if d.action == DecisionKind::Switched {
                p.switched_at = d.at;
            }
            if d.action == DecisionKind::ScaledDown {
                p.scaled_down = true;
            }
            if d.action == DecisionKind::ExitConfirmed {
                let note = d.detail["note"].as_str().unwrap_or_default();
                for title in d.detail["items"].as_array().into_iter().flatten() {
                    let title = title.as_str().unwrap_or_default().to_string();
                    p.exit_confirmed
                        .push((title, d.actor.user.clone(), note.to_string()));
                }
            }
            // A lapsed or dropped approval never counts again (nor is it
            // said again): a new one by the same person is a new record.
            let gone: Vec<(u64, &str, i64)> = match d.action {
                DecisionKind::ApprovalExpired => vec![&d.detail],
                DecisionKind::ApprovalsInvalidated => d.detail["dropped"]
                    .as_array()
                    .map(|l| l.iter().collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            }
            .into_iter()
            .filter_map(|g| {
                let step = g["step"].as_u64()?;
                Some((step, g["user"].as_str()?, g["approved_at"].as_i64()?))
            })
            .collect();
            p.approvals
                .retain(|(k, user, at, _)| !gone.contains(&(*k as u64, user.as_str(), at.0)));
            if d.action == DecisionKind::Resumed
                && let Some(h) = d.detail["plan_hash"].as_str()
            {
                p.plan_hash = Some(h.to_string());
            }
            p.freeze_exception = exception.clone();
            if d.action == DecisionKind::Failed {
                p.failed_reason = Some(d.reason.clone());
            }
            if let Some(h) = &d.hook {
                p.max_hook_id = p.max_hook_id.max(h.id);
                match d.action {
                    DecisionKind::HookStarted => p.in_flight.push((h.id, h.kind)),
                    _ => p.in_flight.retain(|(id, _)| *id != h.id),
                }
            }
            // Records of the driver itself (viewers, stops, locks) carry
            // the phase too; only a record's own phase moves the point.
            p.phase = d.phase;
            p.step = d.step.or(p.step);
            p.weight = d.weight;
            p.last_action = d.action.clone();
            p.last_at = d.at.or(p.last_at);
        }
        p
    }

    /// The rollout is over: a `rollout_ended` record closed its journal,
    /// or it was promoted or rolled back (journals from before rampdeck
    /// closed them). A journal holds one rollout; a new one needs a new id.
    pub fn ended(&self) -> bool {
        self.closed || matches!(self.phase, PhaseKind::Promoted | PhaseKind::RolledBack)
    }

    /// A traffic hook (set_weight, promote) started and never answered.
    pub fn traffic_in_flight(&self) -> Option<HookKind> {
        self.in_flight
            .iter()
            .map(|(_, k)| *k)
            .find(|k| matches!(k, HookKind::SetWeight | HookKind::Promote))
    }
}

/// What a resume after a crash does with `plan`, in one sentence: for
/// `plan` and the summary, so the words are the engine's.
pub fn describe_resume(plan: &crate::plan::Plan) -> String {
    let h = &plan.hooks;
    let kind = if h.promote.is_some() {
        Some("promote")
    } else if h.set_weight.as_ref().is_some_and(|s| !s.idempotent) {
        Some("set_weight")
    } else {
        None
    };
    match (kind, &h.set_weight, &h.target_step) {
        (Some(kind), _, Some(ts)) => format!(
            "resumes from the journal without running {kind} again (not idempotent): paused until {} reads {} x step + {}, then the step's hold starts again",
            ts.metric,
            super::words::number(ts.scale),
            super::words::number(ts.offset)
        ),
        (Some(kind), _, None) => format!(
            "resumes from the journal without running {kind} again (not idempotent), paused for a person to check the target's step (set [hooks.target_step] to check it automatically)"
        ),
        (None, Some(_), _) => "resumes from the journal: set_weight re-asserts the confirmed weight, then the step's hold starts again".into(),
        (None, None, _) => "resumes from the journal at its step; the step's hold starts again".into(),
    }
}

/// What `[hooks.target_step]` expects the target to report at step `k`.
pub(super) fn expected_target_step(scale: f64, offset: f64, k: usize) -> f64 {
    scale * k as f64 + offset
}

/// The `resumed` record: who resumed, and what the journal showed.
struct Resumed {
    actor: Actor,
    reason: String,
    detail: serde_json::Value,
    /// Approvals given under another plan, not counted.
    dropped: Vec<super::approvals::Given>,
}

impl Resumed {
    fn new(
        p: &ResumePoint,
        k: Option<usize>,
        steps: &[crate::plan::Step],
        actor: Actor,
        plan_hash: String,
    ) -> Self {
        let at_step = match k {
            Some(k) => format!("step {} ({} %)", k + 1, steps[k].weight),
            None => "before the first step".into(),
        };
        let reason = format!(
            "resumed from the journal: {} records, the last ({}) left it {} at {at_step}, {} % confirmed",
            p.records, p.last_action, p.phase, p.weight
        );
        let detail = json!({
            "found_phase": p.phase,
            "step": k,
            "weight": p.weight,
            "last_action": p.last_action,
            "last_at": p.last_at,
            "in_flight": p.in_flight.iter().map(|(_, kind)| kind.as_str()).collect::<Vec<_>>(),
            "plan_hash": plan_hash,
        });
        Resumed {
            actor,
            reason,
            detail,
            dropped: Vec::new(),
        }
    }
}

impl Engine {
    pub(super) fn on_resume(
        &mut self,
        p: ResumePoint,
        actor: Actor,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if self.refused_once_started("resume_journal", &actor, out) {
            return;
        }
        let k = self.restore_position(&p, now);
        let plan_hash = super::decision::plan_hash(&self.plan);
        let dropped = self.restore_approvals(&p, &plan_hash);
        let mut found = Resumed::new(&p, k, &self.plan.steps, actor, plan_hash);
        found.dropped = dropped;
        // A rollback that was running, or failed: run it again.
        if p.phase == PhaseKind::RollingBack
            || (p.phase == PhaseKind::Failed && p.rollback_in_doubt())
        {
            self.phase = Phase::RollingBack;
            self.journal_resumed(found, out);
            let why = "resuming the rollback that had not succeeded when the driver stopped";
            self.begin_rollback(
                DecisionKind::Rollback,
                &Actor::system(),
                why.into(),
                json!(null),
                now,
                out,
            );
            return;
        }
        self.restore_exit_items(&p);
        self.restore_old_stack(&p);
        if p.phase == PhaseKind::Observing && p.traffic_in_flight().is_none() {
            // At 100 % with the promote hook done: observe again from now
            // (the period restarts; ticked exit items stay ticked).
            self.journal_resumed(found, out);
            self.reached_full(now, out);
            return;
        }
        if p.phase == PhaseKind::Failed {
            let reason = p
                .failed_reason
                .clone()
                .unwrap_or_else(|| "a hook failed: a human must act".into());
            self.phase = Phase::Failed { reason };
            self.journal_resumed(found, out);
            return;
        }
        let Some(k) = k else {
            // Started, no step yet: enter the first step as a start would,
            // unless its traffic hook may have run.
            if let Some(kind) = p.traffic_in_flight() {
                self.pause_for_person(0, in_flight_reason(kind, p.weight));
                self.journal_resumed(found, out);
                return;
            }
            self.phase = Phase::Promoting { step: 0 };
            self.journal_resumed(found, out);
            let system = Actor::system();
            self.begin_enter(0, None, &system, String::new(), json!(null), now, out);
            return;
        };
        self.resume_at_step(k, &p, found, now, out);
    }

    /// Takes the start time, hook ids, confirmed weight and step from the
    /// journal; returns the step (within the plan), if one was entered.
    fn restore_position(&mut self, p: &ResumePoint, now: Timestamp) -> Option<usize> {
        self.started_at = p.started_at.or(Some(now));
        self.hooks.continue_after(p.max_hook_id);
        self.weight = p.weight;
        self.driver = p.driver.clone();
        // An exception granted before the crash still holds: the rollout
        // keeps promoting inside it.
        if p.freeze_exception.is_some() {
            self.window.exception = p.freeze_exception.clone();
        }
        let last = self.plan.steps.len().saturating_sub(1);
        let k = p.step.map(|s| s.min(last));
        self.step = k;
        if let Some(t) = k.and_then(|k| self.step_times.get_mut(k)) {
            t.entered = Some(now);
        }
        k
    }

    fn journal_resumed(&mut self, found: Resumed, out: &mut Vec<Effect>) {
        let Resumed {
            actor,
            reason,
            detail,
            dropped,
        } = found;
        self.journal(out, DecisionKind::Resumed, &actor, reason, detail);
        self.journal_dropped_approvals(dropped, out);
    }

    /// Resumes at step `k`: paused for a person when a traffic hook was in
    /// flight, else by what the traffic hooks allow.
    fn resume_at_step(
        &mut self,
        k: usize,
        p: &ResumePoint,
        found: Resumed,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let was_paused = p.phase == PhaseKind::Paused;
        if let Some(kind) = p.traffic_in_flight() {
            self.pause_for_person(k, in_flight_reason(kind, p.weight));
            self.journal_resumed(found, out);
            return;
        }
        let hooks = &self.plan.hooks;
        let set_weight_idempotent = hooks.set_weight.as_ref().is_some_and(|h| h.idempotent);
        let promote = hooks.promote.is_some();
        let once_only = hooks.set_weight.as_ref().is_some_and(|h| !h.idempotent) || promote;
        self.phase = match (&p.paused, was_paused) {
            (Some((by, reason)), true) => Phase::Paused {
                step: k,
                by: by.clone(),
                reason: reason.clone(),
            },
            _ => Phase::Promoting { step: k },
        };
        self.journal_resumed(found, out);
        if set_weight_idempotent && !promote {
            // Re-assert the confirmed weight, then the hold starts again.
            let why = format!("re-asserting {} % after the resume", p.weight);
            self.begin_reassert(k, p.weight, &Actor::system(), why, now, out);
            return;
        }
        if once_only {
            let kind = if promote { "promote" } else { "set_weight" };
            self.await_target_check(k, kind, p.weight, was_paused, out);
            return;
        }
        // No traffic hook: nothing to re-assert; the hold starts again.
        self.finish_entering(k, now, out);
    }

    /// A traffic hook that is not idempotent (`kind`) is not run again:
    /// wait for the target's own step reading, or for a person.
    fn await_target_check(
        &mut self,
        k: usize,
        kind: &str,
        weight: u8,
        was_paused: bool,
        out: &mut Vec<Effect>,
    ) {
        match self.plan.hooks.target_step.clone() {
            Some(ts) => {
                let expect = expected_target_step(ts.scale, ts.offset, k);
                self.resume_check = Some(expect);
                let reason = format!(
                    "resumed without re-running {kind} (not idempotent): waiting for {} to read {} (step {}) before the hold starts again",
                    ts.metric,
                    super::words::number(expect),
                    k + 1
                );
                if !was_paused {
                    self.pause_for_person(k, reason.clone());
                }
                self.journal(
                    out,
                    DecisionKind::ResumeCheck,
                    &Actor::system(),
                    reason,
                    json!({ "expect": expect }),
                );
            }
            None => {
                let reason = format!(
                    "resumed without re-running {kind} (not idempotent): check that the target is at step {} ({} %), then resume or roll back",
                    k + 1,
                    weight
                );
                if !was_paused {
                    self.pause_for_person(k, reason);
                }
            }
        }
    }

    /// Pause at step `k` for a person (by rampdeck, with `reason`).
    fn pause_for_person(&mut self, k: usize, reason: String) {
        self.step = Some(k);
        self.phase = Phase::Paused {
            step: k,
            by: Actor::system().user,
            reason,
        };
    }

    /// While a resume waits for `[hooks.target_step]`: judge a canary value
    /// of its metric against what the journal's step expects.
    pub(super) fn check_resume(&mut self, metric: &str, value: f64, out: &mut Vec<Effect>) {
        let Some(expect) = self.resume_check else {
            return;
        };
        let Some(ts) = self.plan.hooks.target_step.clone() else {
            return;
        };
        if ts.metric != metric {
            return;
        }
        let Some(k) = self.step else {
            return;
        };
        let system = Actor::system();
        let detail = json!({ "metric": ts.metric, "value": value, "expect": expect });
        if (value - expect).abs() < 0.5 {
            self.resume_check = None;
            self.resume_mismatch = false;
            let reason = format!(
                "{} reads {}: the target is at step {} as the journal says",
                ts.metric,
                super::words::number(value),
                k + 1
            );
            let by_rampdeck = matches!(&self.phase, Phase::Paused { by, .. } if *by == system.user);
            if by_rampdeck {
                self.phase = Phase::Promoting { step: k };
            }
            self.journal(out, DecisionKind::ResumeConfirmed, &system, reason, detail);
            if by_rampdeck {
                let now = self.handling_at;
                self.finish_entering(k, now, out);
            }
            return;
        }
        if !self.resume_mismatch {
            self.resume_mismatch = true;
            let reason = format!(
                "{} reads {} but the journal says step {} (expects {}): check the target, then resume or roll back",
                ts.metric,
                super::words::number(value),
                k + 1,
                super::words::number(expect)
            );
            if let Phase::Paused { reason: r, .. } = &mut self.phase {
                *r = reason.clone();
            }
            self.journal(out, DecisionKind::ResumeMismatch, &system, reason, detail);
        }
    }
}

impl ResumePoint {
    /// The last `failed` record was a rollback that did not succeed.
    fn rollback_in_doubt(&self) -> bool {
        self.failed_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("ROLLBACK FAILED"))
    }
}

fn in_flight_reason(kind: HookKind, weight: u8) -> String {
    format!(
        "the driver stopped while the {} hook ran: the real weight is unknown ({} % was the last confirmed); check the target, then resume or roll back",
        kind.as_str(),
        weight
    )
}

//! Operator commands. Each is journaled with its actor and reason; a command
//! that is illegal in the current phase is journaled as `refused` with why,
//! and changes nothing.

use serde_json::json;

use crate::plan::HookKind;

use super::chain::Goal;
use super::rollout::Engine;
use super::types::{Actor, Allowed, Command, DecisionKind, Effect, Phase, Refusal, Timestamp};
use super::words::{clock, phase_in_text};

impl Engine {
    /// Whether `command` would be carried out now, or why it would be
    /// refused (the words journaled with the refusal). Changes nothing:
    /// views and the driver ask it before sending; [`Engine::handle`]
    /// applies the same rule.
    pub fn allowed(&self, command: Command, now: Timestamp) -> Result<(), Refusal> {
        self.refusal(command, now)
            .map_or(Ok(()), |why| Err(Refusal(why)))
    }

    /// Every command's answer at `now`, for the view.
    pub(super) fn allowed_all(&self, now: Timestamp) -> Allowed {
        Allowed {
            refused: Command::ALL
                .into_iter()
                .filter_map(|c| self.allowed(c, now).err().map(|r| (c, r)))
                .collect(),
        }
    }

    /// Why `command` would be refused at `now`, if it would be.
    fn refusal(&self, command: Command, now: Timestamp) -> Option<String> {
        self.check(command, now).err()
    }

    fn check(&self, command: Command, now: Timestamp) -> Result<(), String> {
        if command == Command::Rollback {
            // The kill switch: accepted before the start too (abort the
            // canary the deploy tool already created) and after a failure.
            return match &self.phase {
                Phase::RollingBack | Phase::RolledBack | Phase::Promoted => Err(self
                    .closed(command)
                    .unwrap_or_else(|| "cannot roll back now".into())),
                _ => Ok(()),
            };
        }
        if let Some(why) = self.closed(command) {
            return Err(why);
        }
        if let Phase::Observing { .. } = self.phase {
            return match command {
                // Ends the observation early; traffic does not move.
                Command::Promote => Ok(()),
                Command::PromoteFull => Err(
                    "already at 100 %, observing the exit criteria; promote ends the observation now"
                        .into(),
                ),
                Command::Pause => Err(
                    "nothing to pause at 100 %: the observation waits for every gate to pass; roll back to stop"
                        .into(),
                ),
                Command::Resume => Err("not paused (phase: observing)".into()),
                Command::Approve => self.approvable(now),
                Command::Rollback => Ok(()),
            };
        }
        if matches!(command, Command::Promote | Command::PromoteFull) {
            if let Some(why) = self.approvals_block(command == Command::PromoteFull, now) {
                return Err(why);
            }
        }
        match command {
            Command::Pause => match &self.phase {
                Phase::Paused { by, reason, .. } => {
                    Err(format!("already paused by {by}: {reason}"))
                }
                Phase::Promoting { .. } if self.hooks.goal() == Some(Goal::Full) => {
                    Err("full promotion in progress; roll back to stop it".into())
                }
                Phase::Promoting { .. }
                | Phase::Holding { .. }
                | Phase::AwaitingApproval { .. } => Ok(()),
                other => Err(format!("cannot pause while {}", phase_in_text(other))),
            },
            Command::Resume => match &self.phase {
                Phase::Paused { .. } => Ok(()),
                other => Err(format!("not paused (phase: {})", phase_in_text(other))),
            },
            Command::Promote | Command::PromoteFull | Command::Approve
                if self.window.closed().is_some() =>
            {
                Err(format!(
                    "{}; rollback and pause are never blocked",
                    self.window.closed().unwrap_or_default()
                ))
            }
            Command::Promote | Command::PromoteFull => match &self.phase {
                Phase::Holding { .. } | Phase::AwaitingApproval { .. } | Phase::Paused { .. } => {
                    Ok(())
                }
                Phase::Promoting { step } => {
                    let hook = self.chain_hook().map(|k| k.as_str()).unwrap_or("hooks");
                    Err(format!(
                        "step {} is still being entered ({hook} running); wait, or roll back",
                        step + 1
                    ))
                }
                other => Err(format!("cannot promote while {}", phase_in_text(other))),
            },
            Command::Approve => self.approvable(now),
            Command::Rollback => Ok(()),
        }
    }

    fn approvable(&self, now: Timestamp) -> Result<(), String> {
        let blocking = self.blocking();
        match &self.phase {
            Phase::AwaitingApproval { .. } if blocking.is_empty() => Ok(()),
            Phase::AwaitingApproval { .. } => Err(format!(
                "gates not passing: {}; use promote to override",
                blocking.join(", ")
            )),
            Phase::Holding { .. } => {
                let left = self.hold_left(now).unwrap_or_default();
                if !left.is_zero() {
                    Err(format!(
                        "hold not over yet: {} left; use promote to skip",
                        clock(left.as_millis() as u64)
                    ))
                } else if !blocking.is_empty() {
                    Err(format!(
                        "gates not passing: {}; use promote to override",
                        blocking.join(", ")
                    ))
                } else {
                    Err("nothing awaits approval: this step advances on its own".into())
                }
            }
            Phase::Paused { by, .. } => Err(format!(
                "paused by {by}: resume first, or use promote to override"
            )),
            Phase::Promoting { step } => Err(format!(
                "step {} is still being entered; nothing awaits approval",
                step + 1
            )),
            other => Err(format!(
                "nothing awaits approval (phase: {})",
                phase_in_text(other)
            )),
        }
    }

    pub(super) fn on_command(
        &mut self,
        command: Command,
        actor: Actor,
        reason: String,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if let Err(why) = self.allowed(command, now) {
            let detail = json!({ "command": command.as_str(), "reason": reason });
            self.journal(out, DecisionKind::Refused, &actor, why.0, detail);
            return;
        }
        match command {
            Command::Pause => self.pause(&actor, &reason, now, out),
            Command::Resume => self.resume(&actor, &reason, now, out),
            Command::Promote | Command::PromoteFull => {
                self.promote(command, &actor, &reason, now, out)
            }
            Command::Approve => self.approve(&actor, &reason, now, out),
            Command::Rollback => self.rollback(&actor, &reason, now, out),
        }
    }

    /// Why a command cannot run in a phase where nothing but rollback is
    /// possible, or `None` when the phase accepts commands.
    fn closed(&self, command: Command) -> Option<String> {
        match &self.phase {
            Phase::Pending => Some("rollout not started yet".into()),
            Phase::RollingBack => Some("rollback in progress".into()),
            Phase::RolledBack => Some("already rolled back".into()),
            Phase::Promoted if command == Command::Rollback => {
                Some("already promoted; roll back with your deploy tool".into())
            }
            Phase::Promoted => Some("already promoted".into()),
            Phase::Failed { reason } => Some(format!(
                "rollout failed ({reason}); only rollback is accepted"
            )),
            _ => None,
        }
    }

    // The handlers below run only once `allowed` said yes.

    fn pause(&mut self, actor: &Actor, reason: &str, now: Timestamp, out: &mut Vec<Effect>) {
        let (Phase::Promoting { step }
        | Phase::Holding { step }
        | Phase::AwaitingApproval { step }) = self.phase
        else {
            return;
        };
        let from = self.phase.name();
        self.phase = Phase::Paused {
            step,
            by: actor.user.clone(),
            reason: reason.to_string(),
        };
        self.pause_from_check = false;
        self.journal(
            out,
            DecisionKind::Pause,
            actor,
            reason.to_string(),
            json!({ "from": from }),
        );
        self.run_side(HookKind::Pause, actor, reason.to_string(), now, out);
    }

    fn resume(&mut self, actor: &Actor, reason: &str, now: Timestamp, out: &mut Vec<Effect>) {
        let Phase::Paused { step, .. } = self.phase else {
            return;
        };
        let restart = self.pause_from_check;
        if self.entering() {
            self.phase = Phase::Promoting { step };
        } else {
            self.phase = Phase::Holding { step };
            if restart || self.hold_started_at.is_none() {
                // The step's checks failed: a human overrides them, and the
                // step's hold (and its gate samples) start now.
                self.hold_started_at = Some(now);
                for g in &mut self.gates {
                    g.reset_step();
                }
            }
        }
        self.pause_from_check = false;
        // A person resuming overrides a resume's wait for the target.
        self.resume_check = None;
        let detail = json!({ "hold_restarted": restart, "overrides_failed_check": restart });
        self.journal(out, DecisionKind::Resume, actor, reason.to_string(), detail);
        self.run_side(HookKind::Resume, actor, reason.to_string(), now, out);
    }

    fn promote(
        &mut self,
        command: Command,
        actor: &Actor,
        reason: &str,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if matches!(self.phase, Phase::Observing { .. }) {
            let kind = match command {
                Command::PromoteFull => DecisionKind::PromoteFull,
                _ => DecisionKind::Promote,
            };
            self.end_observation(kind, actor, reason, now, out);
            return;
        }
        let (Phase::Holding { step: k }
        | Phase::AwaitingApproval { step: k }
        | Phase::Paused { step: k, .. }) = self.phase
        else {
            return;
        };
        let blocking = self.blocking();
        let hold_left = self.hold_left(now).map(|d| d.as_millis() as u64);
        let mut detail = json!({ "from": self.phase.name() });
        if !blocking.is_empty() {
            // Recorded so the audit trail shows a human overrode the gates.
            detail["overrides"] = json!(blocking);
        }
        if let Some(ms) = hold_left.filter(|ms| *ms > 0) {
            detail["hold_skipped_ms"] = json!(ms);
        }
        if command == Command::PromoteFull {
            self.begin_full(
                DecisionKind::PromoteFull,
                actor,
                reason.to_string(),
                detail,
                now,
                out,
            );
        } else {
            self.advance_from(
                k,
                DecisionKind::Promote,
                actor,
                reason.to_string(),
                detail,
                now,
                out,
            );
        }
    }

    fn approve(&mut self, actor: &Actor, reason: &str, now: Timestamp, out: &mut Vec<Effect>) {
        if self.approve_counted(actor, reason, now, out) {
            return;
        }
        let Phase::AwaitingApproval { step: k } = self.phase else {
            return;
        };
        self.advance_from(
            k,
            DecisionKind::Approve,
            actor,
            reason.to_string(),
            // The step approved: the record is journaled once the next
            // step is current.
            json!({ "step": k }),
            now,
            out,
        );
    }

    fn rollback(&mut self, actor: &Actor, reason: &str, now: Timestamp, out: &mut Vec<Effect>) {
        let detail = json!({ "from": self.phase.name(), "retry": self.rollback_failed });
        self.begin_rollback(
            DecisionKind::Rollback,
            actor,
            reason.to_string(),
            detail,
            now,
            out,
        );
    }
}

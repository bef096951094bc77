//! Many views, one driver: who may act, who is watching, and what happens
//! when the driving terminal goes away.
//!
//! Every command, from the local terminal or an attached view, passes the
//! same access check; refusals and two-person requests are journaled with
//! the identity the socket's peer credentials gave, never one a client sent.

use super::DriverError;
use serde_json::json;

use std::time::Duration;

use super::{Driver, wall_now};

/// A connection shorter than this is a peek (`rampdeck ls`), not a view.
const PEEK: Duration = Duration::from_millis(400);
use crate::engine::{Actor, Command, DecisionKind, Input, Timestamp};
use crate::session::access::person;
use crate::session::flood::{self, Kind};
use crate::session::{AccessDecision, ClientMsg, Request};

/// At most one record a window says how many connections were refused.
const CONNECTIONS_SAID_EVERY: Duration = flood::WINDOW;

impl Driver {
    /// A command from a view (`client` is None for the local terminal).
    pub(super) fn command(
        &mut self,
        command: Command,
        actor: Actor,
        reason: String,
        client: Option<u64>,
    ) -> Result<(), DriverError> {
        self.command_at(command, None, actor, reason, client)
    }

    /// A command, or with `step` (0-based) an approval of that step only.
    fn command_at(
        &mut self,
        command: Command,
        step: Option<usize>,
        actor: Actor,
        reason: String,
        client: Option<u64>,
    ) -> Result<(), DriverError> {
        let now = wall_now();
        // A token pasted into a reason goes no further than here.
        let reason = self.redactor.text(&reason).into_owned();
        let who = person(&actor);
        // `reason_required` holds for every view and `rampdeck VERB`, not
        // only the cockpit's dialog: refused to its sender, journaled never.
        if reason.trim().is_empty() && self.setup.plan.ui.reason_required.contains(&command) {
            self.tell(
                client,
                format!(
                    "refused: a reason is required for {} (`reason_required` in the plan); nothing was done",
                    command.as_str()
                ),
            );
            return Ok(());
        }
        // An attached view's commands past the limit are not carried out;
        // a rollback always is (the kill switch never waits for a count).
        if client.is_some()
            && command != Command::Rollback
            && !self.flood.pass(&who, Kind::Command, now)
        {
            self.tell(
                client,
                format!(
                    "refused: more than {} commands from {who} in {} s; this one was not carried out",
                    flood::COMMANDS_PER_WINDOW,
                    flood::WINDOW.as_secs()
                ),
            );
            return Ok(());
        }
        // A step with `approvals` names its own approvers: they need not be
        // drivers nor take control, and the engine decides who counts.
        if command == Command::Approve && self.engine.takes_named_approvals() {
            return self.engine_command(command, step, actor, reason, client);
        }
        match self.access.check(&who, command, now) {
            AccessDecision::Allow => self.engine_command(command, step, actor, reason, client),
            AccessDecision::Confirmed { first } => {
                let reason =
                    format!("{reason} (two-person rule: asked by {first}, confirmed by {who})");
                self.engine_command(command, step, actor, reason, client)
            }
            AccessDecision::Refuse(r) => {
                if client.is_none() || self.flood.pass(&who, Kind::Refused, now) {
                    let detail = json!({"command": command.as_str(), "their_reason": reason});
                    self.record(DecisionKind::Refused, &actor, &r.0, detail)?;
                }
                self.tell(client, format!("refused: {r}"));
                Ok(())
            }
            AccessDecision::NeedSecond { deadline } => {
                let secs = deadline.0.saturating_sub(now.0) / 1000;
                let detail = json!({"command": command.as_str(), "confirm_within_s": secs});
                self.record(DecisionKind::AwaitingSecond, &actor, &reason, detail)?;
                self.tell_all(format!(
                    "{who} asks to {}: a second driver must do the same within {secs} s",
                    command.as_str()
                ));
                Ok(())
            }
        }
    }

    fn engine_command(
        &mut self,
        command: Command,
        step: Option<usize>,
        actor: Actor,
        reason: String,
        client: Option<u64>,
    ) -> Result<(), DriverError> {
        let now = wall_now();
        // Decided and applied at one instant, so what the sender is told is
        // what the engine did.
        let verdict = match step.and_then(|k| self.engine.approve_step_refusal(k)) {
            Some(why) => Err(crate::engine::Refusal(why)),
            None => self.engine.allowed_by(command, &actor, now),
        };
        if client.is_some()
            && let Err(why) = &verdict
            && !self.flood.pass(&person(&actor), Kind::Refused, now)
        {
            // The engine would journal this refusal; past the allowance it
            // is counted instead (and said once the window ends).
            self.tell(client, format!("refused: {why}"));
            return Ok(());
        }
        if command == Command::Rollback {
            // A new rollback supersedes the retries of an old one.
            self.cancel_tx.send_replace(true);
            self.cancel_tx = tokio::sync::watch::channel(false).0;
        }
        let input = match step {
            Some(step) => Input::ApproveStep {
                step,
                actor,
                reason,
            },
            None => Input::Command {
                command,
                actor,
                reason,
            },
        };
        self.apply(input, now)?;
        // The sender learns the engine's answer (`rampdeck VERB` exits on it).
        self.tell(
            client,
            match verdict {
                Ok(()) => format!("accepted: {}", command.as_str()),
                Err(why) => format!("refused: {why}"),
            },
        );
        Ok(())
    }

    /// A message from an attached view.
    pub(super) fn on_request(&mut self, req: Request) -> Result<(), DriverError> {
        let Request {
            actor,
            client_id,
            msg,
        } = req;
        if !matches!(msg, ClientMsg::Connected | ClientMsg::Disconnected { .. }) {
            self.admit(client_id)?;
        }
        match msg {
            ClientMsg::Connected => {
                // Admitted (journaled, counted as presence) once it stays:
                // `rampdeck ls` only peeks and must not look like an
                // operator coming and going.
                self.pending_views.insert(client_id, (actor, wall_now()));
                Ok(())
            }
            ClientMsg::Disconnected { reason } => {
                if self.pending_views.remove(&client_id).is_some() {
                    return Ok(());
                }
                self.views.remove(&client_id);
                if self.flood.pass(&person(&actor), Kind::Presence, wall_now()) {
                    let detail = json!({"client": client_id});
                    self.record(DecisionKind::ViewerDetached, &actor, &reason, detail)?;
                }
                self.presence_changed(actor)
            }
            ClientMsg::Command { command, reason } => {
                // A reason that cannot be kept as is is refused to its
                // sender, before anything is journaled.
                if let Err(why) = crate::engine::reason::check_reason(&reason) {
                    self.tell(Some(client_id), format!("refused: {why}"));
                    return Ok(());
                }
                self.command(command, actor, reason, Some(client_id))
            }
            ClientMsg::ApproveStep { step, reason } => {
                if let Err(why) = crate::engine::reason::check_reason(&reason) {
                    self.tell(Some(client_id), format!("refused: {why}"));
                    return Ok(());
                }
                // 1-based on the wire, as the ramp shows it.
                let steps = self.setup.plan.steps.len();
                let Some(k) = (step as usize).checked_sub(1).filter(|k| *k < steps) else {
                    self.tell(
                        Some(client_id),
                        format!(
                            "refused: there is no step {step}: this plan has steps 1 to {steps}"
                        ),
                    );
                    return Ok(());
                };
                self.command_at(Command::Approve, Some(k), actor, reason, Some(client_id))
            }
            ClientMsg::FreezeException { reason } => {
                self.peer_freeze_exception(actor, reason, client_id)
            }
            ClientMsg::TakeControl => {
                let who = person(&actor);
                match self.access.take_control(&who) {
                    Ok(previous) => {
                        let why = match &previous {
                            Some(p) => format!("took control from {p}"),
                            None => "took control".to_string(),
                        };
                        let detail = json!({"previous": previous});
                        self.record(DecisionKind::ControlTaken, &actor, &why, detail)?;
                        self.tell_all(format!("{who} {why}"));
                        self.presence_changed(actor)
                    }
                    Err(r) => {
                        if self.flood.pass(&who, Kind::Refused, wall_now()) {
                            let detail = json!({"command": "take_control"});
                            self.record(DecisionKind::Refused, &actor, &r.0, detail)?;
                        }
                        self.tell(Some(client_id), format!("refused: {r}"));
                        Ok(())
                    }
                }
            }
            ClientMsg::Confirm { stage, item, note } => {
                let stage = stage
                    .or_else(|| self.engine.checklist_on_screen())
                    .unwrap_or(crate::engine::Stage::Exit);
                self.confirm(stage, item, actor, note, Some(client_id))
            }
            ClientMsg::RunChecks { stage, item } => {
                let who = person(&actor);
                if self.access.controller() == Some(who.as_str()) {
                    self.apply(Input::RunChecks { stage, item }, wall_now())
                } else {
                    self.tell(
                        Some(client_id),
                        "refused: only the driver in control runs checks; take control first (c)"
                            .into(),
                    );
                    Ok(())
                }
            }
            ClientMsg::Ping => Ok(()),
        }
    }

    /// A freeze exception granted by the person at the other end of the
    /// socket, as the peer credentials prove them (never a typed name).
    fn peer_freeze_exception(
        &mut self,
        actor: Actor,
        reason: String,
        client: u64,
    ) -> Result<(), DriverError> {
        let now = wall_now();
        if let Err(why) = crate::engine::reason::check_reason(&reason) {
            self.tell(Some(client), format!("refused: {why}"));
            return Ok(());
        }
        if reason.trim().is_empty() {
            let why = "refused: a freeze exception needs a reason: add --reason \"why\"";
            self.tell(Some(client), why.into());
            return Ok(());
        }
        let reason = self.redactor.text(&reason).into_owned();
        let who = person(&actor);
        if !self.flood.pass(&who, Kind::Command, now) {
            self.tell(
                Some(client),
                format!("refused: too many commands from {who}"),
            );
            return Ok(());
        }
        let verdict = self.engine.peer_freeze_exception_refusal(&actor);
        if let Some(why) = &verdict
            && !self.flood.pass(&who, Kind::Refused, now)
        {
            self.tell(Some(client), format!("refused: {why}"));
            return Ok(());
        }
        let input = Input::PeerFreezeException {
            approver: actor,
            reason,
        };
        self.apply(input, now)?;
        self.tell(
            Some(client),
            match verdict {
                None => "accepted: freeze_exception".to_string(),
                Some(why) => format!("refused: {why}"),
            },
        );
        Ok(())
    }

    /// Views connected for longer than a peek become attached views.
    pub(super) fn admit_settled(&mut self, now: Timestamp) -> Result<(), DriverError> {
        let settled: Vec<u64> = self
            .pending_views
            .iter()
            .filter(|(_, (_, at))| now.since(*at) >= PEEK)
            .map(|(id, _)| *id)
            .collect();
        for id in settled {
            self.admit(id)?;
        }
        Ok(())
    }

    fn admit(&mut self, client_id: u64) -> Result<(), DriverError> {
        let Some((actor, _)) = self.pending_views.remove(&client_id) else {
            return Ok(());
        };
        self.views.insert(client_id, actor.clone());
        let role = if self.access.may_drive(&person(&actor)) {
            "may drive"
        } else {
            "viewer"
        };
        if self.flood.pass(&person(&actor), Kind::Presence, wall_now()) {
            let detail = json!({"client": client_id, "role": role});
            self.record(DecisionKind::ViewerAttached, &actor, "", detail)?;
        }
        self.presence_changed(actor)
    }

    /// Journals what the flood limits held back in windows that ended, and
    /// connections refused over the caps (at most one record a window).
    pub(super) fn say_held_back(
        &mut self,
        now: Timestamp,
        stopping: bool,
    ) -> Result<(), DriverError> {
        let held = if stopping {
            self.flood.all(now)
        } else {
            self.flood.ended(now)
        };
        for held in held {
            let kind = match held.kind {
                Kind::Refused => "refused",
                Kind::Presence => "presence",
                Kind::Command => "command",
            };
            let detail = json!({
                "person": held.person,
                "kind": kind,
                "count": held.count,
                "since": held.since,
            });
            self.record(DecisionKind::HeldBack, &Actor::system(), &held.text, detail)?;
        }
        let refused = self.server.as_ref().map_or(0, |s| s.refused_connections());
        let (said, at) = self.connections_said;
        if refused > said && (stopping || now.since(at) >= CONNECTIONS_SAID_EVERY) {
            let n = refused - said;
            let why = format!(
                "refused {} {} over the connection caps ({} in all, {} per person) since {}",
                flood::thousands(n),
                if n == 1 { "connection" } else { "connections" },
                self.setup.plan.rollout.max_connections,
                crate::session::server::PER_PERSON_CONNECTIONS,
                crate::journal::format_ts(at).unwrap_or_default()
            );
            let detail = json!({"count": n, "since": at});
            self.record(
                DecisionKind::ConnectionsRefused,
                &Actor::system(),
                &why,
                detail,
            )?;
            self.connections_said = (refused, now);
        }
        Ok(())
    }

    /// Recomputes whether anyone is driving: the local terminal, or an
    /// attached view of the person in control. The engine hears only the
    /// transitions (journaled as operator_detached / operator_attached).
    pub(super) fn presence_changed(&mut self, actor: Actor) -> Result<(), DriverError> {
        let controller = self.access.controller().map(str::to_string);
        let driving = self.local_view || self.views.values().any(|a| Some(person(a)) == controller);
        if driving == self.driving {
            return Ok(());
        }
        self.driving = driving;
        let input = Input::OperatorPresence {
            attached: driving,
            actor,
        };
        self.apply(input, wall_now())
    }

    /// Two-person requests nobody confirmed in time.
    pub(super) fn expire_seconds(&mut self, now: Timestamp) -> Result<(), DriverError> {
        for p in self.access.expire(now) {
            let why = format!(
                "{} asked by {} was not confirmed by a second driver in time",
                p.command.as_str(),
                p.first
            );
            self.record(
                DecisionKind::SecondExpired,
                &Actor::system(),
                &why,
                json!(null),
            )?;
            self.tell_all(why);
        }
        Ok(())
    }

    pub(super) fn tell(&self, client: Option<u64>, text: String) {
        if let (Some(id), Some(server)) = (client, &self.server) {
            server.notice(id, text);
        }
    }

    fn tell_all(&self, text: String) {
        if let Some(server) = &self.server {
            server.notice_all(text);
        }
    }
}

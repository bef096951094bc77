//! What change windows and freezes do to a rollout (issue 13): starting
//! and each promotion (automatic or by a person) need the window open, or a
//! freeze exception recorded for this rollout; rollback and pause never
//! wait. A window that closes mid-rollout holds the ramp at its step with
//! every trigger armed, or rolls back when the plan says
//! `on_close = "rollback"`; both are journaled, as is the window opening
//! again.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::plan::OnClose;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase, Timestamp};
use super::window::{WindowState, Windows};

/// How often the window's state is worked out again when nothing is due
/// to change sooner (a new occurrence beyond the look-ahead, a changed
/// clock): cron and zone arithmetic stay off most ticks.
const RECHECK_MS: i64 = 60_000;

/// The engine's view of its windows: the compiled plan, the state last
/// worked out, and a freeze exception if one was recorded.
#[derive(Debug, Clone, Default)]
pub struct WindowGuard {
    windows: Option<Windows>,
    state: Option<WindowState>,
    checked_at: Option<Timestamp>,
    /// Who granted an exception, and why: the rollout may start and
    /// promote outside its windows.
    pub exception: Option<(String, String)>,
}

/// The window as views show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowView {
    pub allowed: bool,
    /// "inside window 'weekday hours' (closes 17:00 Europe/Berlin)".
    pub why: String,
    /// When `allowed` next flips, for a countdown.
    pub changes_at: Option<Timestamp>,
    /// "freeze exception by carol: hotfix for INC-12".
    pub exception: Option<String>,
}

impl WindowGuard {
    /// The plan's windows; none when it has no window, freeze or legacy
    /// `[rollout.window]` (then everything is always allowed and nothing
    /// is computed).
    pub fn of(plan: &crate::plan::Plan) -> WindowGuard {
        let has = !plan.change_windows.windows.is_empty()
            || !plan.change_windows.freezes.is_empty()
            || plan.rollout.window.is_some();
        WindowGuard {
            // The config compiled the same windows; a plan built otherwise
            // with a bad one gets no windows rather than a panic.
            windows: has.then(|| Windows::of(plan).ok()).flatten(),
            ..WindowGuard::default()
        }
    }

    /// Work the state out again when it may have changed.
    fn refresh(&mut self, now: Timestamp) -> bool {
        let Some(w) = &self.windows else {
            return false;
        };
        let due = match (&self.state, self.checked_at) {
            (Some(s), Some(at)) => {
                s.changes_at.is_some_and(|c| now >= c) || now.0 - at.0 >= RECHECK_MS || now < at
            }
            _ => true,
        };
        if !due {
            return false;
        }
        let before = self.state.as_ref().map(|s| s.allowed);
        self.state = Some(w.state(now));
        self.checked_at = Some(now);
        before != self.state.as_ref().map(|s| s.allowed)
    }

    /// Why a start or a promotion must wait now, if it must.
    pub fn closed(&self) -> Option<String> {
        let s = self.state.as_ref()?;
        if s.allowed || self.exception.is_some() {
            return None;
        }
        Some(format!("change window: {}", s.why))
    }

    pub fn view(&self) -> Option<WindowView> {
        let s = self.state.as_ref()?;
        Some(WindowView {
            allowed: s.allowed,
            why: s.why.clone(),
            changes_at: s.changes_at,
            exception: self
                .exception
                .as_ref()
                .map(|(by, why)| format!("freeze exception by {by}: {why}")),
        })
    }
}

impl Engine {
    /// Bring the window up to `now`; journal it closing or opening while
    /// the rollout runs, and roll back on a close if the plan says so.
    pub(super) fn update_window(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        if !self.window.refresh(now) {
            return;
        }
        let running = matches!(
            self.phase,
            Phase::Promoting { .. } | Phase::Holding { .. } | Phase::AwaitingApproval { .. }
        ) || matches!(self.phase, Phase::Paused { .. });
        let Some(view) = self.window.view() else {
            return;
        };
        if !running || self.window.exception.is_some() {
            return;
        }
        let detail = json!({ "window": view });
        let system = Actor::system();
        if view.allowed {
            let reason = format!("change window open: {}", view.why);
            self.journal(out, DecisionKind::WindowOpened, &system, reason, detail);
        } else if self.plan.change_windows.on_close == OnClose::Rollback {
            let reason = format!(
                "change window closed (on_close = \"rollback\"): {}",
                view.why
            );
            self.begin_rollback(
                DecisionKind::WindowRollback,
                &system,
                reason,
                detail,
                now,
                out,
            );
        } else {
            let reason = format!(
                "change window closed: the ramp holds at this step, triggers stay armed; {}",
                view.why
            );
            self.journal(out, DecisionKind::WindowClosed, &system, reason, detail);
        }
    }

    /// Record a freeze exception: `approver` (not the driver) lets this
    /// rollout start and promote outside its windows, for `reason`. A
    /// refused one is journaled as refused.
    pub(super) fn on_freeze_exception(
        &mut self,
        approver: &str,
        driver: &Actor,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        let reason = super::reason::clean_reason(reason);
        let approver = approver.trim();
        let refused = if approver.is_empty() || reason.trim().is_empty() {
            Some("a freeze exception needs an approver and a reason".to_string())
        } else if approver == driver.user {
            Some(format!(
                "{approver} drives this rollout and cannot approve its own freeze exception; \
                 name another person"
            ))
        } else {
            None
        };
        let why = self.window.view().map(|v| v.why).unwrap_or_default();
        // The name as typed at the start (`--freeze-exception-by`); the
        // socket path records a proven identity ("peer").
        let detail = json!({
            "approver": approver,
            "window": why,
            "reason": reason,
            "identity": "typed",
        });
        if let Some(r) = refused {
            self.journal(out, DecisionKind::Refused, driver, r, detail);
            return;
        }
        self.window.exception = Some((approver.to_string(), reason.clone()));
        let text = format!("freeze exception approved by {approver}: {reason}");
        self.journal(out, DecisionKind::FreezeException, driver, text, detail);
    }

    /// Why `approver` may not grant a freeze exception over the socket now:
    /// the driver, one already granted, or no window closed to except.
    pub fn peer_freeze_exception_refusal(&self, approver: &Actor) -> Option<String> {
        if self.phase == Phase::Pending {
            // Before the start nobody drives yet: the exception is the
            // driver's `--freeze-exception-by`, journaled as typed.
            return Some(
                "the rollout has not started: a freeze exception before the start is given \
                 with --freeze-exception-by on `rampdeck run`"
                    .into(),
            );
        }
        if self.driver.as_deref() == Some(approver.user.as_str()) {
            return Some(format!(
                "{} drives this rollout and cannot approve its own freeze exception; \
                 another person grants it (rampdeck approve ROLLOUT --freeze-exception)",
                approver.user
            ));
        }
        if let Some((by, _)) = &self.window.exception {
            return Some(format!("a freeze exception is already recorded, by {by}"));
        }
        if self.window.closed().is_none() {
            return Some("the change window is open: no freeze exception is needed now".into());
        }
        None
    }

    /// A freeze exception granted over the socket by `approver`, whose
    /// identity the socket's peer credentials proved: journaled with
    /// `"identity": "peer"`, as by the approver.
    pub(super) fn on_peer_freeze_exception(
        &mut self,
        approver: Actor,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        let reason = super::reason::clean_reason(reason);
        let refused = if reason.trim().is_empty() {
            Some("a freeze exception needs a reason".to_string())
        } else {
            self.peer_freeze_exception_refusal(&approver)
        };
        let why = self.window.view().map(|v| v.why).unwrap_or_default();
        let detail = json!({
            "approver": approver.user,
            "window": why,
            "reason": reason,
            "identity": "peer",
        });
        if let Some(r) = refused {
            self.journal(out, DecisionKind::Refused, &approver, r, detail);
            return;
        }
        self.window.exception = Some((approver.user.clone(), reason.clone()));
        let text = format!(
            "freeze exception approved by {} (identity from peer credentials): {reason}",
            approver.user
        );
        self.journal(out, DecisionKind::FreezeException, &approver, text, detail);
    }

    /// Why the rollout may not start now (after this input's refresh), if
    /// it may not.
    pub fn start_refusal(&self) -> Option<String> {
        self.window.closed()
    }
}

/// Whether a new rollout of `plan` may start at `now`, before anything is
/// created: `exception_by` names the approver of a freeze exception, who
/// must not be `driver`. The engine refuses the same start itself; this
/// lets `rampdeck run` say so and stop before opening a journal.
pub fn start_check(
    plan: &crate::plan::Plan,
    now: Timestamp,
    exception_by: Option<&str>,
    driver: &str,
) -> Result<(), String> {
    if let Some(by) = exception_by {
        if by.trim() == driver {
            return Err(format!(
                "{driver} drives this rollout and cannot approve its own freeze exception; \
                 name the person who approved it"
            ));
        }
        return Ok(());
    }
    let mut g = WindowGuard::of(plan);
    g.refresh(now);
    match g.closed() {
        None => Ok(()),
        Some(why) => Err(format!(
            "start refused: {why}. Wait for the window, or record a freeze exception: \
             --freeze-exception-by NAME --freeze-reason TEXT (NAME approved it; not you)"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::engine::testing::{kinds, settle};
    use crate::engine::types::{Command, Input};
    use crate::plan::{OnClose, Plan, WindowKind, WindowSpec};

    /// 2026-12-07 is a Monday; 09:00 UTC.
    const MON_0900: i64 = 1_796_634_000_000;

    fn at(h: i64, m: i64) -> Timestamp {
        Timestamp(MON_0900 + ((h - 9) * 60 + m) * 60_000)
    }

    /// The fixture plan with one allow window, weekdays 09:00-17:00 UTC.
    fn plan(on_close: OnClose) -> Plan {
        let mut p = crate::tui::fixtures::plan();
        p.change_windows.windows = vec![WindowSpec {
            kind: WindowKind::Allow,
            schedule: "0 9 * * 1-5".into(),
            duration: Duration::from_secs(8 * 3600),
            time_zone: "UTC".into(),
            description: Some("weekday hours".into()),
        }];
        p.change_windows.on_close = on_close;
        p
    }

    fn start(e: &mut Engine, now: Timestamp) -> Vec<Effect> {
        let actor = Actor::named("alice");
        e.handle(Input::Start { actor }, now)
    }

    /// Start and answer every hook at once, until the first step holds.
    fn enter_first_step(e: &mut Engine, now: Timestamp) {
        let pending = start(e, now);
        settle(e, pending, now);
        assert!(
            matches!(e.phase(), Phase::Holding { .. }),
            "{:?}",
            e.phase()
        );
    }

    #[test]
    fn a_start_outside_the_window_is_refused_and_inside_it_goes() {
        let p = plan(OnClose::Hold);
        assert!(start_check(&p, at(8, 59), None, "alice").is_err());
        assert!(start_check(&p, at(9, 0), None, "alice").is_ok());
        let mut e = Engine::new(Arc::new(p.clone()));
        let out = start(&mut e, at(7, 0));
        assert_eq!(kinds(&out), vec![DecisionKind::Refused]);
        assert_eq!(e.phase(), &Phase::Pending);
        let mut e = Engine::new(Arc::new(p));
        let out = start(&mut e, at(10, 0));
        assert!(kinds(&out).contains(&DecisionKind::RolloutStarted));
    }

    #[test]
    fn a_freeze_exception_needs_someone_other_than_the_driver() {
        let p = plan(OnClose::Hold);
        assert!(start_check(&p, at(20, 0), Some("alice"), "alice").is_err());
        assert!(start_check(&p, at(20, 0), Some("carol"), "alice").is_ok());
        let mut e = Engine::new(Arc::new(p));
        let alice = Actor::named("alice");
        let own = Input::FreezeException {
            approver: "alice".into(),
            actor: alice.clone(),
            reason: "hotfix".into(),
        };
        assert_eq!(
            kinds(&e.handle(own, at(20, 0))),
            vec![DecisionKind::Refused]
        );
        let carol = Input::FreezeException {
            approver: "carol".into(),
            actor: alice,
            reason: "hotfix for INC-12".into(),
        };
        let out = e.handle(carol, at(20, 0));
        assert_eq!(kinds(&out), vec![DecisionKind::FreezeException]);
        let out = start(&mut e, at(20, 0));
        assert!(kinds(&out).contains(&DecisionKind::RolloutStarted));
        let w = e.view(at(20, 0)).window.unwrap();
        assert!(w.exception.unwrap().contains("carol"));
    }

    #[test]
    fn a_window_closing_mid_step_holds_the_ramp_keeps_rollback_and_says_when_it_opens() {
        let mut e = Engine::new(Arc::new(plan(OnClose::Hold)));
        enter_first_step(&mut e, at(16, 50));
        let out = e.handle(Input::Tick, at(17, 0));
        assert!(
            kinds(&out).contains(&DecisionKind::WindowClosed),
            "{:?}",
            kinds(&out)
        );
        let v = e.view(at(17, 0));
        let next = crate::engine::words::next_action(&v.next);
        assert!(next.contains("change window"), "{next}");
        let refused = e.allowed(Command::Promote, at(17, 0)).unwrap_err();
        assert!(refused.0.contains("never blocked"), "{}", refused.0);
        assert!(e.allowed(Command::Rollback, at(17, 0)).is_ok());
        assert!(e.allowed(Command::Pause, at(17, 0)).is_ok());
        assert!(!v.window.unwrap().allowed);
        // Tuesday 09:00: open again.
        let out = e.handle(Input::Tick, at(33, 0));
        assert!(
            kinds(&out).contains(&DecisionKind::WindowOpened),
            "{:?}",
            kinds(&out)
        );
    }

    #[test]
    fn on_close_rollback_rolls_back_when_the_window_closes() {
        let mut e = Engine::new(Arc::new(plan(OnClose::Rollback)));
        enter_first_step(&mut e, at(16, 50));
        let out = e.handle(Input::Tick, at(17, 0));
        assert!(
            kinds(&out).contains(&DecisionKind::WindowRollback),
            "{:?}",
            kinds(&out)
        );
        assert_eq!(e.phase(), &Phase::RollingBack);
    }

    /// Started at 20:00, outside the window, on carol's exception; the
    /// first step entered.
    fn started_on_exception() -> Engine {
        let mut e = Engine::new(Arc::new(plan(OnClose::Hold)));
        let carol = Input::FreezeException {
            approver: "carol".into(),
            actor: Actor::named("alice"),
            reason: "hotfix for INC-12".into(),
        };
        let out = e.handle(carol, at(20, 0));
        let d = match &out[0] {
            Effect::Journal(d) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(d.detail["identity"], "typed");
        enter_first_step(&mut e, at(20, 0));
        e
    }

    #[test]
    fn a_resumed_rollout_keeps_its_freeze_exception() {
        let e = started_on_exception();
        assert!(e.allowed(Command::Promote, at(20, 5)).is_ok());
        let records: Vec<_> = e.recent.iter().cloned().collect();
        let point = crate::engine::resume::ResumePoint::from_decisions(records).unwrap();
        assert_eq!(
            point.freeze_exception,
            Some(("carol".into(), "hotfix for INC-12".into()))
        );
        let mut r = Engine::new(Arc::clone(e.plan()));
        let input = Input::Resume {
            point: Box::new(point),
            actor: Actor::named("alice"),
        };
        let out = r.handle(input, at(20, 30));
        settle(&mut r, out, at(20, 30));
        assert!(
            r.allowed(Command::Promote, at(20, 31)).is_ok(),
            "{:?}",
            r.allowed(Command::Promote, at(20, 31))
        );
        let w = r.view(at(20, 31)).window.unwrap();
        assert!(!w.allowed);
        assert!(w.exception.unwrap().contains("carol"));
        // The window holds nothing: the ramp goes on inside the exception.
        assert!(
            !r.blocking().iter().any(|b| b.contains("change window")),
            "{:?}",
            r.blocking()
        );
    }

    #[test]
    fn an_exception_over_the_socket_records_the_proven_identity_and_not_the_drivers() {
        let mut e = Engine::new(Arc::new(plan(OnClose::Hold)));
        enter_first_step(&mut e, at(16, 50));
        e.handle(Input::Tick, at(17, 0));
        assert!(e.allowed(Command::Promote, at(17, 1)).is_err());
        let own = Input::PeerFreezeException {
            approver: Actor::named("alice"),
            reason: "ship it".into(),
        };
        assert!(
            e.peer_freeze_exception_refusal(&Actor::named("alice"))
                .is_some()
        );
        let out = e.handle(own, at(17, 1));
        assert_eq!(kinds(&out), vec![DecisionKind::Refused]);
        let carol = Actor {
            uid: Some(1002),
            ..Actor::named("carol")
        };
        let grant = Input::PeerFreezeException {
            approver: carol.clone(),
            reason: "INC-12 fix must ship tonight".into(),
        };
        let out = e.handle(grant, at(17, 2));
        assert_eq!(kinds(&out), vec![DecisionKind::FreezeException]);
        let Effect::Journal(d) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(d.actor, carol, "journaled as the approver");
        assert_eq!(d.detail["identity"], "peer");
        assert_eq!(d.detail["approver"], "carol");
        assert!(e.allowed(Command::Promote, at(17, 3)).is_ok());
        // Once granted, another is refused, and with the window open none
        // is needed.
        assert!(
            e.peer_freeze_exception_refusal(&Actor::named("dave"))
                .unwrap()
                .contains("already recorded")
        );
        let pending = Engine::new(Arc::new(plan(OnClose::Hold)));
        let why = pending.peer_freeze_exception_refusal(&Actor::named("carol"));
        assert!(why.unwrap().contains("has not started"));
        let mut open = Engine::new(Arc::new(plan(OnClose::Hold)));
        enter_first_step(&mut open, at(10, 0));
        let why = open.peer_freeze_exception_refusal(&Actor::named("carol"));
        assert!(why.unwrap().contains("window is open"));
    }
}

//! Who may act on a rollout: drivers, the one in control, and the
//! two-person rule. Pure logic: no I/O, and time comes in as a value.
//!
//! Rules:
//! - Only users in `drivers` (default: whoever started the rollout) may act.
//! - Exactly one of them is in control; another allowed driver takes control
//!   with `take_control` (the `c` key) and the previous one is told.
//! - `Pause` and `Rollback` move toward safety, so any allowed driver may
//!   issue them without taking control first: in an emergency the pair
//!   should not have to hand over the wheel before stopping. Everything else
//!   (`Promote`, `PromoteFull`, `Resume`, `Approve`) needs control.
//! - Actions named in `require_second` need a second, different allowed
//!   driver to issue the same command within `second_window`.

use std::time::Duration;

use crate::engine::{Actor, Command, Timestamp};

/// How long a second person has to confirm, when the config says nothing.
pub const DEFAULT_SECOND_WINDOW: Duration = Duration::from_secs(120);

/// What to do with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Carry it out.
    Allow,
    /// Carry it out: `user` confirmed what `first` asked for (journal both).
    Confirmed { first: String },
    /// Do not carry it out; journal the refusal with this reason.
    Refuse(Refusal),
    /// Recorded; a different driver must issue the same command before
    /// `deadline`.
    NeedSecond { deadline: Timestamp },
}

pub use crate::engine::Refusal;

/// A command waiting for its second person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSecond {
    pub command: Command,
    pub first: String,
    pub asked_at: Timestamp,
    pub deadline: Timestamp,
}

/// The access state of one rollout, owned by the driver.
#[derive(Debug, Clone)]
pub struct Access {
    drivers: Vec<String>,
    controller: Option<String>,
    require_second: Vec<Command>,
    second_window: Duration,
    pending: Vec<PendingSecond>,
}

impl Access {
    /// `drivers` empty means only `started_by`; `started_by` is in control
    /// when allowed to drive. `require_second` holds the commands that need
    /// a second person.
    pub fn new(
        drivers: Vec<String>,
        started_by: &str,
        require_second: Vec<Command>,
        second_window: Duration,
    ) -> Self {
        let drivers = if drivers.is_empty() {
            vec![started_by.to_string()]
        } else {
            drivers
        };
        let controller = drivers
            .iter()
            .any(|d| d == started_by)
            .then(|| started_by.to_string());
        Access {
            drivers,
            controller,
            require_second,
            second_window,
            pending: Vec::new(),
        }
    }

    /// From the plan's `[rollout]` section.
    pub fn from_plan(info: &crate::plan::RolloutInfo, started_by: &str) -> Self {
        Access::new(
            info.drivers.clone(),
            started_by,
            info.require_second.clone(),
            DEFAULT_SECOND_WINDOW,
        )
    }

    pub fn drivers(&self) -> &[String] {
        &self.drivers
    }

    /// Who is in control now.
    pub fn controller(&self) -> Option<&str> {
        self.controller.as_deref()
    }

    pub fn may_drive(&self, user: &str) -> bool {
        self.drivers.iter().any(|d| d == user)
    }

    /// Give control to `user`. Ok carries the previous controller when it
    /// was someone else (to be told and journaled).
    pub fn take_control(&mut self, user: &str) -> Result<Option<String>, Refusal> {
        if !self.may_drive(user) {
            return Err(self.not_a_driver(user, "take control"));
        }
        let previous = self.controller.replace(user.to_string());
        Ok(previous.filter(|p| p != user))
    }

    /// `user` lets go (their view detached). True when they were in control.
    pub fn release(&mut self, user: &str) -> bool {
        if self.controller.as_deref() == Some(user) {
            self.controller = None;
            true
        } else {
            false
        }
    }

    /// Decide on `command` from `user` at `now`. May record a pending
    /// two-person request (hence `&mut`).
    pub fn check(&mut self, user: &str, command: Command, now: Timestamp) -> Decision {
        if !self.may_drive(user) {
            return Decision::Refuse(self.not_a_driver(user, command.as_str()));
        }
        self.expire(now);
        if self.needs_second(command)
            && let Some(p) = self.pending.iter().find(|p| p.command == command)
            && p.first != user
        {
            return match self.confirm_second(user, command, now) {
                Ok(first) => Decision::Confirmed { first },
                Err(r) => Decision::Refuse(r),
            };
        }
        let safe = matches!(command, Command::Pause | Command::Rollback);
        if !safe && self.controller.as_deref() != Some(user) {
            let who = match &self.controller {
                Some(c) => format!("{c} is in control"),
                None => "nobody is in control".to_string(),
            };
            return Decision::Refuse(Refusal(format!(
                "{user} cannot {}: {who}; take control first (c)",
                command.as_str()
            )));
        }
        if !self.needs_second(command) {
            return Decision::Allow;
        }
        if let Some(p) = self.pending.iter().find(|p| p.command == command) {
            return Decision::Refuse(
                Refusal(format!(
                    "{} is already waiting for a second person to confirm; \
                 a different driver must issue it",
                    command.as_str()
                ))
                .with_first(&p.first),
            );
        }
        let deadline = now.plus(self.second_window);
        self.pending.push(PendingSecond {
            command,
            first: user.to_string(),
            asked_at: now,
            deadline,
        });
        Decision::NeedSecond { deadline }
    }

    /// `user` confirms the pending `command`. Ok carries who asked first.
    pub fn confirm_second(
        &mut self,
        user: &str,
        command: Command,
        now: Timestamp,
    ) -> Result<String, Refusal> {
        if !self.may_drive(user) {
            return Err(self.not_a_driver(user, "confirm"));
        }
        let Some(i) = self.pending.iter().position(|p| p.command == command) else {
            return Err(Refusal(format!(
                "nothing to confirm: no {} is waiting for a second person",
                command.as_str()
            )));
        };
        if now > self.pending[i].deadline {
            let p = self.pending.remove(i);
            return Err(Refusal(format!(
                "{}'s {} expired: it had to be confirmed within {} s",
                p.first,
                command.as_str(),
                self.second_window.as_secs()
            )));
        }
        if self.pending[i].first == user {
            return Err(Refusal(format!(
                "{} needs a second person: {user} asked for it and cannot confirm it too",
                command.as_str()
            )));
        }
        Ok(self.pending.remove(i).first)
    }

    /// Requests still waiting for a second person (for the screen).
    pub fn pending(&self, now: Timestamp) -> impl Iterator<Item = &PendingSecond> {
        self.pending.iter().filter(move |p| now <= p.deadline)
    }

    /// Forget requests whose window is over; returns them (to journal).
    pub fn expire(&mut self, now: Timestamp) -> Vec<PendingSecond> {
        let (gone, keep) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| now > p.deadline);
        self.pending = keep;
        gone
    }

    fn needs_second(&self, command: Command) -> bool {
        self.require_second.contains(&command)
    }

    fn not_a_driver(&self, user: &str, what: &str) -> Refusal {
        Refusal(format!(
            "{user} may not {what}: only {} may drive this rollout (`drivers` in the config)",
            self.drivers.join(", ")
        ))
    }
}

impl Refusal {
    fn with_first(self, first: &str) -> Self {
        Refusal(format!("{} (asked by {first})", self.0))
    }
}

/// The name access rules should see for an actor: on a shared account
/// (`deploy` on a bastion) the person is the login user from
/// `/proc/PID/loginuid`, which the kernel keeps and they cannot change.
/// This looks the name up (I/O), so it lives outside [`Access`].
pub fn person(actor: &Actor) -> String {
    match actor.login_uid {
        Some(l) if Some(l) != actor.uid => crate::identity::user_name(l),
        _ => actor.user.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_000_000);

    fn pair() -> Access {
        Access::new(
            vec!["alice".into(), "bob".into()],
            "alice",
            vec![Command::PromoteFull],
            Duration::from_secs(60),
        )
    }

    #[test]
    fn default_driver_is_the_starter() {
        let a = Access::new(vec![], "carol", vec![], DEFAULT_SECOND_WINDOW);
        assert!(a.may_drive("carol"));
        assert!(!a.may_drive("dave"));
        assert_eq!(a.controller(), Some("carol"));
    }

    #[test]
    fn starter_outside_drivers_is_not_in_control() {
        let a = Access::new(vec!["bob".into()], "carol", vec![], DEFAULT_SECOND_WINDOW);
        assert_eq!(a.controller(), None);
    }

    #[test]
    fn viewer_without_rights_is_refused_everything() {
        let mut a = pair();
        for c in [
            Command::Pause,
            Command::Resume,
            Command::Promote,
            Command::PromoteFull,
            Command::Rollback,
            Command::Approve,
        ] {
            match a.check("mallory", c, T0) {
                Decision::Refuse(r) => assert!(r.0.contains("only alice, bob"), "{r}"),
                other => panic!("{c:?}: {other:?}"),
            }
        }
        assert!(a.take_control("mallory").is_err());
        assert_eq!(a.controller(), Some("alice"));
    }

    #[test]
    fn allowed_viewer_takes_control_and_previous_is_named() {
        let mut a = pair();
        assert!(matches!(
            a.check("bob", Command::Promote, T0),
            Decision::Refuse(_)
        ));
        assert_eq!(a.take_control("bob"), Ok(Some("alice".into())));
        assert_eq!(a.controller(), Some("bob"));
        assert_eq!(a.check("bob", Command::Promote, T0), Decision::Allow);
        match a.check("alice", Command::Resume, T0) {
            Decision::Refuse(r) => assert!(r.0.contains("bob is in control"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(a.take_control("bob"), Ok(None));
    }

    #[test]
    fn any_driver_may_stop_without_control() {
        let mut a = pair();
        assert_eq!(a.check("bob", Command::Rollback, T0), Decision::Allow);
        assert_eq!(a.check("bob", Command::Pause, T0), Decision::Allow);
    }

    #[test]
    fn released_control_must_be_taken_again() {
        let mut a = pair();
        assert!(a.release("alice"));
        assert!(!a.release("alice"));
        assert!(matches!(
            a.check("alice", Command::Promote, T0),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn two_person_rule_needs_a_different_person() {
        let mut a = pair();
        let d = a.check("alice", Command::PromoteFull, T0);
        assert_eq!(
            d,
            Decision::NeedSecond {
                deadline: T0.plus(Duration::from_secs(60))
            }
        );
        assert_eq!(a.pending(T0).count(), 1);
        // The same person again is refused and the request stays pending.
        assert!(matches!(
            a.check("alice", Command::PromoteFull, T0),
            Decision::Refuse(_)
        ));
        assert!(a.confirm_second("alice", Command::PromoteFull, T0).is_err());
        // A non-driver cannot be the second.
        assert!(matches!(
            a.check("mallory", Command::PromoteFull, T0),
            Decision::Refuse(_)
        ));
        // Bob, not in control, confirms by issuing the same command.
        let later = T0.plus(Duration::from_secs(30));
        assert_eq!(
            a.check("bob", Command::PromoteFull, later),
            Decision::Confirmed {
                first: "alice".into()
            }
        );
        assert_eq!(a.pending(later).count(), 0);
        // Other commands are not affected by the rule.
        assert_eq!(a.check("alice", Command::Promote, later), Decision::Allow);
    }

    #[test]
    fn two_person_window_expires() {
        let mut a = pair();
        a.check("alice", Command::PromoteFull, T0);
        let late = T0.plus(Duration::from_secs(61));
        match a.confirm_second("bob", Command::PromoteFull, late) {
            Err(r) => assert!(r.0.contains("expired"), "{r}"),
            Ok(f) => panic!("confirmed late by {f}"),
        }
        // Bob issuing it late is not a confirmation but needs control.
        a.check("alice", Command::PromoteFull, T0);
        assert!(matches!(
            a.check("bob", Command::PromoteFull, late),
            Decision::Refuse(_)
        ));
        assert_eq!(a.pending(late).count(), 0);
        let expired = a.expire(late);
        assert!(expired.is_empty(), "check() already expired it");
        // At the deadline exactly it still counts.
        a.check("alice", Command::PromoteFull, T0);
        assert!(
            a.confirm_second(
                "bob",
                Command::PromoteFull,
                T0.plus(Duration::from_secs(60))
            )
            .is_ok()
        );
    }

    #[test]
    fn person_is_the_login_user_on_a_shared_account() {
        let mut actor = Actor::named("root");
        actor.uid = Some(0);
        assert_eq!(person(&actor), "root");
        actor.login_uid = Some(65534);
        assert_eq!(person(&actor), "nobody");
    }
}

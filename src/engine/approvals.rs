//! N-of-M approvals (issue 13): a step whose `approvals` table names who
//! may approve waits in `AwaitingApproval` until `count` distinct eligible
//! people have approved, each approval still fresh. The last step's
//! approvals gate the promotion to 100 %, since leaving the last step is
//! that promotion.
//!
//! Pure: group membership is resolved where identities are made
//! (`identity.rs` fills [`Actor::groups`]); here names are only compared.
//! Expiry is measured against the `now` each input carries.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase, Timestamp};
use super::words::time_of_day;

/// A step's `approvals = { from = [...], count = N, ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalSpec {
    /// People by user name, Unix groups as `@group`.
    pub from: Vec<String>,
    /// Distinct eligible approvals needed.
    pub count: u32,
    /// Whether the rollout's driver may be one of them (GitHub's
    /// `prevent_self_review`, inverted): off by default so a second pair
    /// of eyes is really a second person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self: bool,
    /// How long an approval counts; `None`: until the step is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl ApprovalSpec {
    /// Whether `actor` is named, or in a named group.
    pub fn eligible(&self, actor: &Actor) -> bool {
        self.from.iter().any(|f| match f.strip_prefix('@') {
            Some(group) => actor.groups.iter().any(|g| g == group),
            None => *f == actor.user,
        })
    }

    /// The rule in one phrase, for `plan` and the summary: "2 approvals
    /// from alice, bob, @deployers (not the driver; each counts 30m)".
    pub fn describe(&self) -> String {
        let noun = if self.count == 1 {
            "approval"
        } else {
            "approvals"
        };
        let mut notes = Vec::new();
        if !self.allow_self {
            notes.push("not the driver".to_string());
        }
        if let Some(e) = self.expires() {
            notes.push(format!("each counts {}", super::words::duration(e)));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        format!("{} {noun} from {}{notes}", self.count, self.from.join(", "))
    }

    fn expires(&self) -> Option<Duration> {
        self.expires_ms.map(Duration::from_millis)
    }
}

/// One approval given for a step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Given {
    pub step: usize,
    pub user: String,
    pub at: Timestamp,
}

/// Who approved the current step and who still can, for the views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalsView {
    /// Fresh approvals: who, and when.
    pub approved: Vec<(String, Timestamp)>,
    /// How many are needed.
    pub need: u32,
    /// Named people and groups who could still approve (those who did
    /// and, unless allowed, the driver left out).
    pub can: Vec<String>,
}

impl ApprovalsView {
    /// How many more approvals are needed.
    pub fn missing(&self) -> u32 {
        self.need.saturating_sub(self.approved.len() as u32)
    }
}

impl Engine {
    /// The approvals the current step requires, if any.
    pub(super) fn step_approvals(&self) -> Option<&ApprovalSpec> {
        self.plan.steps.get(self.step?)?.approvals.as_ref()
    }

    /// Whether the current step names its approvers (`approvals`): then
    /// an `Approve` goes to the engine from anyone, not only a driver in
    /// control, and the engine says who counts.
    pub fn takes_named_approvals(&self) -> bool {
        self.step_approvals().is_some()
    }

    /// Like [`Engine::allowed`], knowing who asks: an approval to a step
    /// that names its approvers is refused here as the engine would
    /// (not named, the driver, already counted), so the sender is told
    /// what the engine then does.
    pub fn allowed_by(
        &self,
        command: super::types::Command,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), super::types::Refusal> {
        self.allowed(command, now)?;
        let spec = match (command, self.step_approvals()) {
            (super::types::Command::Approve, Some(spec)) => spec,
            _ => return Ok(()),
        };
        match self.approver_refusal(spec, actor, now) {
            Some(why) => Err(super::types::Refusal(why)),
            None => Ok(()),
        }
    }

    /// Approvals of the current step that still count at `now`.
    fn fresh(&self, now: Timestamp) -> Vec<&Given> {
        let (Some(k), Some(spec)) = (self.step, self.step_approvals()) else {
            return Vec::new();
        };
        self.approvals
            .iter()
            .filter(|g| g.step == k)
            .filter(|g| spec.expires().is_none_or(|e| now.since(g.at) < e))
            .collect()
    }

    /// Why the current step's approvals are not complete at `now`, as
    /// "1 of 2 approvals", or `None` when complete or not required.
    pub(super) fn approvals_missing(&self, now: Timestamp) -> Option<String> {
        let spec = self.step_approvals()?;
        let have = self.fresh(now).len() as u32;
        (have < spec.count).then(|| counted(have, spec.count))
    }

    /// Why a promote cannot run: it would skip approvals the plan
    /// requires (this step's not yet complete, or, for a promotion to
    /// full, a later step's). Only rollback and pause skip them.
    pub(super) fn approvals_block(&self, full: bool, now: Timestamp) -> Option<String> {
        let k = self.step?;
        if let Some(have) = self.approvals_missing(now) {
            return Some(format!(
                "step {} needs approvals ({have} so far); promote cannot skip them: ask an approver",
                k + 1
            ));
        }
        if !full {
            return None;
        }
        let later = self.plan.steps.iter().enumerate().skip(k + 1);
        later
            .filter(|(_, s)| s.approvals.is_some())
            .map(|(i, s)| {
                format!(
                    "step {} ({}) needs approvals; promote to full cannot skip them: promote step by step",
                    i + 1,
                    s.name
                )
            })
            .next()
    }

    /// Why `actor` cannot approve the current step at `now`.
    fn approver_refusal(
        &self,
        spec: &ApprovalSpec,
        actor: &Actor,
        now: Timestamp,
    ) -> Option<String> {
        if !spec.eligible(actor) {
            return Some(format!(
                "{} is not an approver for this step; approvals come from {}",
                actor.user,
                spec.from.join(", ")
            ));
        }
        if !spec.allow_self && self.driver.as_deref() == Some(actor.user.as_str()) {
            return Some(format!(
                "{} drives this rollout and cannot approve it (allow_self = false); ask {}",
                actor.user,
                spec.from.join(", ")
            ));
        }
        if let Some(g) = self.fresh(now).into_iter().find(|g| g.user == actor.user) {
            return Some(format!(
                "{} already approved at {}; one person counts once",
                actor.user,
                time_of_day(g.at)
            ));
        }
        None
    }

    /// An `Approve` in `AwaitingApproval` on a step with `approvals`:
    /// record it (or refuse it, saying who can), and advance once enough
    /// fresh approvals are in. Returns false when the step has no
    /// `approvals` (one approval advances, as before).
    pub(super) fn approve_counted(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) -> bool {
        let (Phase::AwaitingApproval { step: k }, Some(spec)) =
            (&self.phase, self.step_approvals().cloned())
        else {
            return false;
        };
        let k = *k;
        if let Some(why) = self.approver_refusal(&spec, actor, now) {
            let detail = json!({ "command": "approve", "reason": reason });
            self.journal(out, DecisionKind::Refused, actor, why, detail);
            return true;
        }
        // An expired approval by the same person is replaced.
        self.approvals
            .retain(|g| !(g.step == k && g.user == actor.user));
        self.approvals.push(Given {
            step: k,
            user: actor.user.clone(),
            at: now,
        });
        let have = self.fresh(now).len() as u32;
        let detail = json!({
            "step": k,
            "approvals": have,
            "need": spec.count,
            "expires_ms": spec.expires_ms,
        });
        let text = format!("{}: {reason}", counted(have, spec.count));
        self.journal(out, DecisionKind::Approval, actor, text, detail);
        if have >= spec.count {
            let by: Vec<String> = self.fresh(now).iter().map(|g| g.user.clone()).collect();
            let reason = format!("{} of {} approvals ({})", have, spec.count, by.join(", "));
            let detail = json!({ "approved_by": by, "step": k });
            self.advance_from(k, DecisionKind::Approve, actor, reason, detail, now, out);
        }
        true
    }

    /// The current step's approvals for the view.
    pub(super) fn approvals_view(&self, now: Timestamp) -> Option<ApprovalsView> {
        let spec = self.step_approvals()?;
        let fresh = self.fresh(now);
        let approved: Vec<(String, Timestamp)> =
            fresh.iter().map(|g| (g.user.clone(), g.at)).collect();
        let can = spec
            .from
            .iter()
            .filter(|f| !approved.iter().any(|(u, _)| u == *f))
            .filter(|f| spec.allow_self || self.driver.as_deref() != Some(f.as_str()))
            .cloned()
            .collect();
        Some(ApprovalsView {
            approved,
            need: spec.count,
            can,
        })
    }
}

/// How far a step's approvals are: "1 of 2 approvals" (never more than
/// needed). The cockpit, the journal and the summary say it this way.
pub fn counted(have: u32, need: u32) -> String {
    format!("{} of {need} approvals", have.min(need))
}

/// "approved by alice (12:03:10); 1 more from bob, @deployers"
pub fn approvals_line(v: &ApprovalsView) -> String {
    approvals_parts(v).join("; ")
}

/// The parts of [`approvals_line`], for a view that puts each on its own
/// line when the whole does not fit.
pub fn approvals_parts(v: &ApprovalsView) -> Vec<String> {
    let mut parts = Vec::new();
    if v.approved.is_empty() {
        parts.push(counted(0, v.need));
    } else {
        let who: Vec<String> = v
            .approved
            .iter()
            .map(|(u, at)| format!("{u} ({})", time_of_day(*at)))
            .collect();
        parts.push(format!("approved by {}", who.join(", ")));
    }
    let missing = v.missing();
    if missing > 0 {
        parts.push(format!("{missing} more from {}", v.can.join(", ")));
    }
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::testing::settle;
    use crate::engine::types::{Command, Input};
    use crate::plan::Plan;

    const T0: i64 = 1_796_634_000_000;

    fn at_min(m: i64) -> Timestamp {
        Timestamp(T0 + m * 60_000)
    }

    /// The fixture plan without metrics, its first step needing `spec`.
    fn plan(spec: ApprovalSpec) -> Plan {
        let mut p = crate::tui::fixtures::plan();
        p.metrics.clear();
        p.triggers.clear();
        p.steps[0].gate = crate::plan::GateKind::Manual;
        p.steps[0].approvals = Some(spec);
        p
    }

    fn spec(from: &[&str], count: u32) -> ApprovalSpec {
        ApprovalSpec {
            from: from.iter().map(|s| s.to_string()).collect(),
            count,
            allow_self: false,
            expires_ms: None,
        }
    }

    /// Started by alice; the first step's hold over: awaiting approvals.
    fn awaiting(spec: ApprovalSpec) -> Engine {
        let mut e = Engine::new(Arc::new(plan(spec)));
        let out = e.handle(
            Input::Start {
                actor: Actor::named("alice"),
            },
            at_min(0),
        );
        settle(&mut e, out, at_min(0));
        e.handle(Input::Tick, at_min(2));
        assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
        e
    }

    fn approve(e: &mut Engine, actor: Actor, now: Timestamp) -> Vec<Effect> {
        let input = Input::Command {
            command: Command::Approve,
            actor,
            reason: "looks good".into(),
        };
        e.handle(input, now)
    }

    /// The journaled decisions: (kind, reason).
    fn said(out: &[Effect]) -> Vec<(DecisionKind, String)> {
        out.iter()
            .filter_map(|x| match x {
                Effect::Journal(d) => Some((d.action.clone(), d.reason.clone())),
                _ => None,
            })
            .collect()
    }

    /// The approvals were enough: the rollout left the first step.
    fn assert_on_step_2(e: &Engine) {
        assert!(
            matches!(
                e.phase(),
                Phase::Promoting { step: 1 } | Phase::Holding { step: 1 }
            ),
            "{:?}",
            e.phase()
        );
    }

    fn in_group(user: &str, group: &str) -> Actor {
        Actor {
            groups: vec![group.into()],
            ..Actor::named(user)
        }
    }

    #[test]
    fn two_of_three_advance_and_one_does_not() {
        let mut e = awaiting(spec(&["bob", "carol", "dave"], 2));
        let out = approve(&mut e, Actor::named("bob"), at_min(3));
        assert_eq!(said(&out)[0].0, DecisionKind::Approval);
        assert!(said(&out)[0].1.starts_with("1 of 2 approvals"), "{out:?}");
        assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
        let v = e.view(at_min(4));
        let line = approvals_line(v.steps[0].approvals.as_ref().unwrap());
        assert!(line.starts_with("approved by bob ("), "{line}");
        assert!(line.ends_with("; 1 more from carol, dave"), "{line}");
        assert_eq!(
            crate::engine::words::next_action(&v.next),
            "waiting for 1 more approval (of 2) from carol, dave"
        );
        let out = approve(&mut e, Actor::named("carol"), at_min(5));
        let kinds: Vec<_> = said(&out).into_iter().map(|(k, _)| k).collect();
        assert!(kinds.contains(&DecisionKind::Approve), "{kinds:?}");
        assert_on_step_2(&e);
    }

    #[test]
    fn one_person_counts_once() {
        let mut e = awaiting(spec(&["bob", "carol"], 2));
        approve(&mut e, Actor::named("bob"), at_min(3));
        let out = approve(&mut e, Actor::named("bob"), at_min(4));
        let (kind, why) = &said(&out)[0];
        assert_eq!(kind, &DecisionKind::Refused);
        assert!(
            why.contains("already approved") && why.contains("counts once"),
            "{why}"
        );
        assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
    }

    #[test]
    fn the_driver_cannot_approve_unless_allowed() {
        let mut e = awaiting(spec(&["alice", "bob"], 1));
        let out = approve(&mut e, Actor::named("alice"), at_min(3));
        let (kind, why) = &said(&out)[0];
        assert_eq!(kind, &DecisionKind::Refused);
        assert!(why.contains("drives this rollout"), "{why}");
        let v = e.view(at_min(3));
        assert_eq!(v.steps[0].approvals.as_ref().unwrap().can, vec!["bob"]);

        let mut allowed = spec(&["alice", "bob"], 1);
        allowed.allow_self = true;
        let mut e = awaiting(allowed);
        approve(&mut e, Actor::named("alice"), at_min(3));
        assert_on_step_2(&e);
    }

    #[test]
    fn someone_not_named_is_refused_with_who_can() {
        let mut e = awaiting(spec(&["bob", "@deployers"], 1));
        let out = approve(&mut e, in_group("mallory", "staff"), at_min(3));
        let (kind, why) = &said(&out)[0];
        assert_eq!(kind, &DecisionKind::Refused);
        assert!(why.contains("mallory is not an approver"), "{why}");
        assert!(why.contains("bob, @deployers"), "{why}");
    }

    #[test]
    fn allowed_by_says_what_the_engine_will_do() {
        let mut e = awaiting(spec(&["alice", "bob", "carol"], 2));
        let now = at_min(3);
        assert!(
            e.allowed_by(Command::Approve, &Actor::named("bob"), now)
                .is_ok()
        );
        assert!(
            e.allowed_by(Command::Approve, &Actor::named("alice"), now)
                .is_err()
        );
        assert!(
            e.allowed_by(Command::Approve, &Actor::named("zed"), now)
                .is_err()
        );
        approve(&mut e, Actor::named("bob"), now);
        let dup = e.allowed_by(Command::Approve, &Actor::named("bob"), now);
        assert!(dup.unwrap_err().0.contains("counts once"));
        assert!(
            e.allowed_by(Command::Pause, &Actor::named("zed"), now)
                .is_ok()
        );
    }

    #[test]
    fn a_group_member_counts() {
        let mut e = awaiting(spec(&["bob", "@deployers"], 2));
        approve(&mut e, in_group("erin", "deployers"), at_min(3));
        assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
        approve(&mut e, Actor::named("bob"), at_min(4));
        assert_on_step_2(&e);
    }

    #[test]
    fn an_expired_approval_no_longer_counts() {
        let mut s = spec(&["bob", "carol"], 2);
        s.expires_ms = Some(30 * 60_000);
        let mut e = awaiting(s);
        approve(&mut e, Actor::named("bob"), at_min(3));
        // 31 minutes later bob's approval has lapsed: carol's is 1 of 2.
        let out = approve(&mut e, Actor::named("carol"), at_min(34));
        assert!(said(&out)[0].1.starts_with("1 of 2"), "{out:?}");
        assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
        // Bob may approve again; now both are fresh.
        approve(&mut e, Actor::named("bob"), at_min(35));
        assert_on_step_2(&e);
    }

    #[test]
    fn a_restart_keeps_the_approvals_and_the_driver() {
        let mut e = awaiting(spec(&["alice", "bob", "carol"], 2));
        approve(&mut e, Actor::named("bob"), at_min(3));
        let records: Vec<_> = e.recent.iter().cloned().collect();
        let point = crate::engine::resume::ResumePoint::from_decisions(records).unwrap();
        assert_eq!(point.driver.as_deref(), Some("alice"));
        let mut r = Engine::new(Arc::clone(e.plan()));
        let input = Input::Resume {
            point: Box::new(point),
            actor: Actor::named("alice"),
        };
        let out = r.handle(input, at_min(4));
        settle(&mut r, out, at_min(4));
        r.handle(Input::Tick, at_min(6));
        let v = r.view(at_min(6));
        let a = v.steps[0].approvals.as_ref().unwrap();
        assert_eq!(a.approved.len(), 1, "{a:?}");
        assert_eq!(a.can, vec!["carol"], "the driver and bob are left out");
    }

    #[test]
    fn promote_cannot_skip_approvals_but_rollback_can_run() {
        let e = awaiting(spec(&["bob", "carol"], 2));
        let why = e.allowed(Command::Promote, at_min(3)).unwrap_err().0;
        assert!(why.contains("needs approvals"), "{why}");
        assert!(e.allowed(Command::PromoteFull, at_min(3)).is_err());
        assert!(e.allowed(Command::Rollback, at_min(3)).is_ok());
        assert!(e.allowed(Command::Approve, at_min(3)).is_ok());
    }
}

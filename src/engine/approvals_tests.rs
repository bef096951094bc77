//! Tests of N-of-M approvals (`approvals.rs`).

#![cfg(test)]
#![allow(clippy::unwrap_used)]

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

/// A new engine on `plan` resumed at `now` from `e`'s records.
fn resumed(e: &Engine, plan: Plan, now: Timestamp) -> (Engine, Vec<Effect>) {
    resumed_from(&[e], plan, now)
}

/// A new engine on `plan` resumed at `now` from the records of `lives`
/// (a rollout, then its resumes), in order.
fn resumed_from(lives: &[&Engine], plan: Plan, now: Timestamp) -> (Engine, Vec<Effect>) {
    let records: Vec<_> = lives
        .iter()
        .flat_map(|e| e.recent.iter().cloned())
        .collect();
    let point = crate::engine::resume::ResumePoint::from_decisions(records).unwrap();
    let mut r = Engine::new(Arc::new(plan));
    let input = Input::Resume {
        point: Box::new(point),
        actor: Actor::named("alice"),
    };
    let out = r.handle(input, now);
    let mut all = out.clone();
    settle(&mut r, out, now);
    all.extend(r.handle(Input::Tick, now.plus(std::time::Duration::from_secs(120))));
    (r, all)
}

#[test]
fn a_lapsed_approval_of_the_waiting_step_is_journaled_once() {
    let mut s = spec(&["bob", "carol", "@deployers"], 2);
    s.expires_ms = Some(30 * 60_000);
    let mut e = awaiting(s);
    approve(&mut e, Actor::named("bob"), at_min(3));
    assert!(said(&e.handle(Input::Tick, at_min(32))).is_empty());
    let out = e.handle(Input::Tick, at_min(33));
    let lapsed: Vec<_> = said(&out)
        .into_iter()
        .filter(|(k, _)| *k == DecisionKind::ApprovalExpired)
        .collect();
    assert_eq!(lapsed.len(), 1, "{out:?}");
    assert_eq!(
        lapsed[0].1,
        "bob's approval of step 1 expired after 30m; 2 more needed from bob, carol, @deployers"
    );
    let d = out
        .iter()
        .find_map(|x| match x {
            Effect::Journal(d) if d.action == DecisionKind::ApprovalExpired => Some(d),
            _ => None,
        })
        .unwrap();
    assert_eq!(d.detail["user"], "bob");
    assert_eq!(d.detail["step"], 0);
    assert_eq!(d.actor, Actor::system());
    // Once: later ticks say nothing more of it.
    for m in 34..40 {
        let again = e.handle(Input::Tick, at_min(m));
        assert!(!kinds(&again).contains(&DecisionKind::ApprovalExpired));
    }
}

#[test]
fn an_approval_of_a_step_already_left_lapses_silently() {
    let mut s = spec(&["bob"], 1);
    s.expires_ms = Some(30 * 60_000);
    let mut e = awaiting(s);
    approve(&mut e, Actor::named("bob"), at_min(3));
    assert_on_step_2(&e);
    for m in [40, 90] {
        let out = e.handle(Input::Tick, at_min(m));
        assert!(!kinds(&out).contains(&DecisionKind::ApprovalExpired));
    }
}

fn kinds(out: &[Effect]) -> Vec<DecisionKind> {
    said(out).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn an_approval_naming_another_step_is_refused_and_not_counted() {
    let mut e = awaiting(spec(&["bob", "carol"], 1));
    let late = Input::ApproveStep {
        step: 1,
        actor: Actor::named("bob"),
        reason: "ok for step 2".into(),
    };
    assert!(e.approve_step_refusal(1).is_some());
    let out = e.handle(late, at_min(3));
    let (kind, why) = &said(&out)[0];
    assert_eq!(kind, &DecisionKind::Refused);
    assert!(
        why.contains("names step 2 but the rollout is at step 1"),
        "{why}"
    );
    assert_eq!(e.phase(), &Phase::AwaitingApproval { step: 0 });
    let v = e.view(at_min(3));
    assert!(v.steps[0].approvals.as_ref().unwrap().approved.is_empty());
    // The step awaiting, by number: counted.
    assert!(e.approve_step_refusal(0).is_none());
    let right = Input::ApproveStep {
        step: 0,
        actor: Actor::named("bob"),
        reason: "ok for step 1".into(),
    };
    let out = e.handle(right, at_min(4));
    assert!(kinds(&out).contains(&DecisionKind::Approve), "{out:?}");
    assert_on_step_2(&e);
}

#[test]
fn a_changed_plan_drops_the_approvals_given_under_the_old_one() {
    let s = spec(&["alice", "bob", "carol"], 2);
    let mut e = awaiting(s.clone());
    approve(&mut e, Actor::named("bob"), at_min(3));
    let mut changed = plan(s.clone());
    changed.steps[1].weight += 1;
    let (r, out) = resumed(&e, changed.clone(), at_min(4));
    let dropped: Vec<_> = said(&out)
        .into_iter()
        .filter(|(k, _)| *k == DecisionKind::ApprovalsInvalidated)
        .collect();
    assert_eq!(dropped.len(), 1, "{:?}", kinds(&out));
    assert!(
        dropped[0]
            .1
            .contains("the plan changed since bob (step 1) approved"),
        "{}",
        dropped[0].1
    );
    let v = r.view(at_min(6));
    let a = v.steps[0].approvals.as_ref().unwrap();
    assert!(a.approved.is_empty(), "{a:?}");
    // Under the same plan, nothing is dropped and bob still counts.
    let (r, out) = resumed(&e, plan(s), at_min(4));
    assert!(!kinds(&out).contains(&DecisionKind::ApprovalsInvalidated));
    assert_eq!(
        r.view(at_min(6)).steps[0]
            .approvals
            .as_ref()
            .unwrap()
            .approved
            .len(),
        1
    );
}

#[test]
fn an_approval_given_after_a_plan_change_survives_the_next_restart() {
    let s = spec(&["alice", "bob", "carol"], 2);
    let mut e = awaiting(s.clone());
    approve(&mut e, Actor::named("bob"), at_min(3));
    let mut changed = plan(s);
    changed.steps[1].weight += 1;
    let (mut r, _) = resumed(&e, changed.clone(), at_min(4));
    assert_eq!(r.phase(), &Phase::AwaitingApproval { step: 0 });
    approve(&mut r, Actor::named("carol"), at_min(7));
    // Under the changed plan again: carol's counts, bob's (old plan) not.
    let (r2, _) = resumed_from(&[&e, &r], changed, at_min(8));
    let v = r2.view(at_min(10));
    let who: Vec<&str> = v.steps[0]
        .approvals
        .as_ref()
        .unwrap()
        .approved
        .iter()
        .map(|(u, _)| u.as_str())
        .collect();
    assert_eq!(who, vec!["carol"]);
}

#[test]
fn a_view_offers_approve_only_to_whom_the_engine_would_count() {
    let e = awaiting(spec(&["alice", "bob", "@deployers"], 1));
    let v = e.view(at_min(3));
    assert!(v.allowed.check(Command::Approve).is_ok());
    let driver = v.allowed_for(Command::Approve, &Actor::named("alice"));
    assert!(driver.unwrap_err().0.contains("drives this rollout"));
    assert!(
        v.allowed_for(Command::Approve, &Actor::named("bob"))
            .is_ok()
    );
    assert!(
        v.allowed_for(Command::Approve, &in_group("erin", "deployers"))
            .is_ok()
    );
    assert!(
        v.allowed_for(Command::Approve, &Actor::named("zed"))
            .is_err()
    );
    // The same answers as the engine's own.
    for who in [
        Actor::named("alice"),
        Actor::named("bob"),
        Actor::named("zed"),
    ] {
        assert_eq!(
            v.allowed_for(Command::Approve, &who).is_ok(),
            e.allowed_by(Command::Approve, &who, at_min(3)).is_ok(),
            "{}",
            who.user
        );
    }
    // Other commands are as `allowed` says, whoever asks.
    assert!(
        v.allowed_for(Command::Rollback, &Actor::named("zed"))
            .is_ok()
    );
}

#[test]
fn a_restart_says_a_lapse_or_a_drop_only_once() {
    let mut s = spec(&["bob", "carol"], 2);
    s.expires_ms = Some(30 * 60_000);
    let mut e = awaiting(s.clone());
    approve(&mut e, Actor::named("bob"), at_min(3));
    let out = e.handle(Input::Tick, at_min(33));
    assert!(kinds(&out).contains(&DecisionKind::ApprovalExpired));
    let (mut r, out) = resumed(&e, plan(s.clone()), at_min(34));
    let mut all = kinds(&out);
    all.extend(kinds(&r.handle(Input::Tick, at_min(40))));
    assert!(!all.contains(&DecisionKind::ApprovalExpired), "{all:?}");

    // Dropped under a changed plan once; the next restart (same new plan)
    // does not drop it again.
    let mut e = awaiting(spec(&["alice", "bob", "carol"], 2));
    approve(&mut e, Actor::named("bob"), at_min(3));
    let mut changed = plan(spec(&["alice", "bob", "carol"], 2));
    changed.steps[1].weight += 1;
    let (r, out) = resumed(&e, changed.clone(), at_min(4));
    assert!(kinds(&out).contains(&DecisionKind::ApprovalsInvalidated));
    let (_, out) = resumed_from(&[&e, &r], changed, at_min(5));
    assert!(!kinds(&out).contains(&DecisionKind::ApprovalsInvalidated));
}

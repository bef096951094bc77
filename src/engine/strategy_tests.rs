#![cfg(test)]
//! Blue-green through the engine: the switch, the scale-down, a restart
//! after each, and which hook a rollback runs.

use std::sync::Arc;

use super::*;
use crate::engine::resume::ResumePoint;
use crate::engine::types::{Command, Decision, HookCall, Input};
use crate::plan::{Hook, HookAction, Plan};

fn hook() -> Option<Hook> {
    Some(Hook {
        action: HookAction::Command(vec!["true".into()]),
        timeout: Duration::from_secs(5),
        retries: 0,
        idempotent: true,
    })
}

/// A preview at 0 % (no metrics), then the switch held 10 minutes; the
/// old stack scaled down a minute after the switch.
fn plan() -> Plan {
    let mut p = crate::tui::fixtures::plan();
    p.metrics.clear();
    p.triggers.clear();
    p.rollout.strategy = Strategy::BlueGreen;
    p.steps.retain(|s| s.weight == 0 || s.weight == 100);
    p.steps[0].hold = Duration::from_secs(10);
    p.steps[1].hold = Duration::from_secs(600);
    p.hooks.switch = hook();
    p.hooks.scale_down = hook();
    p.hooks.redeploy = hook();
    p.blue_green = Some(BlueGreenPlan {
        scale_down_delay: Duration::from_secs(60),
        partial_switch: false,
    });
    p
}

/// Feeds `input`, answering every hook at once; returns the hooks run
/// and keeps the journal.
fn feed(e: &mut Engine, input: Input, secs: i64, journal: &mut Vec<Decision>) -> Vec<HookCall> {
    let now = Timestamp(secs * 1000);
    let mut pending = e.handle(input, now);
    let mut ran = Vec::new();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for x in pending {
            match x {
                Effect::Journal(d) => journal.push(*d),
                Effect::RunHook(call) => {
                    let outcome = HookOutcome::succeeded("exit 0");
                    next.extend(e.handle(
                        Input::HookResult {
                            id: call.id,
                            outcome,
                        },
                        now,
                    ));
                    ran.push(call);
                }
                _ => {}
            }
        }
        pending = next;
    }
    ran
}

fn kinds(calls: &[HookCall]) -> Vec<HookKind> {
    calls.iter().map(|c| c.kind).collect()
}

#[test]
fn a_restart_keeps_the_switch_and_the_scale_down() {
    let mut e = Engine::new(Arc::new(plan()));
    let mut journal = Vec::new();
    let alice = Actor::named("alice");
    feed(
        &mut e,
        Input::Start {
            actor: alice.clone(),
        },
        0,
        &mut journal,
    );
    assert_eq!(
        kinds(&feed(&mut e, Input::Tick, 10, &mut journal)),
        vec![HookKind::Switch]
    );
    // Crash after the switch: the resumed engine scales down on time.
    let point = ResumePoint::from_decisions(&journal).unwrap();
    let mut again = Engine::new(Arc::new(plan()));
    let resume = Input::Resume {
        point: Box::new(point),
        actor: alice.clone(),
    };
    let mut j2 = journal.clone();
    feed(&mut again, resume, 20, &mut j2);
    assert_eq!(again.old_stack, OldStack::Idle);
    assert!(feed(&mut again, Input::Tick, 69, &mut j2).is_empty());
    assert_eq!(
        kinds(&feed(&mut again, Input::Tick, 70, &mut j2)),
        vec![HookKind::ScaleDown]
    );
    // Crash after the scale-down: a rollback redeploys, never switches back.
    let point = ResumePoint::from_decisions(&j2).unwrap();
    assert!(point.scaled_down);
    let mut third = Engine::new(Arc::new(plan()));
    let mut j3 = j2.clone();
    let resume = Input::Resume {
        point: Box::new(point),
        actor: alice.clone(),
    };
    feed(&mut third, resume, 80, &mut j3);
    assert_eq!(third.old_stack, OldStack::ScaledDown);
    assert!(
        feed(&mut third, Input::Tick, 200, &mut j3)
            .iter()
            .all(|c| c.kind != HookKind::ScaleDown)
    );
    let rollback = Input::Command {
        command: Command::Rollback,
        actor: alice,
        reason: "p99".into(),
    };
    assert_eq!(
        kinds(&feed(&mut third, rollback, 210, &mut j3)),
        vec![HookKind::Redeploy]
    );
}

#![cfg(test)]
//! The words a blue-green rollback journals, in the strategy's terms.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::engine::types::{Command, Input};

/// The words of the `rolled_back` record after a rollback at `secs`
/// (preview ends at 10 s, the switch; the scale-down 60 s later).
fn rolled_back_after(secs: i64) -> String {
    rolled_back_view(secs).0
}

/// The same, and the blue-green view after it.
fn rolled_back_view(secs: i64) -> (String, BlueGreenView) {
    let mut p = crate::tui::fixtures::plan();
    p.metrics.clear();
    p.triggers.clear();
    p.rollout.strategy = Strategy::BlueGreen;
    p.steps.retain(|s| s.weight == 0 || s.weight == 100);
    p.steps[0].hold = Duration::from_secs(10);
    p.steps[1].hold = Duration::from_secs(600);
    let hook = p.hooks.rollback.clone().or(p.hooks.set_weight.clone());
    p.hooks.switch = hook.clone();
    p.hooks.scale_down = hook.clone();
    p.hooks.redeploy = hook;
    p.blue_green = Some(BlueGreenPlan {
        scale_down_delay: Duration::from_secs(60),
        partial_switch: false,
    });
    let mut e = Engine::new(Arc::new(p));
    let alice = Actor::named("alice");
    let mut said = Vec::new();
    let mut run = |e: &mut Engine, input: Input, at: i64| {
        let mut pending = e.handle(input, Timestamp(at * 1000));
        while !pending.is_empty() {
            let mut next = Vec::new();
            for x in pending {
                match x {
                    Effect::Journal(d) if d.action == DecisionKind::RolledBack => {
                        said.push(d.reason.clone())
                    }
                    Effect::RunHook(call) => next.extend(e.handle(
                        Input::HookResult {
                            id: call.id,
                            outcome: HookOutcome::succeeded("exit 0"),
                        },
                        Timestamp(at * 1000),
                    )),
                    _ => {}
                }
            }
            pending = next;
        }
    };
    run(
        &mut e,
        Input::Start {
            actor: alice.clone(),
        },
        0,
    );
    for t in 1..=secs {
        run(&mut e, Input::Tick, t);
    }
    let rollback = Input::Command {
        command: Command::Rollback,
        actor: alice,
        reason: "p99".into(),
    };
    run(&mut e, rollback, secs);
    let view = e.view(Timestamp(secs * 1000)).blue_green.unwrap();
    (said.pop().unwrap_or_default(), view)
}

#[test]
fn a_blue_green_rollback_says_what_it_moved() {
    assert!(rolled_back_after(5).starts_with("the switch never ran"));
    assert_eq!(
        rolled_back_after(30),
        "switched back: all traffic on the old stack"
    );
    assert_eq!(
        rolled_back_after(100),
        "old version redeployed: all traffic back on it"
    );
}

#[test]
fn after_a_switch_back_the_ramp_says_so_and_offers_no_countdown() {
    let (words, view) = rolled_back_view(30);
    assert_eq!(view.line(), words);
    assert_eq!(view.instant_rollback_ms, None);
    let failed: Vec<String> = view
        .stages()
        .into_iter()
        .filter(|(_, s)| *s == StepState::Failed)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(failed, ["observe"]);
}

//! Cockpit fixtures for the strategies (issue 14), from the real engine:
//! a blue-green rollout after its switch, while a rollback is still an
//! instant switch back, and after its old stack is scaled down; a rolling
//! rollout in its second batch of four.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::{Drive, at, of_engine, plan};
use crate::engine::{Actor, Input};
use crate::plan::{BlueGreenPlan, Hook, HookAction, Plan, RollingPlan, Strategy};
use crate::snapshot::Snapshot;

fn hook(argv: &[&str]) -> Option<Hook> {
    Some(Hook {
        action: HookAction::Command(argv.iter().map(|a| a.to_string()).collect()),
        timeout: Duration::from_secs(30),
        retries: 0,
        idempotent: true,
    })
}

/// The fixture plan as blue-green: a 2-minute preview at 0 %, then the
/// switch to 100 % held 10 minutes; the old stack scaled down 5 minutes
/// after the switch.
fn blue_green() -> Plan {
    let mut p = plan();
    p.rollout.strategy = Strategy::BlueGreen;
    p.steps.retain(|s| s.weight == 0 || s.weight == 100);
    p.steps[0].name = "preview".into();
    p.steps[0].hold = Duration::from_secs(120);
    p.steps[1].name = "switch".into();
    p.steps[1].hold = Duration::from_secs(600);
    p.hooks.switch = hook(&["./switch.sh", "green"]);
    p.hooks.scale_down = hook(&["./scale.sh", "blue", "0"]);
    p.hooks.redeploy = hook(&["./redeploy.sh", "blue"]);
    p.blue_green = Some(BlueGreenPlan {
        scale_down_delay: Duration::from_secs(300),
        partial_switch: false,
    });
    p
}

/// Answers hooks until none is in flight.
fn settle(d: &mut Drive, t: i64) {
    while d.hooks_in_flight() > 0 {
        d.hooks_done(t, true);
    }
}

/// `secs` seconds after the start of the blue-green fixture, driven with
/// healthy samples (the switch happens once the preview's hold is over).
pub fn snapshot_blue_green(secs: i64) -> Snapshot {
    drive(blue_green(), secs)
}

/// `plan` driven `secs` seconds from its start with healthy samples,
/// every hook answered at once.
fn drive(plan: Plan, secs: i64) -> Snapshot {
    let plan = Arc::new(plan);
    let mut d = Drive::new(plan.clone());
    d.input(
        0,
        Input::Start {
            actor: Actor::named("alice"),
        },
    );
    settle(&mut d, 0);
    for t in 0..secs {
        d.run(t, t + 1, i64::MAX, i64::MAX);
        settle(&mut d, t);
    }
    of_engine(&d.engine, plan, at(secs), false)
}

/// The fixture plan as rolling: 8 instances in 4 batches of 2, a minute
/// each.
fn rolling() -> Plan {
    let mut p = plan();
    p.rollout.strategy = Strategy::Rolling;
    p.steps.truncate(4);
    for (k, s) in p.steps.iter_mut().enumerate() {
        let n = (k as u32 + 1) * 2;
        s.name = format!("batch-{}", k + 1);
        s.instances = Some(n);
        s.weight = (n * 100 / 8) as u8;
        s.hold = Duration::from_secs(60);
        s.gate = crate::plan::GateKind::Auto;
        s.approvals = None;
    }
    p.hooks.set_weight = hook(&["./deploy.sh", "{batch}", "{instances}"]);
    p.rolling = Some(RollingPlan {
        instances: 8,
        max_unavailable: Some(1),
    });
    p
}

/// `secs` seconds into the rolling fixture, with healthy samples.
pub fn snapshot_rolling(secs: i64) -> Snapshot {
    drive(rolling(), secs)
}

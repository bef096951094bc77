use super::*;
use crate::demo::Scenario;
use crate::demo::offline::{self, only};
use crate::engine::approvals::ApprovalSpec;
use crate::plan::GateKind;

fn demo_plan() -> Plan {
    crate::run::demo_plan("127.0.0.1:9", 1.0).expect("demo plan")
}

/// The demo plan with its triggers and every gate's limits and judgements
/// removed: nothing can roll it back but a person.
fn bare(plan: &Plan) -> Plan {
    let mut p = only(plan, false, &[]);
    p.triggers.clear();
    p
}

fn rollback(o: &Outcome) -> &Rollback {
    match &o.ending {
        Ending::RolledBack(r) => r,
        other => panic!("not rolled back: {other:?}"),
    }
}

#[test]
fn a_bad_canary_is_rolled_back_by_the_demo_plan_and_promoted_without_its_gates() {
    let plan = demo_plan();
    for seed in 0..3 {
        // Recorded under a plan with no gates: the whole ramp, bad data all along.
        let (live, rec) = offline::record(&bare(&plan), Scenario::BadCanary, seed, 600.0);
        assert!(live.promoted, "seed {seed}: {live:?}");
        let r = report(&rec, &plan);
        let rb = rollback(&r.plan);
        assert!(
            rb.weight >= 25,
            "seed {seed}: bad-canary degrades from 25 %: {rb:?}"
        );
        assert!(rb.at_secs > 0.0 && rb.at_secs < r.span_secs, "{rb:?}");
        assert!(["errors", "latency"].contains(&rb.by.as_str()), "{rb:?}");
        assert!(rb.reason.contains(&rb.by), "in the engine's words: {rb:?}");
        assert!(matches!(r.real, Ending::Promoted { .. }), "{:?}", r.real);
        assert!(
            r.original.promoted(),
            "its own plan promoted it: {:?}",
            r.original
        );
        // A true catch, yet "false alarm" is the original plan's word: it
        // promoted this canary, and the tested plan rolls it back.
        assert!(r.false_alarm);
        assert!(r.plan.assisted.iter().any(|a| a.starts_with("answered")));
        assert!(r.plan.fed > 0 && r.plan.skipped > 0, "{:?}", r.plan);
    }
}

#[test]
fn a_bad_canary_rolled_back_live_is_still_running_without_gates_when_its_recording_ends() {
    let plan = demo_plan();
    let (live, rec) = offline::record(&plan, Scenario::BadCanary, 1, 600.0);
    assert!(live.rolled_back);
    let r = report(&rec, &bare(&plan));
    match &r.plan.ending {
        Ending::Running { step, weight, .. } => {
            assert!(step.is_some() && *weight > 0 && *weight < 100, "{r:?}");
        }
        other => panic!("expected still running, got {other:?}"),
    }
    // What really happened, and the same backtest under the demo plan,
    // both roll back when the live run did.
    let real = match &r.real {
        Ending::RolledBack(rb) => rb.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(Some(real.at_secs), live.rollback_at);
    assert_eq!(rollback(&r.original).at_secs, real.at_secs);
    assert!(!r.false_alarm);
    assert_eq!(
        r.samples_after_real_rollback, 0,
        "the offline run stops there"
    );
    // A recording that goes on after the rollback: those samples are
    // counted, for the reader to know they prove nothing.
    let mut longer = rec.clone();
    let tail: Vec<Entry> = rec
        .entries
        .iter()
        .filter(|e| e.sample().is_some())
        .rev()
        .take(10)
        .map(|e| Entry {
            t: Timestamp(e.t.0 + 60_000),
            ..e.clone()
        })
        .collect();
    longer.entries.extend(tail.into_iter().rev());
    assert_eq!(
        report(&longer, &bare(&plan)).samples_after_real_rollback,
        10
    );
}

#[test]
fn a_healthy_recording_raises_no_alarm_under_the_demo_plan() {
    let plan = demo_plan();
    let (live, rec) = offline::record(&plan, Scenario::Healthy, 2, 600.0);
    assert!(live.promoted);
    let r = report(&rec, &plan);
    assert!(r.plan.promoted(), "{:?}", r.plan);
    assert!(!r.false_alarm);
    assert!(matches!(r.real, Ending::Promoted { .. }));
    assert!(
        r.plan
            .assisted
            .iter()
            .any(|a| a == "passed 2 automatic checks"),
        "the pre-flight and exit checks: {:?}",
        r.plan.assisted
    );
    // A plan with a limit under the healthy error ratio cries wolf.
    let mut strict = plan.clone();
    strict.metrics[0].threshold.limit = Some(0.001);
    let r = report(&rec, &strict);
    assert!(r.plan.rolled_back() && r.false_alarm, "{:?}", r.plan);
}

#[test]
fn manual_steps_are_approved_by_their_approvers_and_said() {
    let plan = demo_plan();
    let (_, rec) = offline::record(&plan, Scenario::Healthy, 3, 600.0);
    let mut manual = plan.clone();
    manual.steps[1].gate = GateKind::Manual;
    manual.steps[1].approvals = Some(ApprovalSpec {
        from: vec!["ana".into(), "@sre".into()],
        count: 2,
        allow_self: false,
        expires_ms: None,
    });
    let o = run(&rec, &manual);
    assert!(o.promoted(), "{o:?}");
    assert!(
        o.assisted.iter().any(|a| a == "approved step 2 as ana"),
        "{:?}",
        o.assisted
    );
    assert!(
        o.assisted
            .iter()
            .any(|a| a == "approved step 2 as backtest-sre")
    );
}

#[test]
fn an_empty_recording_is_still_running_at_its_start() {
    let plan = demo_plan();
    let (_, mut rec) = offline::record(&plan, Scenario::Healthy, 0, 600.0);
    rec.entries.clear();
    let o = run(&rec, &plan);
    assert!(matches!(o.ending, Ending::Running { .. }), "{o:?}");
    assert_eq!(o.fed, 0);
}

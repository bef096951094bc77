use super::*;
use crate::journal::charts::fixture::{Ending, checkout};

fn charts(ending: Ending) -> Charts {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), ending).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, rec) = crate::recording::open_for_journal(&journal).expect("recording");
    build(&rec, &records)
}

fn of<'a>(c: &'a Charts, metric: &str) -> &'a Chart {
    c.charts
        .iter()
        .find(|x| x.metric == metric)
        .expect("a chart per metric")
}

#[test]
fn a_rolled_back_rollout_has_its_steps_decisions_gap_and_breach() {
    let c = charts(Ending::RolledBack);
    let ids: Vec<&str> = c.charts.iter().map(|x| x.file.as_str()).collect();
    assert_eq!(ids, ["error_rate", "p95_latency", "rps", "health"]);
    assert_eq!(c.service, "checkout");
    let weights: Vec<u8> = c.steps.iter().map(|s| s.weight).collect();
    assert_eq!(weights, [0, 5, 25, 50]);
    assert_eq!(c.steps[0].at, 0);
    assert!(c.steps.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(c.steps[2].label, "25 %");

    let labels: Vec<&str> = c.decisions.iter().map(|d| d.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "pause by alice",
            "resume by alice",
            "approve by bob",
            "trigger_rollback (errors)"
        ]
    );
    let rollback = &c.decisions[3];
    assert!(rollback.kind.is_rollback());
    assert_eq!(rollback.severity, Severity::Breach);
    assert_eq!(c.decisions[2].at, 961_000);

    let err = of(&c, "error_rate");
    assert_eq!(err.canary.segments.len(), 2, "Prometheus down at 400 s");
    assert_eq!(err.canary.missing, 4);
    let gap_ends = err.canary.segments[0].last().expect("points").0;
    let gap_after = err.canary.segments[1][0].0;
    assert_eq!((gap_ends, gap_after), (399_000, 404_000));
    assert!(
        err.canary
            .segments
            .iter()
            .flatten()
            .all(|p| p.1 > 0.5 && p.1 < 9.0),
        "values in % (display units), no zeros for the gap"
    );
    let limit = err.limit.as_ref().expect("limit");
    assert_eq!((limit.value, limit.label.as_str()), (5.0, "limit 5 %"));
    assert_eq!(err.slo.as_ref().map(|s| s.label.as_str()), Some("SLO 1 %"));
    assert_eq!(
        err.baseline.as_ref().map(|b| b.label.as_str()),
        Some("baseline")
    );

    let b = err.breach.as_ref().expect("the breach that rolled back");
    assert_eq!(b.from, 1_120_000);
    assert_eq!(b.to, rollback.at);
    assert!(!b.points.is_empty());
    assert!(
        b.points.iter().all(|p| (p.1 - 8.1).abs() < 1e-9),
        "{:?}",
        b.points
    );
    assert!(b.label.starts_with("breach → rollback "), "{}", b.label);
    assert!(b.label.ends_with("(trigger errors)"), "{}", b.label);
    for other in ["p95_latency", "rps", "health"] {
        assert!(of(&c, other).breach.is_none(), "{other}");
    }
    let health = of(&c, "health");
    assert_eq!(health.canary.segments.len(), 1, "the probe never went down");
    assert!(health.baseline.is_none(), "baseline = none");
}

#[test]
fn at_100_percent_the_baseline_is_drawn_frozen_and_labelled_so() {
    let c = charts(Ending::Promoted);
    let full = c
        .steps
        .iter()
        .find(|s| s.weight == 100)
        .expect("100 % step");
    let err = of(&c, "error_rate");
    let held = err.held.as_ref().expect("frozen baseline");
    assert_eq!(held.label, "baseline (frozen at 100 %)");
    assert!(
        held.from >= full.at && held.from - full.at < 2_000,
        "{held:?}"
    );
    let base = err.baseline.as_ref().expect("baseline");
    let last = base.segments.iter().flatten().map(|p| p.0).max();
    assert!(
        last.is_some_and(|t| t < held.from),
        "no baseline after freezing"
    );
    assert!(err.breach.is_none());
    assert!(!c.decisions.iter().any(|d| d.kind.is_rollback()));
}

#[test]
fn only_decisions_people_and_triggers_make_are_marked() {
    assert!(marked(&DecisionKind::Approve));
    assert!(marked(&DecisionKind::TriggerRollback));
    assert!(marked(&DecisionKind::Pause));
    assert!(marked(&DecisionKind::PromoteFull));
    assert!(!marked(&DecisionKind::AutoAdvance));
    assert!(!marked(&DecisionKind::HookStarted));
    assert!(!marked(&DecisionKind::ViewerAttached));
}

#[test]
fn metric_ids_become_safe_file_names() {
    assert_eq!(file_name("p95_latency"), "p95_latency");
    assert_eq!(file_name("../etc/passwd"), "___etc_passwd");
    assert_eq!(file_name(""), "metric");
}

#[test]
fn without_recorded_verdicts_the_breach_is_the_last_polls_the_journal_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), Ending::RolledBack).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, mut rec) = crate::recording::open_for_journal(&journal).expect("recording");
    let with = build(&rec, &records);
    for e in &mut rec.entries {
        e.verdict = None;
    }
    let without = build(&rec, &records);
    let (a, b) = (
        with.charts[0].breach.as_ref().expect("breach"),
        without.charts[0].breach.as_ref().expect("breach"),
    );
    assert_eq!((a.from, a.to), (b.from, b.to));
    assert_eq!(a.points, b.points);
}

#[test]
fn a_blue_green_baseline_held_at_the_switch_reads_pre_switch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), Ending::Promoted).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, mut rec) = crate::recording::open_for_journal(&journal).expect("recording");
    rec.header.plan.rollout.strategy = Strategy::BlueGreen;
    let c = build(&rec, &records);
    let held = of(&c, "error_rate").held.as_ref().expect("held");
    assert_eq!(held.label, "baseline (pre-switch, frozen)");
    assert!(of(&c, "health").held.is_none(), "no baseline, nothing held");
}

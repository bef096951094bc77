use std::time::Duration;

use super::*;
use crate::plan::HookKind;

#[test]
fn numbers_keep_meaningful_digits() {
    assert_eq!(number(0.0), "0");
    assert_eq!(number(-0.0), "0");
    assert_eq!(number(0.081), "0.081");
    assert_eq!(number(0.1 + 0.2), "0.3");
    assert_eq!(number(1.2), "1.2");
    assert_eq!(number(1.153), "1.15");
    assert_eq!(number(0.9264), "0.926");
    assert_eq!(number(99.87), "99.9");
    assert_eq!(number(9.996), "10");
    assert_eq!(number(812.4), "812");
    assert_eq!(number(1234.56), "1235");
    assert_eq!(number(-0.5), "-0.5");
    assert_eq!(number(-1234.56), "-1235");
    assert_eq!(number(0.99996), "1");
}

#[test]
fn tiny_and_huge_numbers_keep_their_size() {
    assert_eq!(number(0.0001), "0.0001");
    assert_eq!(number(0.00012346), "0.000123");
    assert_eq!(number(1.2e-7), "1.2e-7");
    assert_eq!(number(-1.0e-12), "-1e-12");
    assert_eq!(number(f64::MIN_POSITIVE), "2.23e-308");
    assert_eq!(number(123_456_789.0), "123456789");
    assert_eq!(number(3.5e15), "3.5e15");
    assert_eq!(number(f64::MAX), "1.8e308");
}

#[test]
fn non_finite_numbers_are_readable() {
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(number(f64::NEG_INFINITY), "-Inf");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(ratio(f64::INFINITY), "+Inf");
    assert_eq!(ratio(f64::NAN), "NaN");
}

#[test]
fn ratios_always_have_a_point() {
    assert_eq!(ratio(2.0), "2.0");
    assert_eq!(ratio(1.25), "1.25");
    assert_eq!(ratio(0.0), "0.0");
    assert_eq!(ratio(1.0e-9), "1e-9");
}

#[test]
fn values_speak_their_units() {
    let pct = Units {
        scale: 100.0,
        unit: "%",
    };
    assert_eq!(pct.show(0.073), "7.3 %");
    assert_eq!(pct.show(0.0), "0 %");
    assert_eq!(pct.show(f64::INFINITY), "+Inf %");
    assert_eq!(pct.show_opt(None), MISSING);
    let ms = Units {
        scale: 1000.0,
        unit: "ms",
    };
    assert_eq!(ms.show(0.8124), "812 ms");
    assert_eq!(ms.show(-0.0105), "-10.5 ms");
    let bare = Units {
        scale: 1.0,
        unit: "ratio",
    };
    assert_eq!(bare.show(1.5), "1.5");
    assert_eq!(Units::RAW.show(12.5), "12.5");
}

#[test]
fn configured_durations_read_as_the_plan_writes_them() {
    assert_eq!(duration(Duration::ZERO), "0s");
    assert_eq!(duration(Duration::from_secs(300)), "5m");
    assert_eq!(duration(Duration::from_secs(5400)), "1h 30m");
    assert_eq!(duration(Duration::from_millis(250)), "250ms");
}

#[test]
fn measured_durations_are_short_and_exact() {
    assert_eq!(elapsed(Duration::ZERO), "0 ms");
    assert_eq!(elapsed(Duration::from_millis(120)), "120 ms");
    assert_eq!(elapsed(Duration::from_millis(999)), "999 ms");
    assert_eq!(elapsed(Duration::from_secs(30)), "30s");
    assert_eq!(elapsed(Duration::from_millis(1500)), "1.5s");
    assert_eq!(elapsed(Duration::from_millis(59_900)), "59.9s");
    assert_eq!(elapsed(Duration::from_secs(250)), "4m 10s");
    assert_eq!(elapsed(Duration::from_secs(3600)), "1h 00m 00s");
    assert_eq!(elapsed(Duration::from_secs(3723)), "1h 02m 03s");
}

#[test]
fn clocks_round_up_so_zero_means_now() {
    assert_eq!(clock(0), "00:00");
    assert_eq!(clock(1), "00:01");
    assert_eq!(clock(59_900), "01:00");
    assert_eq!(clock(59_001), "01:00");
    assert_eq!(clock(192_000), "03:12");
    assert_eq!(clock(3_599_001), "1:00:00");
    assert_eq!(clock(3_600_000), "1:00:00");
    assert_eq!(clock(3_723_000), "1:02:03");
    assert_eq!(clock(100 * 3_600_000), "100:00:00");
}

#[test]
fn estimates_round_up() {
    assert_eq!(approx(0), "~0 s");
    assert_eq!(approx(1), "~1 s");
    assert_eq!(approx(10_000), "~10 s");
    assert_eq!(approx(59_900), "~60 s");
    assert_eq!(approx(119_000), "~119 s");
    assert_eq!(approx(120_000), "~2 min");
    assert_eq!(approx(300_000), "~5 min");
    assert_eq!(approx(3_600_000), "~60 min");
    assert_eq!(approx(3_600_001), "~61 min");
}

#[test]
fn times_of_day_are_utc() {
    assert_eq!(time_of_day(Timestamp(0)), "00:00:00");
    assert_eq!(time_of_day(Timestamp(50_587_000)), "14:03:07");
    assert_eq!(time_of_day(Timestamp(-1000)), "23:59:59");
    assert_eq!(time_of_day(Timestamp(i64::MAX)), "--:--:--");
    assert_eq!(date_time(Timestamp(50_587_000)), "1970-01-01 14:03:07 UTC");
    assert_eq!(date_time(Timestamp(i64::MAX)), format!("{} ms", i64::MAX));
    assert_eq!(minute_of_day(0), "00:00");
    assert_eq!(minute_of_day(9 * 60 + 30), "09:30");
}

#[test]
fn phases_read_as_the_header_shows_them() {
    assert_eq!(phase_headline(&Phase::Holding { step: 1 }), "PROGRESSING");
    assert_eq!(phase_in_text(&Phase::Holding { step: 1 }), "progressing");
    assert_eq!(phase_in_text(&Phase::RollingBack), "rolling back");
    assert_eq!(
        phase_sentence(&Phase::Holding { step: 1 }),
        "PROGRESSING at step 2"
    );
    assert_eq!(
        phase_sentence(&Phase::Promoting { step: 0 }),
        "PROMOTING to step 1"
    );
    assert_eq!(
        phase_sentence(&Phase::AwaitingApproval { step: 2 }),
        "AWAITING APPROVAL at step 3"
    );
    let paused = |reason: &str| Phase::Paused {
        step: 0,
        by: "alice".into(),
        reason: reason.into(),
    };
    assert_eq!(phase_sentence(&paused("")), "PAUSED by alice");
    assert_eq!(phase_sentence(&paused("logs")), "PAUSED by alice: logs");
    assert_eq!(phase_sentence(&Phase::Promoted), "PROMOTED to 100 %");
    assert_eq!(phase_sentence(&Phase::RolledBack), "ROLLED BACK");
    let failed = Phase::Failed { reason: "x".into() };
    assert_eq!(phase_sentence(&failed), "FAILED: x");
}

#[test]
fn next_action_sentences() {
    let t = next_action(&NextAction::Advance {
        to_weight: 25,
        in_ms: 192_000,
    });
    assert_eq!(t, "advance to 25 % in 03:12");
    let t = next_action(&NextAction::RollbackIn {
        metric: "error_rate".into(),
        breaches_left: 2,
        approx_ms: 10_000,
    });
    assert_eq!(t, "rollback in 2 more breaches of error_rate (~10 s)");
    let t = next_action(&NextAction::RollbackIn {
        metric: "e".into(),
        breaches_left: 1,
        approx_ms: 300_000,
    });
    assert_eq!(t, "rollback in 1 more breach of e (~5 min)");
    let t = next_action(&NextAction::NoDataAction {
        metric: "rps".into(),
        action: NoDataAction::Pause,
        polls_left: 3,
    });
    assert_eq!(t, "pause in 3 polls without data (rps)");
    let t = next_action(&NextAction::WaitingForHook {
        kind: HookKind::SetWeight,
    });
    assert_eq!(t, "waiting for set_weight hook");
    let t = next_action(&NextAction::RetryRollback {
        attempt: 2,
        in_ms: 9_001,
    });
    assert_eq!(t, "retrying the rollback (attempt 2) in 00:10");
    assert_eq!(
        next_action(&NextAction::None),
        "nothing more will happen on its own"
    );
}

use std::time::Duration;

use super::*;

const MIN: u64 = 60;
const HOUR: u64 = 3600;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every window fully covered at the same ratio.
fn flat(ratio: f64) -> impl FnMut(Duration) -> Option<WindowRatio> {
    move |d| {
        Some(WindowRatio {
            ratio,
            covered: d.as_secs_f64(),
        })
    }
}

/// A canary series polled every 5 s from `start` for `len` seconds, the
/// ratio at each poll given by `f(seconds since start)`.
fn polled(start: Timestamp, len: u64, f: impl Fn(u64) -> Option<f64>) -> Series {
    let mut s = Series::with_capacity(100_000);
    for t in (5..=len).step_by(5) {
        s.push(start.plus(secs(t)), f(t));
    }
    s
}

#[test]
fn the_workbook_factors_come_from_the_budget_shares_and_scale_with_the_period() {
    let s = BurnSettings::default();
    s.validate().unwrap();
    let factors: Vec<f64> = s.rules.iter().map(|r| r.factor_for(s.period)).collect();
    for (got, want) in factors.iter().zip([14.4, 6.0, 1.0]) {
        assert!((got - want).abs() < 1e-9, "{factors:?}");
    }
    let shorts: Vec<Duration> = s.rules.iter().map(|r| r.short_window()).collect();
    assert_eq!(shorts, vec![secs(5 * MIN), secs(30 * MIN), secs(6 * HOUR)]);
    assert_eq!(
        s.windows(),
        vec![
            secs(72 * HOUR),
            secs(6 * HOUR),
            secs(HOUR),
            secs(30 * MIN),
            secs(5 * MIN)
        ]
    );
    // 28 days: 2 % of the budget in an hour is 0.02 × 672 = 13.44×.
    let r = &s.rules[0];
    assert!((r.factor_for(secs(28 * 24 * HOUR)) - 13.44).abs() < 1e-9);
    // A factor given is taken as given, whatever the period.
    let given = BurnRule {
        factor: Some(14.4),
        budget: None,
        ..r.clone()
    };
    assert_eq!(given.factor_for(secs(7 * 24 * HOUR)), 14.4);
}

#[test]
fn settings_read_like_the_plan_writes_them() {
    let json = r#"{"target": 0.995, "period": "28d",
        "rules": [{"long": "1h", "short": "5m", "factor": 14.4, "severity": "page"},
                  {"long": "6h", "budget": 0.05, "severity": "warning"},
                  {"long": 7200, "factor": 3}]}"#;
    let s: BurnSettings = serde_json::from_str(json).unwrap();
    s.validate().unwrap();
    assert_eq!(s.period, secs(28 * 24 * HOUR));
    assert_eq!(s.rules[1].short_window(), secs(30 * MIN));
    assert_eq!(s.rules[1].severity, BurnSeverity::Warning);
    assert_eq!(s.rules[2].long, secs(2 * HOUR));
    assert_eq!(s.rules[2].severity, BurnSeverity::Page);
    assert_eq!(s.min_short_coverage, 1.0);
    // Defaults for everything left out, and back through serde.
    let d: BurnSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(d, BurnSettings::default());
    let written = serde_json::to_value(&d).unwrap();
    assert_eq!(written["period"], "30d");
    assert_eq!(written["rules"][2]["long"], "3d");
    assert_eq!(settings::window(secs(HOUR + 30 * MIN + 5)), "1h 30m 5s");
    let again: BurnSettings = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert_eq!(again, d);
    for bad in [
        r#"{"targt": 0.99}"#,
        r#"{"period": "soon"}"#,
        r#"{"period": -5}"#,
        r#"{"rules": [{"long": "1h", "factr": 2}]}"#,
    ] {
        assert!(serde_json::from_str::<BurnSettings>(bad).is_err(), "{bad}");
    }
}

#[test]
fn validation_says_what_is_wrong() {
    let with = |f: fn(&mut BurnSettings)| {
        let mut s = BurnSettings::default();
        f(&mut s);
        s.validate().map_err(|e| e.to_string())
    };
    assert!(with(|s| s.target = 1.0).unwrap_err().contains("target"));
    assert!(with(|s| s.target = f64::NAN).is_err());
    assert!(with(|s| s.period = Duration::ZERO).is_err());
    assert!(with(|s| s.rules.clear()).is_err());
    assert!(with(|s| s.min_short_coverage = 1.5).is_err());
    let e = with(|s| s.rules[0].short = Some(secs(2 * HOUR))).unwrap_err();
    assert!(e.contains("rule 0") && e.contains("shorter"), "{e}");
    assert!(
        with(|s| s.rules[1].factor = Some(6.0))
            .unwrap_err()
            .contains("not both")
    );
    assert!(with(|s| s.rules[1].budget = None).is_err());
    assert!(with(|s| s.rules[1].budget = Some(f64::NAN)).is_err());
    assert!(with(|s| s.rules[0].long = Duration::ZERO).is_err());
}

#[test]
fn two_percent_errors_against_three_nines_burns_20x_and_pages() {
    let s = BurnSettings::default();
    let report = evaluate(&s, flat(0.02), None);
    assert_eq!(report.verdict, BurnVerdict::Breach);
    assert_eq!(report.verdict.gate(), Verdict::Breach);
    assert_eq!(report.decisive, Some(0));
    let r = &report.rules[0];
    assert!((r.long.burn.unwrap() - 20.0).abs() < 1e-6);
    assert!(r.fired());
    assert_eq!(report.describe(), "burn 20× > 14.4× (1h & 5m)");
    // 1 % is 10×: above 6× and 1× but under 14.4×.
    let report = evaluate(&s, flat(0.01), None);
    let states: Vec<RuleState> = report.rules.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        vec![RuleState::Quiet, RuleState::Fired, RuleState::Fired]
    );
    assert_eq!(report.decisive, Some(1));
    // Only a warning rule fires at 0.15 %: shown, not a breach.
    let report = evaluate(&s, flat(0.0015), None);
    assert_eq!(report.verdict, BurnVerdict::Warning);
    assert_eq!(report.verdict.gate(), Verdict::Pass);
    assert_eq!(report.describe(), "burn 1.5× > 1× (3d & 6h), warning");
    // Healthy: the rule nearest to firing is the one shown.
    let report = evaluate(&s, flat(0.0005), None);
    assert_eq!(report.verdict, BurnVerdict::Ok);
    assert_eq!(report.describe(), "burn 0.5× ≤ 1× (3d & 6h)");
    assert!(
        serde_json::to_string(&report)
            .unwrap()
            .contains("\"verdict\":\"ok\"")
    );
}

#[test]
fn a_spike_that_ended_does_not_page() {
    let start = Timestamp::from_secs(1_000_000);
    let s = BurnSettings::default();
    // 5 % errors for 20 minutes, then clean for 40: over the hour that is
    // 16.7×, above 14.4× and 6×, but the short windows are clean.
    let series = polled(start, HOUR, |t| {
        Some(if t <= 20 * MIN { 0.05 } else { 0.0 })
    });
    let now = start.plus(secs(HOUR));
    let report = evaluate_series(&s, &series, start, now);
    let r = &report.rules[0];
    assert!(r.long.burn.unwrap() > 14.4, "{r:?}");
    assert_eq!(r.short.burn, Some(0.0));
    assert_eq!(r.state, RuleState::Quiet);
    assert!(report.rules[1].long.burn.unwrap() > 6.0);
    assert_eq!(report.rules[1].state, RuleState::Quiet);
    assert_eq!(report.verdict, BurnVerdict::Ok);
    // While it lasts, it pages.
    let during = evaluate_series(&s, &series, start, start.plus(secs(20 * MIN)));
    assert_eq!(during.verdict, BurnVerdict::Breach);
}

#[test]
fn a_young_rollout_is_judged_over_what_it_has_and_says_so() {
    let start = Timestamp::from_secs(1_000_000);
    let s = BurnSettings::default();
    let series = polled(start, 20 * MIN, |_| Some(0.02));
    let report = evaluate_series(&s, &series, start, start.plus(secs(20 * MIN)));
    assert_eq!(report.verdict, BurnVerdict::Breach);
    assert_eq!(report.describe(), "burn 20× > 14.4× (over 20m of 1h & 5m)");
    // The 6 h rule's 30 m short window is not covered yet.
    assert_eq!(report.rules[1].state, RuleState::ShortUncovered);
    assert_eq!(
        report.rules[1].windows_label(),
        "over 20m of 6h & over 20m of 30m"
    );
    // 2 % for 20 minutes of a 30-day budget at 99.9 %: 24 s of 2592 s.
    let spent = report.budget_consumed.unwrap();
    assert!((spent - 24.0 / 2592.0).abs() < 1e-9, "{spent}");

    // Three minutes in, no rule has its short window: no data, and why.
    let early = polled(start, 3 * MIN, |_| Some(0.5));
    let report = evaluate_series(&s, &early, start, start.plus(secs(3 * MIN)));
    assert_eq!(
        report.verdict,
        BurnVerdict::NoData {
            why: "the 5m window has 3m of data, a rule needs it covered".into()
        }
    );
    assert_eq!(report.verdict.gate(), Verdict::NoData);
    assert!(report.describe().starts_with("no data: the 5m window"));
    // With half the short window required, it may fire at three minutes.
    let half = BurnSettings {
        min_short_coverage: 0.5,
        ..BurnSettings::default()
    };
    let report = evaluate_series(&half, &early, start, start.plus(secs(3 * MIN)));
    assert_eq!(report.verdict, BurnVerdict::Breach);
    assert_eq!(
        report.rules[0].windows_label(),
        "over 3m of 1h & over 3m of 5m"
    );
}

#[test]
fn window_ratios_are_time_weighted_and_gaps_are_not_covered() {
    let mut s = Series::with_capacity(100);
    let at = |t: i64| Timestamp::from_secs(t);
    s.push(at(10), Some(0.0));
    s.push(at(20), Some(0.0));
    s.push(at(80), Some(0.6));
    // The first point stands for one interval (10 s), then 10 s, then 60 s.
    let r = WindowRatio::between(&s, at(0), at(80)).unwrap();
    assert_eq!(r.covered, 80.0);
    assert!((r.ratio - 0.6 * 60.0 / 80.0).abs() < 1e-12);
    // A window that starts between points clips the first one.
    let r = WindowRatio::over(&s, at(80), secs(30)).unwrap();
    assert_eq!(r.covered, 30.0);
    assert!((r.ratio - 0.6).abs() < 1e-12);
    // A poll without data covers nothing; the next point covers from it.
    s.push(at(90), None);
    s.push(at(100), Some(0.0));
    let r = WindowRatio::between(&s, at(0), at(100)).unwrap();
    assert_eq!(r.covered, 90.0);
    // No valued point in the window: no ratio.
    assert_eq!(WindowRatio::between(&s, at(85), at(90)), None);
    // One point alone covers no time but is still a ratio to show.
    let mut one = Series::with_capacity(4);
    one.push(at(5), Some(0.1));
    assert_eq!(
        WindowRatio::over(&one, at(5), secs(60)),
        Some(WindowRatio {
            ratio: 0.1,
            covered: 0.0
        })
    );
}

#[test]
fn nan_negative_zero_and_infinite_inputs_never_panic() {
    let s = BurnSettings::default();
    let weird = [
        f64::NAN,
        -1.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        -0.0,
    ];
    for &ratio in &weird {
        for &covered in &weird {
            let report = evaluate(&s, move |_| Some(WindowRatio { ratio, covered }), {
                Some(WindowRatio { ratio, covered })
            });
            let _ = report.describe();
            let _ = serde_json::to_string(&report).unwrap();
            if ratio.is_nan() || ratio < 0.0 {
                assert!(matches!(report.verdict, BurnVerdict::NoData { .. }));
            }
        }
    }
    // +Inf counts as a ratio of 1: all errors.
    let r = evaluate(&s, flat(f64::INFINITY), None);
    assert_eq!(r.verdict, BurnVerdict::Breach);
    // Unusable settings give no data, not a panic.
    for bad in [
        BurnSettings {
            target: 1.0,
            ..BurnSettings::default()
        },
        BurnSettings {
            target: f64::NAN,
            ..BurnSettings::default()
        },
        BurnSettings {
            period: Duration::ZERO,
            min_short_coverage: f64::NAN,
            ..BurnSettings::default()
        },
        BurnSettings {
            rules: Vec::new(),
            ..BurnSettings::default()
        },
    ] {
        let report = evaluate(
            &bad,
            flat(0.02),
            Some(WindowRatio {
                ratio: 0.02,
                covered: 60.0,
            }),
        );
        let _ = report.describe();
    }
    let no_rules = BurnSettings {
        rules: Vec::new(),
        ..BurnSettings::default()
    };
    assert_eq!(
        evaluate(&no_rules, flat(0.5), None).describe(),
        "no data: no rules"
    );
    // Series with odd points, empty series, time running backwards.
    let mut series = Series::with_capacity(16);
    for (t, v) in [
        (1, Some(f64::NAN)),
        (2, Some(-3.0)),
        (3, None),
        (4, Some(f64::INFINITY)),
    ] {
        series.push(Timestamp::from_secs(t), v);
    }
    let start = Timestamp::from_secs(0);
    for now in [-10, 0, 2, 4, 1_000_000] {
        let _ = evaluate_series(&s, &series, start, Timestamp::from_secs(now)).describe();
        let _ = evaluate_series(
            &s,
            &Series::with_capacity(2),
            start,
            Timestamp::from_secs(now),
        );
    }
    let r = evaluate(&s, |_| None, None);
    assert_eq!(
        r.verdict,
        BurnVerdict::NoData {
            why: "no canary error ratio over 5m".into()
        }
    );
}

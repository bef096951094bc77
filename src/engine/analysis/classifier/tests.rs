//! The classifier's rules and edge cases; `tests/it/judge_golden.rs`
//! checks its numbers against an independent SciPy computation.

use super::*;

/// Settings from `key = value` lines whose values are JSON literals, read
/// by serde_json (the pure engine's files may not name the toml crate; the
/// CLI's tests read real TOML).
fn try_settings(text: &str) -> Result<JudgeSettings, serde_json::Error> {
    let body: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| format!("\"{}\": {}", k.trim(), v.trim()))
        .collect();
    serde_json::from_str(&format!("{{{}}}", body.join(",")))
}

fn settings(text: &str) -> JudgeSettings {
    try_settings(text).expect("settings parse")
}

fn seq(from: f64, n: usize, step: f64) -> Vec<f64> {
    (0..n).map(|i| from + step * i as f64).collect()
}

/// Baseline 100..=119, noisy but deterministic.
fn baseline() -> Vec<f64> {
    (0..20).map(|i| 100.0 + f64::from((i * 7) % 20)).collect()
}

fn shifted(by: f64) -> Vec<f64> {
    baseline().iter().map(|v| v + by).collect()
}

fn judge(x: &[f64], y: &[f64]) -> MetricJudgement {
    classify(x, y, &JudgeSettings::default())
}

#[test]
fn defaults_are_kayentas_judge() {
    let s = settings("");
    assert_eq!(s, JudgeSettings::default());
    assert_eq!((s.confidence, s.tolerance), (0.98, 0.25));
    assert_eq!((s.allowed_increase, s.allowed_decrease), (1.0, 1.0));
    assert_eq!(s.direction, Direction::Either);
    assert_eq!(s.nan_strategy, NanStrategy::Remove);
    assert_eq!(s.outliers, Outliers::Keep);
    assert!(s.validate().is_ok());
    assert_eq!(ScoreThresholds::default().pass, 95.0);
    assert!(ScoreThresholds::default().validate().is_ok());
}

#[test]
fn settings_read_with_kayentas_spellings() {
    let s = settings(
        "direction = \"increase\"\noutliers = true\nnan_strategy = \"replace\"\n\
         critical = true\ncritical_increase = 1.5\nallowed_decrease = 0.9",
    );
    assert_eq!(s.direction, Direction::Up);
    assert_eq!(s.outliers, Outliers::Remove);
    assert_eq!(s.nan_strategy, NanStrategy::Replace);
    assert_eq!(s.critical_increase, Some(1.5));
    assert_eq!(settings("outliers = \"keep\"").outliers, Outliers::Keep);
    assert_eq!(settings("direction = \"down\"").direction, Direction::Down);
    for bad in [
        "confidance = 0.9",
        "outliers = \"drop\"",
        "direction = \"sideways\"",
    ] {
        let e = try_settings(bad).expect_err(bad);
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn out_of_range_settings_are_named_with_the_fix() {
    for (text, field) in [
        ("confidence = 1.0", "confidence"),
        ("confidence = 0.0", "confidence"),
        ("tolerance = -0.1", "tolerance"),
        ("allowed_increase = 0.9", "allowed_increase"),
        ("allowed_decrease = 1.2", "allowed_decrease"),
        ("allowed_decrease = 0.0", "allowed_decrease"),
        ("critical_increase = 0.5", "critical_increase"),
        ("critical_decrease = 2.0", "critical_decrease"),
    ] {
        let e = settings(text).validate().expect_err(text);
        assert_eq!(e.field, field);
        assert!(e.to_string().starts_with(&format!("{field} = ")), "{e}");
    }
    let odd = JudgeSettings {
        tolerance: f64::INFINITY,
        ..JudgeSettings::default()
    };
    assert_eq!(odd.validate().expect_err("inf").field, "tolerance");
    let odd = JudgeSettings {
        confidence: f64::NAN,
        ..JudgeSettings::default()
    };
    assert_eq!(odd.validate().expect_err("NaN").field, "confidence");
    let t = ScoreThresholds {
        pass: 70.0,
        marginal: 80.0,
        ..ScoreThresholds::default()
    };
    assert_eq!(t.validate().expect_err("marginal > pass").field, "marginal");
}

#[test]
fn a_clear_increase_is_high_with_its_numbers() {
    let j = judge(&shifted(30.0), &baseline());
    assert_eq!(j.classification, Classification::High, "{j:?}");
    assert!(j.fails() && !j.critical);
    let ci = j.interval.expect("an interval");
    assert!(ci.lower > 0.25 * 30.0 && ci.lower <= 30.0 && ci.upper >= 30.0);
    assert_eq!(j.estimate, Some(30.0));
    assert!(j.p_value.expect("p") < 1e-6);
    assert!(
        j.reason
            .starts_with("canary higher than baseline: shift +30, 98 % CI [")
    );
    assert!(
        j.reason.contains("of the baseline median; mean ratio 1.2"),
        "{}",
        j.reason
    );
    assert_eq!((j.n_canary, j.n_baseline), (20, 20));
}

#[test]
fn direction_and_allowance_excuse_a_real_shift() {
    let (x, y) = (shifted(-30.0), baseline());
    assert_eq!(judge(&x, &y).classification, Classification::Low);
    let up = classify(&x, &y, &settings("direction = \"up\""));
    assert_eq!(up.classification, Classification::Pass);
    assert!(
        up.reason.ends_with("but only increases are judged"),
        "{}",
        up.reason
    );
    // Mean ratio about 0.73: an allowance down to 0.7 lets it pass.
    let allowed = classify(&x, &y, &settings("allowed_decrease = 0.7"));
    assert_eq!(allowed.classification, Classification::Pass);
    assert!(
        allowed.reason.contains("is over the allowed 0.7"),
        "{}",
        allowed.reason
    );
    let high = classify(&shifted(30.0), &y, &settings("allowed_increase = 1.5"));
    assert_eq!(high.classification, Classification::Pass, "{high:?}");
}

#[test]
fn a_shift_inside_the_tolerance_passes() {
    // A tiny shift on noisy data: the interval straddles it widely.
    let y = baseline();
    let x = shifted(0.5);
    let j = judge(&x, &y);
    assert_eq!(j.classification, Classification::Pass, "{j:?}");
    assert!(
        j.reason.starts_with("no shift beyond the tolerance"),
        "{}",
        j.reason
    );
    // The same interval with an absurd tolerance passes a clear shift too.
    let wide = classify(&shifted(30.0), &y, &settings("tolerance = 10.0"));
    assert_eq!(wide.classification, Classification::Pass);
}

#[test]
fn identical_and_single_valued_samples_pass() {
    let y = baseline();
    let j = judge(&y, &y);
    assert_eq!(j.classification, Classification::Pass);
    assert_eq!(j.reason, "canary and baseline data are identical");
    let j = judge(&[4.0, 4.0, 4.0], &[4.0]);
    assert_eq!(j.classification, Classification::Pass);
    assert_eq!(j.reason, "canary and baseline all read 4");
    assert_eq!((j.estimate, j.p_value), (Some(0.0), Some(1.0)));
}

#[test]
fn constant_samples_that_differ_are_judged_without_noise() {
    let j = judge(&[5.0; 10], &[2.0; 10]);
    assert_eq!(j.classification, Classification::High, "{j:?}");
    assert_eq!(j.estimate, Some(3.0));
    assert_eq!(j.effect_size, Some(2.5));
}

/// Kayenta has no minimum sample size: R's bracket (the extreme pairwise
/// differences) clamps the interval, so a clean gap between tiny samples
/// reads High even where the p-value is far from significant.
#[test]
fn tiny_samples_follow_kayenta_and_can_be_high() {
    for (x, y, estimate, lower, upper) in [
        (vec![10.0], vec![1.0], 9.0, 9.0, 9.0),
        (vec![10.0, 11.0], vec![1.0], 9.5, 9.0, 10.0),
        (vec![10.0, 11.0, 12.0], vec![1.0, 2.0], 9.5, 8.0, 11.0),
    ] {
        let j = judge(&x, &y);
        assert_eq!(j.classification, Classification::High, "{x:?} {y:?}: {j:?}");
        assert_eq!(j.estimate, Some(estimate));
        assert_eq!(j.interval, Some(Interval { lower, upper }));
    }
    let j = judge(&[1.0, 5.0, 9.0], &[2.0, 4.0, 8.0]);
    assert_eq!(j.classification, Classification::Pass);
    assert_eq!(j.estimate, Some(0.0));
}

#[test]
fn no_data_is_its_own_classification_and_fails_only_when_required() {
    let j = judge(&[], &[1.0]);
    assert_eq!(j.classification, Classification::NoData);
    assert!(!j.fails() && j.interval.is_none() && j.estimate.is_none());
    assert_eq!(j.reason, "no canary data");
    let j = classify(&[1.0], &[], &settings("must_have_data = true"));
    assert!(j.no_data_fails && j.fails() && !j.critical);
    assert_eq!(j.reason, "no baseline data; the metric must have data");
    let j = classify(
        &[],
        &[],
        &settings("critical = true\nmust_have_data = true"),
    );
    assert!(j.critical && !j.no_data_fails && j.fails());
    assert_eq!(j.reason, "no canary or baseline data; a critical metric");
}

#[test]
fn nan_and_infinities_are_removed_or_zeroed() {
    let x = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let j = judge(&x, &[1.0, 2.0]);
    assert_eq!(j.classification, Classification::NoData);
    assert_eq!((j.n_canary, j.dropped_canary), (0, 3));
    assert_eq!(j.reason, "no canary data (3 not numbers dropped)");
    // Replaced by 0, as Kayenta: three zeros against 1 and 2.
    let j = classify(&x, &[1.0, 2.0], &settings("nan_strategy = \"replace\""));
    assert_eq!((j.n_canary, j.dropped_canary), (3, 0));
    assert_eq!(j.effect_size, None, "a mean of 0 has no ratio");
    assert!(j.estimate.is_some_and(|e| e < 0.0));
    let mixed = [f64::NAN, 130.0, 131.0, f64::INFINITY, 129.0, 132.0];
    let j = judge(&mixed, &baseline());
    assert_eq!((j.n_canary, j.dropped_canary), (4, 2));
    assert_eq!(j.classification, Classification::High);
}

#[test]
fn an_unknown_mean_ratio_skips_the_effect_size_check() {
    // Baseline mean 0: no ratio, so only the interval decides.
    let y = [-2.0, -1.0, 0.0, 1.0, 2.0, -1.5, 1.5, 0.0];
    let x = seq(20.0, 8, 1.0);
    let j = classify(&x, &y, &settings("allowed_increase = 100.0"));
    assert_eq!(j.effect_size, None);
    assert_eq!(j.classification, Classification::High, "{j:?}");
    assert!(
        j.reason.ends_with("mean ratio unknown (a mean is 0)"),
        "{}",
        j.reason
    );
}

#[test]
fn critical_needs_the_critical_ratio() {
    let (x, y) = (shifted(30.0), baseline());
    let j = classify(&x, &y, &settings("critical = true"));
    assert!(
        j.critical && j.reason.starts_with("critical: canary higher"),
        "{j:?}"
    );
    let j = classify(
        &x,
        &y,
        &settings("critical = true\ncritical_increase = 2.0"),
    );
    assert_eq!(j.classification, Classification::High);
    assert!(!j.critical);
}

#[test]
fn outliers_are_dropped_by_kayentas_iqr_fences() {
    let mut x = shifted(0.0);
    x.push(1e6);
    let j = classify(&x, &baseline(), &settings("outliers = \"remove\""));
    assert_eq!((j.n_canary, j.dropped_canary), (20, 1));
    assert_eq!(j.classification, Classification::Pass);
    let kept = judge(&x, &baseline());
    assert_eq!(kept.n_canary, 21);
    // R-7 percentiles.
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 25.0), Some(1.75));
    assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn no_printed_number_is_ever_nan() {
    let odd: [&[f64]; 8] = [
        &[],
        &[f64::NAN],
        &[0.0],
        &[0.0, 0.0],
        &[1e300, -1e300],
        &[f64::MAX, 1.0],
        &[-0.0, 0.0, 5e-324],
        &[1.0, f64::INFINITY, 2.0],
    ];
    for nan in ["remove", "replace"] {
        let s = settings(&format!("nan_strategy = \"{nan}\"\noutliers = true"));
        for x in odd {
            for y in odd {
                let j = classify(x, y, &s);
                let ci = j.interval.map(|i| [i.lower, i.upper]).unwrap_or_default();
                for v in [j.estimate, j.p_value, j.effect_size]
                    .into_iter()
                    .flatten()
                    .chain(ci)
                {
                    assert!(v.is_finite(), "{x:?} {y:?}: {j:?}");
                }
                assert!(!j.reason.contains("NaN"), "{}", j.reason);
                serde_json::to_string(&j).expect("serializes");
            }
        }
    }
}

fn with(class: Classification) -> MetricJudgement {
    let mut j = judge(&[1.0], &[1.0]);
    j.classification = class;
    j
}

#[test]
fn the_step_score_is_the_share_that_passes() {
    let t = ScoreThresholds::default();
    let pass = with(Classification::Pass);
    let high = with(Classification::High);
    let none = with(Classification::NoData);
    let all: Vec<(&str, &MetricJudgement)> = vec![("a", &pass), ("b", &pass), ("c", &pass)];
    let s = score_step(all, &t);
    assert_eq!((s.score, s.result, s.pass), (100.0, StepResult::Pass, 3));
    let s = score_step([("a", &pass), ("b", &pass), ("c", &pass), ("d", &high)], &t);
    assert_eq!((s.score, s.result, s.high), (75.0, StepResult::Marginal, 1));
    assert_eq!(s.reason, "score 75: 3 of 4 metrics pass (1 high)");
    let s = score_step([("a", &pass), ("b", &high), ("c", &high)], &t);
    assert_eq!((s.score, s.result), (33.33, StepResult::Fail));
    // NoData is left out ...
    let s = score_step([("a", &pass), ("b", &pass), ("c", &none)], &t);
    assert_eq!((s.score, s.no_data), (100.0, 1));
    // ... unless half or more have none.
    let s = score_step([("a", &pass), ("b", &none)], &t);
    assert_eq!((s.score, s.result), (0.0, StepResult::Fail));
    assert_eq!(s.reason, "1 of 2 metrics have no data");
    let s = score_step(std::iter::empty(), &t);
    assert_eq!((s.score, s.reason.as_str()), (0.0, "no metrics judged"));
}

#[test]
fn required_data_and_critical_failures_weigh_in() {
    let t = ScoreThresholds::default();
    let pass = with(Classification::Pass);
    let mut required = with(Classification::NoData);
    required.no_data_fails = true;
    let s = score_step([("a", &pass), ("b", &required)], &t);
    assert_eq!((s.score, s.no_data_fail, s.no_data), (50.0, 1, 0));
    let mut crit = with(Classification::High);
    crit.critical = true;
    crit.reason = "canary higher".into();
    let many: Vec<(&str, &MetricJudgement)> = std::iter::repeat_n(("p", &pass), 30)
        .chain([("latency", &crit)])
        .collect();
    let s = score_step(many, &t);
    assert_eq!(
        (s.score, s.result, s.critical_failures),
        (0.0, StepResult::Fail, 1)
    );
    assert_eq!(s.reason, "critical metric latency failed: canary higher");
}

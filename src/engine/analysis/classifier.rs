//! Kayenta's canary judge (`NetflixACAJudge` with `MannWhitneyClassifier`),
//! as pure functions: [`classify`] one metric's canary samples against its
//! baseline samples, then [`score_step`] the metrics of a step.
//!
//! Per metric, in Kayenta's order: non-finite values are removed or
//! replaced by 0 ([`NanStrategy`]), outliers optionally dropped (IQR,
//! factor 3, reduced sensitivity: fences at min(p1, Q1 − 3·IQR) and
//! max(p99, Q3 + 3·IQR), R-7 percentiles); then
//! 1. no data on either side → NoData (a failure with `must_have_data`;
//!    critical on a `critical` metric);
//! 2. identical samples (as multisets) → Pass; one value throughout → Pass;
//! 3. the Mann-Whitney interval of the shift canary − baseline
//!    ([`mann_whitney`]) against the tolerance: High when its lower end is
//!    above `tolerance`·|estimate|, Low when its upper end is below
//!    −`tolerance`·|estimate|, each only in a judged direction and only
//!    when the mean ratio canary/baseline reaches `allowed_increase`
//!    (`allowed_decrease`); an unknown ratio (a mean of 0) skips that check;
//! 4. a High (Low) of a `critical` metric whose ratio reaches
//!    `critical_increase` (`critical_decrease`, default 1) is critical.
//!
//! Per step: Pass ÷ (Pass + High + Low + NoData-that-fails) × 100,
//! rounded to 2 decimals; 0 when a critical metric failed or half or more
//! of the metrics have no data; then Pass / Marginal / Fail by the
//! thresholds.
//!
//! Where rampdeck differs from Kayenta, and why:
//! - NaN handling applies to ±inf too (a rate divided by 0): Kayenta hands
//!   infinities to the test, where a difference with one makes R's bracket
//!   infinite.
//! - No data is NoData whatever the NaN strategy; Kayenta passes a metric
//!   with no data under `replace`, and missing data must never read as
//!   healthy here.
//! - Two constant, different samples are judged exactly (estimate and
//!   interval = the difference) instead of after adding Gaussian noise: the
//!   engine is deterministic. The interval ends are the pairwise
//!   differences where the equation's side jumps (Kayenta's Brent solver
//!   stops within 1e-4, absolute), and the estimate is the middle of the
//!   stretch that solves q = 0, where Brent stops anywhere in it (see
//!   [`super::mannwhitney`]). The classification can differ from Kayenta's
//!   only when an end or the bound tolerance·|estimate| falls within that
//!   slack.
//! - Settings are per metric and configurable (confidence and tolerance are
//!   fixed at 0.98 and 0.25 in Kayenta's judge); `critical_*` default to
//!   Kayenta's 1.0, written as unset. The effect size is always the mean
//!   ratio (no CLES), and the outlier factor is fixed at 3.
//! - One step is one group: no group weights, no muted metrics.
//! - Like Kayenta, no minimum sample size: R's bracket clamps the interval
//!   to the extreme pairwise differences, so one canary value above one
//!   baseline value, or 3 above 2, reads High (with a p-value of 1 or
//!   0.15). A gate should ask for enough samples before it judges.
//! - Reasons are rampdeck's own short sentences with the numbers; Kayenta
//!   says "<metric> was classified as High". Kayenta's `Error` (an
//!   exception in the test) cannot happen; the one failure left, values so
//!   large that a difference overflows, reads NoData with that reason.
//! - Nothing printed as a decision is NaN: the numbers are `None` (null in
//!   JSON) when there is no data or no mean ratio, and are finite otherwise.

mod reason;
mod score;
mod settings;

use serde::Serialize;

pub use score::{StepResult, StepScore, score_step};
pub use settings::{
    Direction, JudgeSettings, NanStrategy, OnMarginal, Outliers, ScoreThresholds, SettingsError,
};

use super::mannwhitney::mann_whitney;

/// A metric's classification (Kayenta's labels, its `NodataFailMetric`
/// being `NoData` with [`MetricJudgement::no_data_fails`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Pass,
    /// The canary is higher than the baseline beyond tolerance.
    High,
    /// The canary is lower than the baseline beyond tolerance.
    Low,
    /// Canary or baseline has no values (after NaN and outlier handling).
    NoData,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::NoData => "no data",
        }
    }
}

/// A confidence interval of the shift canary − baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// One metric's judgement: the decision, the numbers behind it and a short
/// reason for the cockpit and the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricJudgement {
    pub classification: Classification,
    /// This result alone fails the step (score 0): Kayenta's `critical`.
    pub critical: bool,
    /// NoData that counts as a failure (`must_have_data`).
    pub no_data_fails: bool,
    /// The interval of the shift at `confidence`; `None` without data.
    pub interval: Option<Interval>,
    /// The estimated shift canary − baseline.
    pub estimate: Option<f64>,
    pub p_value: Option<f64>,
    /// mean(canary) / mean(baseline); `None` when a mean is 0.
    pub effect_size: Option<f64>,
    pub confidence: f64,
    /// Values judged, after NaN and outlier handling.
    pub n_canary: usize,
    pub n_baseline: usize,
    /// Values dropped as not numbers or outliers.
    pub dropped_canary: usize,
    pub dropped_baseline: usize,
    pub reason: String,
}

impl MetricJudgement {
    /// Whether it counts against the step: High, Low, or NoData of a
    /// metric that must have data or is critical.
    pub fn fails(&self) -> bool {
        match self.classification {
            Classification::High | Classification::Low => true,
            Classification::NoData => self.no_data_fails || self.critical,
            Classification::Pass => false,
        }
    }
}

/// Judges canary samples against baseline samples. Expects validated
/// settings; with others it still never panics (an invalid confidence
/// reads NoData with the error as its reason).
pub fn classify(canary: &[f64], baseline: &[f64], s: &JudgeSettings) -> MetricJudgement {
    let x = prepare(canary, s);
    let y = prepare(baseline, s);
    let mut j = MetricJudgement {
        classification: Classification::NoData,
        critical: false,
        no_data_fails: false,
        interval: None,
        estimate: None,
        p_value: None,
        effect_size: None,
        confidence: s.confidence,
        n_canary: x.len(),
        n_baseline: y.len(),
        dropped_canary: canary.len() - x.len(),
        dropped_baseline: baseline.len() - y.len(),
        reason: String::new(),
    };
    if x.is_empty() || y.is_empty() {
        // Kayenta: a metric that must have data fails the score, unless it
        // is critical, in which case its no data fails the step outright.
        j.no_data_fails = s.must_have_data && !s.critical;
        j.critical = s.critical;
        j.reason = reason::no_data(&j, s);
        return j;
    }
    let test = match mann_whitney(&x, &y, s.confidence) {
        Ok(t) => t,
        Err(e) => {
            j.reason = format!("cannot compare: {e}");
            return j;
        }
    };
    j.interval = Some(Interval {
        lower: test.lower,
        upper: test.upper,
    });
    j.estimate = Some(test.estimate);
    j.p_value = Some(test.p_value);
    j.effect_size = mean_ratio(&x, &y);
    let (mut xs, mut ys) = (x, y);
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    j.classification = Classification::Pass;
    if xs == ys {
        j.reason = "canary and baseline data are identical".into();
    } else if xs.first() == xs.last() && ys.first() == ys.last() && xs.first() == ys.first() {
        j.reason = reason::one_value(xs.first().copied().unwrap_or_default());
    } else {
        let facts = reason::Facts {
            test: &test,
            effect: j.effect_size,
            baseline_median: median(&ys),
            settings: s,
        };
        let (class, why) = compare(&facts);
        j.classification = class;
        j.critical = s.critical && critical(class, j.effect_size, s);
        j.reason = if j.critical {
            format!("critical: {why}")
        } else {
            why
        };
    }
    j
}

/// Kayenta's `compare`: High or Low only with the interval beyond the
/// tolerance, in a judged direction, with the mean ratio past the allowance.
fn compare(f: &reason::Facts) -> (Classification, String) {
    let (t, s) = (f.test, f.settings);
    let bound = s.tolerance * t.estimate.abs();
    let up = matches!(s.direction, Direction::Up | Direction::Either);
    let down = matches!(s.direction, Direction::Down | Direction::Either);
    let above = t.lower > bound;
    let below = t.upper < -bound;
    let ratio_high = f.effect.is_none_or(|e| e >= s.allowed_increase);
    let ratio_low = f.effect.is_none_or(|e| e <= s.allowed_decrease);
    if above && up && ratio_high {
        (Classification::High, reason::shifted(f, "higher"))
    } else if below && down && ratio_low {
        (Classification::Low, reason::shifted(f, "lower"))
    } else if above || below {
        (Classification::Pass, reason::excused(f, above, up, down))
    } else {
        (Classification::Pass, reason::within(f))
    }
}

/// Kayenta's critical effect-size check (threshold 1.0 when unset).
fn critical(class: Classification, effect: Option<f64>, s: &JudgeSettings) -> bool {
    match class {
        Classification::High => effect.is_none_or(|e| e >= s.critical_increase.unwrap_or(1.0)),
        Classification::Low => effect.is_none_or(|e| e <= s.critical_decrease.unwrap_or(1.0)),
        Classification::Pass | Classification::NoData => false,
    }
}

/// The values judged: non-finite ones removed or replaced by 0, then
/// outliers dropped when asked.
fn prepare(values: &[f64], s: &JudgeSettings) -> Vec<f64> {
    let finite: Vec<f64> = match s.nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| v.is_finite()).collect(),
        NanStrategy::Replace => values
            .iter()
            .map(|v| if v.is_finite() { *v } else { 0.0 })
            .collect(),
    };
    match s.outliers {
        Outliers::Keep => finite,
        Outliers::Remove => without_outliers(finite),
    }
}

/// Kayenta's `IQRDetector(factor = 3.0, reduceSensitivity = true)`.
fn without_outliers(values: Vec<f64>) -> Vec<f64> {
    const FACTOR: f64 = 3.0;
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let (Some(p01), Some(q1), Some(q3), Some(p99)) = (
        percentile(&sorted, 1.0),
        percentile(&sorted, 25.0),
        percentile(&sorted, 75.0),
        percentile(&sorted, 99.0),
    ) else {
        return values;
    };
    let iqr = q3 - q1;
    let low = p01.min(q1 - FACTOR * iqr);
    let high = p99.max(q3 + FACTOR * iqr);
    values
        .into_iter()
        .filter(|v| *v >= low && *v <= high)
        .collect()
}

/// The `p`th percentile of sorted values by R's type 7 (Apache Commons'
/// `EstimationType.R_7`, which Kayenta uses).
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    let h = (n as f64 - 1.0) * p / 100.0;
    let i = h.floor() as usize;
    let lo = *sorted.get(i)?;
    Some(match sorted.get(i + 1) {
        Some(hi) => lo + (h - h.floor()) * (hi - lo),
        None => lo,
    })
}

fn median(sorted: &[f64]) -> f64 {
    percentile(sorted, 50.0).unwrap_or(f64::NAN)
}

/// Kayenta's `meanRatio`: mean(canary)/mean(baseline), unknown when
/// either mean is 0 (and, here, when it is not a finite number).
fn mean_ratio(x: &[f64], y: &[f64]) -> Option<f64> {
    let (mx, my) = (mean(x), mean(y));
    let r = mx / my;
    (mx != 0.0 && my != 0.0 && r.is_finite()).then_some(r)
}

fn mean(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    if m.is_finite() {
        m
    } else {
        // The sum overflowed: finite values have a finite mean.
        v.iter().map(|a| a / n).sum()
    }
}

#[cfg(test)]
mod tests;

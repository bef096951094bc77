//! Gate math: one metric's verdict from its latest canary value, its
//! baseline and its thresholds, plus the per-metric counters (breaches in a
//! row, polls without data in a row, samples in the step) that triggers and
//! no-data policies read.
//!
//! Rules (see the module doc of `engine` for how they drive the rollout):
//! - `bad = up`: a breach when the value is above `limit`, or (baseline > 0)
//!   `value / baseline` is above `ratio`, or `value - baseline` is above
//!   `delta`. `bad = down` mirrors it: below `limit`, `baseline / value`
//!   above `ratio` (a value of 0 is infinitely far below), or
//!   `baseline - value` above `delta`. Equal to a limit is a pass.
//! - `+Inf` is always a breach (a latency quantile of +Inf means every
//!   request landed in the last bucket).
//! - A ratio or delta with no baseline value yet is `NoData("no baseline
//!   yet")`, unless the absolute limit is already crossed.

use crate::plan::{BadDirection, Baseline, Metric, Threshold};

use super::types::{GateStatus, Verdict};

/// The verdict of one value against a metric's thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The limit that was crossed, else the tightest that applies.
    pub limit: Option<f64>,
    pub detail: String,
}

/// Judge `value` against `threshold`. `baseline` is the latest baseline
/// value; `use_baseline` is false when the metric has `baseline = none`
/// (ratio and delta then do not apply).
pub fn judge(
    bad: BadDirection,
    threshold: &Threshold,
    use_baseline: bool,
    value: f64,
    baseline: Option<f64>,
) -> Judgement {
    judge_in(bad, threshold, use_baseline, value, baseline, &Units::RAW)
}

/// How numbers in a verdict's detail are shown: raw values times `scale`,
/// followed by `unit` ("7.3 % > 2 % limit" rather than "0.073 > 0.02").
/// Only the wording changes; the judgement is always on raw values.
#[derive(Debug, Clone, Copy)]
pub struct Units<'a> {
    pub scale: f64,
    pub unit: &'a str,
}

impl Units<'_> {
    /// Raw values, no unit.
    pub const RAW: Units<'static> = Units {
        scale: 1.0,
        unit: "",
    };

    /// `v` scaled, with its unit.
    pub fn show(&self, v: f64) -> String {
        let n = fmt_num(v * self.scale);
        match self.unit {
            // A bare ratio reads best as a bare number.
            "" | "ratio" => n,
            "%" => format!("{n} %"),
            u => format!("{n} {u}"),
        }
    }
}

/// [`judge`] with the detail written in the metric's display units.
pub fn judge_in(
    bad: BadDirection,
    threshold: &Threshold,
    use_baseline: bool,
    value: f64,
    baseline: Option<f64>,
    units: &Units<'_>,
) -> Judgement {
    let fmt_num = |v: f64| units.show(v);
    let mut tightest: Option<f64> = None;
    let tighten = |cur: Option<f64>, b: f64| -> Option<f64> {
        Some(match (cur, bad) {
            (None, _) => b,
            (Some(c), BadDirection::Up) => c.min(b),
            (Some(c), BadDirection::Down) => c.max(b),
        })
    };
    if value.is_nan() {
        return Judgement {
            verdict: Verdict::NoData,
            limit: threshold.limit,
            detail: "no data: NaN".into(),
        };
    }
    if value == f64::INFINITY {
        return Judgement {
            verdict: Verdict::Breach,
            limit: threshold.limit,
            detail: "+Inf (always a breach)".into(),
        };
    }
    let v = fmt_num(value);
    let mut passes: Vec<String> = Vec::new();
    if let Some(l) = threshold.limit {
        let (crossed, op, ok_op) = match bad {
            BadDirection::Up => (value > l, ">", "≤"),
            BadDirection::Down => (value < l, "<", "≥"),
        };
        if crossed {
            return breach(l, format!("{v} {op} {} limit", fmt_num(l)));
        }
        passes.push(format!("{v} {ok_op} {} limit", fmt_num(l)));
        tightest = tighten(tightest, l);
    }
    let relative = threshold.ratio.is_some() || threshold.delta.is_some();
    if use_baseline && relative {
        let Some(b) = baseline else {
            return Judgement {
                verdict: Verdict::NoData,
                limit: tightest,
                detail: "no baseline yet".into(),
            };
        };
        if let Some(ratio) = threshold.ratio {
            if b > 0.0 {
                let (r, bound, what) = match bad {
                    BadDirection::Up => (value / b, b * ratio, "baseline"),
                    BadDirection::Down => {
                        let r = if value > 0.0 {
                            b / value
                        } else {
                            f64::INFINITY
                        };
                        (r, b / ratio, "below baseline")
                    }
                };
                if r > ratio {
                    return breach(
                        bound,
                        format!("{}× {what} > {}×", fmt_ratio(r), fmt_ratio(ratio)),
                    );
                }
                passes.push(format!("{}× {what} ≤ {}×", fmt_ratio(r), fmt_ratio(ratio)));
                tightest = tighten(tightest, bound);
            } else {
                passes.push("ratio n/a (baseline is 0)".into());
            }
        }
        if let Some(delta) = threshold.delta {
            let (d, bound, sign) = match bad {
                BadDirection::Up => (value - b, b + delta, "+"),
                BadDirection::Down => (b - value, b - delta, "-"),
            };
            if d > delta {
                return breach(
                    bound,
                    format!(
                        "{sign}{} vs baseline > {} delta",
                        fmt_num(d),
                        fmt_num(delta)
                    ),
                );
            }
            passes.push(format!(
                "{sign}{} vs baseline ≤ {} delta",
                fmt_num(d.max(0.0)),
                fmt_num(delta)
            ));
            tightest = tighten(tightest, bound);
        }
    }
    let detail = if passes.is_empty() {
        format!("{v} (no limits set)")
    } else {
        passes.join(", ")
    };
    Judgement {
        verdict: Verdict::Pass,
        limit: tightest,
        detail,
    }
}

fn breach(limit: f64, detail: String) -> Judgement {
    Judgement {
        verdict: Verdict::Breach,
        limit: Some(limit),
        detail,
    }
}

/// A number with about four significant digits and no trailing zeros:
/// 0.081, 2.3, 1235, "+Inf".
pub fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 || v.is_nan() {
        return if v.is_nan() { "NaN".into() } else { "0".into() };
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Like [`fmt_num`] but always with a decimal point: 2.0, 2.3, 1.25.
fn fmt_ratio(v: f64) -> String {
    let s = fmt_num(v);
    if s.contains('.') || s.contains("Inf") {
        s
    } else {
        format!("{s}.0")
    }
}

/// One metric's gate: its latest numbers, verdict and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct GateState {
    pub verdict: Verdict,
    pub detail: String,
    pub limit: Option<f64>,
    /// Latest canary value; `None` after a poll without data.
    pub canary: Option<f64>,
    pub degraded: bool,
    /// Latest baseline value (a fixed baseline is set from the start).
    pub baseline: Option<f64>,
    /// Consecutive breaches.
    pub breaches: u32,
    /// Consecutive polls without data or with a provider error.
    pub no_data_polls: u32,
    /// Values received in the current step.
    pub samples: u32,
}

impl GateState {
    pub fn new(metric: &Metric) -> Self {
        let baseline = match metric.baseline {
            Baseline::Value(v) => Some(v),
            _ => None,
        };
        GateState {
            verdict: Verdict::NoData,
            detail: "no samples yet".into(),
            limit: metric.threshold.limit,
            canary: None,
            degraded: false,
            baseline,
            breaches: 0,
            no_data_polls: 0,
            samples: 0,
        }
    }

    /// A new step: its gates are judged on its own samples only.
    pub fn reset_step(&mut self) {
        self.samples = 0;
        self.verdict = Verdict::NoData;
        self.detail = "waiting for samples in this step".into();
    }

    /// A canary value arrived. `traffic_block` says why the canary's traffic
    /// is too low to judge (min_traffic), if it is.
    pub fn on_canary_value(
        &mut self,
        metric: &Metric,
        value: f64,
        degraded: bool,
        traffic_block: Option<String>,
    ) {
        self.canary = Some(value);
        self.degraded = degraded;
        self.no_data_polls = 0;
        self.samples = self.samples.saturating_add(1);
        // Too few samples or too little traffic: not judged. Neither a
        // breach nor a pass, so the breach streak is left as it is.
        if self.samples < metric.min_samples {
            self.verdict = Verdict::NoData;
            self.detail = format!(
                "{} of {} samples in this step (min_samples)",
                self.samples, metric.min_samples
            );
            return;
        }
        if let Some(why) = traffic_block {
            self.verdict = Verdict::NoData;
            self.detail = why;
            return;
        }
        let use_baseline = !matches!(metric.baseline, Baseline::None);
        let units = Units {
            scale: metric.display_scale,
            unit: &metric.unit,
        };
        let j = judge_in(
            metric.bad,
            &metric.threshold,
            use_baseline,
            value,
            self.baseline,
            &units,
        );
        match j.verdict {
            Verdict::Breach => self.breaches = self.breaches.saturating_add(1),
            Verdict::Pass => self.breaches = 0,
            Verdict::NoData | Verdict::ProviderError => {}
        }
        self.verdict = j.verdict;
        self.limit = j.limit;
        self.detail = j.detail;
    }

    /// A canary poll without a value: `NoData` or `ProviderError`. Counts
    /// toward the no-data policy; leaves the breach streak as it is.
    pub fn on_canary_missing(&mut self, verdict: Verdict, detail: String) {
        self.canary = None;
        self.degraded = false;
        self.no_data_polls = self.no_data_polls.saturating_add(1);
        self.verdict = verdict;
        self.detail = detail;
    }

    pub fn status(&self, metric: &str) -> GateStatus {
        GateStatus {
            metric: metric.to_string(),
            verdict: self.verdict,
            canary: self.canary,
            baseline: self.baseline,
            limit: self.limit,
            detail: self.detail.clone(),
            breaches: self.breaches,
            no_data_polls: self.no_data_polls,
            samples: self.samples,
            degraded: self.degraded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(limit: Option<f64>, ratio: Option<f64>, delta: Option<f64>) -> Threshold {
        Threshold {
            limit,
            ratio,
            delta,
            slo: None,
        }
    }

    #[test]
    fn absolute_limit_up_and_down() {
        let j = judge(
            BadDirection::Up,
            &t(Some(0.05), None, None),
            false,
            0.081,
            None,
        );
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "0.081 > 0.05 limit");
        assert_eq!(j.limit, Some(0.05));
        let j = judge(
            BadDirection::Up,
            &t(Some(0.05), None, None),
            false,
            0.05,
            None,
        );
        assert_eq!(j.verdict, Verdict::Pass, "equal to the limit passes");
        let j = judge(
            BadDirection::Down,
            &t(Some(1.0), None, None),
            false,
            0.0,
            None,
        );
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "0 < 1 limit");
        let j = judge(
            BadDirection::Down,
            &t(Some(0.99), None, None),
            false,
            0.995,
            None,
        );
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn ratio_against_baseline() {
        let th = t(None, Some(2.0), None);
        let j = judge(BadDirection::Up, &th, true, 0.023, Some(0.01));
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "2.3× baseline > 2.0×");
        assert_eq!(j.limit, Some(0.02));
        let j = judge(BadDirection::Up, &th, true, 0.019, Some(0.01));
        assert_eq!(j.verdict, Verdict::Pass);
        // Baseline of zero: the ratio cannot be judged, it does not breach.
        let j = judge(BadDirection::Up, &th, true, 0.5, Some(0.0));
        assert_eq!(j.verdict, Verdict::Pass);
        // bad = down: canary 2.5× below baseline.
        let j = judge(BadDirection::Down, &th, true, 40.0, Some(100.0));
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "2.5× below baseline > 2.0×");
        assert_eq!(j.limit, Some(50.0));
        let j = judge(BadDirection::Down, &th, true, 0.0, Some(100.0));
        assert_eq!(j.verdict, Verdict::Breach, "zero is infinitely below");
    }

    #[test]
    fn delta_against_baseline() {
        let th = t(None, None, Some(0.1));
        let j = judge(BadDirection::Up, &th, true, 0.35, Some(0.2));
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "+0.15 vs baseline > 0.1 delta");
        let j = judge(BadDirection::Up, &th, true, 0.29, Some(0.2));
        assert_eq!(j.verdict, Verdict::Pass);
        let j = judge(BadDirection::Down, &th, true, 0.85, Some(0.99));
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "-0.14 vs baseline > 0.1 delta");
    }

    #[test]
    fn no_baseline_yet_is_no_data_unless_limit_crossed() {
        let th = t(Some(0.05), Some(2.0), None);
        let j = judge(BadDirection::Up, &th, true, 0.01, None);
        assert_eq!(j.verdict, Verdict::NoData);
        assert_eq!(j.detail, "no baseline yet");
        let j = judge(BadDirection::Up, &th, true, 0.09, None);
        assert_eq!(j.verdict, Verdict::Breach);
        // baseline = none: ratio ignored, absolute limit only.
        let j = judge(BadDirection::Up, &th, false, 0.01, None);
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn infinity_always_breaches() {
        let j = judge(
            BadDirection::Up,
            &t(None, None, None),
            false,
            f64::INFINITY,
            None,
        );
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "+Inf (always a breach)");
        let j = judge(
            BadDirection::Down,
            &t(None, None, None),
            false,
            f64::INFINITY,
            None,
        );
        assert_eq!(j.verdict, Verdict::Breach);
    }

    #[test]
    fn tightest_limit_is_reported_on_pass() {
        let th = t(Some(0.05), Some(2.0), Some(0.01));
        let j = judge(BadDirection::Up, &th, true, 0.011, Some(0.01));
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(j.limit, Some(0.02));
        assert_eq!(
            j.detail,
            "0.011 ≤ 0.05 limit, 1.1× baseline ≤ 2.0×, +0.001 vs baseline ≤ 0.01 delta"
        );
    }

    #[test]
    fn no_limits_always_pass() {
        let j = judge(BadDirection::Down, &t(None, None, None), false, 12.5, None);
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(j.detail, "12.5 (no limits set)");
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(0.081), "0.081");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(f64::INFINITY), "+Inf");
        assert_eq!(fmt_ratio(2.0), "2.0");
    }

    #[test]
    fn details_speak_the_metric_units() {
        let th = Threshold {
            limit: Some(0.02),
            ..Threshold::default()
        };
        let pct = Units {
            scale: 100.0,
            unit: "%",
        };
        let j = judge_in(BadDirection::Up, &th, false, 0.073, None, &pct);
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "7.3 % > 2 % limit");
        assert_eq!(j.limit, Some(0.02), "limits stay in raw units");
        let ms = Units {
            scale: 1000.0,
            unit: "ms",
        };
        let j = judge_in(BadDirection::Up, &th, false, 0.0105, None, &ms);
        assert_eq!(j.detail, "10.5 ms ≤ 20 ms limit");
    }
}

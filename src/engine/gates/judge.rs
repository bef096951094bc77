//! One value against a metric's thresholds: pass, breach or no data, with
//! the limit that decided it, by the rules in the module doc of `gates`.

use crate::engine::types::{Verdict, number};
use crate::engine::words::{self, Units};
use crate::plan::{BadDirection, Threshold};

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

/// [`judge`] with the detail written in the metric's display units.
pub fn judge_in(
    bad: BadDirection,
    threshold: &Threshold,
    use_baseline: bool,
    value: f64,
    baseline: Option<f64>,
    units: &Units<'_>,
) -> Judgement {
    let show = |v: f64| units.show(v);
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
    if value.is_infinite() {
        return judge_infinite(bad, threshold, use_baseline, value);
    }
    let v = show(value);
    let mut passes: Vec<String> = Vec::new();
    if let Some(l) = threshold.limit {
        let (crossed, op, ok_op) = match bad {
            BadDirection::Up => (value > l, ">", "≤"),
            BadDirection::Down => (value < l, "<", "≥"),
        };
        if crossed {
            return breach(l, format!("{v} {op} {} limit", show(l)));
        }
        passes.push(format!("{v} {ok_op} {} limit", show(l)));
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
                        format!("{}× {what} > {}×", words::ratio(r), words::ratio(ratio)),
                    );
                }
                passes.push(format!(
                    "{}× {what} ≤ {}×",
                    words::ratio(r),
                    words::ratio(ratio)
                ));
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
                    format!("{sign}{} vs baseline > {} delta", show(d), show(delta)),
                );
            }
            passes.push(format!(
                "{sign}{} vs baseline ≤ {} delta",
                show(d.max(0.0)),
                show(delta)
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

/// An infinite value: beyond every limit on the bad side, never a pass on
/// the good side, and nothing to judge without a limit.
pub(super) fn judge_infinite(
    bad: BadDirection,
    t: &Threshold,
    use_baseline: bool,
    value: f64,
) -> Judgement {
    let word = number::word(value);
    let bad_side = match bad {
        BadDirection::Up => value > 0.0,
        BadDirection::Down => value < 0.0,
    };
    let relative = use_baseline && (t.ratio.is_some() || t.delta.is_some());
    let has_limits = t.limit.is_some() || relative;
    let (verdict, detail) = match (bad_side, has_limits) {
        (true, true) => (Verdict::Breach, format!("{word} (beyond every limit)")),
        (false, true) => (
            Verdict::NoData,
            format!("{word} is not a value this gate can pass"),
        ),
        (_, false) => (
            Verdict::NoData,
            format!("{word} is not judged: the metric has no limits"),
        ),
    };
    Judgement {
        verdict,
        limit: t.limit,
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

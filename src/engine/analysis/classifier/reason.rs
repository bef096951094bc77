//! The judge's reasons: one short line with the numbers that decided,
//! for a 200-column cockpit and the journal. Numbers read as everywhere
//! else (`engine::words::number`).

use super::super::mannwhitney::MannWhitney;
use super::{JudgeSettings, MetricJudgement};
use crate::engine::words::{number, ratio};

/// What a comparison's reason is made of.
pub(super) struct Facts<'a> {
    pub test: &'a MannWhitney,
    pub effect: Option<f64>,
    pub baseline_median: f64,
    pub settings: &'a JudgeSettings,
}

/// `+4.2`, `-0.3`, `0`: a shift always shows its sign.
fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", number(v))
    } else {
        number(v)
    }
}

/// `98 % CI [+3.1, +4.8]`.
fn ci(f: &Facts) -> String {
    format!(
        "{} % CI [{}, {}]",
        number(f.settings.confidence * 100.0),
        signed(f.test.lower),
        signed(f.test.upper)
    )
}

/// ` = [+31 %, +48 %] of the baseline median`, when that median is not 0.
fn as_percent(f: &Facts) -> String {
    let m = f.baseline_median.abs();
    if !(m.is_finite() && m > 0.0) {
        return String::new();
    }
    let pct = |v: f64| signed(v / m * 100.0);
    format!(
        " = [{} %, {} %] of the baseline median",
        pct(f.test.lower),
        pct(f.test.upper)
    )
}

fn mean_ratio(f: &Facts) -> String {
    match f.effect {
        Some(r) => format!("mean ratio {}", ratio(r)),
        None => "mean ratio unknown (a mean is 0)".into(),
    }
}

/// High or Low: "canary higher than baseline: shift +4.2, 98 % CI [+3.1,
/// +4.8] = [+31 %, +48 %] of the baseline median; mean ratio 1.37".
pub(super) fn shifted(f: &Facts, word: &str) -> String {
    format!(
        "canary {word} than baseline: shift {}, {}{}; {}",
        signed(f.test.estimate),
        ci(f),
        as_percent(f),
        mean_ratio(f)
    )
}

/// A shift beyond the tolerance that does not count: a direction not
/// judged, or a mean ratio within the allowance.
pub(super) fn excused(f: &Facts, above: bool, up: bool, down: bool) -> String {
    let s = f.settings;
    let word = if above { "higher" } else { "lower" };
    let but = match (above, up, down) {
        (true, false, _) => "only decreases are judged".to_string(),
        (false, _, false) => "only increases are judged".to_string(),
        (true, true, _) => format!(
            "{} is under the allowed {}",
            mean_ratio(f),
            ratio(s.allowed_increase)
        ),
        (false, _, true) => format!(
            "{} is over the allowed {}",
            mean_ratio(f),
            ratio(s.allowed_decrease)
        ),
    };
    format!("canary {word} ({}) but {but}", ci(f))
}

/// No shift beyond the tolerance.
pub(super) fn within(f: &Facts) -> String {
    format!(
        "no shift beyond the tolerance: shift {}, {}",
        signed(f.test.estimate),
        ci(f)
    )
}

/// "no canary data (12 not numbers dropped); the metric must have data".
pub(super) fn no_data(j: &MetricJudgement, s: &JudgeSettings) -> String {
    let (nx, ny) = (j.n_canary == 0, j.n_baseline == 0);
    let side = match (nx, ny) {
        (true, true) => "no canary or baseline data",
        (true, false) => "no canary data",
        _ => "no baseline data",
    };
    let dropped = if nx { j.dropped_canary } else { 0 } + if ny { j.dropped_baseline } else { 0 };
    let dropped = if dropped > 0 {
        format!(" ({dropped} not numbers dropped)")
    } else {
        String::new()
    };
    let then = if s.critical {
        "; a critical metric"
    } else if s.must_have_data {
        "; the metric must have data"
    } else {
        ""
    };
    format!("{side}{dropped}{then}")
}

/// Both samples hold one same value.
pub(super) fn one_value(v: f64) -> String {
    format!("canary and baseline all read {}", number(v))
}

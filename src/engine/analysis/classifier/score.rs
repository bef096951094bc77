//! A step's score from its metrics' judgements, as Kayenta's
//! `WeightedSumScorer` and `ThresholdScoreClassifier` make it for one
//! group: the share of judged metrics that pass.

use serde::Serialize;

use super::{Classification, MetricJudgement, ScoreThresholds};
use crate::engine::words::number;

/// The step's result from its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Pass,
    Marginal,
    Fail,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Pass => "pass",
            StepResult::Marginal => "marginal",
            StepResult::Fail => "fail",
        }
    }
}

/// A step's score, its result, what it was made of, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepScore {
    /// 0 to 100, two decimals.
    pub score: f64,
    pub result: StepResult,
    pub pass: usize,
    pub high: usize,
    pub low: usize,
    /// NoData left out of the score.
    pub no_data: usize,
    /// NoData of metrics that must have data, counted as failures.
    pub no_data_fail: usize,
    /// Metrics whose result alone sets the score to 0.
    pub critical_failures: usize,
    pub reason: String,
}

/// Half or more of the metrics without data: the score is 0 (Kayenta's
/// `NODATA_THRESHOLD`).
const NO_DATA_SHARE: f64 = 0.5;

/// Scores a step from its metrics `(name, judgement)`: Pass ÷ (Pass +
/// High + Low + NoData that fails) × 100; 0 when a critical metric failed
/// (the first one names the reason) or half or more have no data (NoData
/// that fails excluded, as Kayenta counts); 0 for no metrics at all.
pub fn score_step<'a>(
    metrics: impl IntoIterator<Item = (&'a str, &'a MetricJudgement)>,
    thresholds: &ScoreThresholds,
) -> StepScore {
    let mut s = StepScore {
        score: 0.0,
        result: StepResult::Fail,
        pass: 0,
        high: 0,
        low: 0,
        no_data: 0,
        no_data_fail: 0,
        critical_failures: 0,
        reason: String::new(),
    };
    let mut first_critical: Option<(&str, &MetricJudgement)> = None;
    let mut total = 0usize;
    for (name, m) in metrics {
        total += 1;
        match m.classification {
            Classification::Pass => s.pass += 1,
            Classification::High => s.high += 1,
            Classification::Low => s.low += 1,
            Classification::NoData if m.no_data_fails => s.no_data_fail += 1,
            Classification::NoData => s.no_data += 1,
        }
        if m.critical && m.classification != Classification::Pass {
            s.critical_failures += 1;
            first_critical.get_or_insert((name, m));
        }
    }
    let judged = s.pass + s.high + s.low + s.no_data_fail;
    if let Some((name, m)) = first_critical {
        s.reason = format!("critical metric {name} failed: {}", m.reason);
    } else if total == 0 {
        s.reason = "no metrics judged".into();
    } else if s.no_data as f64 >= NO_DATA_SHARE * total as f64 || judged == 0 {
        s.reason = format!("{} of {total} metrics have no data", s.no_data);
    } else {
        let raw = s.pass as f64 / judged as f64 * 100.0;
        s.score = (raw * 100.0).round() / 100.0;
        s.reason = counts(&s, judged);
    }
    s.result = if s.score >= thresholds.pass {
        StepResult::Pass
    } else if s.score >= thresholds.marginal {
        StepResult::Marginal
    } else {
        StepResult::Fail
    };
    s
}

/// "3 of 4 metrics pass (1 high, 1 without data left out)".
fn counts(s: &StepScore, judged: usize) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (s.high, "high"),
        (s.low, "low"),
        (s.no_data_fail, "missing required data"),
        (s.no_data, "without data left out"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    format!(
        "score {}: {} of {judged} metrics pass{detail}",
        number(s.score),
        s.pass
    )
}

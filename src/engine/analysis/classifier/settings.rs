//! The judge's settings per metric, and the step score's thresholds: what
//! `rampdeck judge --metric-config` reads and what a plan embeds per
//! metric. Unknown keys are refused (a typo must not silently become a
//! default); ranges are checked by `validate`, with messages that say what
//! the number means.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// Which shift of the canary counts against it (Kayenta's `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only increases fail (latency, errors). Kayenta's `increase`.
    #[serde(alias = "increase")]
    Up,
    /// Only decreases fail (throughput, successes). Kayenta's `decrease`.
    #[serde(alias = "decrease")]
    Down,
    /// Both fail.
    #[default]
    Either,
}

/// What a value that is not a finite number (NaN, ±inf) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NanStrategy {
    /// Dropped: the metric is judged on the numbers it has.
    #[default]
    Remove,
    /// Replaced by 0, as Kayenta does (for counters where "no series"
    /// means "none happened").
    Replace,
}

/// Whether outliers are dropped before the test (Kayenta's IQR detector,
/// factor 3, reduced sensitivity). Written `outliers = true`/`false` or
/// `"remove"`/`"keep"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outliers {
    #[default]
    Keep,
    Remove,
}

impl<'de> Deserialize<'de> for Outliers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Outliers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, \"remove\" or \"keep\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Outliers, E> {
                Ok(if v { Outliers::Remove } else { Outliers::Keep })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Outliers, E> {
                match v {
                    "remove" => Ok(Outliers::Remove),
                    "keep" => Ok(Outliers::Keep),
                    other => Err(E::invalid_value(Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How one metric is judged. The defaults are Kayenta's judge
/// (`NetflixACAJudge`): 98 % confidence, tolerance 0.25, no effect-size
/// allowance, both directions, NaN removed, outliers kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeSettings {
    /// Confidence of the interval of the shift, in (0, 1).
    pub confidence: f64,
    /// A shift counts only when the whole interval lies beyond this
    /// fraction of the estimate's size (|estimate| × tolerance): a wide
    /// interval around a small shift is not evidence.
    pub tolerance: f64,
    /// High needs mean(canary)/mean(baseline) ≥ this (≥ 1; 1.1 tolerates
    /// a 10 % higher mean). Kayenta's `allowedIncrease`.
    pub allowed_increase: f64,
    /// Low needs mean(canary)/mean(baseline) ≤ this (in (0, 1]; 0.9
    /// tolerates a 10 % lower mean). Kayenta's `allowedDecrease`.
    pub allowed_decrease: f64,
    /// For a `critical` metric: a High fails the step outright only when
    /// the mean ratio is ≥ this; unset, every High does (Kayenta's default
    /// 1.0).
    pub critical_increase: Option<f64>,
    /// Like `critical_increase` for a Low: ratio ≤ this; unset, every Low.
    pub critical_decrease: Option<f64>,
    pub direction: Direction,
    pub nan_strategy: NanStrategy,
    pub outliers: Outliers,
    /// No data for this metric counts as a failure in the score instead
    /// of being left out (Kayenta's `mustHaveData`).
    pub must_have_data: bool,
    /// A failure of this metric (High, Low beyond the critical ratios, or
    /// no data) sets the step's score to 0.
    pub critical: bool,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        JudgeSettings {
            confidence: 0.98,
            tolerance: 0.25,
            allowed_increase: 1.0,
            allowed_decrease: 1.0,
            critical_increase: None,
            critical_decrease: None,
            direction: Direction::Either,
            nan_strategy: NanStrategy::Remove,
            outliers: Outliers::Keep,
            must_have_data: false,
            critical: false,
        }
    }
}

/// A setting out of its range: `field = value: why`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value}: {why}")]
pub struct SettingsError {
    pub field: &'static str,
    pub value: f64,
    pub why: &'static str,
}

fn check(
    field: &'static str,
    value: f64,
    ok: bool,
    why: &'static str,
) -> Result<(), SettingsError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(SettingsError { field, value, why })
    }
}

const INCREASE: &str =
    "must be a ratio canary/baseline of 1 or more (1.1 lets the canary's mean be 10 % higher)";
const DECREASE: &str = "must be a ratio canary/baseline above 0 and at most 1 (0.9 lets the canary's mean be 10 % lower), as Kayenta's allowedDecrease";

impl JudgeSettings {
    /// The first setting out of range, if any.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let c = self.confidence;
        check(
            "confidence",
            c,
            c > 0.0 && c < 1.0,
            "must be between 0 and 1, both excluded (0.98 is Kayenta's)",
        )?;
        let t = self.tolerance;
        check(
            "tolerance",
            t,
            t >= 0.0,
            "must be 0 or more: a fraction of the estimate (0.25 is Kayenta's)",
        )?;
        let (ai, ad) = (self.allowed_increase, self.allowed_decrease);
        check("allowed_increase", ai, ai >= 1.0, INCREASE)?;
        check("allowed_decrease", ad, ad > 0.0 && ad <= 1.0, DECREASE)?;
        if let Some(v) = self.critical_increase {
            check("critical_increase", v, v >= 1.0, INCREASE)?;
        }
        if let Some(v) = self.critical_decrease {
            check("critical_decrease", v, v > 0.0 && v <= 1.0, DECREASE)?;
        }
        Ok(())
    }
}

/// The step score's thresholds (Kayenta's `scoreThresholds`): a score ≥
/// `pass` passes, ≥ `marginal` is marginal, below fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreThresholds {
    pub pass: f64,
    pub marginal: f64,
    /// What a marginal score does once the hold is over: hold the step
    /// (default) or pause the rollout for a person to decide.
    pub on_marginal: OnMarginal,
}

/// What a marginal step score does (`[judge] on_marginal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMarginal {
    #[default]
    Hold,
    Pause,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        ScoreThresholds {
            pass: 95.0,
            marginal: 75.0,
            on_marginal: OnMarginal::Hold,
        }
    }
}

impl ScoreThresholds {
    /// Both in [0, 100], marginal at most pass.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let (p, m) = (self.pass, self.marginal);
        check(
            "pass",
            p,
            (0.0..=100.0).contains(&p),
            "must be a score from 0 to 100 (95 is Kayenta's usual)",
        )?;
        check(
            "marginal",
            m,
            (0.0..=p).contains(&m),
            "must be a score from 0 up to `pass` (75 is Kayenta's usual)",
        )
    }
}

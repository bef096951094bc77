//! Judgement beyond thresholds, as pure math over numbers the engine holds:
//! SLO burn rates over several windows (`burn`), Kayenta's Mann-Whitney
//! canary judge (`mannwhitney` for the test, `classifier` for the
//! classification and the step score), and an anytime-valid sequential test
//! on error counts (`sequential`). The gates call these; nothing here knows
//! about phases, steps or time beyond the values passed in.

pub mod burn;
pub mod classifier;
pub mod gate;
pub mod mannwhitney;
pub mod sequential;

pub use gate::{Analyses, KindStatus};

use std::time::Duration;

use serde::{Deserialize, Serialize};

use burn::BurnSettings;
use classifier::{JudgeSettings, ScoreThresholds};
use sequential::SequentialSettings;

/// The gate kinds a metric has beside its thresholds (`[metrics.burn]`,
/// `[metrics.judge]`, `[metrics.sequential]` in the plan). Each judges on
/// every canary sample and can hold the step or breach it; the metric's
/// gate shows the worst of its kinds, with the number that decided it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GateKinds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<BurnSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeGate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<SequentialGate>,
}

impl GateKinds {
    pub fn is_empty(&self) -> bool {
        self.burn.is_none() && self.judge.is_none() && self.sequential.is_none()
    }
}

/// `[metrics.judge]`: Kayenta's Mann-Whitney judge on the step's samples,
/// canary against baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeGate {
    pub settings: JudgeSettings,
    /// Samples of each cohort in the step before the judge speaks; until
    /// then the gate holds the step (like `min_samples`).
    pub min_samples: u32,
    /// The most recent samples of each cohort judged (bounds the work of a
    /// judgement on a long hold).
    pub max_samples: u32,
    /// How often the judge runs again on the grown sample (each run is one
    /// more look: see BENCHMARKS.md for the false-alarm rate this gives).
    #[serde(with = "crate::engine::types::duration_ms")]
    pub every: Duration,
}

/// `[metrics.sequential]`: the anytime-valid test on error counts. The
/// metric's own value gives the errors (`errors`), the `requests` metric
/// the traffic of each cohort, so the share of errors the canary should
/// have is its measured share of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialGate {
    pub settings: SequentialSettings,
    /// Id of the metric whose canary and baseline values are each cohort's
    /// request rate (per second) or request counter (see `errors`).
    pub requests: String,
    pub errors: ErrorCounts,
}

/// How the metric's values become error counts per poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCounts {
    /// The metric is an error ratio and `requests` a rate per second:
    /// errors in a poll = ratio × rate × seconds since the previous poll.
    Ratio,
    /// Both are cumulative counters (`sum(http_errors_total{...})`),
    /// differenced by rampdeck; a counter that goes down was reset and
    /// counts as 0 for that poll.
    Counter,
}

/// The step score's thresholds for every judged metric of the plan
/// (`[judge]`): the step passes at `pass` or more, holds from `marginal`,
/// fails below it.
pub type JudgeScore = ScoreThresholds;

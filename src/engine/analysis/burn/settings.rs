//! The burn-rate settings as the plan writes them, their defaults (the SRE
//! workbook's for a 30-day period) and their checks.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::words;

/// One day.
const DAY: Duration = Duration::from_secs(24 * 3600);
/// The period the workbook's factors (14.4, 6, 1) are stated for.
pub const WORKBOOK_PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);

/// The SLO of one error-ratio metric and the alerting rules on its burn.
///
/// ```toml
/// target = 0.999
/// period = "30d"
/// rules = [
///   { long = "1h", short = "5m", factor = 14.4, severity = "page" },
///   { long = "6h", budget = 0.05 },            # factor from the period
///   { long = "3d", budget = 0.10, severity = "warning" },
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnSettings {
    /// The SLO: the share of requests that must succeed (0.999). The error
    /// budget is `1 - target`.
    #[serde(default = "default_target")]
    pub target: f64,
    /// The SLO period the budget is spent over (30 days).
    #[serde(default = "default_period", with = "human")]
    pub period: Duration,
    /// The multi-window rules, most urgent first.
    #[serde(default = "default_rules")]
    pub rules: Vec<BurnRule>,
    /// The share of a rule's short window that must hold canary data
    /// before the rule may fire (1 = all of it): a rollout younger than the
    /// short window cannot page on a few polls.
    #[serde(default = "default_short_coverage")]
    pub min_short_coverage: f64,
    /// Windows whose ratio the source computes: each names another metric
    /// of the plan whose canary value is the error ratio over that window
    /// (PromQL over `[1h]`, or a recording rule such as
    /// `slo:sli_error:ratio_rate1h`). Windows not listed are computed from
    /// the series rampdeck holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<SourceWindow>,
}

/// One window computed by the source: `{ window = "1h", metric = "err_1h" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceWindow {
    #[serde(with = "human")]
    pub window: Duration,
    /// Id of the metric whose canary value is the ratio over `window`.
    pub metric: String,
}

/// One multi-window rule: fires when the burn over both windows exceeds
/// the factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRule {
    /// The long window: says the burn is sustained.
    #[serde(with = "human")]
    pub long: Duration,
    /// The short window: says the burn is still going on. A twelfth of the
    /// long one when absent, as the workbook advises.
    #[serde(default, with = "human_opt", skip_serializing_if = "Option::is_none")]
    pub short: Option<Duration>,
    /// The burn rate that fires the rule, as given. Exactly one of `factor`
    /// and `budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// The share of the period's budget that, spent within the long
    /// window, fires the rule. The factor is then `budget × period ÷
    /// long`, the workbook's formula, so the defaults scale with `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    #[serde(default)]
    pub severity: BurnSeverity,
}

/// What a fired rule means for the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnSeverity {
    /// The budget goes fast enough to wake someone: the gate breaches.
    #[default]
    Page,
    /// A slow burn worth a look: shown, never a breach.
    Warning,
}

impl BurnSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            BurnSeverity::Page => "page",
            BurnSeverity::Warning => "warning",
        }
    }
}

/// Why burn settings cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BurnSettingsError {
    #[error("`target` is {0}; it must be between 0 and 1, like 0.999")]
    Target(f64),
    #[error("`period` must be longer than zero, like \"30d\"")]
    Period,
    #[error("`min_short_coverage` is {0}; it must be from 0 to 1")]
    Coverage(f64),
    #[error("`rules` is empty; leave it out for the workbook's rules")]
    NoRules,
    #[error("rule {index}: {why}")]
    Rule { index: usize, why: String },
}

fn default_target() -> f64 {
    0.999
}
fn default_period() -> Duration {
    WORKBOOK_PERIOD
}
fn default_short_coverage() -> f64 {
    1.0
}

/// The workbook's rules (chapter 5, "Alerting on SLOs", table 5-8): 2 % of
/// the budget in an hour pages, 5 % in six hours pages, 10 % in three days
/// warns. Stated as budget shares so that they scale with the period; for
/// 30 days they are the workbook's 14.4×, 6× and 1×.
pub fn default_rules() -> Vec<BurnRule> {
    let rule = |long: Duration, budget: f64, severity| BurnRule {
        long,
        short: Some(long / 12),
        factor: None,
        budget: Some(budget),
        severity,
    };
    vec![
        rule(Duration::from_secs(3600), 0.02, BurnSeverity::Page),
        rule(Duration::from_secs(6 * 3600), 0.05, BurnSeverity::Page),
        rule(3 * DAY, 0.10, BurnSeverity::Warning),
    ]
}

impl Default for BurnSettings {
    fn default() -> Self {
        BurnSettings {
            target: default_target(),
            period: default_period(),
            rules: default_rules(),
            min_short_coverage: default_short_coverage(),
            windows: Vec::new(),
        }
    }
}

impl BurnSettings {
    /// The error budget: the error ratio the SLO allows.
    pub fn budget(&self) -> f64 {
        1.0 - self.target
    }

    /// Every window the rules look at, longest first, each once: what a
    /// source that computes ratios itself (PromQL `[1h]`) is asked for.
    pub fn windows(&self) -> Vec<Duration> {
        let mut w: Vec<Duration> = self
            .rules
            .iter()
            .flat_map(|r| [r.long, r.short_window()])
            .collect();
        w.sort_by(|a, b| b.cmp(a));
        w.dedup();
        w
    }

    /// Refuses settings the evaluation could only answer with no data.
    pub fn validate(&self) -> Result<(), BurnSettingsError> {
        if !(self.target > 0.0 && self.target < 1.0) {
            return Err(BurnSettingsError::Target(self.target));
        }
        if self.period.is_zero() {
            return Err(BurnSettingsError::Period);
        }
        if !(0.0..=1.0).contains(&self.min_short_coverage) {
            return Err(BurnSettingsError::Coverage(self.min_short_coverage));
        }
        if self.rules.is_empty() {
            return Err(BurnSettingsError::NoRules);
        }
        for (index, rule) in self.rules.iter().enumerate() {
            rule.check(self.period)
                .map_err(|why| BurnSettingsError::Rule { index, why })?;
        }
        Ok(())
    }
}

impl BurnRule {
    /// The short window: as given, else a twelfth of the long one.
    pub fn short_window(&self) -> Duration {
        self.short.unwrap_or(self.long / 12)
    }

    /// The burn rate that fires this rule under an SLO `period`: the
    /// factor as given, else `budget × period ÷ long` (the workbook's
    /// formula: spending that share of the budget within the long window
    /// means burning this many times the sustainable rate). NaN when
    /// neither is given or the long window is zero (`check` refuses both).
    pub fn factor_for(&self, period: Duration) -> f64 {
        match (self.factor, self.budget) {
            (Some(f), _) => f,
            (None, Some(b)) if !self.long.is_zero() => {
                b * period.as_secs_f64() / self.long.as_secs_f64()
            }
            _ => f64::NAN,
        }
    }

    fn check(&self, period: Duration) -> Result<(), String> {
        let short = self.short_window();
        if short.is_zero() {
            return Err("the short window must be longer than zero".into());
        }
        if short >= self.long {
            return Err(format!(
                "the short window ({}) must be shorter than the long one ({})",
                window(short),
                window(self.long)
            ));
        }
        match (self.factor, self.budget) {
            (Some(_), Some(_)) => return Err("give `factor` or `budget`, not both".into()),
            (None, None) => return Err("give `factor` (like 14.4) or `budget` (like 0.02)".into()),
            (None, Some(b)) if !(b > 0.0 && b <= 1.0) => {
                return Err(format!("`budget` is {b}; it must be above 0 and at most 1"));
            }
            _ => {}
        }
        let f = self.factor_for(period);
        if !(f.is_finite() && f > 0.0) {
            return Err(format!("the factor is {f}; it must be a positive number"));
        }
        Ok(())
    }
}

/// A window as the rules write it: `5m`, `1h 30m`, `3d` (the plan's words).
pub fn window(d: Duration) -> String {
    words::duration(d)
}

/// Durations as the plan writes them: `"5m"`, `"1h 30m"`, `"30d"`
/// (humantime), or a whole number of seconds.
pub(super) mod human {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&window(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(Visitor)
    }

    struct Visitor;

    impl serde::de::Visitor<'_> for Visitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration like \"5m\", \"1h\" or \"30d\", or a number of seconds")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
            humantime::parse_duration(s.trim()).map_err(|e| {
                E::custom(format!(
                    "\"{s}\" is not a duration ({e}); write e.g. \"5m\", \"1h\" or \"30d\""
                ))
            })
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(n))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
            u64::try_from(n)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("a duration cannot be negative: {n}")))
        }
    }
}

/// [`human`] for an optional duration (absent is `None`).
mod human_opt {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => human::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        human::deserialize(d).map(Some)
    }
}

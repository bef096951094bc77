//! SLO burn rate over several windows, the Google SRE workbook's
//! multi-window, multi-burn-rate alerting (chapter 5), as pure math.
//!
//! The burn rate is the error ratio divided by the error budget `1 -
//! target`: at 1× the budget lasts exactly the SLO period. A rule fires
//! when the burn exceeds its factor over *both* a long window (the burn is
//! sustained, not one bad poll) and a short one, a twelfth of it (the burn
//! is still going on: a spike that ended an hour ago keeps the 1 h window
//! high but not the 5 m one, and must not page). The defaults are the
//! workbook's for 30 days; under another period the factors scale as the
//! workbook's formula says (see [`BurnRule::factor_for`]).
//!
//! **Rollouts are younger than the windows.** A 20-minute canary has no
//! hour of data, let alone three days. Waiting for a full long window
//! would leave the burn gate silent for most rollouts, so each window is
//! judged over the data it has (its covered span) and says so: "over 20m of
//! 1h". What keeps that honest is the short window: a rule may fire only
//! when its short window is covered (all of it by default,
//! `min_short_coverage`), so the page rule needs 5 minutes of canary data
//! and a handful of early polls cannot page; and since the long window
//! holds the short one, it is covered at least as much. The price is that
//! the slow rules (6 h & 30 m, 3 d & 6 h) stay "not enough data" in short
//! rollouts, which is right: a slow burn is not what a canary step can
//! show.
//!
//! Window ratios come either from the series rampdeck holds
//! ([`WindowRatio::over`], time-weighted) or from the source (PromQL over
//! `[1h]`): [`evaluate`] asks for each window's `Option<WindowRatio>`
//! through a function, so either origin plugs in.

mod settings;
#[cfg(test)]
mod tests;
mod window;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::series::Series;
use crate::engine::types::{Timestamp, Verdict, number};
use crate::engine::words;

pub use settings::{
    BurnRule, BurnSettings, BurnSettingsError, BurnSeverity, SourceWindow, WORKBOOK_PERIOD,
    default_rules,
};
use settings::{human, window as show};
pub use window::WindowRatio;

/// The burn over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowBurn {
    #[serde(with = "human")]
    pub window: Duration,
    /// The error ratio over the covered span; `None` without data.
    #[serde(with = "number", default)]
    pub ratio: Option<f64>,
    /// The ratio ÷ the error budget.
    #[serde(with = "number", default)]
    pub burn: Option<f64>,
    /// Seconds of the window the ratio covers.
    pub covered: f64,
}

impl WindowBurn {
    /// The whole window has data.
    pub fn is_full(&self) -> bool {
        self.covered >= self.window.as_secs_f64() * (1.0 - 1e-9)
    }

    /// `1h` when covered, `over 20m of 1h` when not.
    pub fn label(&self) -> String {
        if self.is_full() {
            show(self.window)
        } else {
            format!("over {} of {}", span(self.covered), show(self.window))
        }
    }
}

/// Where a rule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleState {
    /// Both windows burn above the factor.
    Fired,
    /// Judged, and at least one window burns at or below the factor.
    Quiet,
    /// The short window holds too little data for the rule to fire.
    ShortUncovered,
    /// A window has no ratio at all (or the settings are unusable).
    NoData,
}

/// One rule's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleBurn {
    pub long: WindowBurn,
    pub short: WindowBurn,
    /// The burn rate that fires the rule (after scaling to the period).
    pub factor: f64,
    pub severity: BurnSeverity,
    pub state: RuleState,
}

impl RuleBurn {
    pub fn fired(&self) -> bool {
        self.state == RuleState::Fired
    }

    /// The burn that decides the rule: the lower of the two windows', as
    /// both must exceed the factor.
    pub fn burn(&self) -> Option<f64> {
        match (self.long.burn, self.short.burn) {
            (Some(l), Some(s)) => Some(l.min(s)),
            (l, s) => l.or(s),
        }
    }

    /// The windows with their coverage: `1h & 5m`, `over 20m of 1h & 5m`.
    pub fn windows_label(&self) -> String {
        format!("{} & {}", self.long.label(), self.short.label())
    }

    /// `burn 17.2× > 14.4× (1h & 5m)`.
    pub fn describe(&self) -> String {
        let burn = self
            .burn()
            .map_or(words::MISSING.to_string(), words::number);
        let cmp = if self.fired() { ">" } else { "≤" };
        format!(
            "burn {burn}× {cmp} {}× ({})",
            words::number(self.factor),
            self.windows_label()
        )
    }

    /// How far the rule is from firing (burn ÷ factor), for picking the
    /// rule to show when none fired.
    fn closeness(&self) -> f64 {
        self.burn().map_or(0.0, |b| b / self.factor)
    }
}

/// The burn gate's overall verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum BurnVerdict {
    /// A page rule fired.
    Breach,
    /// Only warning rules fired: shown, not a breach.
    Warning,
    /// At least one rule was judged and none fired.
    Ok,
    /// No rule could be judged.
    NoData { why: String },
}

impl BurnVerdict {
    /// The gate verdict: a warning passes (it is shown, it does not hold
    /// the ramp).
    pub fn gate(&self) -> Verdict {
        match self {
            BurnVerdict::Breach => Verdict::Breach,
            BurnVerdict::Warning | BurnVerdict::Ok => Verdict::Pass,
            BurnVerdict::NoData { .. } => Verdict::NoData,
        }
    }
}

/// Everything the evaluation found, for the gate, the ramp display and the
/// journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnReport {
    pub verdict: BurnVerdict,
    /// One per rule, in the settings' order.
    pub rules: Vec<RuleBurn>,
    /// The rule the verdict is about: the first fired page rule, else the
    /// first fired warning, else the judged rule nearest to firing, else
    /// the rule nearest to having enough data.
    pub decisive: Option<usize>,
    /// The share of the period's error budget the canary spent during the
    /// rollout so far: mean ratio × elapsed ÷ (budget × period).
    #[serde(with = "number", default)]
    pub budget_consumed: Option<f64>,
    pub target: f64,
}

impl BurnReport {
    /// One line: `burn 17.2× > 14.4× (1h & 5m)`, `no data: ...`.
    pub fn describe(&self) -> String {
        let rule = self.decisive.and_then(|i| self.rules.get(i));
        match (&self.verdict, rule) {
            (BurnVerdict::NoData { why }, _) => format!("no data: {why}"),
            (BurnVerdict::Warning, Some(r)) => format!("{}, warning", r.describe()),
            (_, Some(r)) => r.describe(),
            (_, None) => "no rules".into(),
        }
    }
}

/// Evaluates every rule. `window(d)` gives the canary's error ratio over
/// the last `d` (each window is asked once); `rollout` is the ratio over
/// the rollout so far, for the budget consumed. Never panics: NaN,
/// negative or missing inputs read as no data.
pub fn evaluate(
    settings: &BurnSettings,
    mut window: impl FnMut(Duration) -> Option<WindowRatio>,
    rollout: Option<WindowRatio>,
) -> BurnReport {
    let mut asked: Vec<(Duration, Option<WindowRatio>)> = Vec::new();
    let mut ratio_over = |d: Duration| {
        if let Some((_, r)) = asked.iter().find(|(w, _)| *w == d) {
            return *r;
        }
        let r = window(d).and_then(|r| r.sanitized(d));
        asked.push((d, r));
        r
    };
    let budget = settings.budget();
    let usable = budget > 0.0 && budget < 1.0;
    let rules: Vec<RuleBurn> = settings
        .rules
        .iter()
        .map(|rule| {
            let long = burn_over(rule.long, ratio_over(rule.long), budget);
            let short = rule.short_window();
            let short = burn_over(short, ratio_over(short), budget);
            let factor = rule.factor_for(settings.period);
            let state = if !(usable && factor.is_finite() && factor > 0.0) {
                RuleState::NoData
            } else {
                state_of(&long, &short, factor, settings.min_short_coverage)
            };
            RuleBurn {
                long,
                short,
                factor,
                severity: rule.severity,
                state,
            }
        })
        .collect();
    let (verdict, decisive) = verdict_of(&rules, usable, settings.target);
    let budget_consumed = rollout
        .and_then(|r| r.sanitized(Duration::MAX))
        .filter(|_| usable && !settings.period.is_zero())
        .map(|r| r.ratio * r.covered / (budget * settings.period.as_secs_f64()));
    BurnReport {
        verdict,
        rules,
        decisive,
        budget_consumed,
        target: settings.target,
    }
}

/// [`evaluate`] over the canary's series: each window is `(now - window,
/// now]` cut at the rollout's `start` (nothing before the canary counts),
/// and the budget consumed is over `(start, now]`.
pub fn evaluate_series(
    settings: &BurnSettings,
    canary: &Series,
    start: Timestamp,
    now: Timestamp,
) -> BurnReport {
    let window = |d: Duration| {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let from = Timestamp(now.0.saturating_sub(ms)).max(start);
        WindowRatio::between(canary, from, now)
    };
    evaluate(settings, window, WindowRatio::between(canary, start, now))
}

fn burn_over(window: Duration, ratio: Option<WindowRatio>, budget: f64) -> WindowBurn {
    let usable = budget > 0.0;
    WindowBurn {
        window,
        ratio: ratio.map(|r| r.ratio),
        burn: ratio.filter(|_| usable).map(|r| r.ratio / budget),
        covered: ratio.map_or(0.0, |r| r.covered),
    }
}

fn state_of(long: &WindowBurn, short: &WindowBurn, factor: f64, min_cover: f64) -> RuleState {
    let (Some(l), Some(s)) = (long.burn, short.burn) else {
        return RuleState::NoData;
    };
    let need = short.window.as_secs_f64() * min_cover.clamp(0.0, 1.0);
    if short.covered < need * (1.0 - 1e-9) {
        return RuleState::ShortUncovered;
    }
    if l > factor && s > factor {
        RuleState::Fired
    } else {
        RuleState::Quiet
    }
}

fn verdict_of(rules: &[RuleBurn], usable: bool, target: f64) -> (BurnVerdict, Option<usize>) {
    let first = |severity: BurnSeverity| {
        rules
            .iter()
            .position(|r| r.fired() && r.severity == severity)
    };
    if let Some(i) = first(BurnSeverity::Page) {
        return (BurnVerdict::Breach, Some(i));
    }
    if let Some(i) = first(BurnSeverity::Warning) {
        return (BurnVerdict::Warning, Some(i));
    }
    let nearest = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.state == RuleState::Quiet)
        .max_by(|(_, a), (_, b)| a.closeness().total_cmp(&b.closeness()))
        .map(|(i, _)| i);
    if nearest.is_some() {
        return (BurnVerdict::Ok, nearest);
    }
    if !usable {
        let why = format!(
            "the target {} leaves no error budget",
            words::number(target)
        );
        return (BurnVerdict::NoData { why }, None);
    }
    // The rule that will have enough data soonest: the shortest short window.
    let soonest = rules
        .iter()
        .enumerate()
        .min_by_key(|(_, r)| r.short.window)
        .map(|(i, _)| i);
    let why = match soonest.and_then(|i| rules.get(i)) {
        None => "no rules".to_string(),
        Some(r) if r.state == RuleState::ShortUncovered => format!(
            "the {} window has {} of data, a rule needs it covered",
            show(r.short.window),
            span(r.short.covered)
        ),
        Some(r) if r.long.ratio.is_none() || r.short.ratio.is_none() => {
            let missing = if r.short.ratio.is_none() {
                &r.short
            } else {
                &r.long
            };
            format!("no canary error ratio over {}", show(missing.window))
        }
        Some(r) => format!("the factor {} is not usable", words::number(r.factor)),
    };
    (BurnVerdict::NoData { why }, soonest)
}

/// A covered span for labels: whole seconds under ten minutes, whole
/// minutes from there (`2m 10s`, `20m`).
fn span(secs: f64) -> String {
    let s = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    let whole = if s < 600.0 {
        s.round()
    } else {
        (s / 60.0).round() * 60.0
    };
    show(Duration::from_secs(whole as u64))
}

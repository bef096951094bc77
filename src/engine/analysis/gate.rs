//! The gate kinds beside the thresholds, as one metric's gate sees them:
//! on each canary sample, the burn rate over the rollout's series, the
//! judge over the step's samples and the sequential test over the error
//! counts since the last poll each give a verdict and one line with the
//! number that decided it. The metric's gate combines them with its
//! thresholds (`GateState::apply_kinds`).
//!
//! What holds and what passes:
//! - A burn rule that cannot be judged yet (a rollout younger than its
//!   short window) does not hold the step: the thresholds still guard it,
//!   and a plan with a 1 h rule would otherwise never pass a 20-minute
//!   rollout. The burn line says so ("no data: ...").
//! - The judge holds the step until each cohort has `min_samples` in it:
//!   a step cannot pass on a judgement it never made.
//! - The sequential test passes until its evidence crosses 1/α; it needs
//!   no minimum, that is the point of an anytime-valid test.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::burn::{self, BurnVerdict};
use super::classifier::{self, Classification, Direction, MetricJudgement};
use super::sequential::SequentialTest;
use super::{ErrorCounts, GateKinds, JudgeGate, SequentialGate};
use crate::engine::series::{MetricSeries, Series};
use crate::engine::types::{Timestamp, Verdict};
use crate::engine::words::{Units, number};
use crate::plan::BadDirection;

/// The kinds a gate can have, by their plan names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Burn,
    Judge,
    Sequential,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Burn => "burn",
            Kind::Judge => "judge",
            Kind::Sequential => "sequential",
        }
    }
}

/// What one gate kind said at the latest canary sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindStatus {
    pub kind: Kind,
    pub verdict: Verdict,
    /// Whether this verdict holds the step when it is not a pass (see the
    /// module doc: a burn rule without data does not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holds: bool,
    /// One line with the number that decided it: "burn 17.2× > 14.4× (1h &
    /// 5m)", "judge High: ...", "evidence 42 > 20 (α 0.05)".
    pub detail: String,
    /// A few words for the chart's legend: "burn 0.6× of 14.4×", "judge
    /// pass", "evidence 1.3 of 20".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub short: String,
    /// The numbers behind it, for the journal and the summary.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub numbers: Value,
}

/// What the kinds read besides their own settings.
pub struct KindInput<'a> {
    pub series: &'a MetricSeries,
    /// The series of the `requests` metric of a sequential gate.
    pub requests: Option<&'a MetricSeries>,
    pub rollout_start: Timestamp,
    pub step_start: Timestamp,
    pub bad: BadDirection,
    pub units: Units<'a>,
    /// The baseline cohort takes no traffic any more (the canary at 100 %).
    pub baseline_gone: bool,
    /// Burn windows the source computed, with their latest canary ratio.
    pub source_windows: Vec<(std::time::Duration, f64)>,
}

/// One metric's state across samples for its kinds: the sequential test's
/// evidence and last counts, the judge's last run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analyses {
    sequential: Option<SequentialTest>,
    /// Time and values of the previous poll the sequential test was fed:
    /// canary errors, baseline errors, canary requests, baseline requests.
    last_counts: Option<(Timestamp, [f64; 4])>,
    judged_at: Option<Timestamp>,
    judge: Option<KindStatus>,
    /// The judge's latest judgement in this step, for the step score.
    pub judged: Option<MetricJudgement>,
    /// What each kind said at the latest canary sample.
    pub latest: Vec<KindStatus>,
}

impl Analyses {
    pub fn new(kinds: &GateKinds) -> Analyses {
        Analyses {
            sequential: kinds
                .sequential
                .as_ref()
                .and_then(|s| SequentialTest::two_cohorts(s.settings).ok()),
            ..Analyses::default()
        }
    }

    /// A new step: the judge starts on the step's own samples; the
    /// sequential test keeps its evidence and re-centres on the new share.
    pub fn new_step(&mut self) {
        self.judged_at = None;
        self.judge = None;
        self.judged = None;
        if let Some(t) = self.sequential.as_mut() {
            t.new_step();
        }
        self.last_counts = None;
    }

    /// Every kind's verdict at a canary sample at `now`.
    pub fn on_canary(&mut self, kinds: &GateKinds, input: &KindInput<'_>, now: Timestamp) {
        let mut latest = Vec::new();
        if let Some(b) = &kinds.burn {
            let report = burn_report(b, input, now);
            let mut detail = report.describe();
            if let Some(spent) = report.budget_consumed {
                detail.push_str(&format!(", budget spent {} %", number(spent * 100.0)));
            }
            let short = report
                .decisive
                .and_then(|i| report.rules.get(i))
                .map(|r| match r.burn() {
                    Some(b) => format!("burn {}× of {}×", number(b), number(r.factor)),
                    None => format!("burn - of {}×", number(r.factor)),
                })
                .unwrap_or_default();
            latest.push(KindStatus {
                kind: Kind::Burn,
                short,
                verdict: report.verdict.gate(),
                holds: !matches!(report.verdict, BurnVerdict::NoData { .. }),
                detail,
                numbers: serde_json::to_value(&report).unwrap_or(Value::Null),
            });
        }
        if let Some(j) = &kinds.judge {
            latest.push(self.judge(j, input, now));
        }
        if let Some(s) = &kinds.sequential {
            latest.extend(self.sequential(s, input, now));
        }
        self.latest = latest;
    }

    /// The judge's verdict: re-run every `every`, on the step's samples.
    fn judge(&mut self, j: &JudgeGate, input: &KindInput<'_>, now: Timestamp) -> KindStatus {
        let due = self.judged_at.is_none_or(|at| now.since(at) >= j.every);
        if let (false, Some(last)) = (due, &self.judge) {
            return last.clone();
        }
        let max = j.max_samples as usize;
        let canary = values_since(&input.series.canary, input.step_start, max);
        let mut baseline = values_since(&input.series.baseline, input.step_start, max);
        let mut label = "";
        if input.baseline_gone && baseline.len() < j.min_samples as usize {
            // At 100 % the baseline cohort takes no traffic: judge against
            // its samples from before, and say so.
            let before = last_values(&input.series.baseline, max);
            if before.len() >= j.min_samples as usize && canary.len() >= j.min_samples as usize {
                baseline = before;
                label = " (baseline from before this step)";
            }
        }
        let need = j.min_samples as usize;
        if canary.len() < need || baseline.len() < need {
            return KindStatus {
                kind: Kind::Judge,
                short: "judge waits".into(),
                verdict: Verdict::NoData,
                holds: true,
                detail: format!(
                    "judge waits for {need} samples of each cohort in this step ({} canary, {} baseline)",
                    canary.len(),
                    baseline.len()
                ),
                numbers: Value::Null,
            };
        }
        let r = classifier::classify(&canary, &baseline, &j.settings);
        let status = KindStatus {
            kind: Kind::Judge,
            short: format!("judge {}", r.classification.as_str()),
            verdict: judge_verdict(&r, j.settings.direction, input.bad),
            holds: true,
            detail: format!("{}{label}", judge_line(&r, &input.units)),
            numbers: serde_json::to_value(&r).unwrap_or(Value::Null),
        };
        self.judged_at = Some(now);
        self.judge = Some(status.clone());
        self.judged = Some(r);
        status
    }

    /// Feed the sequential test the errors since the previous poll.
    fn sequential(
        &mut self,
        s: &SequentialGate,
        input: &KindInput<'_>,
        now: Timestamp,
    ) -> Option<KindStatus> {
        let test = self.sequential.as_mut()?;
        let req = input.requests?;
        let values = [
            input.series.canary.last_value(),
            input.series.baseline.last_value(),
            req.canary.last_value(),
            req.baseline.last_value(),
        ];
        if let [Some(ce), Some(be), Some(cr), Some(br)] = values {
            let now_counts = [ce, be, cr, br];
            if let Some((at, last)) = self.last_counts {
                let secs = now.since(at).as_secs_f64();
                let (errors, requests) = match s.errors {
                    ErrorCounts::Ratio => {
                        ((ce * cr * secs, be * br * secs), (cr * secs, br * secs))
                    }
                    ErrorCounts::Counter => {
                        let d = |i: usize| (now_counts[i] - last[i]).max(0.0);
                        ((d(0), d(1)), (d(2), d(3)))
                    }
                };
                test.observe_requests(errors, requests);
            }
            self.last_counts = Some((now, now_counts));
        }
        let status = test.status();
        let detail = if self.last_counts.is_none() {
            format!(
                "sequential waits for both cohorts' errors and requests ({})",
                s.requests
            )
        } else {
            test.describe()
        };
        Some(KindStatus {
            kind: Kind::Sequential,
            short: format!(
                "evidence {} of {}",
                number(test.evidence().min(1e6)),
                number(test.threshold())
            ),
            verdict: if test.rejected() {
                Verdict::Breach
            } else {
                Verdict::Pass
            },
            holds: true,
            detail,
            numbers: serde_json::to_value(&status).unwrap_or(Value::Null),
        })
    }
}

/// The burn rules over the windows the source computed (covering at most
/// the rollout's age: a canary younger than the window has no more data,
/// whatever the query says) and, for the others, the series rampdeck holds.
fn burn_report(b: &burn::BurnSettings, input: &KindInput<'_>, now: Timestamp) -> burn::BurnReport {
    if input.source_windows.is_empty() {
        return burn::evaluate_series(b, &input.series.canary, input.rollout_start, now);
    }
    let age = now.since(input.rollout_start);
    let canary = &input.series.canary;
    let window = |d: std::time::Duration| {
        if let Some((_, ratio)) = input.source_windows.iter().find(|(w, _)| *w == d) {
            return Some(burn::WindowRatio {
                ratio: *ratio,
                covered: d.min(age).as_secs_f64(),
            });
        }
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let from = Timestamp(now.0.saturating_sub(ms)).max(input.rollout_start);
        burn::WindowRatio::between(canary, from, now)
    };
    let whole = burn::WindowRatio::between(canary, input.rollout_start, now);
    burn::evaluate(b, window, whole)
}

/// The judge's classification as a gate verdict: High or Low in a
/// direction the plan judges is a breach; NoData holds.
fn judge_verdict(r: &MetricJudgement, direction: Direction, bad: BadDirection) -> Verdict {
    let up = matches!(direction, Direction::Either) || matches!(bad, BadDirection::Up);
    let down = matches!(direction, Direction::Either) || matches!(bad, BadDirection::Down);
    match r.classification {
        Classification::Pass => Verdict::Pass,
        Classification::High if up => Verdict::Breach,
        Classification::Low if down => Verdict::Breach,
        Classification::High | Classification::Low => Verdict::Pass,
        Classification::NoData => Verdict::NoData,
    }
}

/// "judge High: shift +31 ms, 98 % CI [+12 ms, +48 ms], means ×1.4".
fn judge_line(r: &MetricJudgement, units: &Units<'_>) -> String {
    let signed = |v: f64| {
        let s = units.show(v.abs());
        if v < 0.0 {
            format!("-{s}")
        } else {
            format!("+{s}")
        }
    };
    let class = r.classification.as_str();
    match (r.estimate, r.interval) {
        (Some(e), Some(i)) => {
            let mut line = format!(
                "judge {class}: shift {}, {} % CI [{}, {}]",
                signed(e),
                number(r.confidence * 100.0),
                signed(i.lower),
                signed(i.upper)
            );
            if let Some(x) = r.effect_size {
                line.push_str(&format!(", means ×{}", number(x)));
            }
            line
        }
        _ => format!("judge {class}: {}", r.reason),
    }
}

/// The values of `series` from `from` on, at most the `max` newest.
fn values_since(series: &Series, from: Timestamp, max: usize) -> Vec<f64> {
    let mut v: Vec<f64> = series
        .slices()
        .flatten()
        .filter(|p| p.at >= from)
        .filter_map(|p| p.value)
        .collect();
    if v.len() > max {
        v.drain(..v.len() - max);
    }
    v
}

/// The `max` newest values of `series`.
fn last_values(series: &Series, max: usize) -> Vec<f64> {
    let mut v: Vec<f64> = series
        .slices()
        .rev()
        .flat_map(|s| s.iter().rev())
        .filter_map(|p| p.value)
        .take(max)
        .collect();
    v.reverse();
    v
}

/// The numbers of every kind, for a journal record.
pub fn numbers(latest: &[KindStatus]) -> Value {
    let mut m = serde_json::Map::new();
    for k in latest {
        m.insert(
            k.kind.as_str().into(),
            json!({ "verdict": k.verdict, "detail": k.detail, "numbers": k.numbers }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::analysis::burn::{BurnRule, BurnSettings, BurnSeverity, SourceWindow};

    fn series(ratio: f64, secs: i64) -> MetricSeries {
        let mut s = MetricSeries::new("e", 10_000);
        for t in 0..=secs {
            s.canary.push(Timestamp(t * 1000), Some(ratio));
            s.baseline.push(Timestamp(t * 1000), Some(ratio));
        }
        s
    }

    fn input<'a>(s: &'a MetricSeries, windows: Vec<(Duration, f64)>) -> KindInput<'a> {
        KindInput {
            series: s,
            requests: None,
            rollout_start: Timestamp(0),
            step_start: Timestamp(0),
            bad: BadDirection::Up,
            units: Units::RAW,
            baseline_gone: false,
            source_windows: windows,
        }
    }

    fn kinds(b: BurnSettings) -> GateKinds {
        GateKinds {
            burn: Some(b),
            ..GateKinds::default()
        }
    }

    #[test]
    fn a_window_the_source_computed_is_used_over_the_series_and_capped_at_the_rollouts_age() {
        // The series says 0.05 % errors (0.5× a 99.9 % SLO); the source says
        // the last hour ran at 2 % (20×), and the last 5 minutes too.
        let s = series(0.0005, 600);
        let hour = Duration::from_secs(3600);
        let five = Duration::from_secs(300);
        let b = BurnSettings {
            target: 0.999,
            rules: vec![BurnRule {
                long: hour,
                short: Some(five),
                factor: Some(14.4),
                budget: None,
                severity: BurnSeverity::Page,
            }],
            windows: vec![
                SourceWindow {
                    window: hour,
                    metric: "err_1h".into(),
                },
                SourceWindow {
                    window: five,
                    metric: "err_5m".into(),
                },
            ],
            ..BurnSettings::default()
        };
        let mut a = Analyses::default();
        a.on_canary(&kinds(b.clone()), &input(&s, vec![]), Timestamp(600_000));
        assert_eq!(a.latest[0].verdict, Verdict::Pass, "{}", a.latest[0].detail);
        let from_source = vec![(hour, 0.02), (five, 0.02)];
        a.on_canary(&kinds(b), &input(&s, from_source), Timestamp(600_000));
        let k = &a.latest[0];
        assert_eq!(k.verdict, Verdict::Breach, "{}", k.detail);
        assert!(k.detail.contains("burn 20×"), "{}", k.detail);
        // Ten minutes of canary: the hour is labelled as what it covers.
        assert!(k.detail.contains("over 10m of 1h"), "{}", k.detail);
    }
}

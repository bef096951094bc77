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
//! - Values that are not finite are their own case: infinity on the bad
//!   side (`+Inf` when bad = up: a latency quantile of +Inf means every
//!   request landed in the last bucket) is a breach of any limit; on the
//!   good side it is never a pass; and a metric with no limit cannot
//!   breach, so an infinity there is no data for the gate either. An
//!   unjudged infinity counts as a poll without data.
//! - A ratio or delta with no baseline value yet is `NoData("no baseline
//!   yet")`, unless the absolute limit is already crossed.
//! - After a poll without data, the samples are counted afresh: evidence
//!   from before an outage never counts toward `min_samples` after it.
//! - An answer that came with warnings (degraded) may breach but, unless
//!   its source says `degraded = "pass"`, never passes.

use crate::plan::{Baseline, BaselineWhenEmpty, DegradedPolicy, Metric};

use super::analysis::{Analyses, KindStatus};
use super::types::{GateStatus, Timestamp, Verdict};
use super::words::Units;

mod judge;
use judge::judge_infinite;
pub use judge::{Judgement, judge, judge_in};

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
    /// Values received in the current step, counted afresh after a poll
    /// without data.
    pub samples: u32,
    /// `samples` restarted after a poll without data in this step.
    pub since_gap: bool,
    /// What the warnings of the latest value said.
    pub warnings: Vec<String>,
    /// The baseline stays at its value from this moment (its cohort takes
    /// no traffic any more); baseline samples no longer change it.
    pub frozen_at: Option<Timestamp>,
    /// The baseline cohort takes no traffic and the metric says
    /// `baseline_when_empty = "no_data"`: ratio and delta cannot be judged.
    pub baseline_empty: bool,
    /// The state of the metric's other gate kinds and what they said last.
    pub analyses: Analyses,
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
            since_gap: false,
            warnings: Vec::new(),
            frozen_at: None,
            baseline_empty: false,
            analyses: Analyses::new(&metric.kinds),
        }
    }

    /// A new step: its gates are judged on its own samples only.
    pub fn reset_step(&mut self) {
        self.analyses.new_step();
        self.samples = 0;
        self.since_gap = false;
        self.verdict = Verdict::NoData;
        self.detail = "waiting for samples in this step".into();
    }

    /// The baseline cohort takes no traffic from `now` on (the canary at
    /// 100 %): freeze the baseline, or stop judging against it, as the
    /// metric says. Only for baselines that are another cohort.
    pub fn baseline_emptied(&mut self, metric: &Metric, now: Timestamp) {
        if !matches!(metric.baseline, Baseline::Cohort | Baseline::Query(_)) {
            return;
        }
        match metric.baseline_when_empty {
            BaselineWhenEmpty::Frozen => {
                self.frozen_at.get_or_insert(now);
            }
            BaselineWhenEmpty::NoData => {
                self.baseline_empty = true;
                self.baseline = None;
            }
        }
    }

    /// A baseline value arrived: it counts unless the baseline is frozen or
    /// its cohort is known to be empty.
    pub fn on_baseline_value(&mut self, value: f64) {
        if self.frozen_at.is_none() && !self.baseline_empty {
            self.baseline = Some(value);
        }
    }

    /// A canary value arrived, possibly with warnings (`degraded`).
    /// `traffic_block` says why the canary's traffic is too low to judge
    /// (min_traffic), if it is; `policy` is its source's word on degraded
    /// answers.
    pub fn on_canary_value(
        &mut self,
        metric: &Metric,
        value: f64,
        warnings: &[String],
        policy: DegradedPolicy,
        traffic_block: Option<String>,
    ) {
        let use_baseline = !matches!(metric.baseline, Baseline::None);
        if value.is_infinite() {
            let j = judge_infinite(metric.bad, &metric.threshold, use_baseline, value);
            if j.verdict != Verdict::Breach {
                // Nothing this gate can judge: a poll without data, with the
                // value kept so everyone sees what came.
                self.on_canary_missing(Verdict::NoData, j.detail);
                self.canary = Some(value);
                return;
            }
        }
        self.canary = Some(value);
        self.degraded = !warnings.is_empty();
        self.warnings = warnings.to_vec();
        self.no_data_polls = 0;
        self.samples = self.samples.saturating_add(1);
        // Too few samples or too little traffic: not judged. Neither a
        // breach nor a pass, so the breach streak is left as it is.
        if self.samples < metric.min_samples {
            self.verdict = Verdict::NoData;
            self.detail = if self.since_gap {
                format!(
                    "{} of {} samples since data came back (min_samples)",
                    self.samples, metric.min_samples
                )
            } else {
                format!(
                    "{} of {} samples in this step (min_samples)",
                    self.samples, metric.min_samples
                )
            };
            return;
        }
        if let Some(why) = traffic_block {
            self.verdict = Verdict::NoData;
            self.detail = why;
            return;
        }
        let units = Units::of(metric);
        let mut j = self.judge_against_baseline(metric, use_baseline, value, &units);
        if j.verdict == Verdict::Pass && self.degraded && policy == DegradedPolicy::Hold {
            // Partial data may show a breach, never a pass.
            j.verdict = Verdict::NoData;
            j.detail = format!(
                "{}; degraded answer ({}): it may breach but not pass (degraded = \"hold\")",
                j.detail,
                self.warnings.join("; ")
            );
        }
        match j.verdict {
            Verdict::Breach => self.breaches = self.breaches.saturating_add(1),
            Verdict::Pass => self.breaches = 0,
            Verdict::NoData | Verdict::ProviderError => {}
        }
        self.verdict = j.verdict;
        self.limit = j.limit;
        self.detail = j.detail;
    }

    /// The judgement with the baseline as it stands: live, frozen (said in
    /// the detail), or gone (relative limits say NoData, an absolute limit
    /// still judges).
    fn judge_against_baseline(
        &self,
        metric: &Metric,
        use_baseline: bool,
        value: f64,
        units: &Units<'_>,
    ) -> Judgement {
        let t = &metric.threshold;
        let relative = t.ratio.is_some() || t.delta.is_some();
        if self.baseline_empty && use_baseline && relative {
            let abs = judge_in(metric.bad, t, false, value, None, units);
            if abs.verdict == Verdict::Breach {
                return abs;
            }
            return Judgement {
                verdict: Verdict::NoData,
                limit: abs.limit,
                detail: "no baseline: the baseline cohort takes no traffic at 100 % (baseline_when_empty = \"no_data\")".into(),
            };
        }
        let mut j = judge_in(metric.bad, t, use_baseline, value, self.baseline, units);
        if self.frozen_at.is_some() && use_baseline && relative {
            j.detail
                .push_str(" (baseline frozen: its cohort takes no traffic at 100 %)");
        }
        j
    }

    /// A canary poll without a value: `NoData` or `ProviderError`. Counts
    /// toward the no-data policy; leaves the breach streak as it is; the
    /// samples of the step start over, so evidence from before the gap
    /// never counts after it.
    pub fn on_canary_missing(&mut self, verdict: Verdict, detail: String) {
        self.canary = None;
        self.degraded = false;
        self.warnings.clear();
        self.no_data_polls = self.no_data_polls.saturating_add(1);
        if self.samples > 0 {
            self.since_gap = true;
        }
        self.samples = 0;
        self.verdict = verdict;
        self.detail = detail;
    }

    /// Combine the thresholds' verdict with the other gate kinds' (in
    /// `analyses.latest`): a kind's breach is the gate's breach and
    /// continues the streak (`streak` is the one before this sample); a kind
    /// that holds keeps the gate from passing. Only when the thresholds
    /// judged this sample (not while samples or traffic are too few).
    pub fn apply_kinds(&mut self, streak: u32) {
        if !matches!(self.verdict, Verdict::Pass | Verdict::Breach) {
            return;
        }
        let latest: &[KindStatus] = &self.analyses.latest;
        if self.verdict == Verdict::Breach {
            return;
        }
        if let Some(k) = latest.iter().find(|k| k.verdict == Verdict::Breach) {
            self.verdict = Verdict::Breach;
            self.detail = k.detail.clone();
            self.breaches = streak.saturating_add(1);
        } else if let Some(k) = latest
            .iter()
            .find(|k| k.holds && k.verdict != Verdict::Pass)
        {
            self.verdict = k.verdict;
            self.detail = format!("{}; {}", self.detail, k.detail);
        }
    }

    /// The status views and the journal see; `gating` is whether the
    /// metric gates the current step.
    pub fn status(&self, metric: &str, gating: bool) -> GateStatus {
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
            warnings: self.warnings.clone(),
            gating,
            baseline_frozen_at: self.frozen_at,
            kinds: self.analyses.latest.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{BadDirection, Threshold};

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
    fn infinities_breach_only_on_the_bad_side_of_a_limit() {
        let limit = t(Some(0.5), None, None);
        let j = judge(BadDirection::Up, &limit, false, f64::INFINITY, None);
        assert_eq!(j.verdict, Verdict::Breach);
        assert_eq!(j.detail, "+Inf (beyond every limit)");
        let j = judge(BadDirection::Up, &limit, false, f64::NEG_INFINITY, None);
        assert_eq!(j.verdict, Verdict::NoData, "-Inf is never a pass");
        let j = judge(BadDirection::Down, &limit, false, f64::NEG_INFINITY, None);
        assert_eq!(j.verdict, Verdict::Breach);
        let j = judge(BadDirection::Down, &limit, false, f64::INFINITY, None);
        assert_eq!(j.verdict, Verdict::NoData);
        // No limits: nothing can breach, and an infinity is not a pass.
        let none = t(None, None, None);
        let j = judge(BadDirection::Up, &none, false, f64::INFINITY, None);
        assert_eq!(j.verdict, Verdict::NoData);
        assert_eq!(j.detail, "+Inf is not judged: the metric has no limits");
        // A ratio alone is a limit when there is a baseline to use.
        let ratio = t(None, Some(2.0), None);
        let j = judge(BadDirection::Up, &ratio, true, f64::INFINITY, Some(0.1));
        assert_eq!(j.verdict, Verdict::Breach);
        let j = judge(BadDirection::Up, &ratio, false, f64::INFINITY, None);
        assert_eq!(j.verdict, Verdict::NoData);
    }

    #[test]
    fn infinities_are_written_as_words_and_read_back() {
        use crate::engine::types::number;
        let g = GateState {
            canary: Some(f64::INFINITY),
            baseline: Some(f64::NEG_INFINITY),
            limit: Some(f64::NAN),
            ..GateState::new(&crate::tui::fixtures::plan().metrics[0])
        };
        let json = serde_json::to_value(g.status("p95", true)).expect("json");
        assert_eq!(json["canary"], "+Inf");
        assert_eq!(json["baseline"], "-Inf");
        assert_eq!(json["limit"], "NaN");
        let back: GateStatus = serde_json::from_value(json).expect("back");
        assert_eq!(back.canary, Some(f64::INFINITY));
        assert_eq!(back.baseline, Some(f64::NEG_INFINITY));
        assert!(back.limit.is_some_and(f64::is_nan));
        assert_eq!(number::json(Some(0.5)), serde_json::json!(0.5));
        assert_eq!(number::json(None), serde_json::Value::Null);
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

    fn kind(
        kind: crate::engine::analysis::gate::Kind,
        verdict: Verdict,
        holds: bool,
    ) -> KindStatus {
        KindStatus {
            kind,
            verdict,
            holds,
            detail: format!("{} said {}", kind.as_str(), verdict.as_str()),
            short: String::new(),
            numbers: serde_json::Value::Null,
        }
    }

    fn passing_gate(kinds: Vec<KindStatus>) -> GateState {
        let mut m = crate::tui::fixtures::plan().metrics[0].clone();
        m.kinds = Default::default();
        let mut g = GateState::new(&m);
        g.verdict = Verdict::Pass;
        g.detail = "0.01 ≤ 0.05 limit".into();
        g.analyses.latest = kinds;
        g
    }

    #[test]
    fn a_kinds_breach_continues_the_streak_and_a_holding_kind_keeps_the_gate_from_passing() {
        use crate::engine::analysis::gate::Kind;
        let mut g = passing_gate(vec![
            kind(Kind::Burn, Verdict::Pass, true),
            kind(Kind::Judge, Verdict::Breach, true),
        ]);
        g.apply_kinds(1);
        assert_eq!((g.verdict, g.breaches), (Verdict::Breach, 2));
        assert_eq!(g.detail, "judge said Breach");

        let mut g = passing_gate(vec![kind(Kind::Judge, Verdict::NoData, true)]);
        g.apply_kinds(0);
        assert_eq!((g.verdict, g.breaches), (Verdict::NoData, 0));
        assert!(g.detail.ends_with("judge said NoData"), "{}", g.detail);

        // A burn rule without enough data does not hold: the thresholds guard.
        let mut g = passing_gate(vec![kind(Kind::Burn, Verdict::NoData, false)]);
        g.apply_kinds(0);
        assert_eq!(g.verdict, Verdict::Pass);

        // Not judged by the thresholds (too few samples): kinds do not speak.
        let mut g = passing_gate(vec![kind(Kind::Judge, Verdict::Breach, true)]);
        g.verdict = Verdict::NoData;
        g.apply_kinds(3);
        assert_eq!((g.verdict, g.breaches), (Verdict::NoData, 0));
    }
}

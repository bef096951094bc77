//! The simulated service as a pure model: no I/O and no clock. Time comes in
//! as seconds since the scenario started (negative before it: the service
//! ran before the rollout, which is what pre-deploy windows look at).
//!
//! The model plays the part of a Prometheus server's recording rules for a
//! `baseline` and a `canary` cohort. The canary's traffic follows the weight
//! history ([`WeightHistory`]); the baseline serves the rest.
//!
//! Noise is a deterministic function of (seed, whole second, series), so the
//! same question always gets the same answer (range queries agree with
//! instant queries, tests are reproducible), and it is bounded, so the tests
//! can prove that a healthy canary never crosses a limit.

use std::f64::consts::TAU;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::scenario::Scenario;
use crate::engine::types::Cohort;

/// Total requests per second the simulated service receives (before the slow
/// daily-like wobble and per-second noise).
pub const TOTAL_RPS: f64 = 240.0;

/// The rate window of the simulated recording rules. A cohort's ratio and
/// latency series exist while it served requests within this window, like
/// `rate(...[1m])` over counters that stopped moving; after that they vanish.
/// This keeps the baseline's numbers on the chart (and comparable) for a
/// minute after the canary takes 100 % of the traffic.
pub const RATE_WINDOW_SECS: f64 = 60.0;

/// Error ratio of a healthy cohort.
pub const BASE_ERROR_RATIO: f64 = 0.003;
/// Latency percentiles of a healthy cohort, seconds.
pub const BASE_P50: f64 = 0.045;
pub const BASE_P95: f64 = 0.180;
pub const BASE_P99: f64 = 0.320;
/// Saturation (0..1) of a cohort that serves traffic, and of an idle one.
pub const BASE_SATURATION: f64 = 0.42;
pub const IDLE_SATURATION: f64 = 0.04;

/// bad-canary: the weight from which the canary degrades, and how many
/// seconds the degradation takes to reach its full size.
pub const BAD_FROM_WEIGHT: u8 = 25;
pub const BAD_CLIMB_SECS: f64 = 4.0;
/// bad-canary at full degradation: added error ratio, p95, p99 and saturation.
const BAD_ERROR: f64 = 0.075;
const BAD_P50: f64 = 0.12;
const BAD_P95: f64 = 0.55;
const BAD_P99: f64 = 1.0;
const BAD_SATURATION: f64 = 0.5;

/// Blue-green: requests per second of synthetic smoke traffic the preview
/// stack serves while it takes no user traffic (weight 0), so its gates
/// have numbers to judge before the switch.
pub const PREVIEW_RPS: f64 = 6.0;

/// slow-burn: growth per second since the canary first got traffic.
pub const CREEP_ERROR_PER_SEC: f64 = 0.000_025;
pub const CREEP_P95_PER_SEC: f64 = 0.000_4;
pub const CREEP_SATURATION_PER_SEC: f64 = 0.000_6;

/// flaky-source: the source misbehaves in `FAULT_SECS`-long stretches that
/// start `FAULT_OFFSET_SECS` into every `FAULT_PERIOD_SECS`; the kind
/// alternates between 503 and slow replies.
pub const FAULT_PERIOD_SECS: f64 = 25.0;
pub const FAULT_OFFSET_SECS: f64 = 18.0;
pub const FAULT_SECS: f64 = 10.0;

/// How the metrics source misbehaves at a moment (flaky-source only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFault {
    /// Answer HTTP 503 with `errorType: "unavailable"`.
    Unavailable,
    /// Answer, but later than any sensible source timeout.
    Slow,
}

impl SourceFault {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFault::Unavailable => "unavailable",
            SourceFault::Slow => "slow",
        }
    }
}

/// What one cohort's recording rules say at one moment. `None` means the
/// series does not exist then (the cohort served no request within
/// [`RATE_WINDOW_SECS`], or the window given by [`Sim::with_series_window`]);
/// Prometheus would return an empty vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortSample {
    pub requests_per_second: f64,
    pub error_ratio: Option<f64>,
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    pub latency_p99: Option<f64>,
    /// Busy fraction of the cohort's pods, 0..1; always reported.
    pub saturation: f64,
}

/// The canary weight over time: a step function starting at 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightHistory {
    /// (time, weight) in time order; the weight holds from that time on.
    changes: Vec<(f64, u8)>,
}

impl WeightHistory {
    pub fn new() -> Self {
        WeightHistory::default()
    }

    /// Record that the weight became `weight` (clamped to 100) at `t`.
    pub fn set(&mut self, t: f64, weight: u8) {
        let weight = weight.min(100);
        // Keep time order even if a caller's clock went backwards (tests).
        let at = self.changes.partition_point(|&(ct, _)| ct <= t);
        self.changes.insert(at, (t, weight));
    }

    /// The weight in force at `t`.
    pub fn at(&self, t: f64) -> u8 {
        let n = self.changes.partition_point(|&(ct, _)| ct <= t);
        n.checked_sub(1).map_or(0, |i| self.changes[i].1)
    }

    /// The changes up to and including `t`.
    fn upto(&self, t: f64) -> &[(f64, u8)] {
        &self.changes[..self.changes.partition_point(|&(ct, _)| ct <= t)]
    }

    /// The last moment at or before `t` when `cohort` served traffic, with its
    /// share (0..1) then; `None` if it never did. A zero-traffic stretch that
    /// began at time `s` makes the answer `s`.
    pub fn last_served(&self, cohort: Cohort, t: f64) -> Option<(f64, f64)> {
        let past = self.upto(t);
        let now = share(cohort, past.last().map_or(0, |c| c.1));
        if now > 0.0 {
            return Some((t, now));
        }
        // Walk back to the start of the current zero-share stretch.
        let idle_from = past
            .iter()
            .rposition(|&(_, w)| share(cohort, w) > 0.0)
            .map_or(0, |i| i + 1);
        let before = idle_from
            .checked_sub(1)
            .map_or(share(cohort, 0), |i| share(cohort, past[i].1));
        match past.get(idle_from) {
            Some(&(started, _)) if before > 0.0 => Some((started, before)),
            _ => None,
        }
    }

    /// When the current stretch of weight ≥ `min` began, if the weight at `t`
    /// is at least `min`.
    pub fn at_least_since(&self, min: u8, t: f64) -> Option<f64> {
        let past = self.upto(t);
        if past.last().map_or(0, |c| c.1) < min {
            return None;
        }
        let first = past
            .iter()
            .rposition(|&(_, w)| w < min)
            .map_or(0, |i| i + 1);
        past.get(first).map(|c| c.0)
    }

    /// When the canary first got traffic, at or before `t`.
    pub fn first_canary_traffic(&self, t: f64) -> Option<f64> {
        self.upto(t).iter().find(|c| c.1 > 0).map(|c| c.0)
    }
}

/// The cohort's share of traffic (0..1) at a canary weight.
pub fn share(cohort: Cohort, weight: u8) -> f64 {
    let w = f64::from(weight.min(100)) / 100.0;
    match cohort {
        Cohort::Canary => w,
        Cohort::Baseline => 1.0 - w,
    }
}

/// The simulated service: a scenario, a noise seed and the weight history.
#[derive(Debug, Clone)]
pub struct Sim {
    scenario: Scenario,
    seed: u64,
    weights: WeightHistory,
    /// How long series outlive a cohort's traffic; see [`Sim::with_series_window`].
    series_window: f64,
    /// The new version runs as a blue-green preview stack: at weight 0 it
    /// serves [`PREVIEW_RPS`] of smoke traffic.
    preview: bool,
    /// When the old (blue) stack was scaled down, if it was.
    old_stack_down: Option<f64>,
    /// Rolling: instances on the new version, of how many.
    instances: Option<(u32, u32)>,
}

/// Independent noise streams, so one series' noise does not mirror another's.
#[derive(Clone, Copy)]
enum Channel {
    Traffic = 1,
    Errors = 2,
    Latency = 3,
    Saturation = 4,
}

impl Sim {
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        Sim {
            scenario,
            seed,
            weights: WeightHistory::new(),
            series_window: RATE_WINDOW_SECS,
            preview: false,
            old_stack_down: None,
            instances: None,
        }
    }

    /// The new version runs as a blue-green preview stack (see
    /// [`PREVIEW_RPS`]).
    pub fn with_preview(mut self) -> Self {
        self.preview = true;
        self
    }

    /// Blue-green: scale the old stack down at `t`. A switch back needs it
    /// redeployed first ([`Sim::redeploy_old`]).
    pub fn scale_down_old(&mut self, t: f64) {
        self.old_stack_down.get_or_insert(t);
    }

    /// Blue-green: redeploy the old version and switch all traffic to it.
    pub fn redeploy_old(&mut self, t: f64) {
        self.old_stack_down = None;
        self.weights.set(t, 0);
    }

    /// When the old stack was scaled down, if it is down.
    pub fn old_stack_down(&self) -> Option<f64> {
        self.old_stack_down
    }

    /// Rolling: `updated` of `of` instances run the new version from `t`;
    /// the canary's share of the traffic is theirs. `of` must be at least 1
    /// and `updated` at most `of`.
    pub fn set_instances(&mut self, t: f64, updated: u32, of: u32) {
        let of = of.max(1);
        let updated = updated.min(of);
        self.instances = Some((updated, of));
        let weight = (f64::from(updated) * 100.0 / f64::from(of)).round();
        self.weights.set(t, weight as u8);
    }

    /// Rolling: instances on the new version, of how many.
    pub fn instances(&self) -> Option<(u32, u32)> {
        self.instances
    }

    /// The preview's smoke traffic at `t`, if `cohort` is the preview
    /// stack and it takes no user traffic.
    fn preview_rps(&self, cohort: Cohort, t: f64) -> f64 {
        if self.preview && cohort == Cohort::Canary && self.weights.at(t) == 0 {
            PREVIEW_RPS
        } else {
            0.0
        }
    }

    /// Keep a cohort's ratio and latency series for `secs` (at least
    /// [`RATE_WINDOW_SECS`]) after its traffic stops. At `--speed 20` the
    /// default window is 3 wall seconds, less than the last step needs to
    /// collect its samples; the server scales it with the speed so the
    /// baseline stays comparable for a wall-clock minute.
    pub fn with_series_window(mut self, secs: f64) -> Self {
        self.series_window = secs.max(RATE_WINDOW_SECS);
        self
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// Set the canary weight (0..=100, larger values count as 100) from `t` on.
    pub fn set_weight(&mut self, t: f64, weight: u8) {
        self.weights.set(t, weight);
    }

    /// The canary weight at `t`.
    pub fn weight_at(&self, t: f64) -> u8 {
        self.weights.at(t)
    }

    pub fn weights(&self) -> &WeightHistory {
        &self.weights
    }

    /// How the metrics source misbehaves at `t`, if it does.
    pub fn source_fault(&self, t: f64) -> Option<SourceFault> {
        if self.scenario != Scenario::FlakySource || t < 0.0 {
            return None;
        }
        let cycle = (t / FAULT_PERIOD_SECS).floor();
        let into = t - cycle * FAULT_PERIOD_SECS;
        if !(FAULT_OFFSET_SECS..FAULT_OFFSET_SECS + FAULT_SECS).contains(&into) {
            return None;
        }
        Some(if cycle.rem_euclid(2.0) < 1.0 {
            SourceFault::Unavailable
        } else {
            SourceFault::Slow
        })
    }

    /// Total requests per second at `t`: a slow wobble plus per-second noise.
    pub fn total_rps(&self, t: f64) -> f64 {
        let wobble = 1.0 + 0.08 * (TAU * t / 180.0).sin();
        TOTAL_RPS * wobble * (1.0 + 0.03 * self.noise(t, None, Channel::Traffic))
    }

    /// What `cohort`'s recording rules say at `t`.
    pub fn sample(&self, cohort: Cohort, t: f64) -> CohortSample {
        let total = self.total_rps(t);
        let smoke = self.preview_rps(cohort, t);
        let rps = total * share(cohort, self.weights.at(t)) + smoke;
        let saturation = if rps > 0.0 {
            let level = BASE_SATURATION
                + BAD_SATURATION * self.bad_factor(cohort, t)
                + CREEP_SATURATION_PER_SEC * self.creep_secs(cohort, t);
            (level + 0.03 * self.noise(t, Some(cohort), Channel::Saturation)).clamp(0.0, 1.0)
        } else {
            IDLE_SATURATION + 0.01 * self.noise(t, Some(cohort), Channel::Saturation)
        };
        let served = if smoke > 0.0 {
            Some((t, smoke / TOTAL_RPS))
        } else {
            self.weights.last_served(cohort, t)
        }
        .filter(|&(s, _)| t - s <= self.series_window);
        let Some((s, served_share)) = served else {
            return CohortSample {
                requests_per_second: rps,
                error_ratio: None,
                latency_p50: None,
                latency_p95: None,
                latency_p99: None,
                saturation,
            };
        };
        // Ratios and percentiles reflect the traffic last served (at `s`),
        // with noise sized by how many requests that was: a 5 % canary's
        // error ratio is much noisier than the baseline's.
        let served_rps = (self.total_rps(s) * served_share).max(1.0);
        let bad = self.bad_factor(cohort, s);
        let creep = self.creep_secs(cohort, s);

        let err_mean = BASE_ERROR_RATIO + BAD_ERROR * bad + CREEP_ERROR_PER_SEC * creep;
        let err_amp =
            (0.6 * err_mean).min(2.5 * (err_mean / (served_rps * RATE_WINDOW_SECS)).sqrt());
        let error_ratio = err_mean + err_amp * self.noise(t, Some(cohort), Channel::Errors);

        // Both cohorts share the service's common-mode latency wobble; one
        // noise draw per cohort and second keeps p50 < p95 < p99.
        let common = 1.0 + 0.04 * (TAU * t / 75.0).sin();
        let lat_noise =
            1.0 + (0.05 + 0.25 / served_rps.sqrt()) * self.noise(t, Some(cohort), Channel::Latency);
        let lat = |base: f64, bad_add: f64, creep_scale: f64| {
            (base * common + bad_add * bad + creep_scale * CREEP_P95_PER_SEC * creep) * lat_noise
        };
        CohortSample {
            requests_per_second: rps,
            error_ratio: Some(error_ratio.clamp(0.0, 1.0)),
            latency_p50: Some(lat(BASE_P50, BAD_P50, 0.3)),
            latency_p95: Some(lat(BASE_P95, BAD_P95, 1.0)),
            latency_p99: Some(lat(BASE_P99, BAD_P99, 1.5)),
            saturation,
        }
    }

    /// bad-canary: 0 until the canary has carried ≥ 25 % for a moment, then
    /// rising to 1 over [`BAD_CLIMB_SECS`].
    fn bad_factor(&self, cohort: Cohort, t: f64) -> f64 {
        if self.scenario != Scenario::BadCanary || cohort != Cohort::Canary {
            return 0.0;
        }
        self.weights
            .at_least_since(BAD_FROM_WEIGHT, t)
            .map_or(0.0, |since| ((t - since) / BAD_CLIMB_SECS).clamp(0.0, 1.0))
    }

    /// slow-burn: seconds since the canary first got traffic.
    fn creep_secs(&self, cohort: Cohort, t: f64) -> f64 {
        if self.scenario != Scenario::SlowBurn || cohort != Cohort::Canary {
            return 0.0;
        }
        self.weights
            .first_canary_traffic(t)
            .map_or(0.0, |first| (t - first).max(0.0))
    }

    /// Bounded, bell-shaped noise in [-1, 1] for (second of `t`, series):
    /// the mean of three uniform draws from a generator seeded with them.
    fn noise(&self, t: f64, cohort: Option<Cohort>, channel: Channel) -> f64 {
        let second = t.floor() as i64;
        let cohort_bits: u64 = match cohort {
            None => 0,
            Some(Cohort::Baseline) => 1,
            Some(Cohort::Canary) => 2,
        };
        let stream = (channel as u64) << 8 | cohort_bits;
        let key = self.seed
            ^ (second as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ stream.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let mut rng = StdRng::seed_from_u64(key);
        (0..3).map(|_| rng.random_range(-1.0..=1.0)).sum::<f64>() / 3.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn weight_history_is_a_step_function_from_zero() {
        let mut h = WeightHistory::new();
        assert_eq!(h.at(-5.0), 0);
        h.set(10.0, 25);
        h.set(5.0, 5); // out of order: still placed by time
        h.set(20.0, 0);
        assert_eq!(h.at(4.9), 0);
        assert_eq!(h.at(5.0), 5);
        assert_eq!(h.at(12.0), 25);
        assert_eq!(h.at(30.0), 0);
        h.set(40.0, 250);
        assert_eq!(h.at(41.0), 100, "weights above 100 are clamped");
    }

    #[test]
    fn last_served_tracks_idle_stretches() {
        let mut h = WeightHistory::new();
        // Before any change the baseline serves everything, the canary nothing.
        assert_eq!(h.last_served(Cohort::Baseline, 3.0), Some((3.0, 1.0)));
        assert_eq!(h.last_served(Cohort::Canary, 3.0), None);
        h.set(10.0, 50);
        h.set(20.0, 100);
        h.set(25.0, 100);
        h.set(30.0, 0);
        h.set(35.0, 0);
        assert_eq!(h.last_served(Cohort::Canary, 15.0), Some((15.0, 0.5)));
        assert_eq!(h.last_served(Cohort::Baseline, 22.0), Some((20.0, 0.5)));
        assert_eq!(h.last_served(Cohort::Baseline, 27.0), Some((20.0, 0.5)));
        assert_eq!(h.last_served(Cohort::Canary, 40.0), Some((30.0, 1.0)));
        assert_eq!(h.last_served(Cohort::Baseline, 40.0), Some((40.0, 1.0)));
    }

    #[test]
    fn at_least_since_finds_the_current_stretch() {
        let mut h = WeightHistory::new();
        h.set(1.0, 5);
        h.set(10.0, 25);
        h.set(20.0, 50);
        h.set(30.0, 5);
        h.set(40.0, 25);
        assert_eq!(h.at_least_since(25, 5.0), None);
        assert_eq!(h.at_least_since(25, 25.0), Some(10.0));
        assert_eq!(h.at_least_since(25, 35.0), None);
        assert_eq!(h.at_least_since(25, 45.0), Some(40.0));
        assert_eq!(h.first_canary_traffic(0.5), None);
        assert_eq!(h.first_canary_traffic(45.0), Some(1.0));
    }

    #[test]
    fn noise_is_deterministic_bounded_and_varied() {
        let a = Sim::new(Scenario::Healthy, 7);
        let b = Sim::new(Scenario::Healthy, 7);
        let c = Sim::new(Scenario::Healthy, 8);
        let xs: Vec<f64> = (0..200)
            .map(|s| a.noise(f64::from(s), Some(Cohort::Canary), Channel::Errors))
            .collect();
        let ys: Vec<f64> = (0..200)
            .map(|s| b.noise(f64::from(s), Some(Cohort::Canary), Channel::Errors))
            .collect();
        let zs: Vec<f64> = (0..200)
            .map(|s| c.noise(f64::from(s), Some(Cohort::Canary), Channel::Errors))
            .collect();
        assert_eq!(xs, ys, "same seed, same noise");
        assert_ne!(xs, zs, "another seed, other noise");
        assert!(xs.iter().all(|x| (-1.0..=1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let spread = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.1, "centred: {mean}");
        assert!(spread > 0.05, "not flat: {spread}");
        // Within one second the noise holds still; the next second it moves.
        assert_eq!(
            a.noise(3.1, None, Channel::Traffic),
            a.noise(3.9, None, Channel::Traffic)
        );
    }

    #[test]
    fn canary_traffic_follows_the_weight() {
        let mut sim = Sim::new(Scenario::Healthy, 1);
        let t = 30.0;
        assert_eq!(sim.sample(Cohort::Canary, t).requests_per_second, 0.0);
        assert_eq!(sim.sample(Cohort::Canary, t).error_ratio, None);
        sim.set_weight(10.0, 25);
        let total = sim.total_rps(t);
        let canary = sim.sample(Cohort::Canary, t).requests_per_second;
        let baseline = sim.sample(Cohort::Baseline, t).requests_per_second;
        assert!((canary - total * 0.25).abs() < 1e-9);
        assert!((canary + baseline - total).abs() < 1e-9);
        assert!(sim.sample(Cohort::Canary, t).error_ratio.is_some());
    }

    #[test]
    fn a_preview_stack_serves_smoke_traffic_until_the_switch() {
        let mut sim = Sim::new(Scenario::BadCanary, 1).with_preview();
        let before = sim.sample(Cohort::Canary, 10.0);
        assert_eq!(before.requests_per_second, PREVIEW_RPS);
        let healthy = before.error_ratio.unwrap();
        assert!(
            healthy < 0.02,
            "bad-canary is healthy in preview: {healthy}"
        );
        assert!(
            (sim.sample(Cohort::Baseline, 10.0).requests_per_second - sim.total_rps(10.0)).abs()
                < 1e-9
        );
        sim.set_weight(20.0, 100);
        let after = sim.sample(Cohort::Canary, 40.0);
        assert!((after.requests_per_second - sim.total_rps(40.0)).abs() < 1e-9);
        assert!(after.error_ratio.unwrap() > 0.05, "bad after the switch");
        sim.scale_down_old(50.0);
        assert_eq!(sim.old_stack_down(), Some(50.0));
        sim.redeploy_old(60.0);
        assert_eq!((sim.old_stack_down(), sim.weight_at(61.0)), (None, 0));
        assert_eq!(
            Sim::new(Scenario::Healthy, 1)
                .sample(Cohort::Canary, 10.0)
                .requests_per_second,
            0.0
        );
    }

    #[test]
    fn rolling_instances_set_the_new_versions_share() {
        let mut sim = Sim::new(Scenario::Healthy, 1);
        sim.set_instances(5.0, 2, 8);
        assert_eq!((sim.weight_at(6.0), sim.instances()), (25, Some((2, 8))));
        sim.set_instances(9.0, 3, 8);
        assert_eq!(sim.weight_at(10.0), 38);
        sim.set_instances(11.0, 12, 8);
        assert_eq!((sim.weight_at(12.0), sim.instances()), (100, Some((8, 8))));
    }

    #[test]
    fn series_vanish_a_rate_window_after_traffic_stops() {
        let mut sim = Sim::new(Scenario::Healthy, 1);
        sim.set_weight(0.0, 100);
        sim.set_weight(100.0, 0);
        let during = sim.sample(Cohort::Baseline, 30.0);
        assert_eq!(during.requests_per_second, 0.0);
        assert!(during.latency_p95.is_some(), "still inside the rate window");
        assert_eq!(sim.sample(Cohort::Baseline, 61.0).latency_p95, None);
        assert!(sim.sample(Cohort::Canary, 150.0).error_ratio.is_some());
        assert_eq!(sim.sample(Cohort::Canary, 161.0).error_ratio, None);
        assert!(sim.sample(Cohort::Baseline, 161.0).error_ratio.is_some());
        let longer = sim.clone().with_series_window(600.0);
        assert!(longer.sample(Cohort::Canary, 161.0).error_ratio.is_some());
        assert_eq!(longer.sample(Cohort::Canary, 701.0).error_ratio, None);
        let shorter = sim.with_series_window(1.0);
        assert!(
            shorter.sample(Cohort::Canary, 150.0).error_ratio.is_some(),
            "60 s at least"
        );
    }
}

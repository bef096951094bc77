//! An anytime-valid sequential test on error counts: does the canary get
//! more than its share of the errors? Lindon & Malek, "Anytime-Valid
//! Inference for Multinomial Count Data" (NeurIPS 2022).
//!
//! **The null.** If the canary is as healthy as the baseline, each error
//! lands in the canary with probability equal to its share of the requests
//! θ₀ (measured: canary requests ÷ all requests over the same poll, not the
//! configured weight, which the mesh only approximates). The test is H₀:
//! θ = θ₀ against a Dirichlet mixture alternative θ ~ Dir(k·θ₀). Its Bayes
//! factor after cumulative counts x (n = Σx) is
//!
//! BFₙ = Γ(k)/Γ(k+n) · Πᵢ Γ(kθ₀ᵢ + xᵢ)/Γ(kθ₀ᵢ) · Πᵢ θ₀ᵢ^(−xᵢ),
//!
//! a nonnegative martingale under H₀ with BF₀ = 1, so by Ville's inequality
//! P(BFₙ ever ≥ 1/α) ≤ α: it may be checked after every poll, forever,
//! and the false-alarm rate stays at most α. Kept in log space.
//!
//! **A share that moves.** The same Bayes factor is a product over errors
//! of (the predictive probability of the cohort each error landed in, under
//! the posterior Dirichlet) ÷ (its probability under the null). Written in
//! that sequential form, the null's θ₀ may be a different number for each
//! increment: each factor still has expectation 1 under the null of its
//! moment, so the product stays a martingale. [`SequentialTest::observe`]
//! therefore takes each increment with the share measured for it, which
//! absorbs drift within a step (the mesh settling, traffic mix changing).
//!
//! **Steps.** When the weight moves (5 % → 25 %) the posterior learned at
//! 5 % is a poor alternative at 25 %, so [`SequentialTest::new_step`]
//! re-centres the prior on the new share — but keeps the evidence: the
//! product of each step's Bayes factor (each starting at 1, each a
//! martingale given the past) is itself a martingale, so α holds over the
//! whole rollout, not per step. Restarting per step would be simpler but
//! gives a rollout of S steps up to S·α false alarms. The price: evidence
//! that fell below 1 in a clean step must be made up by a later bad one.
//!
//! **One-sided.** The mixture is two-sided: a canary with *fewer* errors
//! than its share also builds evidence. Only a canary with more errors than
//! the null expects (Σ θ₀·errors over its increments) is reported as
//! rejected. That only removes rejections, so the false-alarm rate stays
//! ≤ α. A rejection is kept (the test has stopped; Ville's bound is on the
//! evidence *ever* crossing).
//!
//! **Concentration k.** The prior Dir(k·θ₀) is centred on the null; small
//! k spreads it wide (quick on large effects, slow on small ones), large k
//! concentrates it near θ₀. The default, k = 30, comes from the simulation
//! in `benches/sequential_sim.rs` (α 0.05, shares 5–50 %, errors 2 or 10
//! per poll): k from 10 to 100 is a flat optimum for effects of 1.5× to
//! 5×, k = 30 is within a poll or two of the best cell everywhere (2× at a
//! 25 % share: 7 polls, 89 errors; k = 100: 10 polls; k = 1000: 21), and
//! k = 10 gives a lopsided prior at small shares (Beta(0.5, 9.5) at 5 %).
//! Larger k only pays for effects much smaller than 1.5×.
//!
//! Counts are increments per poll. A negative increment (a counter reset)
//! or a NaN counts as 0: the errors around a reset are lost, which can only
//! delay a rejection. Counts may be fractional (`increase()` extrapolates);
//! the gamma functions take them, though the guarantee is proven for whole
//! counts.

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use crate::engine::words;

/// The default level: a healthy canary is flagged at most 5 % of the time
/// over a whole rollout.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// The default prior concentration k (see the module doc).
pub const DEFAULT_CONCENTRATION: f64 = 30.0;
/// Log-evidence is shown as a number up to this (e^700); beyond, it is
/// rejected long since.
const MAX_SHOWN_LOG: f64 = 700.0;

/// The test's settings as the plan writes them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialSettings {
    /// The false-alarm rate allowed over the whole rollout.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// The Dirichlet prior's concentration k.
    #[serde(default = "default_concentration")]
    pub concentration: f64,
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}
fn default_concentration() -> f64 {
    DEFAULT_CONCENTRATION
}

impl Default for SequentialSettings {
    fn default() -> Self {
        SequentialSettings {
            alpha: DEFAULT_ALPHA,
            concentration: DEFAULT_CONCENTRATION,
        }
    }
}

impl SequentialSettings {
    pub fn validate(&self) -> Result<(), SequentialError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(SequentialError::Alpha(self.alpha));
        }
        if !(self.concentration > 0.0 && self.concentration.is_finite()) {
            return Err(SequentialError::Concentration(self.concentration));
        }
        Ok(())
    }
}

/// Why a test cannot be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SequentialError {
    #[error("`alpha` is {0}; it must be between 0 and 1, like 0.05")]
    Alpha(f64),
    #[error("`concentration` is {0}; it must be a positive number, like 30")]
    Concentration(f64),
    #[error("a test compares at least two cohorts, not {0}")]
    Cohorts(usize),
}

/// What became of one increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// Counted (an increment without errors counts as nothing).
    Counted,
    /// Left out, and why: the test is as if it never came.
    Skipped(Skip),
}

/// Why an increment was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Not one count and one share per cohort.
    Shape,
    /// A share is NaN, infinite or negative, or they sum to nothing.
    Shares,
    /// Errors in a cohort with no share of the requests: the counts and
    /// the shares do not describe the same window.
    ErrorsWithoutTraffic,
    /// The step has no prior yet and a cohort has no share to centre it on.
    NoPrior,
}

/// The test's state. Cohort 0 is the canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialTest {
    settings: SequentialSettings,
    cohorts: usize,
    /// Log Bayes factor of the finished steps.
    carried: f64,
    step: Step,
    /// Errors per cohort over the whole test.
    totals: Vec<f64>,
    /// Errors per cohort the null expected: Σ θ₀ᵢ × errors per increment.
    expected: Vec<f64>,
    steps: u32,
    skipped: u32,
    resets: u32,
    /// Log-evidence when the test rejected, kept once it did.
    rejected_at: Option<f64>,
}

/// The current step's mixture: its prior and the counts since it began.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Step {
    /// k·θ₀ at the step's first increment; empty until then.
    prior: Vec<f64>,
    counts: Vec<f64>,
    n: f64,
    log_bf: f64,
}

/// The test as the views, the gate and the journal see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialStatus {
    /// The Bayes factor (capped at e^700 for showing).
    pub evidence: f64,
    pub log_evidence: f64,
    /// 1/α: the evidence that rejects.
    pub threshold: f64,
    pub alpha: f64,
    pub rejected: bool,
    pub canary_errors: f64,
    /// The canary errors a healthy canary would have had.
    pub expected_canary_errors: f64,
    pub total_errors: f64,
    /// Steps begun ([`SequentialTest::new_step`] calls).
    pub steps: u32,
    /// Increments left out (see [`Skip`]).
    pub skipped: u32,
    /// Negative or NaN counts read as 0.
    pub resets: u32,
    /// [`SequentialTest::describe`].
    pub detail: String,
}

impl SequentialTest {
    /// A test over `cohorts` cohorts (the canary first).
    pub fn new(cohorts: usize, settings: SequentialSettings) -> Result<Self, SequentialError> {
        settings.validate()?;
        if cohorts < 2 {
            return Err(SequentialError::Cohorts(cohorts));
        }
        Ok(SequentialTest {
            settings,
            cohorts,
            carried: 0.0,
            step: Step::default(),
            totals: vec![0.0; cohorts],
            expected: vec![0.0; cohorts],
            steps: 0,
            skipped: 0,
            resets: 0,
            rejected_at: None,
        })
    }

    /// Canary against baseline.
    pub fn two_cohorts(settings: SequentialSettings) -> Result<Self, SequentialError> {
        Self::new(2, settings)
    }

    pub fn settings(&self) -> SequentialSettings {
        self.settings
    }

    /// Feeds one poll's new errors per cohort with each cohort's share of
    /// the requests over the same poll (normalised; need not sum to 1).
    pub fn observe(&mut self, errors: &[f64], shares: &[f64]) -> Fed {
        match self.apply(errors, shares) {
            Ok(()) => Fed::Counted,
            Err(why) => {
                self.skipped = self.skipped.saturating_add(1);
                Fed::Skipped(why)
            }
        }
    }

    /// [`observe`](Self::observe) for canary and baseline, with the
    /// canary's share of the requests (0 to 1).
    pub fn observe_pair(&mut self, canary: f64, baseline: f64, canary_share: f64) -> Fed {
        let shares = if (0.0..=1.0).contains(&canary_share) {
            [canary_share, 1.0 - canary_share]
        } else {
            [f64::NAN, f64::NAN]
        };
        self.observe(&[canary, baseline], &shares)
    }

    /// [`observe`](Self::observe) for canary and baseline with the requests
    /// each served over the same poll, from which the share is measured.
    pub fn observe_requests(
        &mut self,
        (canary_errors, baseline_errors): (f64, f64),
        (canary_requests, baseline_requests): (f64, f64),
    ) -> Fed {
        self.observe(
            &[canary_errors, baseline_errors],
            &[canary_requests, baseline_requests],
        )
    }

    /// A new step (the weight moved): the prior is centred again, on the
    /// share of the step's first increment; the evidence is kept.
    pub fn new_step(&mut self) {
        self.carried += self.step.log_bf;
        self.step = Step::default();
        self.steps = self.steps.saturating_add(1);
    }

    /// The log Bayes factor so far, all steps.
    pub fn log_evidence(&self) -> f64 {
        self.carried + self.step.log_bf
    }

    /// The Bayes factor so far (capped at e^700).
    pub fn evidence(&self) -> f64 {
        self.log_evidence().min(MAX_SHOWN_LOG).exp()
    }

    /// 1/α.
    pub fn threshold(&self) -> f64 {
        1.0 / self.settings.alpha
    }

    /// The canary has more errors than its share: the side the test may
    /// reject on.
    pub fn canary_worse(&self) -> bool {
        canary(&self.totals) > canary(&self.expected)
    }

    /// The evidence crossed 1/α while the canary was worse (kept).
    pub fn rejected(&self) -> bool {
        self.rejected_at.is_some()
    }

    pub fn status(&self) -> SequentialStatus {
        SequentialStatus {
            evidence: self.evidence(),
            log_evidence: self.log_evidence(),
            threshold: self.threshold(),
            alpha: self.settings.alpha,
            rejected: self.rejected(),
            canary_errors: canary(&self.totals),
            expected_canary_errors: canary(&self.expected),
            total_errors: self.totals.iter().sum(),
            steps: self.steps,
            skipped: self.skipped,
            resets: self.resets,
            detail: self.describe(),
        }
    }

    /// `evidence 42 > 20 (α 0.05)`.
    pub fn describe(&self) -> String {
        let alpha = words::number(self.settings.alpha);
        let threshold = words::number(self.threshold());
        let show = |log: f64| words::number(log.min(MAX_SHOWN_LOG).exp());
        let now = self.log_evidence();
        let over = now >= -self.settings.alpha.ln();
        match self.rejected_at {
            Some(_) if over => format!("evidence {} > {threshold} (α {alpha})", show(now)),
            Some(at) => format!("evidence reached {} > {threshold} (α {alpha})", show(at)),
            None if self.totals.iter().sum::<f64>() == 0.0 => format!("no errors yet (α {alpha})"),
            None if over => format!(
                "evidence {} > {threshold} but the canary has fewer errors than its share \
                 ({} < {} expected) (α {alpha})",
                show(now),
                words::number(canary(&self.totals)),
                words::number(canary(&self.expected)),
            ),
            None => format!("evidence {} < {threshold} (α {alpha})", show(now)),
        }
    }

    fn apply(&mut self, errors: &[f64], shares: &[f64]) -> Result<(), Skip> {
        if errors.len() != self.cohorts || shares.len() != self.cohorts {
            return Err(Skip::Shape);
        }
        let shares = normalised(shares).ok_or(Skip::Shares)?;
        let counts: Vec<f64> = errors.iter().map(|&c| self.count(c)).collect();
        if counts
            .iter()
            .zip(&shares)
            .any(|(c, s)| *c > 0.0 && *s <= 0.0)
        {
            return Err(Skip::ErrorsWithoutTraffic);
        }
        let m: f64 = counts.iter().sum();
        if self.step.prior.is_empty() {
            if shares.iter().any(|s| *s <= 0.0) {
                return if m > 0.0 { Err(Skip::NoPrior) } else { Ok(()) };
            }
            let k = self.settings.concentration;
            self.step.prior = shares.iter().map(|s| k * s).collect();
            self.step.counts = vec![0.0; self.cohorts];
        }
        if m <= 0.0 {
            return Ok(());
        }
        let step = &mut self.step;
        step.log_bf += log_factor(&step.prior, &step.counts, step.n, &counts, &shares);
        step.n += m;
        let per_cohort = step.counts.iter_mut().zip(&mut self.totals);
        for (((x, total), expected), (c, s)) in per_cohort
            .zip(&mut self.expected)
            .zip(counts.iter().zip(&shares))
        {
            *x += c;
            *total += c;
            *expected += s * m;
        }
        let log = self.log_evidence();
        if self.rejected_at.is_none() && log >= -self.settings.alpha.ln() && self.canary_worse() {
            self.rejected_at = Some(log);
        }
        Ok(())
    }

    /// An increment as a count: a reset (negative) or NaN is 0.
    fn count(&mut self, c: f64) -> f64 {
        if c.is_finite() && c >= 0.0 {
            c
        } else {
            self.resets = self.resets.saturating_add(1);
            0.0
        }
    }
}

/// The canary's entry (cohort 0).
fn canary(per_cohort: &[f64]) -> f64 {
    per_cohort.first().copied().unwrap_or(0.0)
}

/// The Lindon & Malek Bayes factor, in log, for cumulative `counts` under
/// a fixed null `theta0` (which must sum to 1) with prior Dir(k·θ₀). `None`
/// when the inputs do not describe a test (k or a θ₀ not positive, lengths
/// differ, a count negative). The closed form of what
/// [`SequentialTest`] accumulates increment by increment.
pub fn log_bayes_factor(k: f64, theta0: &[f64], counts: &[f64]) -> Option<f64> {
    let usable = k > 0.0
        && k.is_finite()
        && theta0.len() == counts.len()
        && theta0.iter().all(|t| *t > 0.0 && t.is_finite())
        && counts.iter().all(|c| *c >= 0.0 && c.is_finite());
    if !usable {
        return None;
    }
    let prior: Vec<f64> = theta0.iter().map(|t| k * t).collect();
    let zeros = vec![0.0; counts.len()];
    Some(log_factor(&prior, &zeros, 0.0, counts, theta0))
}

/// The log of one increment's factor: the Dirichlet-multinomial predictive
/// of the increment `inc` under the posterior Dir(prior + counts), over its
/// multinomial probability under `shares` (the coefficients cancel).
fn log_factor(prior: &[f64], counts: &[f64], n: f64, inc: &[f64], shares: &[f64]) -> f64 {
    let a: f64 = prior.iter().sum::<f64>() + n;
    let m: f64 = inc.iter().sum();
    let mut f = ln_gamma(a) - ln_gamma(a + m);
    for (((p, x), c), s) in prior.iter().zip(counts).zip(inc).zip(shares) {
        if *c > 0.0 {
            f += ln_gamma(p + x + c) - ln_gamma(p + x) - c * s.ln();
        }
    }
    f
}

/// Shares scaled to sum to 1; `None` when one is not a finite non-negative
/// number or they sum to nothing.
fn normalised(shares: &[f64]) -> Option<Vec<f64>> {
    if shares.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
        return None;
    }
    let sum: f64 = shares.iter().sum();
    (sum > 0.0 && sum.is_finite()).then(|| shares.iter().map(|s| s / sum).collect())
}

use super::*;

/// A test with k = 100, which the hand-computed values below assume.
fn test() -> SequentialTest {
    SequentialTest::two_cohorts(SequentialSettings {
        alpha: 0.05,
        concentration: 100.0,
    })
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Hand-checked values, from Python:
/// `lbf = lgamma(k) - lgamma(k+n) + sum(lgamma(k*t+x) - lgamma(k*t) - x*log(t))`.
#[test]
fn the_bayes_factor_matches_hand_computed_values() {
    let cases: [(f64, &[f64], &[f64], f64); 4] = [
        (100.0, &[0.1, 0.9], &[3.0, 7.0], 0.06915222498570728),
        (10.0, &[0.5, 0.5], &[8.0, 2.0], 0.6037731454575228),
        // Exactly ln(4/3).
        (
            2.0,
            &[0.25, 0.25, 0.5],
            &[5.0, 1.0, 2.0],
            0.2876820724517819,
        ),
        (100.0, &[0.05, 0.95], &[30.0, 70.0], 19.65210012985426),
    ];
    for (k, theta, x, want) in cases {
        let got = log_bayes_factor(k, theta, x).unwrap();
        assert!(
            close(got, want),
            "k {k} θ {theta:?} x {x:?}: {got} ≠ {want}"
        );
    }
    assert!(close((4.0f64 / 3.0).ln(), 0.2876820724517819));
    // No data is no evidence.
    assert_eq!(log_bayes_factor(100.0, &[0.5, 0.5], &[0.0, 0.0]), Some(0.0));
    for bad in [
        log_bayes_factor(0.0, &[0.5, 0.5], &[1.0, 1.0]),
        log_bayes_factor(10.0, &[0.0, 1.0], &[1.0, 1.0]),
        log_bayes_factor(10.0, &[0.5, 0.5], &[1.0]),
        log_bayes_factor(10.0, &[0.5, 0.5], &[-1.0, 1.0]),
        log_bayes_factor(f64::NAN, &[0.5, 0.5], &[1.0, 1.0]),
    ] {
        assert_eq!(bad, None);
    }
}

#[test]
fn increments_add_up_to_the_closed_form_in_any_order() {
    let settings = SequentialSettings {
        alpha: 0.05,
        concentration: 100.0,
    };
    let mut t = SequentialTest::two_cohorts(settings).unwrap();
    for (c, b) in [(1.0, 0.0), (0.0, 2.0), (2.0, 5.0)] {
        assert_eq!(t.observe_pair(c, b, 0.1), Fed::Counted);
    }
    assert!(close(t.log_evidence(), 0.06915222498570728));
    let mut u = SequentialTest::two_cohorts(settings).unwrap();
    for _ in 0..7 {
        u.observe_pair(0.0, 1.0, 0.1);
    }
    u.observe_pair(3.0, 0.0, 0.1);
    assert!(close(u.log_evidence(), t.log_evidence()));
    // Requests give the share: 100 of 1000 is 10 %.
    let mut r = SequentialTest::two_cohorts(settings).unwrap();
    r.observe_requests((3.0, 7.0), (100.0, 900.0));
    assert!(close(r.log_evidence(), t.log_evidence()));
    // Three cohorts through the general form.
    let mut g = SequentialTest::new(
        3,
        SequentialSettings {
            alpha: 0.05,
            concentration: 2.0,
        },
    )
    .unwrap();
    g.observe(&[5.0, 0.0, 0.0], &[1.0, 1.0, 2.0]);
    g.observe(&[0.0, 1.0, 2.0], &[1.0, 1.0, 2.0]);
    assert!(close(g.log_evidence(), (4.0f64 / 3.0).ln()));
}

#[test]
fn evidence_grows_with_the_canarys_excess_and_healthy_counts_earn_none() {
    let mut last = f64::NEG_INFINITY;
    for x in 10..=40 {
        let lbf = log_bayes_factor(100.0, &[0.1, 0.9], &[x as f64, 100.0 - x as f64]).unwrap();
        assert!(lbf > last, "not increasing at {x}");
        last = lbf;
    }
    // At exactly its share, the mixture only pays for its spread.
    assert!(log_bayes_factor(100.0, &[0.1, 0.9], &[10.0, 90.0]).unwrap() < 0.0);
    // Every error in the canary: evidence rises with each one.
    let mut t = test();
    let mut last = t.log_evidence();
    for _ in 0..30 {
        t.observe_pair(1.0, 0.0, 0.25);
        assert!(t.log_evidence() > last);
        last = t.log_evidence();
    }
    assert!(t.rejected());
}

#[test]
fn a_canary_better_than_its_share_is_never_rejected() {
    let mut t = test();
    for _ in 0..50 {
        t.observe_pair(0.0, 10.0, 0.5);
    }
    assert!(t.evidence() > t.threshold());
    assert!(!t.rejected());
    assert_eq!(
        t.describe(),
        format!(
            "evidence {} > 20 but the canary has fewer errors than its share (0 < 250 expected) (α 0.05)",
            words::number(t.evidence())
        )
    );
}

#[test]
fn the_words_say_evidence_and_threshold() {
    let mut t = test();
    assert_eq!(t.describe(), "no errors yet (α 0.05)");
    t.observe_pair(1.0, 9.0, 0.1);
    assert_eq!(
        t.describe(),
        format!("evidence {} < 20 (α 0.05)", words::number(t.evidence()))
    );
    while !t.rejected() {
        t.observe_pair(1.0, 0.0, 0.1);
    }
    assert_eq!(
        t.describe(),
        format!("evidence {} > 20 (α 0.05)", words::number(t.evidence()))
    );
    // A rejection stays, saying the evidence it had.
    let at = t.evidence();
    t.new_step();
    for _ in 0..4000 {
        t.observe_pair(5.0, 95.0, 0.05);
    }
    assert!(t.evidence() < t.threshold());
    assert!(t.rejected());
    assert_eq!(
        t.describe(),
        format!("evidence reached {} > 20 (α 0.05)", words::number(at))
    );
    let status = t.status();
    assert!(status.rejected && status.steps == 1 && status.threshold == 20.0);
    assert!(
        serde_json::to_string(&status)
            .unwrap()
            .contains("\"rejected\":true")
    );
}

#[test]
fn a_new_step_keeps_the_evidence_and_centres_the_prior_on_the_new_share() {
    let mut t = test();
    t.observe_pair(4.0, 16.0, 0.1);
    let before = t.log_evidence();
    t.new_step();
    assert_eq!(t.log_evidence(), before);
    t.observe_pair(10.0, 10.0, 0.5);
    let step = log_bayes_factor(100.0, &[0.5, 0.5], &[10.0, 10.0]).unwrap();
    assert!(close(t.log_evidence(), before + step));
    // Drift within a step: each increment against its own share.
    let mut d = test();
    d.observe_pair(1.0, 9.0, 0.1);
    let mut by_hand = test();
    by_hand.observe_pair(1.0, 9.0, 0.1);
    d.observe_pair(2.0, 8.0, 0.2);
    // The second factor: posterior Beta(10+1, 90+9) predictive of (2, 8)
    // over 0.2² · 0.8⁸ (binomial coefficients cancel).
    let second = ln_gamma(110.0) - ln_gamma(120.0) + ln_gamma(13.0) - ln_gamma(11.0)
        + ln_gamma(107.0)
        - ln_gamma(99.0)
        - 2.0 * 0.2f64.ln()
        - 8.0 * 0.8f64.ln();
    assert!(close(d.log_evidence(), by_hand.log_evidence() + second));
}

#[test]
fn resets_nan_and_odd_shares_never_panic() {
    let mut t = test();
    assert_eq!(t.observe_pair(-5.0, 3.0, 0.5), Fed::Counted);
    assert_eq!(t.observe_pair(f64::NAN, f64::INFINITY, 0.5), Fed::Counted);
    let s = t.status();
    assert_eq!((s.resets, s.total_errors, s.canary_errors), (3, 3.0, 0.0));
    for share in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        assert_eq!(t.observe_pair(1.0, 1.0, share), Fed::Skipped(Skip::Shares));
    }
    assert_eq!(
        t.observe_pair(1.0, 0.0, 0.0),
        Fed::Skipped(Skip::ErrorsWithoutTraffic)
    );
    assert_eq!(t.observe(&[1.0], &[1.0]), Fed::Skipped(Skip::Shape));
    assert_eq!(
        t.observe_requests((1.0, 1.0), (0.0, 0.0)),
        Fed::Skipped(Skip::Shares)
    );
    // A step whose first poll has no canary traffic waits for one that has.
    t.new_step();
    assert_eq!(t.observe_pair(0.0, 4.0, 0.0), Fed::Skipped(Skip::NoPrior));
    assert_eq!(t.observe_pair(0.0, 0.0, 0.0), Fed::Counted);
    assert_eq!(t.observe_pair(0.0, 4.0, 0.5), Fed::Counted);
    assert_eq!(t.observe_pair(0.0, 4.0, 0.0), Fed::Counted);
    assert_eq!(t.status().skipped, 8);
    assert!(t.log_evidence().is_finite());
    let _ = t.describe();
    // Huge counts stay finite and readable.
    let mut big = test();
    big.observe_pair(1e9, 1.0, 0.01);
    assert!(big.rejected() && big.log_evidence().is_finite());
    assert!(big.evidence().is_finite());
    // Settings that cannot make a test say why.
    let bad = |alpha, concentration| {
        SequentialTest::two_cohorts(SequentialSettings {
            alpha,
            concentration,
        })
        .unwrap_err()
        .to_string()
    };
    assert!(bad(0.0, 100.0).contains("alpha"));
    assert!(bad(f64::NAN, 100.0).contains("alpha"));
    assert!(bad(0.05, -1.0).contains("concentration"));
    assert!(bad(0.05, f64::INFINITY).contains("concentration"));
    assert!(SequentialTest::new(1, SequentialSettings::default()).is_err());
    let read: SequentialSettings = serde_json::from_str(r#"{"alpha": 0.01}"#).unwrap();
    assert_eq!(read.concentration, DEFAULT_CONCENTRATION);
    assert!(serde_json::from_str::<SequentialSettings>(r#"{"k": 3}"#).is_err());
}

/// SplitMix64: a fixed-seed generator small enough to keep the engine's
/// test module free of the `rand` crate.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Knuth's method: fine for the small means here.
    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// One simulated canary, polled `polls` times: errors arrive at `rate` per
/// poll at full healthy traffic, the canary's per-request error rate is
/// `ratio` times the baseline's, and its share of the requests at poll `i`
/// is `share(i)`; a new step begins where `share` changes. The poll at
/// which the test rejected, if it did.
fn canary(rng: &mut Rng, ratio: f64, share: impl Fn(usize) -> f64, polls: usize) -> Option<usize> {
    let rate = 10.0;
    let mut t = SequentialTest::two_cohorts(SequentialSettings::default()).unwrap();
    for i in 0..polls {
        let s = share(i);
        if i > 0 && s != share(i - 1) {
            t.new_step();
        }
        let n = rng.poisson(rate * (1.0 - s + ratio * s));
        let to_canary = ratio * s / (ratio * s + 1.0 - s);
        let c = (0..n).filter(|_| rng.uniform() < to_canary).count() as f64;
        t.observe_pair(c, n as f64 - c, s);
        if t.rejected() {
            return Some(i + 1);
        }
    }
    None
}

#[test]
fn healthy_canaries_are_flagged_at_most_alpha_of_the_time() {
    let mut rng = Rng(12);
    let runs = 1200;
    // Shares held, and shares that ramp 5 → 10 → 25 → 50 % every 50 polls
    // with jitter (new steps, drift within each).
    let mut alarms = 0;
    for run in 0..runs {
        let held = [0.05, 0.25, 0.5][run % 3];
        let rejected = if run % 2 == 0 {
            canary(&mut rng, 1.0, |_| held, 200)
        } else {
            let ramp = |i: usize| {
                let base = [0.05, 0.1, 0.25, 0.5][(i / 50).min(3)];
                base * (1.0 + 0.1 * ((i % 7) as f64 - 3.0) / 3.0)
            };
            canary(&mut rng, 1.0, ramp, 200)
        };
        alarms += usize::from(rejected.is_some());
    }
    let rate = alarms as f64 / runs as f64;
    // α plus three standard errors of the simulation.
    let margin = 3.0 * (0.05f64 * 0.95 / runs as f64).sqrt();
    eprintln!("false alarms: {alarms} of {runs} ({rate:.4})");
    assert!(rate <= 0.05 + margin, "{rate}");
}

#[test]
fn bad_canaries_are_caught_at_2x_and_5x() {
    let mut rng = Rng(34);
    for (ratio, share, within) in [
        (2.0, 0.05, 50),
        (2.0, 0.25, 20),
        (5.0, 0.25, 6),
        (5.0, 0.05, 12),
    ] {
        let runs = 200;
        let mut polls: Vec<usize> = (0..runs)
            .filter_map(|_| canary(&mut rng, ratio, |_| share, 400))
            .collect();
        polls.sort_unstable();
        let detected = polls.len() as f64 / runs as f64;
        let median = polls.get(polls.len() / 2).copied().unwrap_or(usize::MAX);
        eprintln!("{ratio}× at {share}: {detected:.3} detected, median {median} polls");
        assert!(detected >= 0.95, "{ratio}× at {share}: {detected}");
        assert!(median <= within, "{ratio}× at {share}: median {median}");
    }
}

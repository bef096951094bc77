//! The demo's scenarios closed-loop through the real config loader and the
//! pure engine, fed from the simulation model each second (no HTTP;
//! `rampdeck::demo::offline`): healthy and flaky-source are promoted,
//! bad-canary rolls back on its thresholds, and slow-burn, which stays under
//! every threshold, is rolled back by the judge.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rampdeck::demo::{self, Scenario, offline};

fn run(sc: Scenario) -> offline::Outcome {
    let toml = demo::DEMO_CONFIG.replace(demo::ADDR_PLACEHOLDER, "127.0.0.1:9");
    let plan = rampdeck::config::parse(&toml, "demo.toml").unwrap();
    offline::run(&plan, sc, demo::server::DEFAULT_SEED, 400.0)
}

#[test]
fn demo_scenarios_end_as_advertised() {
    let healthy = run(Scenario::Healthy);
    assert!(healthy.promoted, "{healthy:?}");
    assert!((90.0..150.0).contains(&healthy.secs), "{healthy:?}");

    let bad = run(Scenario::BadCanary);
    assert!(bad.rolled_back && !bad.promoted, "{bad:?}");
    let after = bad.rollback_at.unwrap() - bad.at_25_at.unwrap();
    assert!(after < 10.0, "rolled back {after} s after 25 %: {bad:?}");

    let flaky = run(Scenario::FlakySource);
    assert!(flaky.promoted, "{flaky:?}");
    assert!(
        flaky.secs > healthy.secs,
        "the outages held the ramp: {} vs {}",
        flaky.secs,
        healthy.secs
    );

    let slow = run(Scenario::SlowBurn);
    assert!(slow.rolled_back && !slow.promoted, "{slow:?}");
    let why = slow.rollback_reason.unwrap_or_default();
    assert!(
        why.contains("judge high"),
        "slow-burn is caught by the judge: {why}"
    );
}

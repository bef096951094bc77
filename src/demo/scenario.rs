//! The demo's scenarios: what the simulated service does during a run.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A scripted behaviour of the simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// The canary behaves like the baseline; the ramp reaches 100 %.
    Healthy,
    /// Error ratio and p95 latency climb over the limits once the canary
    /// carries 25 % of traffic or more, so the triggers roll it back.
    BadCanary,
    /// The metrics source itself misbehaves for stretches (HTTP 503, replies
    /// slower than the source timeout); data is healthy in between.
    FlakySource,
    /// A small steady regression that stays under every limit: only an SLO
    /// or statistical gate would catch it, but it shows on the charts.
    SlowBurn,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 4] = [
        Scenario::Healthy,
        Scenario::BadCanary,
        Scenario::FlakySource,
        Scenario::SlowBurn,
    ];

    /// The name used on the command line (`--scenario NAME`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::BadCanary => "bad-canary",
            Scenario::FlakySource => "flaky-source",
            Scenario::SlowBurn => "slow-burn",
        }
    }

    /// One line saying what to expect, for the demo's first screen.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Healthy => "the canary behaves like the baseline and is promoted to 100 %",
            Scenario::BadCanary => {
                "errors and p95 latency climb once the canary passes 25 %; the triggers roll it back"
            }
            Scenario::FlakySource => {
                "the metrics source returns 503s and times out for stretches; the ramp holds meanwhile"
            }
            Scenario::SlowBurn => {
                "a small, steady regression under every limit: watch the canary drift on the charts"
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown scenario name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown demo scenario {given:?}; choose one of: {}", valid_names())]
pub struct ParseScenarioError {
    /// What the user typed.
    pub given: String,
}

fn valid_names() -> String {
    Scenario::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Scenario {
    type Err = ParseScenarioError;

    /// Accepts the kebab-case names, case-insensitively, and `_` for `-`
    /// (people type `bad_canary`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str() == wanted)
            .ok_or_else(|| ParseScenarioError {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for sc in Scenario::ALL {
            assert_eq!(sc.as_str().parse::<Scenario>(), Ok(sc));
            assert_eq!(sc.to_string(), sc.as_str());
        }
        assert_eq!("Bad_Canary".parse::<Scenario>(), Ok(Scenario::BadCanary));
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = "bad".parse::<Scenario>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown demo scenario \"bad\"; choose one of: healthy, bad-canary, flaky-source, slow-burn"
        );
    }
}

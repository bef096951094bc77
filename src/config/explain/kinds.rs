//! The gate kinds beside a metric's thresholds, in sentences a change
//! reviewer reads: what the burn rate, the judge and the sequential test
//! each look at, when they breach and what they need first.

use crate::engine::analysis::burn::{BurnSettings, BurnSeverity};
use crate::engine::analysis::classifier::Direction;
use crate::engine::analysis::{ErrorCounts, JudgeGate, JudgeScore, SequentialGate};
use crate::engine::words::{duration, number};
use crate::plan::{Metric, Plan};

/// One field per kind the metric has.
pub(super) fn fields(m: &Metric) -> Vec<(String, String)> {
    let mut f = Vec::new();
    if let Some(b) = &m.kinds.burn {
        f.push(("Burn rate".into(), burn(b)));
    }
    if let Some(j) = &m.kinds.judge {
        f.push(("Judge".into(), judge(j)));
    }
    if let Some(s) = &m.kinds.sequential {
        f.push(("Sequential".into(), sequential(s)));
    }
    f
}

/// The plan's `[judge]` score, when a metric has a judge.
pub(super) fn score(plan: &Plan) -> Option<(String, String)> {
    if !plan.metrics.iter().any(|m| m.kinds.judge.is_some()) {
        return None;
    }
    let JudgeScore {
        pass,
        marginal,
        on_marginal,
    } = plan.judge;
    let marginal_does = match on_marginal {
        crate::engine::analysis::classifier::OnMarginal::Hold => "holds the step",
        crate::engine::analysis::classifier::OnMarginal::Pause => {
            "pauses the rollout for a person to decide (on_marginal = \"pause\")"
        }
    };
    Some((
        "Judge score".into(),
        format!(
            "the step's score is the share of judged metrics that pass; the step passes at {} \
             or more; a marginal score (from {}) {marginal_does}; below {} it fails and holds",
            number(pass),
            number(marginal),
            number(marginal)
        ),
    ))
}

fn burn(b: &BurnSettings) -> String {
    let rules: Vec<String> = b
        .rules
        .iter()
        .map(|r| {
            let then = match r.severity {
                BurnSeverity::Page => "breaches (page)",
                BurnSeverity::Warning => "warns, without holding the step (warning)",
            };
            format!(
                "{then} when the error budget burns faster than {}× over both {} and {}",
                number(r.factor_for(b.period)),
                duration(r.long),
                duration(r.short_window())
            )
        })
        .collect();
    format!(
        "SLO {} % over {}; {}; a window longer than the rollout is judged over the data it has, \
         and a rule is judged only once {} % of its short window has data (until then it neither \
         holds nor breaches)",
        number(b.target * 100.0),
        duration(b.period),
        rules.join("; "),
        number(b.min_short_coverage * 100.0)
    )
}

fn judge(j: &JudgeGate) -> String {
    let s = &j.settings;
    let up = format!(
        "an increase is a breach when the canary's mean is at least {}× the baseline's",
        number(s.allowed_increase)
    );
    let down = format!(
        "a decrease is a breach when the canary's mean is at most {}× the baseline's",
        number(s.allowed_decrease)
    );
    let when = match s.direction {
        Direction::Up => up,
        Direction::Down => down,
        Direction::Either => format!("{up}; {down}"),
    };
    format!(
        "Kayenta's Mann-Whitney test of the step's canary samples against the baseline's at {} % \
         confidence, tolerance {}; {when}; needs {} samples of each cohort (holds the step until \
         then); judges the newest {}; re-judged every {}",
        number(s.confidence * 100.0),
        number(s.tolerance),
        j.min_samples,
        j.max_samples,
        duration(j.every)
    )
}

fn sequential(s: &SequentialGate) -> String {
    let counts = match s.errors {
        ErrorCounts::Ratio => format!(
            "errors per poll are this ratio × {} × the seconds since the previous poll",
            s.requests
        ),
        ErrorCounts::Counter => format!(
            "this metric and {} are counters, differenced per poll",
            s.requests
        ),
    };
    format!(
        "anytime-valid test that the canary's share of errors is its share of requests ({}), \
         α {}, k {}; {counts}; breaches once the evidence passes 1/α = {}, with no minimum of \
         samples",
        s.requests,
        number(s.settings.alpha),
        number(s.settings.concentration),
        number(1.0 / s.settings.alpha)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::explain::{ExplainFormat, explain};
    use crate::demo;

    #[test]
    fn the_demo_plan_explains_each_kind_and_the_score() {
        let toml = demo::DEMO_CONFIG.replace(demo::ADDR_PLACEHOLDER, "127.0.0.1:9");
        let plan = crate::config::parse(&toml, "demo.toml").unwrap();
        let text = explain(&plan, ExplainFormat::Text, crate::engine::Timestamp(0));
        for want in [
            "Burn rate      SLO 99.5 %",
            "faster than 14.4× over both 1m and 5s",
            "judged over the data it has",
            "Mann-Whitney test of the step's canary samples against the baseline's at 98 % \
             confidence, tolerance 0.25; an increase is a breach when the canary's mean is at \
             least 1.25× the baseline's; needs 10 samples of each cohort",
            "re-judged every 5s",
            "share of requests (rps), α 0.05, k 30",
            "passes at 95 or more; a marginal score (from 75) holds the step",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }
}

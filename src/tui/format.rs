//! Text the views share: countdowns, values with units, phase words, the
//! next-action sentence. Pure functions of their arguments.

use crate::engine::{NextAction, Phase, Timestamp};
use crate::plan::{Metric, NoDataAction};

/// `03:12`, or `1:02:03` past an hour.
pub fn clock(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// `~10 s`, `~3 min`.
pub fn approx(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    if s < 120 {
        format!("~{s} s")
    } else {
        format!("~{} min", s.div_ceil(60))
    }
}

/// UTC wall-clock time of a timestamp, `14:03:07`.
pub fn time_of_day(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

/// A number with as many decimals as its size deserves.
pub fn number(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A raw value in display units: `1.20 %`, `812 ms`.
pub fn value(metric: &Metric, raw: f64) -> String {
    let v = number(raw * metric.display_scale);
    if metric.unit.is_empty() {
        v
    } else {
        format!("{v} {}", metric.unit)
    }
}

/// Like [`value`], `-` when absent.
pub fn opt_value(metric: &Metric, raw: Option<f64>) -> String {
    raw.map_or_else(|| "-".into(), |r| value(metric, r))
}

/// The phase in capitals, as the header shows it.
pub fn phase_words(phase: &Phase) -> &'static str {
    match phase {
        Phase::Pending => "PENDING",
        Phase::Promoting { .. } => "PROMOTING",
        Phase::Holding { .. } => "PROGRESSING",
        Phase::AwaitingApproval { .. } => "AWAITING APPROVAL",
        Phase::Paused { .. } => "PAUSED",
        Phase::Promoted => "PROMOTED",
        Phase::RollingBack => "ROLLING BACK",
        Phase::RolledBack => "ROLLED BACK",
        Phase::Failed { .. } => "FAILED",
    }
}

/// The next automatic action as a sentence: "advance to 25 % in 03:12".
///
/// The engine's `NextAction::describe()` will own this wording; until the
/// two are reconciled the cockpit formats it here.
pub fn next_action_text(next: &NextAction) -> String {
    match next {
        NextAction::ApprovalIn { .. } | NextAction::PauseIn { .. } => next.describe(),
        NextAction::Advance { to_weight, in_ms } => {
            format!("advance to {to_weight} % in {}", clock(*in_ms))
        }
        NextAction::AwaitApproval { to_weight } => {
            format!("waiting for approval to advance to {to_weight} %")
        }
        NextAction::PromoteFull { in_ms } => format!("promote to 100 % in {}", clock(*in_ms)),
        NextAction::RollbackIn {
            metric,
            breaches_left,
            approx_ms,
        } => {
            let noun = if *breaches_left == 1 {
                "breach"
            } else {
                "breaches"
            };
            format!(
                "rollback in {breaches_left} more {noun} of {metric} ({})",
                approx(*approx_ms)
            )
        }
        NextAction::NoDataAction {
            metric,
            action,
            polls_left,
        } => {
            let what = match action {
                NoDataAction::Hold => "hold",
                NoDataAction::Pause => "pause",
                NoDataAction::Rollback => "rollback",
            };
            let noun = if *polls_left == 1 { "poll" } else { "polls" };
            format!("{what} in {polls_left} {noun} without data ({metric})")
        }
        // "holding: error_rate is Breach, p95_latency is NoData"
        NextAction::HoldingForGates { .. } => next.describe(),
        NextAction::Paused { by, reason } if reason.is_empty() => format!("paused by {by}"),
        NextAction::Paused { by, reason } => format!("paused by {by}: {reason}"),
        NextAction::WaitingForHook { kind } => format!("waiting for {} hook", kind.as_str()),
        NextAction::HoldingUnattended => "holding: operator detached (unattended = hold)".into(),
        NextAction::RetryRollback { .. } => next.describe(),
        NextAction::None => "nothing more will happen on its own".into(),
    }
}

/// Truncate to `max` characters with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('~');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::HookKind;

    #[test]
    fn next_action_sentences_match_the_issue() {
        let t = next_action_text(&NextAction::Advance {
            to_weight: 25,
            in_ms: 192_000,
        });
        assert_eq!(t, "advance to 25 % in 03:12");
        let t = next_action_text(&NextAction::RollbackIn {
            metric: "error_rate".into(),
            breaches_left: 2,
            approx_ms: 10_000,
        });
        assert_eq!(t, "rollback in 2 more breaches of error_rate (~10 s)");
        let t = next_action_text(&NextAction::NoDataAction {
            metric: "rps".into(),
            action: NoDataAction::Pause,
            polls_left: 3,
        });
        assert_eq!(t, "pause in 3 polls without data (rps)");
        let t = next_action_text(&NextAction::WaitingForHook {
            kind: HookKind::SetWeight,
        });
        assert_eq!(t, "waiting for set_weight hook");
    }

    #[test]
    fn clocks_round_up_so_zero_means_now() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(1), "00:01");
        assert_eq!(clock(59_001), "01:00");
        assert_eq!(clock(3_723_000), "1:02:03");
    }

    #[test]
    fn numbers_keep_meaningful_digits() {
        assert_eq!(number(1.2), "1.20");
        assert_eq!(number(812.4), "812");
        assert_eq!(number(0.012), "0.012");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }
}

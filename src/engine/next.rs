//! What the views see: the `EngineView` snapshot and the always-visible
//! "next automatic action" with its countdown.

use crate::plan::{GateKind, NoDataAction, TriggerAction, Unattended};

use super::rollout::Engine;
use super::types::{EngineView, NextAction, Phase, StepState, StepView, Timestamp};

impl Engine {
    /// Everything views draw, at `now` (countdowns are computed from it).
    pub fn view(&self, now: Timestamp) -> EngineView {
        let current = self.step;
        let steps = self
            .plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let state = match current {
                    _ if self.phase == Phase::Promoted => StepState::Done,
                    Some(c) if i < c => StepState::Done,
                    Some(c) if i == c => match self.phase {
                        Phase::AwaitingApproval { .. } => StepState::AwaitingApproval,
                        Phase::RolledBack | Phase::RollingBack | Phase::Failed { .. } => {
                            StepState::Failed
                        }
                        _ => StepState::Current,
                    },
                    _ => StepState::Pending,
                };
                let hold_left_ms = if current == Some(i) && !self.phase.is_terminal() {
                    self.hold_left(now).map(|d| d.as_millis() as u64)
                } else {
                    None
                };
                let times = self.step_times.get(i).copied().unwrap_or_default();
                StepView {
                    name: s.name.clone(),
                    weight: s.weight,
                    state,
                    hold_ms: s.hold.as_millis() as u64,
                    hold_left_ms,
                    owner: s.owner.clone(),
                    entered_at: times.entered,
                    left_at: times.left,
                }
            })
            .collect();
        EngineView {
            phase: self.phase.clone(),
            step: self.step,
            steps,
            weight: self.weight,
            gates: self.gate_statuses(),
            next: self.next_action(now),
            started_at: self.started_at,
            step_entered_at: self
                .step
                .and_then(|k| self.step_times.get(k))
                .and_then(|t| t.entered),
            hook_running: self.hook_running(),
            rollback_failed: self.rollback_failed,
            recent: self.recent.iter().cloned().collect(),
            allowed: self.allowed_all(now),
            over: self.is_over(),
        }
    }

    /// The next thing the engine will do on its own. A trigger or no-data
    /// countdown in progress comes first: it is the one that can surprise.
    pub fn next_action(&self, now: Timestamp) -> NextAction {
        let k = match &self.phase {
            Phase::Failed { .. } => {
                return match self.rollback_retry_at {
                    Some(at) if self.rollback_failed => NextAction::RetryRollback {
                        attempt: self.rollback_attempts + 1,
                        in_ms: at.0.saturating_sub(now.0).max(0) as u64,
                    },
                    _ => NextAction::None,
                };
            }
            Phase::Pending | Phase::Promoted | Phase::RolledBack => {
                return NextAction::None;
            }
            Phase::RollingBack => {
                return match self.chain_hook() {
                    Some(kind) => NextAction::WaitingForHook { kind },
                    None => NextAction::None,
                };
            }
            Phase::Promoting { step }
            | Phase::Holding { step }
            | Phase::AwaitingApproval { step }
            | Phase::Paused { step, .. } => *step,
        };
        let paused = matches!(self.phase, Phase::Paused { .. });
        if let Some(n) = self.trigger_countdown(TriggerAction::Rollback) {
            return n;
        }
        if let Some(n) = self.no_data_countdown(NoDataAction::Rollback) {
            return n;
        }
        if !paused {
            if let Some(n) = self.trigger_countdown(TriggerAction::Pause) {
                return n;
            }
            if let Some(n) = self.no_data_countdown(NoDataAction::Pause) {
                return n;
            }
        }
        let next_weight = self.plan.steps.get(k + 1).map(|s| s.weight).unwrap_or(100);
        match &self.phase {
            Phase::Paused { by, reason, .. } => NextAction::Paused {
                by: by.clone(),
                reason: reason.clone(),
            },
            Phase::Promoting { .. } => match self.chain_hook() {
                Some(kind) => NextAction::WaitingForHook { kind },
                None => NextAction::None,
            },
            Phase::AwaitingApproval { .. } => {
                let blocking = self.blocking();
                if blocking.is_empty() {
                    NextAction::AwaitApproval {
                        to_weight: next_weight,
                    }
                } else {
                    NextAction::HoldingForGates { blocking }
                }
            }
            _ => {
                if !self.attached && self.plan.rollout.unattended == Unattended::Hold {
                    return NextAction::HoldingUnattended;
                }
                let left = self
                    .hold_left(now)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let last = k + 1 >= self.plan.steps.len();
                let manual = self.plan.steps.get(k).map(|s| s.gate) == Some(GateKind::Manual);
                if left == 0 {
                    let blocking = self.blocking();
                    if !blocking.is_empty() {
                        return NextAction::HoldingForGates { blocking };
                    }
                }
                match (manual, last) {
                    (true, _) => NextAction::ApprovalIn {
                        to_weight: next_weight,
                        in_ms: left,
                    },
                    (false, true) => NextAction::PromoteFull { in_ms: left },
                    (false, false) => NextAction::Advance {
                        to_weight: next_weight,
                        in_ms: left,
                    },
                }
            }
        }
    }

    /// The trigger of `action` closest to firing, among metrics with a
    /// breach streak in progress.
    fn trigger_countdown(&self, action: TriggerAction) -> Option<NextAction> {
        self.plan
            .triggers
            .iter()
            .filter(|t| t.action == action)
            .filter_map(|t| {
                let idx = self.plan.metrics.iter().position(|m| m.id == t.metric)?;
                let breaches = self.gates[idx].breaches;
                let need = t.consecutive.max(1);
                if breaches == 0 || breaches >= need {
                    return None;
                }
                let left = need - breaches;
                let interval = self.plan.interval_of(&t.metric).as_millis() as u64;
                Some((left, t.metric.clone(), u64::from(left) * interval))
            })
            .min_by_key(|(left, _, ms)| (*ms, *left))
            .map(|(breaches_left, metric, approx_ms)| match action {
                TriggerAction::Rollback => NextAction::RollbackIn {
                    metric,
                    breaches_left,
                    approx_ms,
                },
                TriggerAction::Pause => NextAction::PauseIn {
                    metric,
                    breaches_left,
                    approx_ms,
                },
            })
    }

    /// The no-data policy of `action` closest to acting, among metrics
    /// with polls without data in a row.
    fn no_data_countdown(&self, action: NoDataAction) -> Option<NextAction> {
        self.plan
            .metrics
            .iter()
            .zip(&self.gates)
            .enumerate()
            .filter(|(i, (m, g))| {
                m.no_data.action == action && g.no_data_polls > 0 && self.gating(*i)
            })
            .filter_map(|(_, (m, g))| {
                let need = m.no_data.after.max(1);
                (g.no_data_polls < need).then(|| (need - g.no_data_polls, m.id.clone()))
            })
            .min_by_key(|(left, _)| *left)
            .map(|(polls_left, metric)| NextAction::NoDataAction {
                metric,
                action,
                polls_left,
            })
    }
}

impl NextAction {
    /// One line for the countdown bar and headless output.
    pub fn describe(&self) -> String {
        match self {
            NextAction::Advance { to_weight, in_ms } => {
                format!("advance to {to_weight} % in {}", fmt_clock(*in_ms))
            }
            NextAction::AwaitApproval { to_weight } => {
                format!("waiting for approval to advance to {to_weight} %")
            }
            NextAction::ApprovalIn { to_weight, in_ms } => {
                format!("approval for {to_weight} % opens in {}", fmt_clock(*in_ms))
            }
            NextAction::PromoteFull { in_ms } => {
                format!("promote to 100 % in {}", fmt_clock(*in_ms))
            }
            NextAction::RollbackIn {
                breaches_left,
                approx_ms,
                ..
            } => format!(
                "rollback in {breaches_left} more {} ({})",
                plural(*breaches_left, "breach", "breaches"),
                fmt_approx(*approx_ms)
            ),
            NextAction::PauseIn {
                breaches_left,
                approx_ms,
                ..
            } => format!(
                "pause in {breaches_left} more {} ({})",
                plural(*breaches_left, "breach", "breaches"),
                fmt_approx(*approx_ms)
            ),
            NextAction::NoDataAction {
                action, polls_left, ..
            } => {
                let what = match action {
                    NoDataAction::Hold => "hold",
                    NoDataAction::Pause => "pause",
                    NoDataAction::Rollback => "rollback",
                };
                format!(
                    "{what} in {polls_left} {} without data",
                    plural(*polls_left, "poll", "polls")
                )
            }
            NextAction::HoldingForGates { blocking } => {
                format!("holding: {}", blocking.join(", "))
            }
            NextAction::Paused { by, reason } if reason.is_empty() => format!("paused by {by}"),
            NextAction::Paused { by, reason } => format!("paused by {by}: {reason}"),
            NextAction::WaitingForHook { kind } => format!("waiting for {} hook", kind.as_str()),
            NextAction::HoldingUnattended => {
                "holding: operator detached (unattended = hold)".into()
            }
            NextAction::RetryRollback { attempt, in_ms } => format!(
                "retrying the rollback (attempt {attempt}) in {}",
                fmt_clock(*in_ms)
            ),
            NextAction::None => "no automatic action".into(),
        }
    }
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// "03:12", or "1:02:03" past an hour. Rounds up, so a countdown never
/// shows 00:00 while time is left.
pub fn fmt_clock(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// "~10 s", "~3 min".
fn fmt_approx(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    if secs < 120 {
        format!("~{secs} s")
    } else {
        format!("~{} min", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_rounds_up_and_grows_hours() {
        assert_eq!(fmt_clock(0), "00:00");
        assert_eq!(fmt_clock(1), "00:01");
        assert_eq!(fmt_clock(192_000), "03:12");
        assert_eq!(fmt_clock(3_723_000), "1:02:03");
    }

    #[test]
    fn describe_texts() {
        let r = NextAction::RollbackIn {
            metric: "e".into(),
            breaches_left: 2,
            approx_ms: 10_000,
        };
        assert_eq!(r.describe(), "rollback in 2 more breaches (~10 s)");
        let r = NextAction::RollbackIn {
            metric: "e".into(),
            breaches_left: 1,
            approx_ms: 300_000,
        };
        assert_eq!(r.describe(), "rollback in 1 more breach (~5 min)");
        let a = NextAction::Advance {
            to_weight: 25,
            in_ms: 192_000,
        };
        assert_eq!(a.describe(), "advance to 25 % in 03:12");
    }
}

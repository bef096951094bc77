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
                    _ if matches!(self.phase, Phase::Promoted | Phase::Observing { .. }) => {
                        StepState::Done
                    }
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
                let observing = matches!(self.phase, Phase::Observing { .. });
                let hold_left_ms = if current == Some(i) && !self.phase.is_terminal() && !observing
                {
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
                    cohort: s.cohort.clone(),
                    entered_at: times.entered,
                    left_at: times.left,
                    approvals: if current == Some(i) && !self.phase.is_terminal() {
                        self.approvals_view(now)
                    } else {
                        None
                    },
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
            window: self.window.view(),
            over: self.is_over(),
            preflight: self.preflight.views().to_vec(),
            exit: self.exit_items.views().to_vec(),
            checklist: self.checklist_on_screen(),
            observation: self.observation_view(now),
            blue_green: self.blue_green_view(now),
            rolling: self.rolling_view(),
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
            Phase::Pending => {
                let missing = self.preflight.missing_titles();
                return if missing.is_empty() {
                    NextAction::None
                } else {
                    NextAction::AwaitPreflight { missing }
                };
            }
            Phase::Promoted | Phase::RolledBack => {
                return NextAction::None;
            }
            Phase::Observing { .. } => {
                if let Some(n) = self.trigger_countdown(TriggerAction::Rollback) {
                    return n;
                }
                if !self.attached && self.plan.rollout.unattended == Unattended::Hold {
                    return NextAction::HoldingUnattended;
                }
                return self
                    .observation_view(now)
                    .map_or(NextAction::None, NextAction::Observe);
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
                if let (true, Some(v)) = (blocking.is_empty(), self.approvals_view(now)) {
                    NextAction::AwaitApprovals {
                        missing: v.missing(),
                        need: v.need,
                        from: v.can,
                    }
                } else if blocking.is_empty() {
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
                    // Already at 100 % (the last step's weight): the hold
                    // ends; no traffic moves.
                    (false, true) if self.weight == 100 => NextAction::HoldEnds { in_ms: left },
                    (false, true) => NextAction::PromoteFull { in_ms: left },
                    (false, false)
                        if next_weight == 100
                            && self.plan.rollout.strategy == crate::plan::Strategy::BlueGreen =>
                    {
                        NextAction::SwitchIn { in_ms: left }
                    }
                    (false, false) if self.plan.rolling.is_some() => NextAction::NextBatch {
                        batch: k + 2,
                        instances: self
                            .plan
                            .steps
                            .get(k + 1)
                            .and_then(|s| s.instances)
                            .unwrap_or(0),
                        of: self.plan.rolling.as_ref().map_or(0, |r| r.instances),
                        in_ms: left,
                    },
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

//! What a sample does: it goes into its series and its gate, and may fire
//! a trigger or a no-data policy; the wait for data is journaled when it
//! starts and ends.

use std::sync::Arc;

use serde_json::json;

use crate::plan::{NoDataAction, TriggerAction};

use super::analysis::gate::KindInput;
use super::chain::Goal;
use super::rollout::{DATA_HOLD_POLLS, DataHold, Engine};
use super::types::{Actor, Cohort, DecisionKind, Effect, Phase, Reading, Timestamp, Verdict};
use super::words::{Units, number};

impl Engine {
    /// Journals the start and the end of a wait for data: the step holds
    /// (its gates cannot pass) because gating metrics had no data for
    /// [`DATA_HOLD_POLLS`] polls in a row.
    pub(super) fn update_data_hold(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let waiting = matches!(
            self.phase,
            Phase::Holding { .. } | Phase::AwaitingApproval { .. }
        );
        let missing: Vec<(String, String)> = if waiting {
            self.plan
                .metrics
                .iter()
                .zip(&self.gates)
                .enumerate()
                .filter(|(i, (_, g))| g.no_data_polls >= DATA_HOLD_POLLS && self.gating(*i))
                .map(|(_, (m, g))| (m.id.clone(), g.detail.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let system = Actor::system();
        match (&self.data_hold, missing.is_empty()) {
            (None, false) => {
                let step = self.step.map_or(0, |k| k + 1);
                let why: Vec<String> = missing.iter().map(|(m, d)| format!("{m}: {d}")).collect();
                let metrics: Vec<String> = missing.into_iter().map(|(m, _)| m).collect();
                let reason = format!("step {step} waits for data: {}", why.join("; "));
                let detail = json!({ "metrics": metrics });
                self.data_hold = Some(DataHold {
                    since: now,
                    metrics,
                });
                self.journal(out, DecisionKind::DataHoldStarted, &system, reason, detail);
            }
            (Some(hold), true) => {
                let secs = now.since(hold.since).as_secs();
                let reason = if waiting {
                    format!("data is back after {secs} s: {}", hold.metrics.join(", "))
                } else {
                    format!(
                        "no longer waiting for data after {secs} s: the rollout is {}",
                        super::words::phase_in_text(&self.phase)
                    )
                };
                let detail = json!({
                    "metrics": hold.metrics,
                    "since": hold.since,
                    "duration_ms": now.since(hold.since).as_millis() as u64,
                });
                self.data_hold = None;
                self.journal(out, DecisionKind::DataHoldEnded, &system, reason, detail);
            }
            (Some(hold), false) => {
                // Still waiting; keep the names of every metric it waited on.
                let mut all = hold.metrics.clone();
                for (m, _) in missing {
                    if !all.contains(&m) {
                        all.push(m);
                    }
                }
                if let Some(h) = self.data_hold.as_mut() {
                    h.metrics = all;
                }
            }
            (None, true) => {}
        }
    }

    pub(super) fn on_sample(
        &mut self,
        metric: &str,
        cohort: Cohort,
        reading: Reading,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        // A sample for a metric the plan does not have is a driver bug; it
        // has nowhere to go and is dropped rather than crash the rollout.
        let Some(idx) = self.plan.metrics.iter().position(|m| m.id == metric) else {
            return;
        };
        let value = match &reading {
            Reading::Value { value, .. } if !value.is_nan() => Some(*value),
            _ => None,
        };
        let plan = Arc::clone(&self.plan);
        let m = &plan.metrics[idx];
        match cohort {
            Cohort::Baseline => {
                self.series[idx].baseline.push(now, value);
                if let Some(v) = value {
                    self.gates[idx].on_baseline_value(v);
                }
                return;
            }
            Cohort::Canary => self.series[idx].canary.push(now, value),
        }
        match reading {
            Reading::Value {
                value, warnings, ..
            } if !value.is_nan() => {
                let block = self.traffic_block(idx, value);
                let policy = plan
                    .source(&m.source)
                    .map(|s| s.degraded)
                    .unwrap_or_default();
                let streak = self.gates[idx].breaches;
                self.gates[idx].on_canary_value(m, value, &warnings, policy, block);
                if !m.kinds.is_empty() {
                    self.judge_kinds(idx, now);
                    self.gates[idx].apply_kinds(streak);
                }
                self.check_resume(metric, value, out);
            }
            Reading::Value { .. } => {
                self.gates[idx].on_canary_missing(Verdict::NoData, "no data: NaN".into())
            }
            Reading::NoData { why } => {
                self.gates[idx].on_canary_missing(Verdict::NoData, format!("no data: {why}"))
            }
            Reading::ProviderError { message, code } => {
                let detail = match code {
                    // "... within 800 ms (timeout)" and "... is unreachable
                    // (...)" already say their code.
                    Some(c) if !message.contains(c.as_str()) => {
                        format!("provider error: {message} ({c})")
                    }
                    _ => format!("provider error: {message}"),
                };
                self.gates[idx].on_canary_missing(Verdict::ProviderError, detail)
            }
        }
        if !self.gating(idx) {
            // Missing data of a metric that does not gate this step (the
            // error ratio at 0 %) is expected, not a streak toward its
            // no-data policy once it gates.
            self.gates[idx].no_data_polls = 0;
        }
        if self.armed() {
            self.check_triggers(idx, now, out);
        }
        if self.armed() {
            self.check_no_data(idx, now, out);
        }
    }

    /// Run metric `idx`'s other gate kinds at a canary sample.
    fn judge_kinds(&mut self, idx: usize, now: Timestamp) {
        let plan = Arc::clone(&self.plan);
        let m = &plan.metrics[idx];
        let requests = m
            .kinds
            .sequential
            .as_ref()
            .and_then(|s| plan.metrics.iter().position(|r| r.id == s.requests))
            .map(|r| &self.series[r]);
        let input = KindInput {
            series: &self.series[idx],
            requests,
            rollout_start: self.started_at.unwrap_or(now),
            step_start: self.hold_started_at.unwrap_or(now),
            bad: m.bad,
            units: Units::of(m),
            baseline_gone: self.baseline_gone,
            source_windows: m
                .kinds
                .burn
                .iter()
                .flat_map(|b| &b.windows)
                .filter_map(|w| {
                    let r = plan.metrics.iter().position(|o| o.id == w.metric)?;
                    Some((w.window, self.gates[r].canary?))
                })
                .collect(),
        };
        self.gates[idx].analyses.on_canary(&m.kinds, &input, now);
    }

    /// Why metric `idx` cannot be judged for lack of canary traffic, if so.
    fn traffic_block(&self, idx: usize, own_value: f64) -> Option<String> {
        let mt = self.plan.metrics[idx].min_traffic.as_ref()?;
        let traffic = if mt.metric == self.plan.metrics[idx].id {
            Some(own_value)
        } else {
            let t = self.plan.metrics.iter().position(|m| m.id == mt.metric)?;
            self.gates[t].canary
        };
        match traffic {
            None => Some(format!(
                "no canary traffic reading yet ({}; min_traffic)",
                mt.metric
            )),
            Some(v) if v < mt.at_least => Some(format!(
                "not enough canary traffic: {} {} < {} (min_traffic)",
                mt.metric,
                number(v),
                number(mt.at_least)
            )),
            Some(_) => None,
        }
    }

    /// Fire the triggers on metric `idx` whose breach streak is complete.
    /// A rollback trigger wins over a pause trigger.
    fn check_triggers(&mut self, idx: usize, now: Timestamp, out: &mut Vec<Effect>) {
        let plan = Arc::clone(&self.plan);
        let m = &plan.metrics[idx];
        let breaches = self.gates[idx].breaches;
        let fired = |action: TriggerAction| {
            plan.triggers.iter().find(|t| {
                t.metric == m.id && t.action == action && breaches >= t.consecutive.max(1)
            })
        };
        let g = &self.gates[idx];
        use super::types::number;
        let numbers = json!({
            "metric": m.id, "breaches": breaches, "value": number::json(g.canary),
            "baseline": number::json(g.baseline), "limit": number::json(g.limit),
            "detail": g.detail,
        });
        if let Some(t) = fired(TriggerAction::Rollback) {
            let reason = format!(
                "trigger {}: {} breached {} times in a row ({})",
                t.name, m.id, breaches, g.detail
            );
            let mut detail = numbers;
            detail["trigger"] = json!(t.name);
            detail["consecutive"] = json!(t.consecutive);
            self.begin_rollback(
                DecisionKind::TriggerRollback,
                &Actor::system(),
                reason,
                detail,
                now,
                out,
            );
            return;
        }
        if let Some(t) = fired(TriggerAction::Pause)
            && !matches!(self.phase, Phase::Paused { .. })
        {
            let reason = format!(
                "trigger {}: {} breached {} times in a row ({})",
                t.name, m.id, breaches, g.detail
            );
            let mut detail = numbers;
            detail["trigger"] = json!(t.name);
            detail["consecutive"] = json!(t.consecutive);
            self.auto_pause(DecisionKind::TriggerPause, reason, detail, now, out);
        }
    }

    /// Apply metric `idx`'s no-data policy once its count is reached; a
    /// metric that does not gate the current step has no data to miss.
    fn check_no_data(&mut self, idx: usize, now: Timestamp, out: &mut Vec<Effect>) {
        let m = &self.plan.metrics[idx];
        let polls = self.gates[idx].no_data_polls;
        if polls == 0 || polls < m.no_data.after.max(1) || !self.gating(idx) {
            return;
        }
        let reason = format!(
            "{}: {} polls in a row without data ({})",
            m.id, polls, self.gates[idx].detail
        );
        let detail = json!({ "metric": m.id, "polls": polls, "policy": m.no_data.action });
        match m.no_data.action {
            NoDataAction::Hold => {}
            NoDataAction::Pause => {
                if !matches!(self.phase, Phase::Paused { .. }) {
                    self.auto_pause(DecisionKind::NoDataPause, reason, detail, now, out);
                }
            }
            NoDataAction::Rollback => self.begin_rollback(
                DecisionKind::NoDataRollback,
                &Actor::system(),
                reason,
                detail,
                now,
                out,
            ),
        }
    }

    /// Pause by rampdeck itself; runs the pause hook when configured.
    pub(super) fn auto_pause(
        &mut self,
        action: DecisionKind,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        // The final promotion cannot be paused half-way (a human pause is
        // refused too); only a rollback stops it, and rollback triggers
        // stay armed.
        if self.hooks.goal() == Some(Goal::Full) {
            return;
        }
        // While observing at 100 % nothing is left to hold back: the
        // observation already waits for every gate to pass again.
        if matches!(self.phase, Phase::Observing { .. }) {
            return;
        }
        let step = self.step.unwrap_or(0);
        self.phase = Phase::Paused {
            step,
            by: Actor::system().user,
            reason: reason.clone(),
        };
        self.pause_from_check = false;
        let system = Actor::system();
        self.journal(out, action, &system, reason.clone(), detail);
        self.run_side(crate::plan::HookKind::Pause, &system, reason, now, out);
    }
}

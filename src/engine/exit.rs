//! Exit criteria (issue 13): after the last step reaches 100 %, the plan's
//! `[exit]` keeps the rollout `Observing` for an observation period before
//! it is `Promoted`. The rollout is promoted only when every criterion
//! holds: the period has passed at 100 %, every gating metric (thresholds,
//! burn rate, judge) has passed for the whole period, and every required
//! exit item is done (automatic checks such as smoke tests or flag states
//! pass; manual hand-off items are ticked by a person). A trigger during
//! observation still rolls back. A person may end the observation early
//! with promote; the record says which criteria were not met.
//! Without `[exit]`, the rollout is promoted when traffic reaches 100 %.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::checklist::{Checklist, ChecklistItem, ItemState};
use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase, Stage, Timestamp};
use super::words::{clock, duration};
use crate::plan::{HookKind, Unattended};

/// The plan's `[exit]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitPlan {
    /// How long to observe at 100 % (default 10 minutes).
    #[serde(with = "crate::plan::duration_ms")]
    pub observe: Duration,
    /// `[[exit.items]]`: on-finish smoke checks, flag checks and hand-off
    /// items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ChecklistItem>,
}

/// The observation period when `[exit]` gives none.
pub const DEFAULT_OBSERVE: Duration = Duration::from_secs(600);

/// One exit criterion and the evidence that it holds (or not), as the
/// `promoted` record and the summary list them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    pub criterion: String,
    pub met: bool,
    pub evidence: String,
}

/// Where the observation stands, for the NEXT line and the exit panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationView {
    pub observe_ms: u64,
    /// Left of the period: time with every gate passing since the last
    /// breach counts; time without data pauses the clock.
    pub left_ms: u64,
    /// Gating metrics not passing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unstable: Vec<String>,
    /// None of those breaches: they lack data, and the clock is paused.
    #[serde(default)]
    pub waiting_for_data: bool,
    /// Blue-green: left until the old stack's scale-down (0 while it runs),
    /// which the promotion waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_ms: Option<u64>,
    /// Required exit items not done, as `"title" (why)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// The plan's exit items as a checklist (empty without `[exit]`).
pub fn of(plan: &crate::plan::Plan) -> Checklist {
    let items = plan.exit.as_ref().map_or(&[][..], |e| &e.items[..]);
    Checklist::of(Stage::Exit, items)
}

/// When observing started, the last breach, and how long every gate has
/// passed (with data) since.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Observation {
    pub since: Option<Timestamp>,
    pub breach_at: Option<Timestamp>,
    /// Time with every gating metric passing since the last breach.
    pub stable_ms: u64,
    /// The previous input, and whether every gate passed then.
    pub last: Option<(Timestamp, bool)>,
}

impl Engine {
    /// The full promotion's hooks are done. With `[exit]`, observe;
    /// otherwise promoted now.
    pub(super) fn reached_full(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let exit = match self.plan.exit.clone() {
            Some(e) => e,
            // Blue-green waits for the old stack's scale-down.
            None if self.scale_down_pending() => ExitPlan {
                observe: Duration::ZERO,
                items: Vec::new(),
            },
            None => {
                self.finish_promoted(
                    "100 % on the new version".into(),
                    serde_json::Value::Null,
                    now,
                    out,
                );
                return;
            }
        };
        let k = self.plan.steps.len().saturating_sub(1);
        self.phase = Phase::Observing { step: k };
        // The observation is the gates' step: the judge compares what
        // came since (against the baseline from before).
        self.hold_started_at = Some(now);
        self.observation = Observation {
            since: Some(now),
            ..Observation::default()
        };
        let titles: Vec<&str> = exit.items.iter().map(|i| i.title.as_str()).collect();
        let items = match titles.len() {
            0 => String::new(),
            n => format!(" and {n} exit item{}", if n == 1 { "" } else { "s" }),
        };
        let reason = if self.plan.exit.is_some() {
            format!(
                "100 % on the new version; observing {} before promoted: every gate must pass for the whole period{items}",
                duration(exit.observe)
            )
        } else {
            "100 % on the new stack; promoted once the old stack is scaled down; triggers stay armed".into()
        };
        let detail = json!({ "observe_ms": exit.observe.as_millis() as u64, "items": titles });
        self.journal(
            out,
            DecisionKind::ObservationStarted,
            &Actor::system(),
            reason,
            detail,
        );
        self.on_run_checks(Stage::Exit, None, out);
    }

    /// `Promoted`: journal it with `detail`, then the on_finish hook.
    fn finish_promoted(
        &mut self,
        reason: String,
        detail: serde_json::Value,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        self.phase = Phase::Promoted;
        if let Some(k) = self.step
            && let Some(t) = self.step_times.get_mut(k)
        {
            t.left = Some(now);
        }
        self.journal(
            out,
            DecisionKind::Promoted,
            &Actor::system(),
            reason,
            detail,
        );
        let system = Actor::system();
        self.run_side(HookKind::OnFinish, &system, "promoted".into(), now, out);
    }

    /// After every input while observing: note a gate not passing (the
    /// period starts again from it), and promote once every criterion holds.
    pub(super) fn observe(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        if !matches!(self.phase, Phase::Observing { .. }) {
            return;
        }
        let (breaching, waiting) = self.observation_gates();
        let passing = breaching.is_empty() && waiting.is_empty();
        // Promoted runs the on_finish hooks: with no one driving and
        // `unattended = hold`, the period waits for a driver and starts
        // again once one is back (a shell connecting to roll back must not
        // find it promoted under them).
        let held = !self.attached && self.plan.rollout.unattended == Unattended::Hold;
        let o = &mut self.observation;
        if !breaching.is_empty() {
            // A breach starts the period again.
            o.stable_ms = 0;
            o.breach_at = Some(now);
        } else if held {
            o.stable_ms = 0;
        } else if let Some((at, true)) = o.last
            && passing
        {
            o.stable_ms += now.0.saturating_sub(at.0).max(0) as u64;
        }
        o.last = Some((now, passing && !held));
        let criteria = self.criteria(now);
        if criteria.iter().all(|c| c.met) && !held {
            let observe = self
                .plan
                .exit
                .as_ref()
                .map_or(Duration::ZERO, |e| e.observe);
            let reason = match self.plan.exit {
                Some(_) => format!(
                    "exit criteria met after {} at 100 %: {} criteria hold",
                    duration(observe),
                    criteria.len()
                ),
                None => "100 % on the new stack and the old stack scaled down".into(),
            };
            self.finish_promoted(reason, json!({ "criteria": criteria }), now, out);
        }
    }

    /// A person ends the observation now (promote): promoted, with the
    /// criteria that were not met recorded as overridden.
    pub(super) fn end_observation(
        &mut self,
        action: DecisionKind,
        actor: &Actor,
        reason: &str,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let criteria = self.criteria(now);
        let unmet: Vec<&str> = criteria
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.criterion.as_str())
            .collect();
        let detail = json!({ "from": "observing", "overrides": unmet, "criteria": criteria });
        self.journal(out, action, actor, reason.to_string(), detail.clone());
        let why = if unmet.is_empty() {
            format!(
                "observation ended by {}; every exit criterion held",
                actor.user
            )
        } else {
            format!(
                "observation ended by {} before the exit criteria held (not met: {})",
                actor.user,
                unmet.join(", ")
            )
        };
        self.finish_promoted(why, json!({ "criteria": criteria }), now, out);
    }

    /// Every exit criterion now, with its evidence.
    pub fn criteria(&self, now: Timestamp) -> Vec<Criterion> {
        let observe = self
            .plan
            .exit
            .as_ref()
            .map_or(Duration::ZERO, |e| e.observe);
        let since = self.observation.since.unwrap_or(now);
        let observed = Duration::from_millis(now.0.saturating_sub(since.0).max(0) as u64);
        let mut out = vec![Criterion {
            criterion: format!("observed {} at 100 %", duration(observe)),
            met: observed >= observe,
            evidence: format!(
                "at 100 % since {} ({} so far)",
                super::words::time_of_day(since),
                clock(observed.as_millis() as u64)
            ),
        }];
        let (breaching, waiting) = self.observation_gates();
        let stable = Duration::from_millis(self.observation.stable_ms);
        let gates: Vec<String> = self
            .gate_statuses()
            .iter()
            .filter(|g| g.gating)
            .map(|g| format!("{}: {}", g.metric, g.detail))
            .collect();
        let last_breach = match self.observation.breach_at {
            Some(at) => format!("last breach {}", super::words::time_of_day(at)),
            None => "no breach while observing".into(),
        };
        let so_far = format!(
            "passed {} of {} with data ({last_breach})",
            clock(stable.as_millis() as u64),
            clock(observe.as_millis() as u64)
        );
        let evidence = match (breaching.is_empty(), waiting.is_empty()) {
            (false, _) => format!("breaching now: {}", breaching.join(", ")),
            (true, false) => format!("{so_far}; waiting for data: {}", waiting.join(", ")),
            (true, true) => format!("{so_far}; {}", gates.join("; ")),
        };
        out.push(Criterion {
            criterion: "every gate passes for the whole period (thresholds, burn rate, judge)"
                .into(),
            met: breaching.is_empty() && waiting.is_empty() && stable >= observe,
            evidence,
        });
        if self.plan.exit.is_none() {
            // Observing only for a blue-green scale-down: no period.
            out.clear();
        }
        if let Some(c) = self.scale_down_criterion() {
            out.push(c);
        }
        for i in self.exit_items.views().iter().filter(|i| i.required) {
            let evidence = match &i.state {
                ItemState::Passed { summary } => format!("passed: {}", first_line(summary)),
                ItemState::Failed { summary } => format!("failed: {}", first_line(summary)),
                ItemState::Confirmed { by, note } if note.is_empty() => {
                    format!("confirmed by {by}")
                }
                ItemState::Confirmed { by, note } => format!("confirmed by {by}: {note}"),
                ItemState::Running => "check running".into(),
                ItemState::Pending => i.state_word(),
            };
            out.push(Criterion {
                criterion: i.title.clone(),
                met: i.done(),
                evidence,
            });
        }
        out
    }

    /// Time every gate has passed, as of `now` (the time since the last
    /// input counts when every gate passed then and passes still).
    fn stable_ms_at(&self, now: Timestamp) -> u64 {
        let o = &self.observation;
        match o.last {
            Some((at, true)) => o.stable_ms + now.0.saturating_sub(at.0).max(0) as u64,
            _ => o.stable_ms,
        }
    }

    /// Where the observation stands, while observing.
    pub(super) fn observation_view(&self, now: Timestamp) -> Option<ObservationView> {
        if !matches!(self.phase, Phase::Observing { .. }) {
            return None;
        }
        let observe = self
            .plan
            .exit
            .as_ref()
            .map_or(Duration::ZERO, |e| e.observe);
        let observe_ms = observe.as_millis() as u64;
        let (breaching, waiting) = self.observation_gates();
        Some(ObservationView {
            observe_ms,
            left_ms: observe_ms.saturating_sub(self.stable_ms_at(now)),
            waiting_for_data: breaching.is_empty() && !waiting.is_empty(),
            scale_down_ms: self
                .scale_down_pending()
                .then(|| {
                    self.blue_green_view(now)
                        .and_then(|v| v.instant_rollback_ms)
                })
                .map(Option::unwrap_or_default),
            unstable: breaching.into_iter().chain(waiting).collect(),
            missing: self
                .exit_items
                .missing()
                .map(super::checklist::ItemView::missing_line)
                .collect(),
        })
    }
}

impl Engine {
    /// The gating metrics not passing while observing: those that breach
    /// (a verdict of Breach, or the judge's step score below `pass`), and
    /// those waiting for data (NoData, ProviderError). A change window is
    /// not among them: ending the observation moves no traffic.
    fn observation_gates(&self) -> (Vec<String>, Vec<String>) {
        let mut breaching = Vec::new();
        let mut waiting = Vec::new();
        let gates = self.plan.metrics.iter().zip(&self.gates).enumerate();
        for (_, (m, g)) in gates.filter(|(i, _)| self.gating(*i)) {
            let line = format!("{} is {}", m.id, g.verdict.as_str());
            match g.verdict {
                super::types::Verdict::Pass => {}
                super::types::Verdict::Breach => breaching.push(line),
                _ => waiting.push(line),
            }
        }
        breaching.extend(self.judge_score_short());
        (breaching, waiting)
    }
}

/// The first line of a check's output, for evidence.
fn first_line(s: &str) -> &str {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.trim()
}

impl Engine {
    /// After a resume: the exit items a person had ticked stay ticked.
    pub(super) fn restore_exit_items(&mut self, p: &super::resume::ResumePoint) {
        for (title, by, note) in &p.exit_confirmed {
            let k = self
                .exit_items
                .views()
                .iter()
                .position(|i| &i.title == title);
            if let Some(k) = k.filter(|&k| !self.exit_items.views()[k].automatic) {
                let state = ItemState::Confirmed {
                    by: by.clone(),
                    note: note.clone(),
                };
                self.exit_items.set(k, state);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::resume::ResumePoint;
    use crate::engine::testing::{kinds, settle};
    use crate::engine::types::{Decision, Input};
    use crate::plan::Plan;

    /// One step at 100 % with no metrics, observed for a minute, with one
    /// hand-off item.
    fn plan() -> Plan {
        let mut p = crate::tui::fixtures::plan();
        p.metrics.clear();
        p.triggers.clear();
        p.steps.truncate(1);
        p.steps[0].weight = 100;
        p.exit = Some(ExitPlan {
            observe: Duration::from_secs(60),
            items: vec![ChecklistItem {
                title: "runbook updated".into(),
                owner: Some("bob".into()),
                required: true,
                check: None,
            }],
        });
        p
    }

    fn journaled(out: &[Effect], into: &mut Vec<Decision>) {
        for e in out {
            if let Effect::Journal(d) = e {
                into.push((**d).clone());
            }
        }
    }

    /// Runs the plan to its observation; returns the engine and its record.
    fn observing() -> (Engine, Vec<Decision>) {
        let mut e = Engine::new(Arc::new(plan()));
        let mut record = Vec::new();
        let t = |s: i64| Timestamp(s * 1000);
        let out = e.handle(
            Input::Start {
                actor: Actor::named("alice"),
            },
            t(0),
        );
        journaled(&out, &mut record);
        settle(&mut e, out, t(0));
        let out = e.handle(Input::Tick, t(60));
        journaled(&out, &mut record);
        settle(&mut e, out, t(60));
        assert!(
            matches!(e.phase(), Phase::Observing { .. }),
            "{:?}",
            e.phase()
        );
        (e, record)
    }

    #[test]
    fn a_restart_while_observing_observes_again_and_keeps_the_ticks() {
        let (mut e, mut record) = observing();
        let tick = Input::Confirm {
            stage: Stage::Exit,
            item: Some(0),
            actor: Actor::named("bob"),
            reason: "linked in the ticket".into(),
        };
        let out = e.handle(tick, Timestamp(70_000));
        assert_eq!(kinds(&out), vec![DecisionKind::ExitConfirmed]);
        record.extend(out.iter().filter_map(|x| match x {
            Effect::Journal(d) => Some((**d).clone()),
            _ => None,
        }));
        let point = ResumePoint::from_decisions(&record).unwrap();
        assert_eq!(point.phase, crate::engine::PhaseKind::Observing);
        let mut again = Engine::new(Arc::new(plan()));
        let resume = Input::Resume {
            point: Box::new(point),
            actor: Actor::named("alice"),
        };
        let out = again.handle(resume, Timestamp(200_000));
        assert_eq!(
            kinds(&out),
            vec![DecisionKind::Resumed, DecisionKind::ObservationStarted]
        );
        assert!(matches!(again.phase(), Phase::Observing { .. }));
        assert!(
            again.checklist(Stage::Exit)[0].done(),
            "the tick survives the restart"
        );
        // The period restarts at the resume.
        again.handle(Input::Tick, Timestamp(250_000));
        assert!(matches!(again.phase(), Phase::Observing { .. }));
        let out = again.handle(Input::Tick, Timestamp(260_000));
        assert!(
            kinds(&out).contains(&DecisionKind::Promoted),
            "{:?}",
            kinds(&out)
        );
        let Some(Effect::Journal(d)) = out
            .iter()
            .find(|x| matches!(x, Effect::Journal(d) if d.action == DecisionKind::Promoted))
        else {
            panic!("no promoted record");
        };
        let criteria: Vec<Criterion> =
            serde_json::from_value(d.detail["criteria"].clone()).unwrap();
        assert!(criteria.iter().all(|c| c.met), "{criteria:?}");
        assert!(
            criteria
                .iter()
                .any(|c| c.evidence == "confirmed by bob: linked in the ticket")
        );
    }

    #[test]
    fn a_detached_operator_under_unattended_hold_is_not_promoted_until_back() {
        let (mut e, _) = observing();
        let away = |attached| Input::OperatorPresence {
            attached,
            actor: Actor::named("alice"),
        };
        e.handle(away(false), Timestamp(61_000));
        let tick = Input::Confirm {
            stage: Stage::Exit,
            item: Some(0),
            actor: Actor::named("bob"),
            reason: "done".into(),
        };
        e.handle(tick, Timestamp(62_000));
        let out = e.handle(Input::Tick, Timestamp(200_000));
        assert!(!kinds(&out).contains(&DecisionKind::Promoted));
        assert!(matches!(e.phase(), Phase::Observing { .. }));
        // Back (a shell connecting to roll back, say): not promoted at
        // once; the period starts again with a driver there.
        let mut all = kinds(&e.handle(away(true), Timestamp(201_000)));
        all.extend(kinds(&e.handle(Input::Tick, Timestamp(202_000))));
        assert!(!all.contains(&DecisionKind::Promoted), "{all:?}");
        let out = e.handle(Input::Tick, Timestamp(262_000));
        assert!(
            kinds(&out).contains(&DecisionKind::Promoted),
            "{:?}",
            kinds(&out)
        );
    }

    #[test]
    fn pause_is_refused_while_observing_and_rollback_is_not() {
        let (e, _) = observing();
        let now = Timestamp(61_000);
        assert!(e.allowed(crate::engine::Command::Pause, now).is_err());
        assert!(e.allowed(crate::engine::Command::Approve, now).is_err());
        assert!(e.allowed(crate::engine::Command::Rollback, now).is_ok());
        assert!(e.allowed(crate::engine::Command::Promote, now).is_ok());
        let v = e.view(now);
        let o = v.observation.unwrap();
        assert_eq!(o.left_ms, 59_000);
        assert_eq!(
            o.missing,
            vec!["\"runbook updated\" (manual, not confirmed)".to_string()]
        );
    }
}

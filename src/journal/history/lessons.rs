//! What `rampdeck plan` warns about, given the service's history: at a
//! weight where a past rollout was rolled back, the plan's step is weaker
//! than the one that caught it (a shorter hold, the trigger gone, more
//! breaches needed, a looser limit). Pure.

use std::time::Duration;

use super::{Entry, Fired, History};
use crate::engine::words::{Units, duration};
use crate::plan::{BadDirection, Plan, TriggerAction};

/// Rollbacks looked at, at most (the newest).
const MAX_ROLLBACKS: usize = 50;

/// One warning per weakness, newest rollback first, each said once.
pub fn warnings(plan: &Plan, history: &History) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let service = &plan.rollout.service;
    let rollbacks = history
        .rollbacks()
        .filter(|(e, _)| e.service.as_deref() == Some(service.as_str()))
        .take(MAX_ROLLBACKS);
    for (e, f) in rollbacks {
        for w in weaker(plan, e, f) {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// "rollout checkout-1 was rolled back at 25 % on 2026-10-02 by the
/// `latency` trigger".
fn caught(e: &Entry, f: &Fired) -> String {
    let day = f.at.get(..10).unwrap_or(&f.at);
    let by = match (&f.trigger, &f.metric) {
        (Some(t), _) => format!("by the `{t}` trigger"),
        (None, Some(m)) => format!("for missing data on {m}"),
        (None, None) => format!("by {}", f.by),
    };
    format!(
        "rollout {} was rolled back at {} % on {day} {by}",
        e.rollout, f.weight
    )
}

/// How the plan's step at `f`'s weight is weaker than the one that caught
/// `f`.
fn weaker(plan: &Plan, e: &Entry, f: &Fired) -> Vec<String> {
    let mut out = Vec::new();
    let Some((k, step)) = plan
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.weight == f.weight)
    else {
        return out;
    };
    let at = format!("step {} ({} %)", k + 1, step.weight);
    let why = caught(e, f);
    if let Some(then) = f.hold_ms.map(Duration::from_millis)
        && step.hold < then
    {
        out.push(format!(
            "{at} holds {}, shorter than the {} of the step that caught it: {why}",
            duration(step.hold),
            duration(then)
        ));
    }
    let Some(name) = &f.trigger else {
        return out;
    };
    let trigger = plan
        .triggers
        .iter()
        .find(|t| &t.name == name && t.action == TriggerAction::Rollback)
        .or_else(|| {
            plan.triggers.iter().find(|t| {
                Some(&t.metric) == f.metric.as_ref() && t.action == TriggerAction::Rollback
            })
        });
    let Some(t) = trigger else {
        out.push(format!(
            "{at}: no rollback trigger on {} any more, yet {why}",
            f.metric.as_deref().unwrap_or(name)
        ));
        return out;
    };
    if let Some(then) = f.consecutive
        && t.consecutive > then
    {
        out.push(format!(
            "{at}: trigger `{}` now needs {} breaches in a row, {then} caught it: {why}",
            t.name, t.consecutive
        ));
    }
    let metric = plan.metric(&t.metric);
    let now = metric.and_then(|m| m.threshold.limit);
    if let (Some(m), Some(now), Some(then)) = (metric, now, f.limit_then) {
        let looser = match m.bad {
            BadDirection::Up => now > then,
            BadDirection::Down => now < then,
        };
        if looser {
            let u = Units::of(m);
            out.push(format!(
                "{at}: {}'s limit is now {}, looser than the {} that caught it: {why}",
                m.id,
                u.show(now),
                u.show(then)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::history::{Chain, Outcome};

    fn fired(weight: u8, hold_ms: u64) -> Fired {
        Fired {
            kind: "trigger_rollback".into(),
            trigger: Some("error-spike".into()),
            metric: Some("error_rate".into()),
            step: Some(1),
            weight,
            at: "2026-10-02T14:03:07.000Z".into(),
            at_ms: 0,
            by: "rampdeck".into(),
            streak: Some(2),
            consecutive: Some(2),
            value: Some(0.09),
            limit: Some(0.05),
            numbers: None,
            limit_then: Some(0.05),
            hold_ms: Some(hold_ms),
            reason: "trigger error-spike: error_rate breached 2 times".into(),
        }
    }

    fn history(plan: &Plan, f: Fired) -> History {
        History {
            entries: vec![Entry {
                journal: "j.jsonl".into(),
                rollout: "checkout-1".into(),
                service: Some(plan.rollout.service.clone()),
                started_at: None,
                started_ms: Some(0),
                duration_ms: None,
                outcome: Outcome::RolledBack,
                drove: vec![],
                fired: vec![f],
                breach_to_rollback_ms: None,
                chain: Chain::Verified,
            }],
            ..History::default()
        }
    }

    fn plan() -> Plan {
        crate::tui::fixtures::plan()
    }

    #[test]
    fn the_same_plan_raises_nothing() {
        let p = plan();
        let k = 1;
        let w = p.steps[k].weight;
        let hold = p.steps[k].hold.as_millis() as u64;
        let t = p
            .triggers
            .iter()
            .find(|t| t.action == TriggerAction::Rollback);
        let mut f = fired(w, hold);
        if let Some(t) = t {
            f.trigger = Some(t.name.clone());
            f.metric = Some(t.metric.clone());
            f.consecutive = Some(t.consecutive);
            f.limit_then = p.metric(&t.metric).and_then(|m| m.threshold.limit);
        }
        assert_eq!(warnings(&p, &history(&p, f)), Vec::<String>::new());
    }
}

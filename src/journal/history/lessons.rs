//! What `rampdeck plan` warns about, given the service's history: at a
//! weight where a past rollout was rolled back, the plan's step is weaker
//! than the one that caught it (a shorter hold, the trigger gone, more
//! breaches needed, a looser limit). Pure.

use std::time::Duration;

use super::{Entry, Fired, History};
use crate::engine::words::{Units, duration};
use crate::plan::{BadDirection, Plan, TriggerAction};

/// [`warnings`] from the service's journals in `dirs` (the plan's journal
/// directory when none is given), read within bounds.
pub fn from_dirs(plan: &Plan, dirs: Vec<std::path::PathBuf>) -> Vec<String> {
    let dirs = if dirs.is_empty() {
        vec![crate::config::journal_dir(plan)]
    } else {
        dirs
    };
    let opts = super::ReadOptions {
        service: Some(plan.rollout.service.clone()),
        max_journals: 1000,
        max_entries: 200,
        time_limit: Some(std::time::Duration::from_secs(5)),
        ..super::ReadOptions::default()
    };
    warnings(plan, &super::read_dirs(&dirs, &opts))
}

/// Rollbacks looked at, at most (the newest).
const MAX_ROLLBACKS: usize = 50;

/// One warning per weakness of a step, for the newest rollback it
/// concerns (with how many rollbacks at that weight there were).
pub fn warnings(plan: &Plan, history: &History) -> Vec<String> {
    let service = &plan.rollout.service;
    let rollbacks: Vec<(&Entry, &Fired)> = history
        .rollbacks()
        .filter(|(e, _)| e.service.as_deref() == Some(service.as_str()))
        .take(MAX_ROLLBACKS)
        .collect();
    let mut seen: Vec<(Weakness, u8)> = Vec::new();
    let mut out = Vec::new();
    for (e, f) in &rollbacks {
        for (kind, w) in weaker(plan, e, f) {
            if seen.contains(&(kind, f.weight)) {
                continue;
            }
            seen.push((kind, f.weight));
            let n = rollbacks
                .iter()
                .filter(|(_, g)| g.weight == f.weight)
                .count();
            out.push(if n > 1 {
                format!("{w} ({n} rollbacks at {} % in the journals)", f.weight)
            } else {
                w
            });
        }
    }
    out
}

/// What is weaker than when a rollback was caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weakness {
    Hold,
    NoTrigger,
    Consecutive,
    Limit,
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
fn weaker(plan: &Plan, e: &Entry, f: &Fired) -> Vec<(Weakness, String)> {
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
        out.push((
            Weakness::Hold,
            format!(
                "{at} holds {}, shorter than the {} of the step that caught it: {why}",
                duration(step.hold),
                duration(then)
            ),
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
        out.push((
            Weakness::NoTrigger,
            format!(
                "{at}: no rollback trigger on {} any more, yet {why}",
                f.metric.as_deref().unwrap_or(name)
            ),
        ));
        return out;
    };
    if let Some(then) = f.consecutive
        && t.consecutive > then
    {
        out.push((
            Weakness::Consecutive,
            format!(
                "{at}: trigger `{}` now needs {} breaches in a row, {then} caught it: {why}",
                t.name, t.consecutive
            ),
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
            out.push((
                Weakness::Limit,
                format!(
                    "{at}: {}'s limit is now {}, looser than the {} that caught it: {why}",
                    m.id,
                    u.show(now),
                    u.show(then)
                ),
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

    /// The fixture plan and a rollback at its 25 % step caught exactly
    /// as this plan would catch it.
    fn plan_and_rollback() -> (Plan, Fired) {
        let p = crate::tui::fixtures::plan();
        let k = p.steps.iter().position(|s| s.weight == 25).expect("25 %");
        let t = &p.triggers[0];
        let mut f = fired(25, p.steps[k].hold.as_millis() as u64);
        f.step = Some(k);
        f.trigger = Some(t.name.clone());
        f.metric = Some(t.metric.clone());
        f.consecutive = Some(t.consecutive);
        f.limit_then = p.metric(&t.metric).and_then(|m| m.threshold.limit);
        (p, f)
    }

    #[test]
    fn the_plan_that_caught_it_raises_nothing() {
        let (p, f) = plan_and_rollback();
        assert_eq!(warnings(&p, &history(&p, f)), Vec::<String>::new());
    }

    #[test]
    fn a_shorter_hold_at_that_weight_is_said() {
        let (mut p, f) = plan_and_rollback();
        let k = f.step.expect("step");
        p.steps[k].hold = Duration::from_secs(30);
        let w = warnings(&p, &history(&p, f));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("step 3 (25 %) holds 30s, shorter than the 10m"),
            "{w:?}"
        );
        assert!(
            w[0].contains(
                "rollout checkout-1 was rolled back at 25 % on 2026-10-02 by the `errors` trigger"
            ),
            "{w:?}"
        );
    }

    #[test]
    fn a_missing_trigger_more_breaches_or_a_looser_limit_are_said() {
        let (p, f) = plan_and_rollback();
        let mut gone = p.clone();
        gone.triggers.clear();
        let w = warnings(&gone, &history(&gone, f.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("no rollback trigger on error_rate any more"),
            "{w:?}"
        );

        let mut slower = p.clone();
        slower.triggers[0].consecutive = 5;
        let w = warnings(&slower, &history(&slower, f.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("trigger `errors` now needs 5 breaches in a row, 2 caught it"),
            "{w:?}"
        );

        let mut looser = p.clone();
        let m = looser
            .metrics
            .iter_mut()
            .find(|m| m.id == "error_rate")
            .expect("metric");
        m.threshold.limit = Some(0.08);
        let w = warnings(&looser, &history(&looser, f.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("error_rate's limit is now 8 %, looser than the 5 % that caught it"),
            "{w:?}"
        );

        // Tighter than then: nothing to say.
        let mut tighter = p.clone();
        let m = tighter
            .metrics
            .iter_mut()
            .find(|m| m.id == "error_rate")
            .expect("metric");
        m.threshold.limit = Some(0.02);
        tighter.triggers[0].consecutive = 1;
        assert!(warnings(&tighter, &history(&tighter, f)).is_empty());
    }

    #[test]
    fn other_services_and_weights_without_a_step_are_not_lessons() {
        let (mut p, f) = plan_and_rollback();
        p.triggers.clear();
        let mut h = history(&p, f.clone());
        h.entries[0].service = Some("billing".into());
        assert!(warnings(&p, &h).is_empty());
        let mut g = f;
        g.weight = 33;
        assert!(warnings(&p, &history(&p, g)).is_empty());
    }
}

//! Pre-flight (issue 13): what must be done before the ramp may start.
//! The items are a [`Checklist`] (see `checklist.rs`): the old
//! `rollout.checklist` strings and `[[preflight]]`. While a required item
//! is not done, `Start` is refused (journaled `refused`; the phase stays
//! `Pending`); in the cockpit the driver starts the ramp once the last
//! required item is done.

use super::checklist::{Checklist, ItemView};
use super::rollout::Engine;
use super::types::Stage;

pub use super::checklist::{Check as PreflightCheck, ChecklistItem as PreflightItem};

impl crate::plan::Plan {
    /// Every pre-flight item in order: the old `rollout.checklist` strings
    /// first (manual, required), then `[[preflight]]`. Engine and driver
    /// index items in this list.
    pub fn preflight_items(&self) -> Vec<PreflightItem> {
        let old = self.rollout.checklist.iter().map(|t| PreflightItem {
            title: t.clone(),
            owner: None,
            required: true,
            check: None,
        });
        old.chain(self.preflight.iter().cloned()).collect()
    }
}

/// The pre-flight checklist of `plan`.
pub fn of(plan: &crate::plan::Plan) -> Checklist {
    Checklist::of(Stage::Preflight, &plan.preflight_items())
}

/// Why the ramp may not start yet, if a required item is not done.
pub fn refusal(list: &Checklist) -> Option<String> {
    let missing: Vec<String> = list.missing().map(ItemView::missing_line).collect();
    if missing.is_empty() {
        return None;
    }
    let how = if list.missing().any(|i| !i.automatic) {
        "; confirm the manual items (in the cockpit, or rampdeck run --preflight-confirmed-by NAME --reason TEXT)"
    } else {
        ""
    };
    Some(format!("pre-flight not done: {}{how}", missing.join(", ")))
}

/// Whether a new rollout of `plan` can get past its manual pre-flight
/// items without a screen: they must be confirmed (`confirmed`) when any
/// is required. The engine refuses the same start; this lets a headless
/// `rampdeck run` say so before it opens a journal. Automatic checks are
/// not run here.
pub fn manual_check(plan: &crate::plan::Plan, confirmed: bool) -> Result<(), String> {
    let manual: Vec<PreflightItem> = plan
        .preflight_items()
        .into_iter()
        .filter(|i| i.check.is_none())
        .collect();
    match refusal(&Checklist::of(Stage::Preflight, &manual)) {
        Some(why) if !confirmed => Err(format!("start refused: {why}")),
        _ => Ok(()),
    }
}

impl Engine {
    /// Why the ramp may not start yet for want of pre-flight, if so.
    pub fn preflight_refusal(&self) -> Option<String> {
        refusal(&self.preflight)
    }

    /// Every pre-flight item and where it stands.
    pub fn preflight(&self) -> &[ItemView] {
        self.preflight.views()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::engine::checklist::{ItemState, SUMMARY_CHARS};
    use crate::engine::testing::kinds;
    use crate::engine::types::{Actor, DecisionKind, Effect, Input, Phase, Timestamp};
    use crate::plan::Plan;

    fn plan() -> Plan {
        let mut p = crate::tui::fixtures::plan();
        p.rollout.checklist = vec!["release notes reviewed".into()];
        p.preflight = vec![
            PreflightItem {
                title: "migrations are backward compatible".into(),
                owner: Some("dana".into()),
                required: true,
                check: Some(PreflightCheck {
                    command: vec!["./check-migrations.sh".into()],
                    http: None,
                    timeout: Duration::from_secs(30),
                }),
            },
            PreflightItem {
                title: "dashboards reachable".into(),
                owner: None,
                required: false,
                check: None,
            },
        ];
        p
    }

    fn start(e: &mut Engine) -> Vec<Effect> {
        let actor = Actor::named("alice");
        e.handle(Input::Start { actor }, Timestamp(1_000))
    }

    fn result(e: &mut Engine, item: usize, ok: bool) -> Vec<Effect> {
        let summary = "x".repeat(2_000);
        let stage = Stage::Preflight;
        let input = Input::CheckResult {
            stage,
            item,
            ok,
            summary,
        };
        e.handle(input, Timestamp(500))
    }

    fn confirm(e: &mut Engine) -> Vec<Effect> {
        let input = Input::Confirm {
            stage: Stage::Preflight,
            item: None,
            actor: Actor::named("carol"),
            reason: "ok".into(),
        };
        e.handle(input, Timestamp(600))
    }

    #[test]
    fn old_checklist_strings_are_manual_required_items_first() {
        let e = Engine::new(Arc::new(plan()));
        let items = e.preflight();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].title, "release notes reviewed");
        assert!(items[0].required && !items[0].automatic);
        assert!(items[1].automatic);
        assert!(!items[2].required);
        assert!(items.iter().all(|i| i.state == ItemState::Pending));
    }

    #[test]
    fn start_is_refused_until_every_required_item_is_done() {
        let mut e = Engine::new(Arc::new(plan()));
        let out = start(&mut e);
        assert_eq!(kinds(&out), vec![DecisionKind::Refused]);
        assert_eq!(*e.phase(), Phase::Pending);
        let next = e.next_action(Timestamp(1_000));
        assert_eq!(
            crate::engine::words::next_action(&next),
            "waiting for pre-flight: \"release notes reviewed\", \"migrations are backward compatible\""
        );
        let why = e.preflight_refusal().unwrap();
        assert!(why.contains("release notes reviewed"), "{why}");
        assert!(why.contains("migrations are backward compatible"), "{why}");
        assert!(
            !why.contains("dashboards"),
            "optional items do not block: {why}"
        );
        assert!(why.contains("--preflight-confirmed-by"), "{why}");

        assert_eq!(
            kinds(&result(&mut e, 1, true)),
            vec![DecisionKind::PreflightCheck]
        );
        assert_eq!(
            kinds(&confirm(&mut e)),
            vec![DecisionKind::PreflightConfirmed]
        );
        assert_eq!(e.preflight_refusal(), None);
        let out = start(&mut e);
        assert_eq!(kinds(&out).first(), Some(&DecisionKind::RolloutStarted));
        assert_ne!(*e.phase(), Phase::Pending);
        let view = e.view(Timestamp(1_000));
        assert!(
            matches!(view.preflight[0].state, ItemState::Confirmed { ref by, .. } if by == "carol")
        );
        assert!(matches!(
            view.preflight[2].state,
            ItemState::Confirmed { .. }
        ));
    }

    #[test]
    fn a_failing_check_keeps_the_start_blocked_with_bounded_output() {
        let mut e = Engine::new(Arc::new(plan()));
        confirm(&mut e);
        let out = result(&mut e, 1, false);
        let Some(Effect::Journal(d)) = out.first() else {
            panic!("{out:?}");
        };
        assert_eq!(d.action, DecisionKind::PreflightCheck);
        let kept = d.detail["output"].as_str().unwrap().chars().count();
        assert!(kept <= SUMMARY_CHARS + 1, "{kept}");
        let why = e.preflight_refusal().unwrap();
        assert!(why.contains("check failed"), "{why}");
        assert!(!why.contains("--preflight-confirmed-by"), "{why}");
        assert_eq!(kinds(&start(&mut e)), vec![DecisionKind::Refused]);
        assert_eq!(*e.phase(), Phase::Pending);
    }

    #[test]
    fn results_for_manual_items_and_confirmations_without_manual_items_are_refused() {
        let mut e = Engine::new(Arc::new(plan()));
        assert_eq!(kinds(&result(&mut e, 0, true)), vec![DecisionKind::Refused]);
        assert_eq!(kinds(&result(&mut e, 9, true)), vec![DecisionKind::Refused]);
        assert!(manual_check(&plan(), false).is_err_and(|w| w.contains("release notes")));
        assert!(manual_check(&plan(), true).is_ok());
        let mut bare = Engine::new(Arc::new(crate::tui::fixtures::plan()));
        assert!(manual_check(&crate::tui::fixtures::plan(), false).is_ok());
        assert_eq!(kinds(&confirm(&mut bare)), vec![DecisionKind::Refused]);
        assert_eq!(bare.preflight_refusal(), None);
    }

    #[test]
    fn items_are_ticked_one_at_a_time_and_checks_run_when_asked() {
        let mut e = Engine::new(Arc::new(plan()));
        let run = Input::RunChecks {
            stage: Stage::Preflight,
            item: None,
        };
        let out = e.handle(run.clone(), Timestamp(100));
        let asked = Effect::RunCheck {
            stage: Stage::Preflight,
            item: 1,
        };
        assert_eq!(out, vec![asked]);
        assert_eq!(e.preflight()[1].state, ItemState::Running);
        assert!(
            e.handle(run, Timestamp(200)).is_empty(),
            "a running check is not asked for twice"
        );
        let bob = Actor::named("bob");
        let tick = |item| Input::Confirm {
            stage: Stage::Preflight,
            item: Some(item),
            actor: bob.clone(),
            reason: "seen the notes".into(),
        };
        assert!(
            e.confirmable(Stage::Preflight, Some(1), &bob)
                .is_err_and(|r| r.0.contains("automatic"))
        );
        let out = e.handle(tick(0), Timestamp(300));
        let Some(Effect::Journal(d)) = out.first() else {
            panic!("{out:?}");
        };
        assert_eq!(d.action, DecisionKind::PreflightConfirmed);
        assert_eq!(
            d.detail["items"],
            serde_json::json!(["release notes reviewed"])
        );
        assert_eq!(
            e.preflight()[2].state,
            ItemState::Pending,
            "one tick confirms one item"
        );
        assert!(
            e.confirmable(Stage::Preflight, Some(0), &bob)
                .is_err_and(|r| r.0.contains("already confirmed by bob"))
        );
        assert_eq!(
            kinds(&e.handle(tick(0), Timestamp(400))),
            vec![DecisionKind::Refused]
        );
        result(&mut e, 1, true);
        assert_eq!(
            e.preflight_refusal(),
            None,
            "the optional item does not block"
        );
        assert_eq!(
            kinds(&start(&mut e)).first(),
            Some(&DecisionKind::RolloutStarted)
        );
        assert!(
            e.confirmable(Stage::Preflight, Some(2), &bob)
                .is_err_and(|r| r.0.contains("cannot be confirmed now"))
        );
    }
}

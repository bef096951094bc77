//! Pre-flight (issue 13): what must be done before the ramp may start.
//! Each item is manual (a person confirms it) or automatic (a `check`
//! command the driver runs before `Start`; its result comes back as
//! [`Input::PreflightResult`](super::Input::PreflightResult)). While a
//! required item is not done, `Start` is refused (journaled `refused`; the
//! phase stays `Pending`). Every result and confirmation is journaled
//! with who gave it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase};

/// Characters of a check's output kept in its record and view.
pub const SUMMARY_CHARS: usize = 500;

/// One pre-flight item: a manual one a person confirms, or an automatic
/// one whose `check` command must exit 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The ramp cannot start until it is done (default true).
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<PreflightCheck>,
}

/// An automatic pre-flight check: an argv (no shell) run with a timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightCheck {
    pub command: Vec<String>,
    #[serde(with = "crate::plan::duration_ms")]
    pub timeout: Duration,
}

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

/// Where one item stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    /// The automatic check exited 0; the start of its output.
    Passed {
        summary: String,
    },
    /// The automatic check failed; the start of its output.
    Failed {
        summary: String,
    },
    /// A person confirmed the manual item.
    Confirmed {
        by: String,
        note: String,
    },
}

/// One item as views show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightView {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub required: bool,
    pub automatic: bool,
    pub state: ItemState,
}

impl PreflightView {
    /// Passed or confirmed.
    pub fn done(&self) -> bool {
        matches!(
            self.state,
            ItemState::Passed { .. } | ItemState::Confirmed { .. }
        )
    }

    /// `"title" (why it is not done)`.
    fn missing_line(&self) -> String {
        let why = match (&self.state, self.automatic) {
            (ItemState::Failed { .. }, _) => "check failed",
            (_, true) => "check not run",
            (_, false) => "manual, not confirmed",
        };
        format!("\"{}\" ({why})", self.title)
    }
}

/// Every item of the plan, in [`crate::plan::Plan::preflight_items`] order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preflight {
    items: Vec<PreflightView>,
}

impl Preflight {
    pub fn of(plan: &crate::plan::Plan) -> Preflight {
        let items = plan
            .preflight_items()
            .into_iter()
            .map(|i| PreflightView {
                automatic: i.check.is_some(),
                title: i.title,
                owner: i.owner,
                required: i.required,
                state: ItemState::Pending,
            })
            .collect();
        Preflight { items }
    }

    pub fn views(&self) -> &[PreflightView] {
        &self.items
    }

    /// The titles of the required items not done yet.
    pub fn missing_titles(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| i.required && !i.done())
            .map(|i| i.title.clone())
            .collect()
    }

    /// Why the ramp may not start yet, if a required item is not done.
    pub fn refusal(&self) -> Option<String> {
        let missing: Vec<String> = self
            .items
            .iter()
            .filter(|i| i.required && !i.done())
            .map(PreflightView::missing_line)
            .collect();
        if missing.is_empty() {
            return None;
        }
        let manual = self
            .items
            .iter()
            .any(|i| i.required && !i.done() && !i.automatic);
        let how = if manual {
            "; confirm the manual items (rampdeck run --preflight-confirmed-by NAME --reason TEXT)"
        } else {
            ""
        };
        Some(format!("pre-flight not done: {}{how}", missing.join(", ")))
    }
}

/// Whether a new rollout of `plan` can get past its manual pre-flight
/// items: they must be confirmed (`confirmed`) when any is required. The
/// engine refuses the same start; this lets `rampdeck run` say so before
/// it opens a journal or a screen. Automatic checks are not run here.
pub fn manual_check(plan: &crate::plan::Plan, confirmed: bool) -> Result<(), String> {
    let mut p = Preflight::of(plan);
    p.items.retain(|i| !i.automatic);
    match p.refusal() {
        Some(why) if !confirmed => Err(format!("start refused: {why}")),
        _ => Ok(()),
    }
}

/// The first [`SUMMARY_CHARS`] characters of `text`.
fn bounded(text: &str) -> String {
    let mut s: String = text.chars().take(SUMMARY_CHARS).collect();
    if text.chars().nth(SUMMARY_CHARS).is_some() {
        s.push('…');
    }
    s
}

impl Engine {
    /// An automatic check's result (before the start only).
    pub(super) fn on_preflight_result(
        &mut self,
        item: usize,
        ok: bool,
        summary: &str,
        out: &mut Vec<Effect>,
    ) {
        let system = Actor::system();
        let summary = bounded(summary);
        let title = self.preflight.items.get(item).map(|i| i.title.clone());
        let detail = json!({ "item": item, "title": title, "ok": ok, "output": summary });
        let automatic = self.preflight.items.get(item).is_some_and(|i| i.automatic);
        if !automatic || !matches!(self.phase, Phase::Pending) {
            let why = format!(
                "pre-flight result for item {item} ignored: no automatic check is pending there"
            );
            self.journal(out, DecisionKind::Refused, &system, why, detail);
            return;
        }
        let (state, word) = if ok {
            (ItemState::Passed { summary }, "passed")
        } else {
            (ItemState::Failed { summary }, "failed")
        };
        let title = title.unwrap_or_default();
        if let Some(i) = self.preflight.items.get_mut(item) {
            i.state = state;
        }
        let reason = format!("pre-flight check {word}: {title}");
        self.journal(out, DecisionKind::PreflightCheck, &system, reason, detail);
    }

    /// `actor` confirms every manual item at once, with `reason` as the note.
    pub(super) fn on_preflight_confirmed(
        &mut self,
        actor: &Actor,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        let note = super::reason::clean_reason(reason);
        let manual: Vec<usize> = (0..self.preflight.items.len())
            .filter(|&k| !self.preflight.items[k].automatic)
            .collect();
        let titles: Vec<String> = manual
            .iter()
            .map(|&k| self.preflight.items[k].title.clone())
            .collect();
        let detail = json!({ "items": titles, "note": note });
        if actor.user.trim().is_empty()
            || manual.is_empty()
            || !matches!(self.phase, Phase::Pending)
        {
            let why = "pre-flight confirmation refused: it needs a name, manual items, and a rollout not yet started".to_string();
            self.journal(out, DecisionKind::Refused, actor, why, detail);
            return;
        }
        for k in manual {
            self.preflight.items[k].state = ItemState::Confirmed {
                by: actor.user.clone(),
                note: note.clone(),
            };
        }
        let reason = format!(
            "pre-flight confirmed by {}: {}",
            actor.user,
            titles.join(", ")
        );
        self.journal(out, DecisionKind::PreflightConfirmed, actor, reason, detail);
    }

    /// Why the ramp may not start yet for want of pre-flight, if so.
    pub fn preflight_refusal(&self) -> Option<String> {
        self.preflight.refusal()
    }

    /// Every pre-flight item and where it stands.
    pub fn preflight(&self) -> &[PreflightView] {
        self.preflight.views()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::testing::kinds;
    use crate::engine::types::{Input, Timestamp};
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
        e.handle(Input::PreflightResult { item, ok, summary }, Timestamp(500))
    }

    fn confirm(e: &mut Engine) -> Vec<Effect> {
        let input = Input::PreflightConfirmed {
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
}

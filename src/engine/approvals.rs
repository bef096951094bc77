//! N-of-M approvals (issue 13): a step whose `approvals` table names who
//! may approve waits in `AwaitingApproval` until `count` distinct eligible
//! people have approved, each approval still fresh. The last step's
//! approvals gate the promotion to 100 %, since leaving the last step is
//! that promotion.
//!
//! Pure: group membership is resolved where identities are made
//! (`identity.rs` fills [`Actor::groups`]); here names are only compared.
//! Expiry is measured against the `now` each input carries.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase, Timestamp};
use super::words::time_of_day;

/// A step's `approvals = { from = [...], count = N, ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalSpec {
    /// People by user name, Unix groups as `@group`.
    pub from: Vec<String>,
    /// Distinct eligible approvals needed.
    pub count: u32,
    /// Whether the rollout's driver may be one of them (GitHub's
    /// `prevent_self_review`, inverted): off by default so a second pair
    /// of eyes is really a second person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self: bool,
    /// How long an approval counts; `None`: until the step is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl ApprovalSpec {
    /// Whether `actor` is named, or in a named group.
    pub fn eligible(&self, actor: &Actor) -> bool {
        eligible(&self.from, actor)
    }

    /// The rule in one phrase, for `plan` and the summary: "2 approvals
    /// from alice, bob, @deployers (not the driver; each counts 30m)".
    pub fn describe(&self) -> String {
        let noun = if self.count == 1 {
            "approval"
        } else {
            "approvals"
        };
        let mut notes = Vec::new();
        if !self.allow_self {
            notes.push("not the driver".to_string());
        }
        if let Some(e) = self.expires() {
            notes.push(format!("each counts {}", super::words::duration(e)));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        format!("{} {noun} from {}{notes}", self.count, self.from.join(", "))
    }

    fn expires(&self) -> Option<Duration> {
        self.expires_ms.map(Duration::from_millis)
    }
}

/// Whether `actor` is one of `from`: by name, or in an `@group`.
fn eligible(from: &[String], actor: &Actor) -> bool {
    from.iter().any(|f| match f.strip_prefix('@') {
        Some(group) => actor.groups.iter().any(|g| g == group),
        None => *f == actor.user,
    })
}

/// One approval given for a step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Given {
    pub step: usize,
    pub user: String,
    pub at: Timestamp,
    /// Its lapse was journaled (`approval_expired`, once).
    pub lapsed: bool,
}

/// Who approved the current step and who still can, for the views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalsView {
    /// Fresh approvals: who, and when.
    pub approved: Vec<(String, Timestamp)>,
    /// How many are needed.
    pub need: u32,
    /// Named people and groups who could still approve (those who did
    /// and, unless allowed, the driver left out).
    pub can: Vec<String>,
    /// The step's approvers as the plan names them, and whether the driver
    /// may be one: with `driver`, a view can say whether the person at it
    /// may approve ([`ApprovalsView::refusal`]), as the engine decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self: bool,
    /// Who drives the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

impl ApprovalsView {
    /// How many more approvals are needed.
    pub fn missing(&self) -> u32 {
        self.need.saturating_sub(self.approved.len() as u32)
    }

    /// Why `actor` cannot approve this step now (not named, the driver,
    /// already counted): the one rule, used by the engine when an approval
    /// comes and by views before they offer `a`.
    pub fn refusal(&self, actor: &Actor) -> Option<String> {
        if !eligible(&self.from, actor) {
            return Some(format!(
                "{} is not an approver for this step; approvals come from {}",
                actor.user,
                self.from.join(", ")
            ));
        }
        if !self.allow_self && self.driver.as_deref() == Some(actor.user.as_str()) {
            return Some(format!(
                "{} drives this rollout and cannot approve it (allow_self = false); ask {}",
                actor.user,
                self.from.join(", ")
            ));
        }
        if let Some((_, at)) = self.approved.iter().find(|(u, _)| *u == actor.user) {
            return Some(format!(
                "{} already approved at {}; one person counts once",
                actor.user,
                time_of_day(*at)
            ));
        }
        None
    }
}

impl super::view::EngineView {
    /// Like [`super::types::Allowed::check`], for the person `actor`: an
    /// approval of a step that names its approvers is offered only to one
    /// the engine would count (what [`Engine::allowed_by`] says).
    pub fn allowed_for(
        &self,
        command: super::types::Command,
        actor: &Actor,
    ) -> Result<(), super::types::Refusal> {
        self.allowed.check(command)?;
        if command != super::types::Command::Approve {
            return Ok(());
        }
        let approvals = self
            .step
            .and_then(|k| self.steps.get(k))
            .and_then(|s| s.approvals.as_ref());
        match approvals.and_then(|a| a.refusal(actor)) {
            Some(why) => Err(super::types::Refusal(why)),
            None => Ok(()),
        }
    }
}

impl Engine {
    /// The approvals the current step requires, if any.
    pub(super) fn step_approvals(&self) -> Option<&ApprovalSpec> {
        self.plan.steps.get(self.step?)?.approvals.as_ref()
    }

    /// Whether the current step names its approvers (`approvals`): then
    /// an `Approve` goes to the engine from anyone, not only a driver in
    /// control, and the engine says who counts.
    pub fn takes_named_approvals(&self) -> bool {
        self.step_approvals().is_some()
    }

    /// Like [`Engine::allowed`], knowing who asks: an approval to a step
    /// that names its approvers is refused here as the engine would
    /// (not named, the driver, already counted), so the sender is told
    /// what the engine then does.
    pub fn allowed_by(
        &self,
        command: super::types::Command,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), super::types::Refusal> {
        self.allowed(command, now)?;
        if command != super::types::Command::Approve {
            return Ok(());
        }
        match self.approver_refusal(actor, now) {
            Some(why) => Err(super::types::Refusal(why)),
            None => Ok(()),
        }
    }

    /// Approvals of the current step that still count at `now`.
    fn fresh(&self, now: Timestamp) -> Vec<&Given> {
        let (Some(k), Some(spec)) = (self.step, self.step_approvals()) else {
            return Vec::new();
        };
        self.approvals
            .iter()
            .filter(|g| g.step == k)
            .filter(|g| !expired(spec, g, now))
            .collect()
    }

    /// Why the current step's approvals are not complete at `now`, as
    /// "1 of 2 approvals", or `None` when complete or not required.
    pub(super) fn approvals_missing(&self, now: Timestamp) -> Option<String> {
        let spec = self.step_approvals()?;
        let have = self.fresh(now).len() as u32;
        (have < spec.count).then(|| counted(have, spec.count))
    }

    /// Why a promote cannot run: it would skip approvals the plan
    /// requires (this step's not yet complete, or, for a promotion to
    /// full, a later step's). Only rollback and pause skip them.
    pub(super) fn approvals_block(&self, full: bool, now: Timestamp) -> Option<String> {
        let k = self.step?;
        if let Some(have) = self.approvals_missing(now) {
            return Some(format!(
                "step {} needs approvals ({have} so far); promote cannot skip them: ask an approver",
                k + 1
            ));
        }
        if !full {
            return None;
        }
        let later = self.plan.steps.iter().enumerate().skip(k + 1);
        later
            .filter(|(_, s)| s.approvals.is_some())
            .map(|(i, s)| {
                format!(
                    "step {} ({}) needs approvals; promote to full cannot skip them: promote step by step",
                    i + 1,
                    s.name
                )
            })
            .next()
    }

    /// Why `actor` cannot approve the current step at `now`.
    fn approver_refusal(&self, actor: &Actor, now: Timestamp) -> Option<String> {
        self.approvals_view(now)?.refusal(actor)
    }

    /// An `Approve` in `AwaitingApproval` on a step with `approvals`:
    /// record it (or refuse it, saying who can), and advance once enough
    /// fresh approvals are in. Returns false when the step has no
    /// `approvals` (one approval advances, as before).
    pub(super) fn approve_counted(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) -> bool {
        let (Phase::AwaitingApproval { step: k }, Some(spec)) =
            (&self.phase, self.step_approvals().cloned())
        else {
            return false;
        };
        let k = *k;
        if let Some(why) = self.approver_refusal(actor, now) {
            let detail = json!({ "command": "approve", "reason": reason });
            self.journal(out, DecisionKind::Refused, actor, why, detail);
            return true;
        }
        // An expired approval by the same person is replaced.
        self.approvals
            .retain(|g| !(g.step == k && g.user == actor.user));
        self.approvals.push(Given {
            step: k,
            user: actor.user.clone(),
            at: now,
            lapsed: false,
        });
        let have = self.fresh(now).len() as u32;
        let detail = json!({
            "step": k,
            "approvals": have,
            "need": spec.count,
            "expires_ms": spec.expires_ms,
            // A changed plan invalidates it (see `resume.rs`).
            "plan_hash": super::decision::plan_hash(&self.plan),
        });
        let text = format!("{}: {reason}", counted(have, spec.count));
        self.journal(out, DecisionKind::Approval, actor, text, detail);
        if have >= spec.count {
            let by: Vec<String> = self.fresh(now).iter().map(|g| g.user.clone()).collect();
            let reason = format!("{} of {} approvals ({})", have, spec.count, by.join(", "));
            let detail = json!({ "approved_by": by, "step": k });
            self.advance_from(k, DecisionKind::Approve, actor, reason, detail, now, out);
        }
        true
    }

    /// The current step's approvals for the view.
    pub(super) fn approvals_view(&self, now: Timestamp) -> Option<ApprovalsView> {
        let spec = self.step_approvals()?;
        let fresh = self.fresh(now);
        let approved: Vec<(String, Timestamp)> =
            fresh.iter().map(|g| (g.user.clone(), g.at)).collect();
        let can = spec
            .from
            .iter()
            .filter(|f| !approved.iter().any(|(u, _)| u == *f))
            .filter(|f| spec.allow_self || self.driver.as_deref() != Some(f.as_str()))
            .cloned()
            .collect();
        Some(ApprovalsView {
            approved,
            need: spec.count,
            can,
            from: spec.from.clone(),
            allow_self: spec.allow_self,
            driver: self.driver.clone(),
        })
    }
}

/// How far a step's approvals are: "1 of 2 approvals" (never more than
/// needed). The cockpit, the journal and the summary say it this way.
pub fn counted(have: u32, need: u32) -> String {
    format!("{} of {need} approvals", have.min(need))
}

/// Whether approval `g` no longer counts at `now` under `spec`.
fn expired(spec: &ApprovalSpec, g: &Given, now: Timestamp) -> bool {
    spec.expires().is_some_and(|e| now.since(g.at) >= e)
}

impl Engine {
    /// On a tick: journal, once each, the approvals of the step still
    /// waiting for them that lapsed by `now` ("bob's approval of step 3
    /// expired after 30m; 1 more needed from carol, @deployers"). An
    /// approval of a step already left lapses silently: it no longer
    /// mattered.
    pub(super) fn expire_approvals(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let waiting = matches!(
            self.phase,
            Phase::Holding { .. } | Phase::AwaitingApproval { .. } | Phase::Paused { .. }
        );
        let (true, Some(k), Some(spec)) = (waiting, self.step, self.step_approvals().cloned())
        else {
            return;
        };
        let lapsed: Vec<usize> = (self.approvals.iter().enumerate())
            .filter(|(_, g)| g.step == k && !g.lapsed && expired(&spec, g, now))
            .map(|(i, _)| i)
            .collect();
        for i in lapsed {
            self.approvals[i].lapsed = true;
            let g = self.approvals[i].clone();
            let Some(v) = self.approvals_view(now) else {
                return;
            };
            let after = spec
                .expires()
                .map(super::words::duration)
                .unwrap_or_default();
            let reason = format!(
                "{}'s approval of step {} expired after {after}; {} more needed from {}",
                g.user,
                k + 1,
                v.missing(),
                v.can.join(", ")
            );
            let detail = json!({
                "step": k,
                "user": g.user,
                "approved_at": g.at,
                "expires_ms": spec.expires_ms,
                "approvals": v.approved.len(),
                "need": spec.count,
            });
            self.journal(
                out,
                DecisionKind::ApprovalExpired,
                &Actor::system(),
                reason,
                detail,
            );
        }
    }
}

impl Engine {
    /// On a resume: keep the journal's approvals given under this plan
    /// (`plan_hash`); returns those given under another, which no longer
    /// count (a changed plan invalidates them).
    pub(super) fn restore_approvals(
        &mut self,
        p: &super::resume::ResumePoint,
        plan_hash: &str,
    ) -> Vec<Given> {
        let mut dropped = Vec::new();
        self.approvals.clear();
        for (step, user, at, under) in &p.approvals {
            let given = Given {
                step: *step,
                user: user.clone(),
                at: *at,
                lapsed: false,
            };
            // Records from before the plan hash was kept count as before.
            if under.as_deref().is_none_or(|h| h == plan_hash) {
                self.approvals.push(given);
            } else {
                dropped.push(given);
            }
        }
        dropped
    }

    /// The `approvals_invalidated` record for approvals `dropped` on a
    /// resume because the plan changed since they were given.
    pub(super) fn journal_dropped_approvals(&mut self, dropped: Vec<Given>, out: &mut Vec<Effect>) {
        if dropped.is_empty() {
            return;
        }
        let who: Vec<String> = dropped
            .iter()
            .map(|g| format!("{} (step {})", g.user, g.step + 1))
            .collect();
        let reason = format!(
            "the plan changed since {} approved: approvals given under another plan do not count; ask again",
            who.join(", ")
        );
        let list: Vec<serde_json::Value> = dropped
            .iter()
            .map(|g| json!({ "step": g.step, "user": g.user, "approved_at": g.at }))
            .collect();
        let detail = json!({
            "dropped": list,
            "plan_hash": super::decision::plan_hash(&self.plan),
        });
        self.journal(
            out,
            DecisionKind::ApprovalsInvalidated,
            &Actor::system(),
            reason,
            detail,
        );
    }
}

impl Engine {
    /// Why an approval naming step `step` (0-based) does not count now: the
    /// rollout is at another step (an approval is of one step, never the
    /// next). `None` when `step` is the current step.
    pub fn approve_step_refusal(&self, step: usize) -> Option<String> {
        match self.step {
            Some(k) if k == step => None,
            Some(k) => Some(format!(
                "this approval names step {} but the rollout is at step {} ({}); an approval of \
                 one step never counts for another: approve step {} if you mean it",
                step + 1,
                k + 1,
                self.plan.steps.get(k).map_or("", |s| s.name.as_str()),
                k + 1
            )),
            None => Some(format!(
                "this approval names step {} but the rollout has not entered a step yet",
                step + 1
            )),
        }
    }

    /// An approval of step `step` by number: refused (and journaled) when
    /// it is not the current step, else an `Approve` as any other.
    pub(super) fn on_approve_step(
        &mut self,
        step: usize,
        actor: Actor,
        reason: String,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        let reason = super::reason::clean_reason(reason);
        if let Some(why) = self.approve_step_refusal(step) {
            let detail = json!({ "command": "approve", "step": step, "reason": reason });
            self.journal(out, DecisionKind::Refused, &actor, why, detail);
            return;
        }
        self.on_command(super::types::Command::Approve, actor, reason, now, out);
    }
}

/// "approved by alice (12:03:10); 1 more from bob, @deployers"
pub fn approvals_line(v: &ApprovalsView) -> String {
    approvals_parts(v).join("; ")
}

/// The parts of [`approvals_line`], for a view that puts each on its own
/// line when the whole does not fit.
pub fn approvals_parts(v: &ApprovalsView) -> Vec<String> {
    let mut parts = Vec::new();
    if v.approved.is_empty() {
        parts.push(counted(0, v.need));
    } else {
        let who: Vec<String> = v
            .approved
            .iter()
            .map(|(u, at)| format!("{u} ({})", time_of_day(*at)))
            .collect();
        parts.push(format!("approved by {}", who.join(", ")));
    }
    let missing = v.missing();
    if missing > 0 {
        parts.push(format!("{missing} more from {}", v.can.join(", ")));
    }
    parts
}

#[cfg(test)]
#[path = "approvals_tests.rs"]
mod tests;

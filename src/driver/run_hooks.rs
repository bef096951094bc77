//! Running the hooks the engine asks for, and chat notifications.

use super::Driver;
use crate::engine::HookCall;
use crate::hooks::{self, HookVars};
use crate::plan::HookKind;

impl Driver {
    /// A notice to chat, with the journal's record count and head so far
    /// (its first 16 hex digits), so a head is kept outside the journal.
    pub(super) fn notify(&mut self, text: String) {
        self.notify_head(text, false);
    }

    /// [`Self::notify`]; `full_head` gives all 64 hex digits (the last
    /// notice of a rollout: what `rampdeck verify --expect-head` checks).
    pub(super) fn notify_head(&mut self, text: String, full_head: bool) {
        let Some(var) = self.setup.plan.notify.slack_webhook_env.clone() else {
            return;
        };
        let Ok(url) = std::env::var(&var) else {
            return;
        };
        let service = self.setup.plan.rollout.service.clone();
        let head = self.journal.head();
        let head = if full_head {
            head
        } else {
            head.get(..16).unwrap_or(head)
        };
        let closed = if self.journal.is_closed() {
            ", closed"
        } else {
            ""
        };
        let text = format!(
            "[{service}] {text} (journal: {} records{closed}, head {head})",
            self.journal.last_seq()
        );
        let text = self.redactor.text(&text).into_owned();
        // Kept until sent: the driver waits for notices in flight before
        // it ends, so the last one (with the whole head) is not lost.
        self.notifying.retain(|h| !h.is_finished());
        self.notifying.push(tokio::spawn(async move {
            let _ = hooks::notify_slack(&url, &text).await;
        }));
    }

    pub(super) fn spawn_hook(&mut self, call: HookCall) {
        let plan = self.setup.plan.clone();
        let hook = match call.kind {
            HookKind::OnStepEnter => plan.hooks.on_step_enter.get(call.index).cloned(),
            k => plan.hooks.get(k).cloned(),
        };
        let tx = self.hook_tx.clone();
        let id = call.id;
        self.hooks_running.insert(id, call.kind);
        let Some(hook) = hook else {
            // The engine only asks for configured hooks; answer rather than
            // leave it waiting if that ever changes.
            let outcome = crate::engine::HookOutcome {
                ok: true,
                code: None,
                summary: "no hook configured".into(),
                stdout: String::new(),
                stderr: String::new(),
                attempts: 0,
                duration_ms: 0,
            };
            tokio::spawn(async move {
                let _ = tx.send((id, outcome)).await;
            });
            return;
        };
        let vars = HookVars {
            service: plan.rollout.service.clone(),
            rollout_id: self.setup.rollout_id.clone(),
            step: call.step + 1,
            weight: call.weight,
            actor: call.actor.user.clone(),
            // Cut to what a hook can take, never refused: a reason's
            // size must not stop a rollback.
            reason: crate::engine::reason::reason_for_hooks(&call.reason),
            batch: call.step + 1,
            instances: plan
                .steps
                .get(call.step)
                .and_then(|s| s.instances)
                .unwrap_or(0),
            cohort_name: plan
                .steps
                .get(call.step)
                .and_then(|s| s.cohort.clone())
                .unwrap_or_default(),
        };
        let cancel = self.cancel_tx.subscribe();
        tokio::spawn(async move {
            let outcome = match vars.validate() {
                Ok(()) => hooks::run(&hook, &vars, cancel).await,
                Err(e) => crate::engine::HookOutcome {
                    ok: false,
                    code: None,
                    summary: format!("not run: {e}"),
                    stdout: String::new(),
                    stderr: String::new(),
                    attempts: 0,
                    duration_ms: 0,
                },
            };
            let _ = tx.send((id, outcome)).await;
        });
    }
}

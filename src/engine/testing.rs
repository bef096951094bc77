//! Helpers the engine's own tests share: the decision kinds a batch of
//! effects journals, and answering every hook at once.

use super::rollout::Engine;
use super::types::{DecisionKind, Effect, HookOutcome, Input, Timestamp};

/// The kinds of the decisions `effects` journal, in order.
pub fn kinds(effects: &[Effect]) -> Vec<DecisionKind> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Journal(d) => Some(d.action.clone()),
            _ => None,
        })
        .collect()
}

/// Answer every hook the effects ask for (each succeeds at once), and the
/// hooks those answers ask for, until none is left.
pub fn settle(e: &mut Engine, mut pending: Vec<Effect>, now: Timestamp) {
    loop {
        let calls: Vec<u64> = pending
            .iter()
            .filter_map(|x| match x {
                Effect::RunHook(c) => Some(c.id),
                _ => None,
            })
            .collect();
        if calls.is_empty() {
            return;
        }
        pending = calls
            .into_iter()
            .flat_map(|id| {
                let outcome = HookOutcome::succeeded("exit 0");
                e.handle(Input::HookResult { id, outcome }, now)
            })
            .collect();
    }
}

//! Building decision records: every decision carries the step, confirmed
//! weight, resulting phase and every gate's numbers at that moment.

use serde_json::{Value, json};

use crate::plan::{GateKind, Plan};

use std::collections::VecDeque;
use std::sync::Arc;

use super::types::{Decision, Effect, Notice, Phase};

/// How many decisions `EngineView::recent` keeps.
pub const RECENT_DECISIONS: usize = 200;

/// The decisions a view shows, newest last, at most [`RECENT_DECISIONS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent(VecDeque<Arc<Decision>>);

impl Recent {
    pub fn push(&mut self, d: Decision) {
        if self.0.len() == RECENT_DECISIONS {
            self.0.pop_front();
        }
        self.0.push_back(Arc::new(d));
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Decision>> {
        self.0.iter()
    }
}

/// The effects of a decision taken now: its journal record, and a notice
/// when its kind is one humans want to hear about.
pub fn effects(plan: &Plan, d: &Decision, phase: &Phase, out: &mut Vec<Effect>) {
    out.push(Effect::Journal(Box::new(d.clone())));
    if d.action.notifies() {
        let text = notice_text(plan, d, phase);
        out.push(Effect::Notify(Notice { text }));
    }
}

fn notice_text(plan: &Plan, d: &Decision, phase: &Phase) -> String {
    let step = match d.step.and_then(|i| plan.steps.get(i).map(|s| (i, s))) {
        Some((i, s)) => format!("step {} '{}'", i + 1, s.name),
        None => "before the first step".into(),
    };
    let mut text = format!(
        "{}: {} by {} at {step}, {} % ({})",
        plan.rollout.service,
        d.action,
        d.actor.user,
        d.weight,
        super::words::phase_in_text(phase)
    );
    if !d.reason.is_empty() {
        text.push_str(": ");
        text.push_str(&d.reason);
    }
    // The change ticket, so a chat line leads to the change it is part of.
    if let Some(t) = &plan.rollout.ticket {
        text.push_str(" · ticket ");
        text.push_str(&t.id);
        if let Some(url) = &t.url {
            text.push_str(&format!(" ({url})"));
        }
    }
    text
}

/// The plan in a few lines of JSON for the `rollout_started` record, so the
/// journal alone says what was meant to happen.
pub fn plan_summary(plan: &Plan) -> Value {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "weight": s.weight,
                "hold_ms": s.hold.as_millis() as u64,
                "gate": match s.gate { GateKind::Auto => "auto", GateKind::Manual => "manual" },
                "owner": s.owner,
            })
        })
        .collect();
    let metrics: Vec<Value> = plan
        .metrics
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "limit": m.threshold.limit,
                "ratio": m.threshold.ratio,
                "delta": m.threshold.delta,
                "min_samples": m.min_samples,
                "no_data": { "action": m.no_data.action, "after": m.no_data.after },
            })
        })
        .collect();
    let triggers: Vec<Value> = plan
        .triggers
        .iter()
        .map(|t| {
            json!({
                "name": t.name, "metric": t.metric,
                "consecutive": t.consecutive, "action": t.action,
            })
        })
        .collect();
    let h = &plan.hooks;
    let mut hooks: Vec<&str> = Vec::new();
    for (present, name) in [
        (h.set_weight.is_some(), "set_weight"),
        (h.promote.is_some(), "promote"),
        (h.pause.is_some(), "pause"),
        (h.resume.is_some(), "resume"),
        (h.rollback.is_some(), "rollback"),
        (!h.on_step_enter.is_empty(), "on_step_enter"),
        (h.on_finish.is_some(), "on_finish"),
    ] {
        if present {
            hooks.push(name);
        }
    }
    json!({
        "service": plan.rollout.service,
        "strategy": plan.rollout.strategy.as_str(),
        "ticket": plan.rollout.ticket.as_ref().map(|t| t.id.clone()),
        "unattended": plan.rollout.unattended,
        "steps": steps,
        "metrics": metrics,
        "triggers": triggers,
        "hooks": hooks,
        // The whole plan (it holds no secrets, only variable names), so the
        // journal alone is enough for the post-deploy summary and an audit.
        "plan": serde_json::to_value(plan).unwrap_or(Value::Null),
        "plan_hash": plan_hash(plan),
    })
}

/// The plan's fingerprint: SHA-256 (hex) of its JSON, as the
/// `rollout_started` record keeps it under `plan`. Approvals are given
/// under one plan; a resume under another does not count them.
pub fn plan_hash(plan: &Plan) -> String {
    plan_value_hash(&serde_json::to_value(plan).unwrap_or(Value::Null))
}

/// [`plan_hash`] of a plan already in JSON (an older journal's
/// `rollout_started` record, written before the hash was).
pub fn plan_value_hash(plan: &Value) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(plan.to_string().as_bytes()))
}

/// One line for the `rollout_started` reason: "canary of checkout: 5 steps,
/// 0 → 100 %".
pub fn plan_line(plan: &Plan) -> String {
    let first = plan.steps.first().map(|s| s.weight).unwrap_or(0);
    let last = plan.steps.last().map(|s| s.weight).unwrap_or(100);
    format!(
        "{} of {}: {} steps, {first} → {last} %",
        plan.rollout.strategy.as_str(),
        plan.rollout.service,
        plan.steps.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::types::{Actor, DecisionKind, PhaseKind};

    #[test]
    fn notices_name_the_change_ticket_with_its_link() {
        let mut plan = crate::tui::fixtures::plan();
        plan.rollout.ticket = Some(crate::plan::Ticket {
            id: "CHG-4821".into(),
            url: Some("https://tickets.example.com/CHG-4821".into()),
        });
        let d = Decision {
            action: DecisionKind::Promoted,
            actor: Actor::system(),
            reason: "100 % on the new version".into(),
            step: Some(4),
            weight: 100,
            phase: PhaseKind::Promoted,
            gates: vec![],
            hook: None,
            detail: Value::Null,
            at: None,
        };
        let mut out = Vec::new();
        effects(&plan, &d, &Phase::Promoted, &mut out);
        let text = out.iter().find_map(|e| match e {
            Effect::Notify(n) => Some(n.text.clone()),
            _ => None,
        });
        let text = text.unwrap_or_default();
        assert!(
            text.ends_with("· ticket CHG-4821 (https://tickets.example.com/CHG-4821)"),
            "{text}"
        );
        plan.rollout.ticket = None;
        let mut out = Vec::new();
        effects(&plan, &d, &Phase::Promoted, &mut out);
        assert!(out.iter().all(|e| match e {
            Effect::Notify(n) => !n.text.contains("ticket"),
            _ => true,
        }));
    }
}

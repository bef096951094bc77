//! Rollout states and decisions in words, for headless lines and notices.

use crate::engine::{Decision, Verdict};
use crate::snapshot::SourceState;

pub(super) fn state_word(s: SourceState) -> &'static str {
    match s {
        SourceState::Unknown => "unknown",
        SourceState::Up => "up",
        SourceState::NoData => "no data",
        SourceState::Stale => "stale",
        SourceState::Erroring => "erroring",
    }
}

/// One line for a journal decision.
pub fn decision_text(d: &Decision, steps: usize) -> String {
    let mut s = format!("{} by {}", d.action, d.actor.user);
    if !d.reason.is_empty() {
        s.push_str(&format!(": {}", d.reason));
    }
    if let Some(step) = d.step {
        s.push_str(&format!(" [step {}/{steps}, {} %]", step + 1, d.weight));
    }
    if let Some(h) = &d.hook
        && let Some(o) = &h.outcome
        && !d.reason.contains(&o.summary)
    {
        let ok = if o.ok { "ok" } else { "FAILED" };
        s.push_str(&format!(" — {} {ok}: {}", h.kind.as_str(), o.summary));
    }
    let breaches: Vec<String> = d
        .gates
        .iter()
        .filter(|g| g.verdict != Verdict::Pass)
        .map(|g| format!("{} {} ({})", g.metric, g.verdict.as_str(), g.detail))
        .collect();
    if !breaches.is_empty() && !d.action.is_hook() {
        s.push_str(&format!(" | {}", breaches.join("; ")));
    }
    s
}

//! The data-health lane: the health of every query (metric × cohort) of
//! every source, debounced, summed up per source; and the record of it.
//!
//! A query's state changes only when the new state held for
//! [`DEBOUNCE_POLLS`] polls in a row (its very first state counts at once),
//! so one query returning no data while another returns data never makes
//! a source flip every poll. A source is as healthy as its least healthy
//! query. Each change of a source's state (the first one too) is emitted to
//! views and headless output and journaled as `source_state`, with the
//! query and the error text, so an outage leaves a trace in the journal.

use super::DriverError;
use std::collections::HashMap;

use serde_json::json;
use tokio::sync::mpsc;

use super::words::state_word;
use super::{Driver, wall_now};
use crate::engine::{Actor, Cohort, DecisionKind, Input, Reading, Timestamp};
use crate::snapshot::SourceState;
use crate::sources::SampleMsg;

/// The most samples judged in one go before the views hear of them (and
/// before a waiting command is looked at again).
const SAMPLE_BATCH: usize = 32;

/// Polls in a row a query's new state must hold before it counts.
pub const DEBOUNCE_POLLS: u32 = 2;

/// What one poll of a query said.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    state: SourceState,
    degraded: bool,
    /// The error, the reason for no data, or the warnings.
    text: Option<String>,
}

impl Seen {
    fn of(reading: &Reading) -> Seen {
        match reading {
            Reading::Value { warnings, .. } => Seen {
                state: SourceState::Up,
                degraded: !warnings.is_empty(),
                text: (!warnings.is_empty()).then(|| warnings.join("; ")),
            },
            Reading::NoData { why } => Seen {
                state: SourceState::NoData,
                degraded: false,
                text: Some(why.clone()),
            },
            Reading::ProviderError { message, .. } => Seen {
                state: SourceState::Erroring,
                degraded: false,
                text: Some(message.clone()),
            },
        }
    }

    /// Worse first: an error, then no data, then degraded, then up.
    fn rank(&self) -> u8 {
        match (self.state, self.degraded) {
            (SourceState::Erroring | SourceState::Stale, _) => 4,
            (SourceState::NoData, _) => 3,
            (_, true) => 2,
            (SourceState::Up, false) => 1,
            (SourceState::Unknown, false) => 0,
        }
    }

    /// The same state as far as the record goes (the text may vary).
    fn same(&self, other: &Seen) -> bool {
        self.state == other.state && self.degraded == other.degraded
    }
}

/// One query's debounced health.
#[derive(Debug, Clone, Default)]
pub(super) struct QueryHealth {
    committed: Option<Seen>,
    pending: Option<(Seen, u32)>,
}

impl QueryHealth {
    /// Takes one poll's state; true when the committed state changed.
    fn observe(&mut self, seen: Seen) -> bool {
        match &self.committed {
            None => {
                self.committed = Some(seen);
                self.pending = None;
                return true;
            }
            Some(c) if c.same(&seen) => {
                // Same state: keep the newest words, forget a pending change.
                self.committed = Some(seen);
                self.pending = None;
                return false;
            }
            Some(_) => {}
        }
        let count = match &self.pending {
            Some((p, n)) if p.same(&seen) => n + 1,
            _ => 1,
        };
        if count >= DEBOUNCE_POLLS {
            self.committed = Some(seen);
            self.pending = None;
            true
        } else {
            self.pending = Some((seen, count));
            false
        }
    }
}

/// Per source, per (metric, cohort): the health of each query.
pub(super) type Queries = HashMap<String, HashMap<(String, Cohort), QueryHealth>>;

fn query_name(metric: &str, cohort: Cohort) -> String {
    match cohort {
        Cohort::Canary => metric.to_string(),
        Cohort::Baseline => format!("{metric} (baseline)"),
    }
}

impl Driver {
    /// Judges `first`, then the samples already queued behind it: a poll
    /// round's answers arrive together, and the views then get one
    /// snapshot for them all rather than one each. It stops at
    /// [`SAMPLE_BATCH`], or as soon as a command waits (`command_waits`:
    /// this terminal's or an attached view's): commands still go first.
    pub(super) fn on_samples(
        &mut self,
        first: SampleMsg,
        queued: &mut mpsc::Receiver<SampleMsg>,
        command_waits: impl Fn() -> bool,
    ) -> Result<(), DriverError> {
        self.on_sample(first)?;
        for _ in 1..SAMPLE_BATCH {
            if command_waits() {
                break;
            }
            let Ok(msg) = queued.try_recv() else { break };
            self.on_sample(msg)?;
        }
        Ok(())
    }

    pub(super) fn on_sample(&mut self, msg: SampleMsg) -> Result<(), DriverError> {
        // A source echoing request headers in its error puts no secret in
        // the gates, the lane, the views or the journal.
        let mut msg = msg;
        self.redactor.reading(&mut msg.reading);
        self.last_poll.insert(msg.source.clone(), msg.at);
        if !self.filter.accept_msg(&msg) {
            return Ok(());
        }
        self.update_health(&msg)?;
        self.series_dirty = true;
        self.apply(
            Input::Sample {
                metric: msg.metric,
                cohort: msg.cohort,
                reading: msg.reading,
            },
            msg.at.max(wall_now()),
        )
    }

    fn update_health(&mut self, msg: &SampleMsg) -> Result<(), DriverError> {
        self.dirty = true;
        let seen = Seen::of(&msg.reading);
        let queries = self.queries.entry(msg.source.clone()).or_default();
        let changed = queries
            .entry((msg.metric.clone(), msg.cohort))
            .or_default()
            .observe(seen);
        if let Some(h) = self.sources.iter_mut().find(|h| h.name == msg.source) {
            h.latency_ms = Some(msg.latency_ms);
            if matches!(msg.reading, Reading::Value { .. } | Reading::NoData { .. }) {
                h.last_ok = Some(msg.at);
            }
        }
        if changed {
            self.summarize_source(&msg.source, msg.at)?;
        }
        Ok(())
    }

    /// Recomputes a source's lane entry from its queries; a change of its
    /// state is emitted and journaled.
    fn summarize_source(&mut self, source: &str, at: Timestamp) -> Result<(), DriverError> {
        let Some(queries) = self.queries.get(source) else {
            return Ok(());
        };
        let mut committed: Vec<(String, &Seen)> = queries
            .iter()
            .filter_map(|((m, c), q)| q.committed.as_ref().map(|s| (query_name(m, *c), s)))
            .collect();
        committed.sort_by(|a, b| b.1.rank().cmp(&a.1.rank()).then(a.0.cmp(&b.0)));
        let Some((worst_query, worst)) = committed.first() else {
            return Ok(());
        };
        let bad = committed.iter().filter(|(_, s)| s.rank() > 1).count();
        let total = committed.len();
        let (state, degraded) = (worst.state, worst.degraded);
        let problem = worst.text.as_ref().map(|t| {
            if total > 1 && bad < total {
                format!("{worst_query}: {t} ({bad} of {total} queries)")
            } else if total > 1 {
                format!("{worst_query}: {t}")
            } else {
                t.clone()
            }
        });
        let Some(h) = self.sources.iter_mut().find(|h| h.name == source) else {
            return Ok(());
        };
        let before = (h.state, h.degraded);
        h.state = state;
        h.degraded = degraded;
        h.warning = degraded.then(|| problem.clone()).flatten();
        h.last_error = match state {
            SourceState::Up => None,
            _ => problem.clone(),
        };
        if before == (state, degraded) {
            return Ok(());
        }
        self.source_changed(source, before, (state, degraded), problem, at)
    }

    /// Emits and journals a change of a source's state.
    fn source_changed(
        &mut self,
        source: &str,
        (from, from_degraded): (SourceState, bool),
        (to, to_degraded): (SourceState, bool),
        problem: Option<String>,
        at: Timestamp,
    ) -> Result<(), DriverError> {
        let word = |s: SourceState, d: bool| {
            if d && s == SourceState::Up {
                "degraded"
            } else {
                state_word(s)
            }
        };
        let (from_w, to_w) = (word(from, from_degraded), word(to, to_degraded));
        let text = format!(
            "source {source}: {from_w} → {to_w}{}",
            problem
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        );
        let detail = json!({
            "source": source,
            "from": from_w,
            "to": to_w,
            "problem": problem,
        });
        self.emit(at, "source", text.clone(), detail.clone());
        self.record(DecisionKind::SourceState, &Actor::system(), &text, detail)
    }

    pub(super) fn refresh_staleness(&mut self, now: Timestamp) -> Result<(), DriverError> {
        let plan = self.setup.plan.clone();
        let mut stale = Vec::new();
        for h in self.sources.iter_mut() {
            let Some(src) = plan.source(&h.name) else {
                continue;
            };
            let limit = src.interval * 2 + src.timeout;
            let last = self.last_poll.get(&h.name).copied();
            let since = now.since(last.unwrap_or(self.started));
            if since > limit && h.state != SourceState::Stale {
                let before = (h.state, h.degraded);
                h.state = SourceState::Stale;
                h.degraded = false;
                let why = format!("no answer for {} s", since.as_secs());
                h.last_error = Some(why.clone());
                self.dirty = true;
                stale.push((h.name.clone(), before, why));
            }
        }
        for (name, before, why) in stale {
            // The queries start over: the next answer is a change again.
            self.queries.remove(&name);
            self.source_changed(&name, before, (SourceState::Stale, false), Some(why), now)?;
        }
        Ok(())
    }
}

/// A fresh lane entry for a source.
#[cfg(test)]
mod tests {
    use super::*;

    fn up() -> Seen {
        Seen::of(&Reading::value(1.0))
    }

    fn err() -> Seen {
        Seen::of(&Reading::ProviderError {
            message: "down".into(),
            code: None,
        })
    }

    #[test]
    fn the_first_state_counts_and_a_change_must_hold_two_polls() {
        let mut q = QueryHealth::default();
        assert!(q.observe(err()), "the first state is a change");
        assert!(!q.observe(up()), "one poll is not enough");
        assert!(!q.observe(err()), "back: the pending change is dropped");
        assert!(!q.observe(up()));
        assert!(q.observe(up()), "two polls in a row");
        assert!(!q.observe(up()));
    }

    #[test]
    fn flapping_every_poll_never_changes_the_state() {
        let mut q = QueryHealth::default();
        q.observe(up());
        let changes = (0..100)
            .filter(|i| q.observe(if i % 2 == 0 { err() } else { up() }))
            .count();
        assert_eq!(changes, 0);
    }
}

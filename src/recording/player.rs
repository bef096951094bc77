//! Replay: a recording's inputs fed again to a fresh engine under the
//! recorded plan, so every state the cockpit showed comes back, at any
//! moment, with no clock: the caller says which moment.
//!
//! Seeking forward applies the entries up to the moment; seeking back
//! starts again from the first entry (the engine is pure and fast: see
//! BENCHMARKS.md, "Replay").

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::format::{Entry, Recording};
use crate::engine::types::{Effect, Input, Reading};
use crate::engine::{Decision, Engine, Timestamp};
use crate::plan::Plan;
use crate::snapshot::{Snapshot, SourceHealth, SourceState};

/// Where a replay stands, for the cockpit's header and footer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayView {
    /// The recording's first and last moments.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Playing (else paused) and how fast: 4.0 plays 4 s a second.
    pub playing: bool,
    pub speed: f64,
    /// The decisions replayed up to now.
    pub decisions_seen: usize,
}

/// What a replay key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayControl {
    PlayPause,
    NextDecision,
    PreviousDecision,
    /// Seek by this many seconds (negative: back).
    Seek(i64),
    Faster,
    Slower,
}

/// A recording being replayed.
#[derive(Debug, Clone)]
pub struct Player {
    plan: Arc<Plan>,
    rollout_id: String,
    entries: Arc<Vec<Entry>>,
    engine: Engine,
    /// Entries applied so far.
    cursor: usize,
    /// The moment shown.
    at: Timestamp,
    /// The decisions the replayed engine journaled, in order.
    decisions: Vec<Decision>,
    /// Per plan source, what its latest reading said.
    sources: Vec<SourceHealth>,
    /// Who drove: the starter, then whoever the presence inputs name.
    driver: Option<String>,
}

impl Player {
    /// A player at the recording's first moment, nothing applied yet.
    pub fn new(rec: Recording) -> Player {
        let plan = Arc::new(rec.header.plan);
        let at = rec.entries.first().map_or(rec.header.started, |e| e.t);
        Player {
            sources: unknown_sources(&plan),
            engine: Engine::new(Arc::clone(&plan)),
            plan,
            rollout_id: rec.header.rollout_id,
            entries: Arc::new(rec.entries),
            cursor: 0,
            at,
            decisions: Vec::new(),
            driver: None,
        }
    }

    /// The first and last moments of the recording.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let first = self.entries.first().map_or(self.at, |e| e.t);
        let last = self.entries.last().map_or(self.at, |e| e.t);
        (first, last)
    }

    /// The moment shown.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The plan the recording ran.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The decisions the replay has journaled so far, in order.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Show moment `t` (clamped to the recording): every entry up to and
    /// including `t` applied, none after.
    pub fn seek(&mut self, t: Timestamp) {
        let (first, last) = self.span();
        let t = t.clamp(first, last);
        if t < self.at || (t == self.at && self.cursor > 0 && self.entries[self.cursor - 1].t > t) {
            self.restart();
        }
        while let Some(e) = self.entries.get(self.cursor) {
            if e.t > t {
                break;
            }
            let e = e.clone();
            self.apply(e);
            self.cursor += 1;
        }
        self.at = t;
    }

    /// The moment of the next entry that journals a decision after the
    /// one shown, if there is one (applies entries up to it).
    pub fn next_decision(&mut self) -> Option<Timestamp> {
        let seen = self.decisions.len();
        while let Some(e) = self.entries.get(self.cursor).cloned() {
            self.apply(e.clone());
            self.cursor += 1;
            self.at = e.t;
            if self.decisions.len() > seen {
                // The rest of this moment belongs to it too.
                self.seek(e.t);
                return Some(e.t);
            }
        }
        None
    }

    /// The moment of the last decision before the one shown (the player
    /// seeks there), if there is one.
    pub fn previous_decision(&mut self) -> Option<Timestamp> {
        let before = self
            .decisions
            .iter()
            .rev()
            .find_map(|d| d.at.filter(|&at| at < self.at));
        let t = before?;
        self.seek(t);
        Some(t)
    }

    /// Whether every entry has been applied.
    pub fn at_end(&self) -> bool {
        self.cursor >= self.entries.len()
    }

    fn restart(&mut self) {
        self.engine = Engine::new(Arc::clone(&self.plan));
        self.cursor = 0;
        self.decisions.clear();
        self.sources = unknown_sources(&self.plan);
        self.driver = None;
        self.at = self.span().0;
    }

    fn apply(&mut self, e: Entry) {
        match &e.input {
            // A restart after a crash: the driver began again with a fresh
            // engine resumed from the journal.
            Input::Resume { actor, .. } => {
                self.engine = Engine::new(Arc::clone(&self.plan));
                self.driver = Some(actor.user.clone());
            }
            Input::Start { actor } => self.driver = Some(actor.user.clone()),
            Input::OperatorPresence { attached, actor } => {
                self.driver = attached.then(|| actor.user.clone());
            }
            Input::Sample {
                metric, reading, ..
            } => self.saw(metric, reading, e.t),
            _ => {}
        }
        for effect in self.engine.handle(e.input, e.t) {
            if let Effect::Journal(mut d) = effect {
                d.at.get_or_insert(e.t);
                self.decisions.push(*d);
            }
        }
    }

    /// The data-health lane from the readings: the latest of each source.
    fn saw(&mut self, metric: &str, reading: &Reading, t: Timestamp) {
        let Some(source) = self.plan.metric(metric).map(|m| m.source.clone()) else {
            return;
        };
        let Some(s) = self.sources.iter_mut().find(|s| s.name == source) else {
            return;
        };
        match reading {
            Reading::Value {
                degraded, warnings, ..
            } => {
                s.state = SourceState::Up;
                s.last_ok = Some(t);
                s.last_error = None;
                s.degraded = *degraded;
                s.warning = warnings.first().cloned();
            }
            Reading::NoData { .. } => {
                s.state = SourceState::NoData;
                s.last_ok = Some(t);
            }
            Reading::ProviderError { message, .. } => {
                s.state = SourceState::Erroring;
                s.last_error = Some(message.clone());
            }
        }
    }

    /// What the cockpit showed at the moment shown, as a snapshot of
    /// `version` (views redraw when it changes), naming the rollout's
    /// journal and summary.
    pub fn snapshot(
        &self,
        version: u64,
        journal_path: &str,
        summary_path: Option<String>,
        replay: ReplayView,
    ) -> Snapshot {
        Snapshot {
            version,
            rollout_id: self.rollout_id.clone(),
            plan: Arc::clone(&self.plan),
            engine: self.engine.view(self.at),
            series: Arc::new(self.engine.series().to_vec()),
            sources: self.sources.clone(),
            driver: self.driver.clone(),
            watchers: 0,
            now: self.at,
            journal_path: journal_path.to_string(),
            summary_path: summary_path.filter(|_| self.engine.phase().is_terminal()),
            warnings: Vec::new(),
            replay: Some(replay),
            // The ramp's past rollouts are the live start's reading of the
            // journals; a replay shows the rollout itself.
            history: Default::default(),
        }
    }
}

fn unknown_sources(plan: &Plan) -> Vec<SourceHealth> {
    plan.sources
        .iter()
        .map(|s| SourceHealth::unknown(&s.name, s.kind.name()))
        .collect()
}

//! The driver's journaling, and how a rollout's journal ends: every record
//! goes through [`Driver::append`], which writes nothing once
//! `rollout_ended` closed the journal; when the rollout is over the driver
//! closes it, writes the summary and tells chat the head.

use super::DriverError;
use std::path::PathBuf;

use super::{Driver, wall_now};
use crate::engine::words::phase_sentence;
use crate::engine::{Actor, Decision, DecisionKind, Phase, Timestamp};

impl Driver {
    /// Appends a decision to the journal and tells views. Once the journal
    /// is closed (`rollout_ended`), nothing more is journaled: a later
    /// refusal, a viewer or the driver's stop is shown, not kept, so a
    /// record after the end always means it was added later.
    pub(super) fn append(&mut self, now: Timestamp, d: &Decision) -> Result<(), DriverError> {
        if !self.journal.is_closed() {
            let journal = &mut self.journal;
            tokio::task::block_in_place(|| journal.append(now, d))?;
        }
        self.on_decision(now, d);
        Ok(())
    }

    /// The rollout is over for good (promoted or rolled back) and its
    /// journal is not closed yet.
    pub(super) fn closable(&self) -> bool {
        matches!(self.engine.phase(), Phase::Promoted | Phase::RolledBack)
            && !self.journal.is_closed()
    }

    /// Closes the journal: `rollout_ended`, with the outcome and the
    /// record count, is its last record.
    fn close_journal(&mut self) -> Result<(), DriverError> {
        let phase = self.engine.phase().clone();
        let records = self.journal.last_seq() + 1;
        let why = format!(
            "the rollout is over ({}); the journal ends here with {records} records",
            phase_sentence(&phase)
        );
        // Sealed before the last record, so the hash chain covers it.
        let recording = self.seal_recording();
        let detail = serde_json::json!({
            "outcome": phase.name(),
            "records": records,
            "recording": recording,
        });
        self.record(DecisionKind::RolloutEnded, &Actor::system(), &why, detail)
    }

    /// The rollout is over (or failed and waits for a person): close the
    /// journal when it is over for good, write the summary, tell chat.
    pub(super) fn finish(&mut self) -> Result<(), DriverError> {
        if self.closable() {
            self.close_journal()?;
        }
        let path = &self.setup.journal_path;
        match crate::journal::write_summary_next_to(path) {
            Ok(p) => {
                // Bounded (a time budget) and never an error: a chart
                // that fails is one line in the summary.
                tokio::task::block_in_place(|| crate::journal::charts::beside_summary(path, &p));
                self.summary_path = Some(p);
            }
            Err(e) => {
                let text = format!("could not write the summary: {e}");
                self.emit(wall_now(), "warning", text, serde_json::Value::Null);
                self.summary_path = Some(PathBuf::new());
            }
        }
        let phase = self.engine.phase().clone();
        let text = format!("rollout ended: {}", phase_sentence(&phase));
        let summary = self.summary_path.as_ref().map(|p| p.display().to_string());
        self.notify_head(
            format!(
                "{text}; summary: {}",
                summary.as_deref().unwrap_or("not written")
            ),
            true,
        );
        let data = serde_json::json!({
            "phase": phase.name(),
            "journal": self.setup.journal_path.display().to_string(),
            "summary": self.summary_path.as_ref().map(|p| p.display().to_string()),
            "head": self.journal.head(),
            "records": self.journal.last_seq(),
            "closed": self.journal.is_closed(),
        });
        self.emit(wall_now(), "end", text, data);
        Ok(())
    }

    pub(super) fn record_stop(&mut self, actor: &Actor, why: &str) -> Result<(), DriverError> {
        self.record(
            DecisionKind::DriverStopped,
            actor,
            why,
            serde_json::Value::Null,
        )
    }

    /// Journals a decision the driver itself makes (access, views, locks),
    /// with the engine's step, weight and gates at this moment.
    pub(super) fn record(
        &mut self,
        action: DecisionKind,
        actor: &Actor,
        why: &str,
        detail: serde_json::Value,
    ) -> Result<(), DriverError> {
        let now = wall_now();
        let view = self.engine.view(now);
        let d = Decision {
            action,
            actor: actor.clone(),
            reason: why.to_string(),
            step: view.step,
            weight: view.weight,
            phase: view.phase.kind(),
            gates: view.gates,
            hook: None,
            detail,
            at: Some(now),
        };
        self.append(now, &d)?;
        if self.own_records.len() == crate::engine::decision::RECENT_DECISIONS {
            self.own_records.pop_front();
        }
        self.own_records.push_back(std::sync::Arc::new(d));
        self.own_dirty = true;
        Ok(())
    }
}

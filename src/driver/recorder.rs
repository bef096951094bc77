//! The driver's flight recorder (see [`crate::recording`]): every input it
//! hands the engine is recorded, with the metric's verdict after a sample;
//! the recording is sealed into the journal's last record when the rollout
//! ends. A recorder that stops (an I/O error, its size cap) never stops the
//! driver: one warning, one `recording_incomplete` record, and the rollout
//! goes on.

use super::{Driver, DriverError, DriverSetup};
use crate::engine::{Actor, DecisionKind, GateStatus, Input, Phase, Timestamp};
use crate::recording::format::{FORMAT, Header};
use crate::recording::{Entry, Recorder};

/// The recorder of the rollout `setup` starts or resumes.
pub(super) fn open(setup: &DriverSetup, now: Timestamp) -> Recorder {
    let plan = (*setup.plan).clone();
    let header = Header {
        recording: FORMAT,
        rollout_id: setup.rollout_id.clone(),
        plan_hash: crate::engine::decision::plan_hash(&plan),
        plan,
        started: now,
    };
    let resuming = setup.resume.is_some();
    tokio::task::block_in_place(|| Recorder::start(&setup.journal_path, &header, resuming))
}

impl Driver {
    /// Records an input the engine was just given; `after` are the gates
    /// once it had it.
    pub(super) fn record_input(
        &mut self,
        input: Input,
        now: Timestamp,
        after: &[GateStatus],
    ) -> Result<(), DriverError> {
        let verdict = match &input {
            Input::Sample { metric, .. } => after
                .iter()
                .find(|g| &g.metric == metric)
                .map(|g| g.verdict),
            _ => None,
        };
        let entry = Entry {
            t: now,
            input,
            verdict,
        };
        self.recorder.record(&entry);
        // Said once the rollout started, so the journal begins as always.
        if matches!(self.engine.phase(), Phase::Pending) {
            return Ok(());
        }
        if let Some(why) = self.recorder.take_stop() {
            let text = format!("the flight recorder stopped: {why}; the rollout goes on");
            self.emit(now, "warning", text, serde_json::Value::Null);
            let why = format!(
                "the recording is incomplete: {why}; it holds the {} inputs before this",
                self.recorder.entries()
            );
            let detail = serde_json::json!({ "entries": self.recorder.entries() });
            self.record(
                DecisionKind::RecordingIncomplete,
                &Actor::system(),
                &why,
                detail,
            )?;
        }
        Ok(())
    }

    /// Seals the recording for the journal's last record: what to put
    /// under `recording` in its detail (null when there is none).
    pub(super) fn seal_recording(&mut self) -> serde_json::Value {
        let recorder = &mut self.recorder;
        match tokio::task::block_in_place(|| recorder.seal()) {
            Ok(Some(sealed)) => serde_json::to_value(sealed).unwrap_or_default(),
            Ok(None) => serde_json::Value::Null,
            Err(e) => {
                let text = format!("could not seal the flight recording: {e}");
                self.emit(super::wall_now(), "warning", text, serde_json::Value::Null);
                serde_json::Value::Null
            }
        }
    }

    /// Writes out what the recorder buffered (a driver stopping before the
    /// end leaves a whole live file for the next one to resume).
    pub(super) fn flush_recording(&mut self) {
        self.recorder.flush(super::wall_now());
    }
}

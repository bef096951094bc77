//! The data-health lane: what each source's latest poll said, and which
//! sources went quiet for longer than two intervals.

use super::words::state_word;
use super::{Driver, wall_now};
use crate::engine::{Input, Timestamp};
use crate::snapshot::SourceState;
use crate::sources::SampleMsg;

impl Driver {
    pub(super) fn on_sample(&mut self, msg: SampleMsg) -> color_eyre::Result<()> {
        // A source echoing request headers in its error puts no secret in
        // the gates, the lane, the views or the journal.
        let mut msg = msg;
        self.redactor.reading(&mut msg.reading);
        self.last_poll.insert(msg.source.clone(), msg.at);
        self.update_health(&msg);
        if !self.filter.accept_msg(&msg) {
            return Ok(());
        }
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

    fn update_health(&mut self, msg: &SampleMsg) {
        use crate::engine::Reading;
        self.dirty = true;
        let Some(h) = self.sources.iter_mut().find(|h| h.name == msg.source) else {
            return;
        };
        let before = h.state;
        h.latency_ms = Some(msg.latency_ms);
        match &msg.reading {
            Reading::Value { degraded, .. } => {
                h.state = SourceState::Up;
                h.last_ok = Some(msg.at);
                h.degraded = *degraded;
                h.last_error = None;
            }
            Reading::NoData { why } => {
                h.state = SourceState::NoData;
                h.last_ok = Some(msg.at);
                h.last_error = Some(why.clone());
            }
            Reading::ProviderError { message, .. } => {
                h.state = SourceState::Erroring;
                h.last_error = Some(message.clone());
            }
        }
        if before != h.state && before != SourceState::Unknown {
            let text = format!(
                "source {}: {} → {}{}",
                h.name,
                state_word(before),
                state_word(h.state),
                h.last_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            self.emit(msg.at, "source", text, serde_json::Value::Null);
        }
    }

    pub(super) fn refresh_staleness(&mut self, now: Timestamp) {
        let plan = self.setup.plan.clone();
        for h in self.sources.iter_mut() {
            let Some(src) = plan.source(&h.name) else {
                continue;
            };
            let limit = src.interval * 2 + src.timeout;
            let last = self.last_poll.get(&h.name).copied();
            let since = now.since(last.unwrap_or(self.started));
            if since > limit && h.state != SourceState::Stale {
                h.state = SourceState::Stale;
                h.last_error = Some(format!("no answer for {} s", since.as_secs()));
                self.dirty = true;
            }
        }
    }
}

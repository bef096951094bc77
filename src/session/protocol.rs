//! The attach protocol: newline-delimited JSON over the rollout's Unix
//! socket.
//!
//! Server → client: `Hello`, then one full `Snapshot` (the whole series
//! since the start, so a late viewer is backfilled), then `Update`s that
//! carry the small parts of the snapshot plus only the series points added
//! since the previous message; `Notice`, `Pong` and finally `Bye`.
//! Client → server: `Command`, `ApproveStep`, `FreezeException`,
//! `TakeControl`, `Ping`.
//!
//! Every line is one JSON object tagged by `"type"`. Lines longer than the
//! limits below are refused before any parsing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::series::{MetricSeries, Point, Series};
use crate::engine::{Actor, Cohort, Command, EngineView, Timestamp};
use crate::snapshot::{Snapshot, SourceHealth};

/// Bumped on any incompatible change; a client refuses another version.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest line a client may send (commands are tiny; this is generous).
pub const MAX_CLIENT_LINE: usize = 64 * 1024;
/// Longest line the server may send (a full snapshot with hours of series).
pub const MAX_SERVER_LINE: usize = 64 * 1024 * 1024;

/// What an attached view is allowed to be told it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// In control: may send commands.
    Driver,
    /// Read-only unless it takes control.
    Viewer,
}

/// First message on every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub rollout_id: String,
    /// The identity the driver saw in the socket's peer credentials.
    pub you: Actor,
    pub role: Role,
    /// This connection's id, as the driver's journal names it.
    pub client_id: u64,
}

/// New points of one series since the previous message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesDelta {
    pub metric: String,
    pub cohort: Cohort,
    pub points: Vec<Point>,
}

/// A snapshot without its plan (which never changes during a rollout) and
/// with only the new series points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub version: u64,
    pub engine: EngineView,
    pub sources: Vec<SourceHealth>,
    pub driver: Option<String>,
    pub watchers: usize,
    pub now: Timestamp,
    pub journal_path: String,
    pub summary_path: Option<String>,
    pub warnings: Vec<String>,
    pub series: Vec<SeriesDelta>,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Hello(Hello),
    /// The whole state; replaces whatever the client had.
    Snapshot(Box<Snapshot>),
    /// Changes since the previous `Snapshot` or `Update`.
    Update(Box<Update>),
    /// A line for humans: "alice took control", "needs a second person".
    Notice {
        text: String,
    },
    /// Answer to `Ping`.
    Pong,
    /// The server is closing this connection, and why.
    Bye {
        reason: String,
    },
}

/// Client → server. `Connected` and `Disconnected` never come off the wire
/// (they cannot be decoded); the server makes them so the driver learns of
/// viewers coming and going through the same channel as their commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// An operator command, with the reason typed in the confirm dialog.
    Command { command: Command, reason: String },
    /// Approve step `step` (1-based, as the ramp shows it) by number:
    /// `rampdeck approve ROLLOUT STEP`. The driver refuses it unless that
    /// step is the one awaiting, so a late approval never counts for the
    /// next step. A message of its own rather than a field on `Command`: a
    /// driver that does not know it refuses the line instead of counting
    /// the approval for whatever step is current.
    ApproveStep { step: u32, reason: String },
    /// Grant this rollout a freeze exception as the person at the other end
    /// of the socket (`rampdeck approve ROLLOUT --freeze-exception`): the
    /// driver journals the identity the peer credentials prove.
    FreezeException { reason: String },
    /// Take control from the current driver (`c`).
    TakeControl,
    /// Tick a manual checklist item (every manual item of the stage when
    /// `item` is absent), with a note; only the driver in control may.
    Confirm {
        /// Absent: the checklist on screen (the engine says which).
        #[serde(default)]
        stage: Option<crate::engine::Stage>,
        #[serde(default)]
        item: Option<usize>,
        #[serde(default)]
        note: String,
    },
    /// Run a stage's automatic checks again (one, or every one).
    RunChecks {
        stage: crate::engine::Stage,
        #[serde(default)]
        item: Option<usize>,
    },
    /// Keepalive; answered by `Pong` from the server itself.
    Ping,
    /// Made by the server: a view attached.
    #[serde(skip)]
    Connected,
    /// Made by the server: a view went away (closed, too slow, malformed
    /// message, driver shutting down).
    #[serde(skip)]
    Disconnected { reason: String },
}

/// Why a line could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("message of {len} bytes is longer than the {max}-byte limit")]
    Oversized { len: usize, max: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Decode one line from a client (trailing newline optional).
pub fn decode_client(line: &[u8]) -> Result<ClientMsg, ProtocolError> {
    decode(line, MAX_CLIENT_LINE)
}

/// Decode one line from the server (trailing newline optional).
pub fn decode_server(line: &[u8]) -> Result<ServerMsg, ProtocolError> {
    decode(line, MAX_SERVER_LINE)
}

fn decode<T: serde::de::DeserializeOwned>(line: &[u8], max: usize) -> Result<T, ProtocolError> {
    if line.len() > max {
        return Err(ProtocolError::Oversized {
            len: line.len(),
            max,
        });
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    serde_json::from_slice(line).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Encode one message as a line ending in `\n`.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut v = serde_json::to_vec(msg)?;
    v.push(b'\n');
    Ok(v)
}

/// The message that takes a view from `prev` to `next`: an `Update` when
/// the plan is the same, the series are the same list and `next`'s series
/// are `prev`'s plus new points; otherwise the full `Snapshot`.
pub fn diff(prev: &Snapshot, next: &Snapshot) -> ServerMsg {
    let same_plan = Arc::ptr_eq(&prev.plan, &next.plan) || prev.plan == next.plan;
    if same_plan && prev.rollout_id == next.rollout_id {
        if let Some(deltas) = series_deltas(&prev.series, &next.series) {
            // The delta is checked by applying it: a series that was cleared
            // or rewritten (rather than appended to) falls back to a full
            // snapshot instead of silently drifting. Copying the series to
            // check is cheap: the copy shares every sealed chunk.
            let same = if deltas.is_empty() && Arc::ptr_eq(&prev.series, &next.series) {
                true
            } else {
                let mut check: Vec<MetricSeries> = prev.series.as_ref().clone();
                apply_deltas(&mut check, &deltas) && check == *next.series
            };
            if same {
                return ServerMsg::Update(Box::new(update_of(next, deltas)));
            }
        }
    }
    ServerMsg::Snapshot(Box::new(next.clone()))
}

fn update_of(s: &Snapshot, series: Vec<SeriesDelta>) -> Update {
    Update {
        version: s.version,
        engine: s.engine.clone(),
        sources: s.sources.clone(),
        driver: s.driver.clone(),
        watchers: s.watchers,
        now: s.now,
        journal_path: s.journal_path.clone(),
        summary_path: s.summary_path.clone(),
        warnings: s.warnings.clone(),
        series,
    }
}

fn series_deltas(prev: &[MetricSeries], next: &[MetricSeries]) -> Option<Vec<SeriesDelta>> {
    if prev.len() != next.len() {
        return None;
    }
    let mut out = Vec::new();
    for (p, n) in prev.iter().zip(next) {
        if p.metric != n.metric {
            return None;
        }
        for (cohort, ps, ns) in [
            (Cohort::Canary, &p.canary, &n.canary),
            (Cohort::Baseline, &p.baseline, &n.baseline),
        ] {
            let points = new_points(ps, ns)?;
            if !points.is_empty() {
                out.push(SeriesDelta {
                    metric: n.metric.clone(),
                    cohort,
                    points,
                });
            }
        }
    }
    Some(out)
}

/// Points of `next` after the last point `prev` has. Points with the same
/// timestamp as `prev`'s last are counted so that repeated timestamps are
/// neither lost nor sent twice.
fn new_points(prev: &Series, next: &Series) -> Option<Vec<Point>> {
    if prev.capacity() != next.capacity() {
        return None;
    }
    let Some(last) = prev.last() else {
        return Some(next.iter().copied().collect());
    };
    let seen_at_last = prev.iter().rev().take_while(|p| p.at == last.at).count();
    let mut tail = next.since(last.at);
    let mut out = Vec::new();
    let mut skipped = 0;
    for p in tail.by_ref() {
        if p.at == last.at && skipped < seen_at_last {
            skipped += 1;
            continue;
        }
        out.push(*p);
    }
    Some(out)
}

/// Apply an update to a snapshot in place. Returns false when the update
/// names a series the snapshot does not have (the caller should then ask
/// for, or wait for, a full snapshot).
pub fn apply_update(snap: &mut Snapshot, u: &Update) -> bool {
    snap.version = u.version;
    snap.engine = u.engine.clone();
    snap.sources = u.sources.clone();
    snap.driver = u.driver.clone();
    snap.watchers = u.watchers;
    snap.now = u.now;
    snap.journal_path = u.journal_path.clone();
    snap.summary_path = u.summary_path.clone();
    snap.warnings = u.warnings.clone();
    if u.series.is_empty() {
        return true;
    }
    apply_deltas(Arc::make_mut(&mut snap.series).as_mut_slice(), &u.series)
}

/// Append each delta's points to its series; false when a delta names a
/// series that is not there.
fn apply_deltas(series: &mut [MetricSeries], deltas: &[SeriesDelta]) -> bool {
    for d in deltas {
        let Some(ms) = series.iter_mut().find(|m| m.metric == d.metric) else {
            return false;
        };
        let target = match d.cohort {
            Cohort::Canary => &mut ms.canary,
            Cohort::Baseline => &mut ms.baseline,
        };
        for p in &d.points {
            target.push(p.at, p.value);
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_messages_cannot_be_sent_by_a_client() {
        assert!(decode_client(br#"{"type":"connected"}"#).is_err());
        assert!(decode_client(br#"{"type":"disconnected","reason":"x"}"#).is_err());
        assert_eq!(
            decode_client(b"{\"type\":\"ping\"}\r\n"),
            Ok(ClientMsg::Ping)
        );
        assert_eq!(
            decode_client(br#"{"type":"command","command":"rollback","reason":"5xx"}"#),
            Ok(ClientMsg::Command {
                command: Command::Rollback,
                reason: "5xx".into()
            })
        );
    }

    #[test]
    fn an_approval_of_a_step_and_a_freeze_exception_read_back() {
        assert_eq!(
            decode_client(br#"{"type":"approve_step","step":3,"reason":"ok"}"#),
            Ok(ClientMsg::ApproveStep {
                step: 3,
                reason: "ok".into()
            })
        );
        assert_eq!(
            decode_client(br#"{"type":"freeze_exception","reason":"INC-12"}"#),
            Ok(ClientMsg::FreezeException {
                reason: "INC-12".into()
            })
        );
        // A step is a number a u32 holds, never a string or a negative.
        assert!(decode_client(br#"{"type":"approve_step","step":-1,"reason":""}"#).is_err());
        assert!(decode_client(br#"{"type":"approve_step","step":"2","reason":""}"#).is_err());
        let big = format!(
            r#"{{"type":"approve_step","step":{},"reason":""}}"#,
            u64::MAX
        );
        assert!(decode_client(big.as_bytes()).is_err());
        for msg in [
            ClientMsg::ApproveStep {
                step: 2,
                reason: "r".into(),
            },
            ClientMsg::FreezeException { reason: "r".into() },
        ] {
            assert_eq!(decode_client(&encode(&msg).unwrap()), Ok(msg));
        }
    }

    #[test]
    fn oversized_is_refused_before_parsing() {
        let mut line = br#"{"type":"ping","pad":""#.to_vec();
        line.resize(MAX_CLIENT_LINE + 1, b'a');
        assert!(matches!(
            decode_client(&line),
            Err(ProtocolError::Oversized { .. })
        ));
    }

    #[test]
    fn repeated_timestamps_are_neither_lost_nor_doubled() {
        let mut a = Series::with_capacity(10);
        a.push(Timestamp(1), Some(1.0));
        a.push(Timestamp(2), Some(2.0));
        let mut b = a.clone();
        b.push(Timestamp(2), Some(2.5));
        b.push(Timestamp(3), None);
        let pts = new_points(&a, &b).unwrap();
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[0].value, Some(2.5));
        assert_eq!(new_points(&b, &b).unwrap(), vec![]);
    }
}

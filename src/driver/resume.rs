//! The journal a driver starts from: where an existing journal left its
//! rollout (to resume there, or to refuse one that ended), and opening that
//! journal again or creating a new one.

use super::{DriverError, DriverSetup};
use crate::engine::resume::ResumePoint;
use crate::journal::{JournalOptions, JournalWriter};

/// Where the journal at `path` left its rollout: `None` when there is no
/// journal yet. Refuses (with what to do) a journal that cannot be read or
/// whose rollout already ended: a journal holds one rollout.
pub fn resume_point(
    path: &std::path::Path,
    rollout_id: &str,
) -> Result<Option<ResumePoint>, String> {
    let exists = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !exists {
        return Ok(None);
    }
    let cannot = |e: crate::journal::JournalError| {
        format!(
            "the journal {} of rollout {rollout_id} cannot be resumed: {e}; `rampdeck verify {}` says more",
            path.display(),
            path.display()
        )
    };
    // One record at a time: a long journal costs no memory to resume.
    let mut failure = None;
    let mut last_ts = None;
    let decisions = crate::journal::records(path)
        .map_err(cannot)?
        .map_while(|r| match r {
            Ok(r) => {
                last_ts = Some(r.ts);
                Some(r.decision)
            }
            Err(e) => {
                failure = Some(e);
                None
            }
        });
    let point = ResumePoint::from_decisions(decisions);
    if let Some(e) = failure {
        return Err(cannot(e));
    }
    let Some(point) = point else {
        return Ok(None);
    };
    if point.ended() {
        let when = last_ts
            .and_then(crate::journal::format_ts)
            .unwrap_or_default();
        return Err(format!(
            "the journal {} holds rollout {rollout_id}, which already ended ({} at {when}); a journal holds one rollout.\n  help: to roll out again, give this rollout a new id: set `id = \"{rollout_id}-2\"` under [rollout] in the plan (or remove `id` for a dated one)",
            path.display(),
            point.phase,
        ));
    }
    Ok(Some(point))
}

/// A new journal, or the existing one of this rollout id reopened (its
/// chain verified, a torn last line cut and journaled) when a driver that
/// died left it behind.
pub(super) fn open_journal(
    setup: &DriverSetup,
    opts: JournalOptions,
) -> Result<JournalWriter, DriverError> {
    let path = &setup.journal_path;
    let exists = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if exists {
        let (writer, _recovery) = JournalWriter::open_with(path, None, opts)?;
        return Ok(writer);
    }
    Ok(JournalWriter::create_with(path, &setup.rollout_id, opts)?)
}

//! `rampdeck replay JOURNAL`: the cockpit, read-only, over a rollout's
//! flight recording (see [`crate::recording::player`]): the charts, the
//! ramp, the log and the NEXT line as they were at each moment. Space plays
//! and pauses, `n` / `N` step from decision to decision, ← / → seek ten
//! seconds (shift: a minute), `+` / `-` change the speed. Without a
//! terminal (or with `--headless`) it prints the replayed decisions in
//! order.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::engine::Timestamp;
use crate::headless::{EXIT_CONFIG, EXIT_INTERNAL};
use crate::recording::player::{Player, ReplayControl, ReplayView};
use crate::recording::{self, FormatError};
use crate::snapshot::Snapshot;
use crate::tui::UiCommand;

/// The largest recording file replay reads (a 6 h rollout of 8 metrics at
/// 1 s is a few MB gzipped).
pub const MAX_RECORDING_BYTES: u64 = 512 * 1024 * 1024;

/// Speeds `+` and `-` step through.
const SPEEDS: [f64; 9] = [0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 30.0, 60.0, 300.0];

/// What `rampdeck replay` was asked for.
#[derive(Debug, Clone)]
pub struct ReplayArgs {
    /// A journal (its recording sits beside it) or a recording file.
    pub path: PathBuf,
    pub speed: f64,
    /// Where to start: `+2m30s` from the start, `14:03:07` (UTC), or an
    /// RFC 3339 time.
    pub at: Option<String>,
    pub headless: bool,
    pub ascii: bool,
}

/// Why a recording could not be replayed, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "no flight recording for {journal}: looked for {done} and {live}. Rollouts run before the recorder (or whose recording was removed) cannot be replayed; `rampdeck summary` still reads the journal"
    )]
    Missing {
        journal: String,
        done: String,
        live: String,
    },
    #[error("{path} is {size} bytes, over the {max} bytes replay reads")]
    TooBig { path: String, size: u64, max: u64 },
    #[error("{path}: {source}")]
    Format {
        path: String,
        #[source]
        source: FormatError,
    },
    #[error(
        "{path} is rollout {found}'s, not {expected}'s (the journal {journal}): put {expected}'s recording beside its journal, or name the recording itself"
    )]
    OtherRollout {
        path: String,
        journal: String,
        found: String,
        expected: String,
    },
    #[error("the recording has no entries: nothing to replay")]
    Empty,
    #[error(
        "--at {0:?}: give an offset from the start (+2m30s), a UTC time of day (14:03:07) or an RFC 3339 time"
    )]
    BadAt(String),
}

/// The recording `path` names: itself, or the one beside a journal.
pub fn load(path: &Path) -> Result<(PathBuf, recording::Recording), ReplayError> {
    let name = path.to_string_lossy();
    let recording = [".rec.jsonl", ".rec.jsonl.gz", ".rec.jsonl.live"];
    let file = if recording.iter().any(|r| name.ends_with(r)) {
        path.to_path_buf()
    } else {
        match recording::recording_of(path) {
            Some(file) => file,
            None => {
                return Err(ReplayError::Missing {
                    journal: name.into_owned(),
                    done: recording::finished_path(path).display().to_string(),
                    live: recording::live_path(path).display().to_string(),
                });
            }
        }
    };
    let show = file.display().to_string();
    let size = std::fs::metadata(&file)
        .map_err(|e| ReplayError::Format {
            path: show.clone(),
            source: e.into(),
        })?
        .len();
    if size > MAX_RECORDING_BYTES {
        return Err(ReplayError::TooBig {
            path: show,
            size,
            max: MAX_RECORDING_BYTES,
        });
    }
    let rec =
        recording::open(&file).map_err(|source| ReplayError::Format { path: show, source })?;
    if rec.entries.is_empty() {
        return Err(ReplayError::Empty);
    }
    // Named by its journal: the recording beside it must be that rollout's.
    if file != path
        && let Some(Ok(first)) = crate::journal::records(path)
            .ok()
            .and_then(|mut r| r.next())
        && first.rollout != rec.header.rollout_id
    {
        return Err(ReplayError::OtherRollout {
            path: file.display().to_string(),
            journal: path.display().to_string(),
            found: rec.header.rollout_id,
            expected: first.rollout,
        });
    }
    Ok((file, rec))
}

/// The journal a recording sits beside: `x.rec.jsonl.gz` (or `.live`, or
/// a gunzipped `.rec.jsonl`) → `x.jsonl`.
pub fn journal_of(recording: &Path) -> PathBuf {
    let name = recording.to_string_lossy();
    let stem = [".rec.jsonl.gz", ".rec.jsonl.live", ".rec.jsonl"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(&name);
    PathBuf::from(format!("{stem}.jsonl"))
}

/// `--at` as a moment of a recording spanning `from..`.
pub fn parse_at(text: &str, from: Timestamp) -> Result<Timestamp, ReplayError> {
    let bad = || ReplayError::BadAt(text.to_string());
    let t = text.trim();
    if let Some(offset) = t.strip_prefix('+') {
        let d = humantime::parse_duration(offset).map_err(|_| bad())?;
        // Past the end is the end (the player clamps); never an overflow.
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Ok(Timestamp(from.0.saturating_add(ms)));
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(Timestamp(d.timestamp_millis()));
    }
    let tod = chrono::NaiveTime::parse_from_str(t, "%H:%M:%S").map_err(|_| bad())?;
    let start = chrono::DateTime::from_timestamp_millis(from.0).ok_or_else(bad)?;
    let mut at = start.date_naive().and_time(tod).and_utc();
    if at < start {
        // The first such time at or after the start (a rollout past midnight).
        at += chrono::Duration::days(1);
    }
    Ok(Timestamp(at.timestamp_millis()))
}

/// `rampdeck replay`.
pub async fn replay_cmd(args: ReplayArgs) -> i32 {
    let (file, rec) = match load(&args.path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rampdeck replay: {e}");
            return EXIT_CONFIG;
        }
    };
    if !(args.speed.is_finite() && (0.05..=1000.0).contains(&args.speed)) {
        eprintln!(
            "rampdeck replay: --speed must be between 0.05 and 1000 (got {})",
            args.speed
        );
        return EXIT_CONFIG;
    }
    let mut player = Player::new(rec);
    let (from, to) = player.span();
    let start = match args.at.as_deref().map(|a| parse_at(a, from)).transpose() {
        Ok(t) => t.unwrap_or(from),
        Err(e) => {
            eprintln!("rampdeck replay: {e}");
            return EXIT_CONFIG;
        }
    };
    use std::io::IsTerminal;
    if args.headless || !std::io::stdout().is_terminal() {
        player.seek(if args.at.is_some() { start } else { to });
        print!("{}", headless_text(&player, &file));
        return 0;
    }
    player.seek(start);
    screen(player, &file, &args).await
}

/// The replayed decisions, one line each, then where the replay ended.
pub fn headless_text(player: &Player, file: &Path) -> String {
    let steps = player.plan().steps.len();
    let mut out = String::new();
    for d in player.decisions() {
        let at =
            d.at.map_or_else(|| "--:--:--".into(), crate::engine::words::time_of_day);
        out.push_str(&format!(
            "{at}  {}\n",
            crate::driver::decision_text(d, steps)
        ));
    }
    out.push_str(&format!(
        "replayed {} decisions from {} up to {}\n",
        player.decisions().len(),
        file.display(),
        crate::engine::words::date_time(player.at())
    ));
    out
}

/// The playback: the player, where it stands, and how fast it goes.
struct Playback {
    player: Player,
    playing: bool,
    speed: f64,
    version: u64,
    journal: String,
    summary: Option<String>,
}

impl Playback {
    fn view(&self) -> ReplayView {
        let (from, to) = self.player.span();
        ReplayView {
            from,
            to,
            playing: self.playing,
            speed: self.speed,
            decisions_seen: self.player.decisions().len(),
        }
    }

    fn snapshot(&mut self) -> Arc<Snapshot> {
        self.version += 1;
        let view = self.view();
        let summary = self.summary.clone();
        Arc::new(
            self.player
                .snapshot(self.version, &self.journal, summary, view),
        )
    }

    fn control(&mut self, c: ReplayControl) {
        match c {
            ReplayControl::PlayPause => {
                self.playing = !self.playing && !self.player.at_end();
            }
            ReplayControl::NextDecision => {
                self.playing = false;
                if self.player.next_decision().is_none() {
                    let end = self.player.span().1;
                    self.player.seek(end);
                }
            }
            ReplayControl::PreviousDecision => {
                self.playing = false;
                if self.player.previous_decision().is_none() {
                    let start = self.player.span().0;
                    self.player.seek(start);
                }
            }
            ReplayControl::Seek(secs) => {
                let t = Timestamp(self.player.at().0 + secs * 1000);
                self.player.seek(t);
            }
            ReplayControl::Faster => self.speed = step_speed(self.speed, 1),
            ReplayControl::Slower => self.speed = step_speed(self.speed, -1),
        }
    }
}

/// The next speed up (`dir` 1) or down (-1) from `speed`.
fn step_speed(speed: f64, dir: i32) -> f64 {
    if dir > 0 {
        SPEEDS.iter().copied().find(|&s| s > speed).unwrap_or(speed)
    } else {
        SPEEDS
            .iter()
            .rev()
            .copied()
            .find(|&s| s < speed)
            .unwrap_or(speed)
    }
}

async fn screen(player: Player, file: &Path, args: &ReplayArgs) -> i32 {
    let journal = journal_of(file);
    let summary = journal.with_extension("summary.md");
    let mut pb = Playback {
        player,
        playing: true,
        speed: args.speed,
        version: 0,
        journal: journal.display().to_string(),
        summary: summary.exists().then(|| summary.display().to_string()),
    };
    let (snap_tx, snap_rx) = watch::channel(pb.snapshot());
    let (ui_tx, mut commands) = mpsc::channel(16);
    let me = crate::identity::local_actor();
    let opts = crate::tui::TuiOptions::from_env(args.ascii, &me.user);
    let mut tui = tokio::spawn(crate::tui::run(snap_rx, ui_tx, opts));
    let frame = Duration::from_millis(100);
    let mut tick = tokio::time::interval(frame);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut shown_second = pb.player.at().0 / 1000;
    loop {
        tokio::select! {
            done = &mut tui => {
                return match done {
                    Ok(Ok(_)) => 0,
                    Ok(Err(e)) => { eprintln!("rampdeck replay: {e}"); EXIT_INTERNAL }
                    Err(_) => EXIT_INTERNAL,
                };
            }
            cmd = commands.recv() => match cmd {
                Some(UiCommand::Replay(c)) => {
                    pb.control(c);
                    snap_tx.send_replace(pb.snapshot());
                }
                // The cockpit quits by itself; nothing else is sent in a
                // read-only replay.
                Some(_) => {}
                None => {}
            },
            _ = tick.tick() => {
                if !pb.playing {
                    continue;
                }
                let step = (frame.as_millis() as f64 * pb.speed) as i64;
                let t = Timestamp(pb.player.at().0 + step);
                pb.player.seek(t);
                if pb.player.at_end() && pb.player.at() >= pb.player.span().1 {
                    pb.playing = false;
                }
                let second = pb.player.at().0 / 1000;
                if second != shown_second || !pb.playing {
                    shown_second = second;
                    snap_tx.send_replace(pb.snapshot());
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn at_reads_offsets_times_of_day_and_rfc3339() {
        // 2026-12-04 23:50:00 UTC
        let from = Timestamp(1_796_428_200_000);
        assert_eq!(
            parse_at("+2m30s", from).unwrap(),
            Timestamp(from.0 + 150_000)
        );
        assert_eq!(
            parse_at("23:55:00", from).unwrap(),
            Timestamp(from.0 + 300_000)
        );
        // Past midnight: the next day's 00:05.
        assert_eq!(
            parse_at("00:05:00", from).unwrap(),
            Timestamp(from.0 + 900_000)
        );
        assert_eq!(
            parse_at("2026-12-04T23:51:00Z", from).unwrap(),
            Timestamp(from.0 + 60_000)
        );
        // An offset past any end is the end, not a wrap to before the start.
        for huge in ["+9223372036854775s", "+18446744073709551615s"] {
            assert_eq!(parse_at(huge, from).unwrap(), Timestamp(i64::MAX), "{huge}");
        }
        let e = parse_at("soon", from).unwrap_err().to_string();
        assert!(e.contains("+2m30s"), "{e}");
    }

    #[test]
    fn a_journal_s_recording_of_another_rollout_is_refused() {
        use crate::journal::charts::fixture::{Ending, Rec, checkout};
        let dir = tempfile::tempdir().unwrap();
        let journal = checkout(dir.path(), Ending::RolledBack).unwrap();
        assert!(load(&journal).is_ok());
        let other = tempfile::tempdir().unwrap();
        let mut r = Rec::new(other.path(), "other-1", crate::tui::fixtures::plan()).unwrap();
        r.hooks_done(1);
        let other = r.finish().unwrap();
        std::fs::copy(
            recording::finished_path(&other),
            recording::finished_path(&journal),
        )
        .unwrap();
        let err = load(&journal).unwrap_err();
        assert!(matches!(err, ReplayError::OtherRollout { .. }), "{err}");
        assert!(err.to_string().contains("other-1"), "{err}");
        // Named itself, a recording replays whatever journal lies beside it.
        assert!(load(&recording::finished_path(&journal)).is_ok());
    }

    #[test]
    fn speeds_step_up_and_down_and_stop_at_the_ends() {
        assert_eq!(step_speed(1.0, 1), 2.0);
        assert_eq!(step_speed(3.0, 1), 4.0);
        assert_eq!(step_speed(3.0, -1), 2.0);
        assert_eq!(step_speed(300.0, 1), 300.0);
        assert_eq!(step_speed(0.25, -1), 0.25);
    }
}

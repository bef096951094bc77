//! Headless progress: one line per event (or JSON lines) for pipelines and
//! for terminals that are not terminals. The same driver as the cockpit.

use std::io::Write;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use crate::driver::{DriverHandle, DriverInput, DriverOutcome, Event};
use crate::engine::words::phase_sentence;
use crate::engine::{Actor, Phase};
use crate::journal::escape::line;

/// Exit codes, documented in README.
pub const EXIT_PROMOTED: i32 = 0;
pub const EXIT_INTERNAL: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;
pub const EXIT_ROLLED_BACK: i32 = 3;
pub const EXIT_STOPPED: i32 = 4;

#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub json: bool,
    /// Give up (exit 4) when paused longer than this.
    pub max_pause: Option<Duration>,
}

/// The exit code for a rollout that ended in `phase`.
pub fn exit_code(phase: &Phase) -> i32 {
    match phase {
        Phase::Promoted => EXIT_PROMOTED,
        Phase::RolledBack => EXIT_ROLLED_BACK,
        _ => EXIT_STOPPED,
    }
}

/// Prints events until the driver ends; returns the process exit code.
pub async fn run(
    handle: DriverHandle,
    opts: HeadlessOptions,
    mut signals: crate::tty::Signals,
) -> i32 {
    let DriverHandle {
        snapshots,
        inputs,
        first_events: mut events,
        mut task,
        ..
    } = handle;
    let mut out = std::io::stdout();
    let mut check = tokio::time::interval(Duration::from_millis(500));
    let mut paused_since: Option<tokio::time::Instant> = None;
    let mut stopping = false;
    let journal = std::path::PathBuf::from(snapshots.borrow().journal_path.clone());
    let log = crate::tty::log_path_for(&journal);
    let result = loop {
        tokio::select! {
            ask = signals.recv() => match ask {
                // A hang-up (the SSH link dropped) never stops the driver:
                // it goes on unattended, with every trigger armed, and its
                // lines go to the driver's log instead of the lost terminal.
                crate::tty::SignalAsk::HangUp => {
                    crate::tty::lose_terminal(&log);
                    let _ = inputs.send(DriverInput::Presence {
                        attached: false,
                        actor: crate::identity::local_actor(),
                    }).await;
                }
                crate::tty::SignalAsk::Stop(n) => if !stopping {
                    stopping = true;
                    let _ = inputs.send(DriverInput::Shutdown {
                        actor: crate::identity::local_actor(),
                        why: format!("stopped by {} in headless mode", crate::tty::signal_name(n)),
                    }).await;
                },
            },
            ev = events.recv() => match ev {
                Ok(ev) => print_event(&mut out, &ev, opts.json),
                Err(RecvError::Lagged(n)) => {
                    let _ = writeln!(out, "(headless output fell behind: {n} events not shown; the journal has them all)");
                }
                Err(RecvError::Closed) => {}
            },
            res = &mut task => break res,
            _ = check.tick() => {
                let paused = matches!(snapshots.borrow().engine.phase, Phase::Paused { .. });
                paused_since = match (paused, paused_since) {
                    (true, None) => Some(tokio::time::Instant::now()),
                    (true, s) => s,
                    (false, _) => None,
                };
                if let (Some(max), Some(since)) = (opts.max_pause, paused_since)
                    && since.elapsed() > max && !stopping
                {
                    stopping = true;
                    let _ = inputs.send(DriverInput::Shutdown {
                        actor: Actor::system(),
                        why: format!("paused longer than --max-pause ({} s)", max.as_secs()),
                    }).await;
                }
            }
        }
    };
    while let Ok(ev) = events.try_recv() {
        print_event(&mut out, &ev, opts.json);
    }
    match result {
        Ok(Ok(outcome)) => {
            print_outcome(&mut out, &outcome, opts.json);
            let _ = out.flush();
            if stopping && !outcome.phase.is_terminal() {
                EXIT_STOPPED
            } else {
                exit_code(&outcome.phase)
            }
        }
        Ok(Err(crate::driver::DriverError::Preflight(why))) => {
            crate::tty::say(format_args!("rampdeck: {why}"));
            EXIT_CONFIG
        }
        Ok(Err(e)) => {
            crate::tty::say(format_args!("rampdeck: the driver stopped: {e:?}"));
            EXIT_INTERNAL
        }
        Err(e) => {
            crate::tty::say(format_args!("rampdeck: the driver task failed: {e}"));
            EXIT_INTERNAL
        }
    }
}

/// The last lines: where the rollout ended up, and the head to keep.
fn print_outcome(out: &mut impl Write, outcome: &DriverOutcome, json: bool) {
    let summary = outcome
        .summary_path
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.display().to_string());
    if json {
        let line = serde_json::json!({
            "kind": "exit",
            "phase": outcome.phase.name(),
            "journal": outcome.journal_path.display().to_string(),
            "summary": summary,
            "head": outcome.head,
            "records": outcome.records,
            "closed": outcome.closed,
        });
        let _ = writeln!(out, "{line}");
    } else {
        let _ = writeln!(out, "result: {}", line(&phase_sentence(&outcome.phase)));
        if let Some(s) = &summary {
            let _ = writeln!(out, "summary: {}", line(s));
        }
        // The head to keep elsewhere (a ticket, a chat message):
        // `rampdeck verify --expect-head` checks the journal against it.
        let state = if outcome.closed { "closed" } else { "open" };
        let _ = writeln!(
            out,
            "head: {} ({} records, journal {state})",
            outcome.head, outcome.records
        );
        let journal = outcome.journal_path.display().to_string();
        let _ = writeln!(out, "journal: {}", line(&journal));
    }
}

fn print_event(out: &mut impl Write, ev: &Event, json: bool) {
    let ts = chrono::DateTime::from_timestamp_millis(ev.at.0).unwrap_or_default();
    if json {
        let line = serde_json::json!({
            "ts": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "kind": ev.kind,
            "text": ev.text,
            "data": ev.data,
        });
        let _ = writeln!(out, "{line}");
    } else {
        // One event, one line: a reason or a hook's output can neither
        // move the cursor nor start a line of its own.
        let _ = writeln!(
            out,
            "{}  {:<8}  {}",
            ts.format("%H:%M:%S"),
            ev.kind,
            line(&ev.text)
        );
    }
    let _ = out.flush();
}

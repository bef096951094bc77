//! The process's terminal and its signals: what happens when the terminal
//! goes away (an SSH link drops, tmux kills the session) and when a signal
//! asks rampdeck to stop.
//!
//! A lost terminal is never written to again. `eprintln!` panics when stderr
//! fails (EIO from a closed pty), and a panic whose hook cannot print
//! either aborts the process: the driver would die with its canary
//! unguarded. So the moment a hang-up is seen, stdin is pointed at
//! `/dev/null` and stdout and stderr at the driver's log file, by file
//! descriptor, so every later write (rampdeck's, ratatui's, color-eyre's, a
//! panic report) lands in the log and succeeds.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::Signal as NixSignal;
use tokio::signal::unix::{Signal, SignalKind, signal};

static TERMINAL_LOST: AtomicBool = AtomicBool::new(false);

/// Whether this process has lost its terminal (see [`lose_terminal`]).
pub fn terminal_lost() -> bool {
    TERMINAL_LOST.load(Ordering::SeqCst)
}

/// The driver's log file for a journal: `<rollout>.driver.log` beside it,
/// the same name `run --detach` gives its background driver's log.
pub fn log_path_for(journal: &Path) -> PathBuf {
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rampdeck".into());
    journal.with_file_name(format!("{stem}.driver.log"))
}

/// The terminal is gone: from now on stdin reads `/dev/null` and stdout and
/// stderr append to `log`. Idempotent; returns where output now goes. When
/// the log cannot be opened, output goes to `/dev/null` (never back to the
/// dead terminal).
pub fn lose_terminal(log: &Path) -> PathBuf {
    if TERMINAL_LOST.swap(true, Ordering::SeqCst) {
        return log.to_path_buf();
    }
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log);
    let (file, target) = match opened {
        Ok(f) => (Some(f), log.to_path_buf()),
        Err(_) => (
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok(),
            PathBuf::from("/dev/null"),
        ),
    };
    // Stdin becomes a pipe that never has data (its write end is kept open
    // for the life of the process), not /dev/null: the terminal library's
    // event thread may still be waiting on fd 0, and /dev/null is always
    // readable (end of file at once), which made it spin a core forever.
    match nix::unistd::pipe() {
        Ok((read, write)) => {
            let _ = nix::unistd::dup2_stdin(&read);
            std::mem::forget(write);
        }
        Err(_) => {
            if let Ok(null) = std::fs::File::open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(&null);
            }
        }
    }
    if let Some(f) = file {
        let _ = nix::unistd::dup2_stdout(&f);
        let _ = nix::unistd::dup2_stderr(&f);
    }
    say(format_args!(
        "rampdeck: the terminal hung up at {}; the driver runs on, its output continues here",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ));
    target
}

/// One line to stderr that never panics (unlike `eprintln!`), for every
/// message a running driver prints.
pub fn say(msg: impl Display) {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{msg}");
    let _ = err.flush();
}

/// The name of a signal number ("SIGTERM"), for records and messages.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// The catchable signals whose default action would end the process
/// without a record. Each is caught; all but SIGHUP stop the driver with a
/// `driver_stopped` record naming it. (SIGPIPE is already ignored by Rust's
/// runtime; SIGKILL and SIGSTOP cannot be caught.)
const STOP_SIGNALS: [i32; 6] = [
    NixSignal::SIGTERM as i32,
    NixSignal::SIGINT as i32,
    NixSignal::SIGQUIT as i32,
    NixSignal::SIGUSR1 as i32,
    NixSignal::SIGUSR2 as i32,
    NixSignal::SIGALRM as i32,
];

/// Listeners for the hang-up and the stop signals. Registering replaces
/// the default actions for the rest of the process's life, so create one as
/// early as possible.
pub struct Signals {
    hangup: Option<Signal>,
    stop: Vec<(i32, Signal)>,
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAsk {
    /// SIGHUP: the terminal is gone; carry on without it.
    HangUp,
    /// Stop (the signal number).
    Stop(i32),
}

impl Signals {
    /// Listens for SIGHUP and every stop signal; a signal that cannot be
    /// watched is left out (and keeps its default action).
    pub fn new() -> Signals {
        let hangup = signal(SignalKind::hangup()).ok();
        let stop = STOP_SIGNALS
            .iter()
            .filter_map(|&n| signal(SignalKind::from_raw(n)).ok().map(|s| (n, s)))
            .collect();
        Signals { hangup, stop }
    }

    /// The next signal. Pending forever when none is watched.
    pub async fn recv(&mut self) -> SignalAsk {
        let Signals { hangup, stop } = self;
        let hangup = async {
            match hangup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let any_stop = async {
            if stop.is_empty() {
                return std::future::pending::<i32>().await;
            }
            let each = stop.iter_mut().map(|(n, s)| {
                let n = *n;
                Box::pin(async move {
                    s.recv().await;
                    n
                })
            });
            futures_util::future::select_all(each).await.0
        };
        tokio::select! {
            () = hangup => SignalAsk::HangUp,
            n = any_stop => SignalAsk::Stop(n),
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_log_path() {
        assert_eq!(signal_name(NixSignal::SIGTERM as i32), "SIGTERM");
        assert_eq!(signal_name(NixSignal::SIGQUIT as i32), "SIGQUIT");
        assert_eq!(
            log_path_for(Path::new("/j/checkout-1.jsonl")),
            PathBuf::from("/j/checkout-1.driver.log")
        );
    }
}

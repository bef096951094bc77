//! argv hooks: run without a shell, in a session of their own, with a
//! deadline that kills the whole session.
//!
//! Why a session: a hook is often a script that starts other programs
//! (`kubectl`, `curl`, a smoke-test runner). Killing only the script on a
//! timeout would leave those running, still changing the world after
//! rampdeck reported the hook as over. [`crate::proc::run`] kills the group,
//! the session, and any process that left both but holds the output pipes.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::Attempt;
use super::vars::{HookVars, expand_argv};
use crate::engine::HookOutcome;
use crate::engine::words;
use crate::proc::{self, Ended, Limits};
use crate::template::Template;

pub use crate::proc::Capture;

/// Bytes kept of each of stdout and stderr.
pub const CAPTURE_LIMIT: usize = 16 * 1024;

/// After the hook exits, how long a leftover process may hold its output
/// pipes before it is killed.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs one attempt of an argv hook.
pub(super) async fn run_once(argv: &[Template], vars: &HookVars, timeout: Duration) -> Attempt {
    let started = Instant::now();
    let argv = match expand_argv(argv, vars) {
        Ok(a) => a,
        Err(e) => return Attempt::refused(e.to_string()),
    };
    let (program, args) = match argv.split_first() {
        Some(split) => split,
        None => return Attempt::refused("the hook's command is empty".into()),
    };
    let mut cmd = Command::new(program);
    cmd.args(args).envs(vars.env());
    let limits = Limits {
        timeout,
        stdout: CAPTURE_LIMIT,
        stdout_overflow_ends: false,
        stderr: CAPTURE_LIMIT,
        drain: PIPE_GRACE,
    };
    let finished = match proc::run(&mut cmd, &limits).await {
        Ok(f) => f,
        Err(e) => {
            return Attempt {
                outcome: failed(
                    format!("could not start `{program}`: {e} (is it installed and on PATH?)"),
                    started,
                ),
                // A missing program does not appear by waiting.
                retryable: false,
            };
        }
    };
    let err = finished.stderr.into_text();
    let (ok, code, mut summary) = match finished.ended {
        Ended::Exited(status) => describe_exit(status, finished.elapsed, &err),
        Ended::TimedOut => (
            false,
            None,
            format!(
                "timed out after {}; process group killed",
                words::elapsed(timeout)
            ),
        ),
        Ended::TooMuchOutput | Ended::WaitFailed => (false, None, "failed while running".into()),
    };
    for note in finished.notes {
        summary.push_str("; ");
        summary.push_str(&note);
    }
    Attempt {
        outcome: HookOutcome {
            ok,
            code,
            summary,
            stdout: finished.stdout.into_text(),
            stderr: err,
            attempts: 1,
            duration_ms: millis(finished.elapsed),
        },
        retryable: true,
    }
}

fn describe_exit(
    status: ExitStatus,
    elapsed: Duration,
    stderr: &str,
) -> (bool, Option<i32>, String) {
    match status.code() {
        Some(0) => (
            true,
            Some(0),
            format!("exit 0 in {}", words::elapsed(elapsed)),
        ),
        Some(code) => {
            let last = stderr
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("[rampdeck:"));
            let summary = match last {
                Some(line) => format!("exit {code}: {}", shorten(line, 200)),
                None => format!("exit {code} in {}", words::elapsed(elapsed)),
            };
            (false, Some(code), summary)
        }
        None => {
            let name = proc::signal_name(status).unwrap_or_else(|| "a signal".into());
            (false, None, format!("killed by {name}"))
        }
    }
}

fn failed(summary: String, started: Instant) -> HookOutcome {
    HookOutcome {
        ok: false,
        code: None,
        summary,
        stdout: String::new(),
        stderr: String::new(),
        attempts: 1,
        duration_ms: millis(started.elapsed()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars).collect();
    out.push('…');
    out
}

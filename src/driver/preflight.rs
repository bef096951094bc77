//! Pre-flight checks (issue 13): before `Start`, each `[[preflight]]`
//! item's automatic `check` runs as a real process (argv, no shell, in a
//! session of its own, killed at its timeout, output bounded) through
//! [`crate::proc::run`], the runner of command sources and argv hooks.
//! Each result goes to the engine as an `Input::PreflightResult`.

use std::time::Duration;

use tokio::process::Command;

use super::{Driver, DriverError, wall_now};
use crate::engine::{Actor, Input};
use crate::plan::{Plan, PreflightCheck};
use crate::proc::{self, Ended, Limits};

/// Bytes kept of each of a check's stdout and stderr (the engine keeps
/// the first ~500 characters of the summary).
const CAPTURE: usize = 4 * 1024;

/// After the check exits, how long a leftover process may hold its pipes.
const PIPE_GRACE: Duration = Duration::from_secs(2);

impl Driver {
    /// Before a new rollout's `Start`: each automatic check's result, then
    /// the command line's confirmation of the manual items, if given.
    pub(super) async fn preflight(&mut self) -> Result<(), DriverError> {
        for input in run_checks(&self.setup.plan).await {
            self.apply(input, wall_now())?;
        }
        if let Some((by, reason)) = self.setup.preflight_confirmed.clone() {
            // The name given; the rest of the identity is who typed it.
            let actor = Actor {
                user: by,
                ..self.setup.starter.clone()
            };
            self.apply(Input::PreflightConfirmed { actor, reason }, wall_now())?;
        }
        Ok(())
    }
}

/// Runs every automatic check of `plan`, one at a time, in item order.
async fn run_checks(plan: &Plan) -> Vec<Input> {
    let mut results = Vec::new();
    for (item, it) in plan.preflight_items().iter().enumerate() {
        if let Some(check) = &it.check {
            let (ok, summary) = run_check(check).await;
            results.push(Input::PreflightResult { item, ok, summary });
        }
    }
    results
}

/// Runs one check: whether it exited 0, and what it said.
async fn run_check(check: &PreflightCheck) -> (bool, String) {
    let Some((program, args)) = check.command.split_first() else {
        return (false, "the check's command is empty".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    let limits = Limits {
        timeout: check.timeout,
        stdout: CAPTURE,
        stdout_overflow_ends: false,
        stderr: CAPTURE,
        drain: PIPE_GRACE,
    };
    let finished = match proc::run(&mut cmd, &limits).await {
        Ok(f) => f,
        Err(e) => {
            let why = format!("could not start `{program}`: {e} (is it installed and on PATH?)");
            return (false, why);
        }
    };
    let (ok, head) = match finished.ended {
        Ended::Exited(status) => match status.code() {
            Some(0) => (true, "exit 0".to_string()),
            Some(code) => (false, format!("exit {code}")),
            None => {
                let name = proc::signal_name(status).unwrap_or_else(|| "a signal".into());
                (false, format!("killed by {name}"))
            }
        },
        Ended::TimedOut => (
            false,
            format!(
                "timed out after {}; process group killed",
                crate::engine::words::elapsed(check.timeout)
            ),
        ),
        Ended::TooMuchOutput | Ended::WaitFailed => (false, "failed while running".into()),
    };
    let mut summary = head;
    for text in [finished.stdout.into_text(), finished.stderr.into_text()] {
        let text = text.trim();
        if !text.is_empty() {
            summary.push_str(": ");
            summary.push_str(text);
        }
    }
    (ok, summary)
}

//! The start of a driver (lock taken over, freeze exception, pre-flight,
//! then `Start` or `Resume`), and the pre-flight checks (issue 13): before
//! `Start`, each `[[preflight]]` item's automatic `check` runs as a real
//! process (argv, no shell, in a session of its own, killed at its
//! timeout, output bounded) through [`crate::proc::run`], the runner of
//! command sources and argv hooks. Each result goes to the engine as an
//! `Input::PreflightResult`.

use std::time::Duration;

use tokio::process::Command;

use super::{Driver, DriverError, wall_now};
use crate::engine::{Actor, DecisionKind, Input, Phase};
use crate::plan::{Plan, PreflightCheck};
use crate::proc::{self, Ended, Limits};

/// Bytes kept of each of a check's stdout and stderr (the engine keeps
/// the first ~500 characters of the summary).
const CAPTURE: usize = 4 * 1024;

/// After the check exits, how long a leftover process may hold its pipes.
const PIPE_GRACE: Duration = Duration::from_secs(2);

impl Driver {
    /// Journals a lock taken over, then starts or resumes the rollout; a
    /// driver with no local view says the operator is not attached. A new
    /// rollout first runs its pre-flight checks and records a command-line
    /// confirmation; if the start is still refused for want of pre-flight,
    /// returns why.
    pub(super) async fn begin(&mut self) -> Result<Option<String>, DriverError> {
        let starter = self.setup.starter.clone();
        if let Some(prev) = self.setup.took_over.clone() {
            self.record(
                DecisionKind::LockTakenOver,
                &starter,
                &prev,
                serde_json::Value::Null,
            )?;
        }
        if let Some((approver, reason)) = self.setup.freeze_exception.clone() {
            let input = Input::FreezeException {
                approver,
                actor: starter.clone(),
                reason,
            };
            self.apply(input, wall_now())?;
        }
        if self.setup.resume.is_none() {
            self.preflight().await?;
        }
        let begin = match self.setup.resume.take() {
            Some(point) => Input::Resume {
                point: Box::new(point),
                actor: starter.clone(),
            },
            None => Input::Start {
                actor: starter.clone(),
            },
        };
        self.apply(begin, wall_now())?;
        if !self.local_view {
            let why = Input::OperatorPresence {
                attached: false,
                actor: starter,
            };
            self.apply(why, wall_now())?;
        }
        if matches!(self.engine.phase(), Phase::Pending) {
            return Ok(self.engine.preflight_refusal());
        }
        Ok(None)
    }

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

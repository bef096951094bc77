//! The start of a driver (lock taken over, freeze exception, pre-flight,
//! then `Start` or `Resume`), and the checklists' automatic checks (issue
//! 13). A check runs when the engine asks (`Effect::RunCheck`): an argv as
//! a real process (no shell, in a session of its own, killed at its
//! timeout, output bounded) through [`crate::proc::run`], the runner of
//! command sources and argv hooks, or an HTTP GET with the same timeout
//! and a bounded body. Each runs in a task of its own; its result comes
//! back to the driver's loop as an `Input::CheckResult`, so a slow check
//! delays no command.
//!
//! A new rollout whose pre-flight is not done stays `Pending`: the cockpit
//! shows the items and a person ticks them (here, or from an attached
//! driver); the driver starts the ramp once the last required item is
//! done. Headless, with no one to tick, it ends and says what is missing.

use std::time::Duration;

use tokio::process::Command;

use super::{Driver, DriverError, wall_now};
use crate::engine::checklist::Check;
use crate::engine::{Actor, DecisionKind, Input, Phase, Stage};
use crate::proc::{self, Ended, Limits};
use crate::session::flood::Kind;

/// Bytes kept of each of a check's stdout and stderr, and of a probe's
/// body (the engine keeps the first ~500 characters of the summary).
const CAPTURE: usize = 4 * 1024;

/// After the check exits, how long a leftover process may hold its pipes.
const PIPE_GRACE: Duration = Duration::from_secs(2);

impl Driver {
    /// Journals a lock taken over, then starts or resumes the rollout; a
    /// driver with no local view says the operator is not attached. A new
    /// rollout first asks for its pre-flight checks and records a
    /// command-line confirmation; it starts at once when nothing is
    /// missing, or later (see [`Driver::start_when_ready`]).
    pub(super) async fn begin(&mut self) -> Result<(), DriverError> {
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
        match self.setup.resume.take() {
            Some(point) => {
                let input = Input::Resume {
                    point: Box::new(point),
                    actor: starter.clone(),
                };
                self.apply(input, wall_now())?;
            }
            None => {
                let run = Input::RunChecks {
                    stage: Stage::Preflight,
                    item: None,
                };
                self.apply(run, wall_now())?;
                if let Some((by, reason)) = self.setup.preflight_confirmed.clone() {
                    // The name given; the rest of the identity is who typed it.
                    let actor = Actor {
                        user: by,
                        ..starter.clone()
                    };
                    let input = Input::Confirm {
                        stage: Stage::Preflight,
                        item: None,
                        actor,
                        reason,
                    };
                    self.apply(input, wall_now())?;
                }
                self.awaiting_start = true;
                self.start_when_ready()?;
            }
        }
        if !self.local_view {
            let why = Input::OperatorPresence {
                attached: false,
                actor: starter,
            };
            self.apply(why, wall_now())?;
        }
        Ok(())
    }

    /// A new rollout waiting for its pre-flight: start the ramp once every
    /// required item is done (once: a start the engine still refuses is
    /// journaled and not tried again). Headless, once no check is running
    /// and something required is still not done, says why it cannot start.
    /// A cockpit that hung up (SSH dropped) is not headless: the driver
    /// waits, as journaled, for a driver to attach or `rampdeck tick`.
    pub(super) fn start_when_ready(&mut self) -> Result<Option<String>, DriverError> {
        if !self.awaiting_start || !matches!(self.engine.phase(), Phase::Pending) {
            self.awaiting_start = false;
            return Ok(None);
        }
        match self.engine.preflight_refusal() {
            None => {
                self.awaiting_start = false;
                let actor = self.setup.starter.clone();
                self.apply(Input::Start { actor }, wall_now())?;
                Ok(None)
            }
            Some(why) => {
                let settled = self
                    .engine
                    .checklist(Stage::Preflight)
                    .iter()
                    .all(|i| i.state != crate::engine::checklist::ItemState::Running);
                let headless = self.setup.exit_when_done && self.local_view;
                Ok((headless && settled).then_some(why))
            }
        }
    }

    /// Runs item `item`'s check of `stage` in a task of its own.
    pub(super) fn spawn_check(&mut self, stage: Stage, item: usize) {
        let plan = &self.setup.plan;
        let check = match stage {
            Stage::Preflight => plan
                .preflight_items()
                .get(item)
                .and_then(|i| i.check.clone()),
            Stage::Exit => plan
                .exit
                .as_ref()
                .and_then(|e| e.items.get(item))
                .and_then(|i| i.check.clone()),
        };
        let tx = self.check_tx.clone();
        tokio::spawn(async move {
            let (ok, summary) = match check {
                Some(check) => run_check(&check).await,
                None => (false, "no check at this item".into()),
            };
            let input = Input::CheckResult {
                stage,
                item,
                ok,
                summary,
            };
            let _ = tx.send(input).await;
        });
    }
}

/// Runs one check: whether it passed, and what it said.
pub async fn run_check(check: &Check) -> (bool, String) {
    match &check.http {
        Some(probe) => run_probe(&probe.url, check.timeout, |s| probe.passes(s)).await,
        None => run_command(check).await,
    }
}

/// GETs `url` within `timeout`: the status, and the start of the body.
async fn run_probe(url: &str, timeout: Duration, passes: impl Fn(u16) -> bool) -> (bool, String) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return (false, format!("no HTTP client: {e}")),
    };
    let answer = match client.get(url).send().await {
        Ok(a) => a,
        Err(e) if e.is_timeout() => {
            let after = crate::engine::words::elapsed(timeout);
            return (false, format!("GET {url}: no answer within {after}"));
        }
        Err(e) => {
            return (
                false,
                format!("GET {url}: {}", crate::hooks::error_chain(&e)),
            );
        }
    };
    let status = answer.status().as_u16();
    let mut body = Vec::new();
    let mut answer = answer;
    // Bounded in size and time: a probe that answers without end is cut.
    let read = tokio::time::timeout(timeout, async {
        while let Ok(Some(chunk)) = answer.chunk().await {
            let room = CAPTURE.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= CAPTURE {
                break;
            }
        }
    });
    let _ = read.await;
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    let head = format!("HTTP {status}");
    let summary = if text.is_empty() {
        head
    } else {
        format!("{head}: {text}")
    };
    (passes(status), summary)
}

/// Runs an argv check: whether it exited 0, and what it said.
async fn run_command(check: &Check) -> (bool, String) {
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

impl Driver {
    /// A person ticks a manual checklist item (`client`: from an attached
    /// view, which must be the one in control). The note is redacted and
    /// bounded like a command's reason; the engine decides and journals.
    pub(super) fn confirm(
        &mut self,
        stage: Stage,
        item: Option<usize>,
        actor: Actor,
        reason: String,
        client: Option<u64>,
    ) -> Result<(), DriverError> {
        if let Err(why) = crate::engine::reason::check_reason(&reason) {
            self.tell(client, format!("refused: {why}"));
            return Ok(());
        }
        let reason = self.redactor.text(&reason).into_owned();
        let who = crate::session::access::person(&actor);
        let may = self.access.controller() == Some(who.as_str()) || self.access.may_drive(&who);
        if client.is_some() && !may {
            let why = format!(
                "refused: only a driver of this rollout ticks {} items (the plan's `drivers`)",
                stage.word()
            );
            self.tell(client, why);
            return Ok(());
        }
        let verdict = self.engine.confirmable(stage, item, &actor);
        // A view's ticks count as its commands; its refusals are journaled
        // up to the flood limit, so a loop cannot fill the journal.
        let now = wall_now();
        if client.is_some()
            && (!self.flood.pass(&who, Kind::Command, now)
                || verdict.is_err() && !self.flood.pass(&who, Kind::Refused, now))
        {
            let why = match verdict {
                Err(why) => format!("refused: {why}"),
                Ok(()) => {
                    format!("refused: too many commands from {who}; this one was not carried out")
                }
            };
            self.tell(client, why);
            return Ok(());
        }
        let input = Input::Confirm {
            stage,
            item,
            actor,
            reason,
        };
        self.apply(input, now)?;
        self.tell(
            client,
            match verdict {
                Ok(()) => "accepted: item confirmed".to_string(),
                Err(why) => format!("refused: {why}"),
            },
        );
        Ok(())
    }
}

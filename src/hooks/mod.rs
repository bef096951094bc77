//! Hooks: how rampdeck acts on the world.
//!
//! A hook is an argv command (never a shell) or a webhook, with
//! placeholders filled from validated [`HookVars`]. [`run`] runs one hook to
//! its end, with retries for idempotent hooks, and returns the
//! [`HookOutcome`] the driver feeds back to the engine as
//! `Input::HookResult`.
//!
//! - `vars`: values, validation, expansion of the hook's templates.
//! - `command`: argv in its own process group; timeout kills the group.
//! - `webhook`: HTTP with a JSON body template and env-sourced secrets.
//! - `notify`: the optional Slack-compatible notification.

mod command;
mod notify;
pub mod vars;
mod webhook;

use std::time::{Duration, Instant};

use tokio::sync::watch;

pub use command::{CAPTURE_LIMIT, Capture};
pub use notify::notify_slack;
pub use vars::{HookVars, expand_argv, expand_json_body, expand_url};
pub(crate) use webhook::error_chain;

use crate::engine::HookOutcome;
use crate::plan::{Hook, HookAction, Webhook};
use crate::template::Template;
use vars::template;

/// What can be wrong with a hook before or around running it.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("invalid {field} {value:?}: {why}")]
    InvalidValue {
        field: &'static str,
        value: String,
        why: String,
    },
    /// An unknown placeholder: the message names the ones hooks may use.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    #[error("the hook's command is empty; give at least the program to run")]
    EmptyCommand,
    #[error("webhook URL {url:?} is not a valid URL after expansion: {why}")]
    InvalidUrl { url: String, why: String },
    #[error(
        "webhook body is not valid JSON after expansion ({why}); put string placeholders inside quotes, e.g. \"{{reason}}\". Template: {template}"
    )]
    BodyNotJson { why: String, template: String },
    #[error("webhook method {0:?} is not an HTTP method; use POST, PUT, PATCH, GET or DELETE")]
    InvalidMethod(String),
    #[error(
        "environment variable {var} (for header {header}) is not set; export it before starting rampdeck"
    )]
    MissingEnv { header: String, var: String },
    #[error("header {name:?} is invalid: {why}")]
    InvalidHeader { name: String, why: String },
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
    #[error("notification failed: {0}")]
    Notify(String),
}

/// Backoff between attempts of an idempotent hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
    /// Upper bound of one wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after attempt `n` (1-based) failed: 0.5 s, 1 s, 2 s, … capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// One attempt's result, and whether another attempt could help.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub outcome: HookOutcome,
    pub retryable: bool,
}

impl Attempt {
    /// Nothing ran: the hook could not even be built.
    fn refused(summary: String) -> Attempt {
        Attempt {
            outcome: HookOutcome {
                ok: false,
                code: None,
                summary: format!("not run: {summary}"),
                stdout: String::new(),
                stderr: String::new(),
                attempts: 0,
                duration_ms: 0,
            },
            retryable: false,
        }
    }
}

/// Runs `hook` with `vars` to its end, with the default [`RetryPolicy`].
///
/// Values are validated first; invalid ones refuse the hook (`attempts` 0).
/// Idempotent hooks get up to `hook.retries` extra attempts with exponential
/// backoff; others run exactly once. When `cancel` becomes `true` (a human
/// took over) no further attempt starts; a running attempt is left to
/// finish or time out, because killing a half-done deployment command is
/// worse than letting it end.
pub async fn run(hook: &Hook, vars: &HookVars, cancel: watch::Receiver<bool>) -> HookOutcome {
    run_with(hook, vars, cancel, RetryPolicy::default()).await
}

/// [`run`] with an explicit retry policy.
pub async fn run_with(
    hook: &Hook,
    vars: &HookVars,
    mut cancel: watch::Receiver<bool>,
    policy: RetryPolicy,
) -> HookOutcome {
    if let Err(e) = vars.validate() {
        return Attempt::refused(e.to_string()).outcome;
    }
    let started = Instant::now();
    let max_attempts = if hook.idempotent {
        hook.retries.saturating_add(1)
    } else {
        1
    };
    // Parsed once for every attempt; expanding (which can refuse) is per attempt.
    let action = match &hook.action {
        HookAction::Command(argv) => Parsed::Command(argv.iter().map(|a| template(a)).collect()),
        HookAction::Webhook(wh) => Parsed::Webhook(wh, webhook::Templates::of(wh)),
    };
    let mut n = 0;
    loop {
        n += 1;
        let attempt = match &action {
            Parsed::Command(argv) => command::run_once(argv, vars, hook.timeout).await,
            Parsed::Webhook(wh, t) => webhook::run_once(wh, t, vars, hook.timeout).await,
        };
        let mut outcome = attempt.outcome;
        let done = outcome.ok || !attempt.retryable || n >= max_attempts;
        let stopped = if done {
            false
        } else {
            let cancelled = *cancel.borrow();
            cancelled || wait_or_cancel(&mut cancel, policy.backoff(n)).await
        };
        if done || stopped {
            if outcome.attempts > 0 {
                outcome.attempts = n;
            }
            outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if n > 1 {
                outcome
                    .summary
                    .push_str(&format!(" (attempt {n} of {max_attempts})"));
            }
            if stopped {
                outcome
                    .summary
                    .push_str("; retries stopped: a human took over");
            }
            return outcome;
        }
    }
}

/// A hook's action with its templates parsed.
enum Parsed<'a> {
    Command(Vec<Template>),
    Webhook(&'a Webhook, webhook::Templates),
}

/// Sleeps `d`; returns `true` as soon as `cancel` turns `true`. A dropped
/// sender means nobody can cancel any more: sleep out the backoff.
async fn wait_or_cancel(cancel: &mut watch::Receiver<bool>, d: Duration) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    let cancelled = tokio::select! {
        () = &mut sleep => return false,
        // Reduce to a bool at once: the watch guard must not live across an
        // await (it would make the future !Send and block the sender).
        r = cancel.wait_for(|c| *c) => r.is_ok(),
    };
    if !cancelled {
        sleep.await;
    }
    cancelled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| p.backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, vec![500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(p.backoff(100), Duration::from_secs(10));
    }
}

//! The rollout plan from TOML: parse, validate, find, explain.
//!
//! `parse` turns a TOML text into a [`Plan`] or a [`ConfigError`] that names
//! `FILE:LINE:COL`, what is wrong and how to fix it. Parsing is two passes:
//! serde into the raw schema (`raw`, every table `deny_unknown_fields`, spans
//! kept), then the semantic rules (`build`, `sources`, `metrics`, `hooks`)
//! that fill defaults and produce the clean plan. `explain` renders what
//! `rampdeck plan` prints; `warnings` lists what is allowed but risky.

mod approvals;
mod build;
mod error;
mod explain;
mod hooks;
mod host;
mod incidents;
mod kinds;
mod metrics;
mod preflight;
mod raw;
mod sources;
mod strategy;
mod values;
mod windows;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use explain::past::incident_line;
pub use explain::{ExplainFormat, explain, worst_case_to_rollback};
pub use hooks::{DEFAULT_EXPECT_STATUS, DEFAULT_HOOK_TIMEOUT, DEFAULT_ROLLBACK_RETRIES};
pub use host::{expand_home, journal_dir_usable, session_group_usable};
pub use metrics::{DEFAULT_CONSECUTIVE, DEFAULT_NO_DATA};
pub use sources::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT};
pub use values::is_dns_label;

use crate::plan::{GateKind, Plan, SourceKind, Strategy};

/// File name looked for in the working directory and the user's config dir.
pub const FILE_NAME: &str = "rampdeck.toml";

/// Parses and validates a plan. `origin` names the file in messages.
pub fn parse(src: &str, origin: &str) -> Result<Plan, ConfigError> {
    let ctx = error::Ctx { src, origin };
    // Syntax first, so a broken file is reported as such and not as a schema error.
    if let Err(e) = src.parse::<toml::Table>() {
        return Err(ctx.syntax_error(&e));
    }
    let raw: raw::RawPlan = toml::from_str(src).map_err(|e| ctx.schema_error(&e))?;
    build::build(&ctx, &raw)
}

/// [`parse`], then the checks against this host that `plan` and `run`
/// make before anything runs: `journal_dir` can be written, and
/// `session_group` exists with this user in it.
pub fn parse_on_host(src: &str, origin: &str) -> Result<Plan, ConfigError> {
    let plan = parse(src, origin)?;
    let ctx = error::Ctx { src, origin };
    // Parsed once already: this cannot fail, but a failure is still reported.
    let raw: raw::RawPlan = toml::from_str(src).map_err(|e| ctx.schema_error(&e))?;
    host::check(&ctx, &raw)?;
    Ok(plan)
}

/// Reads a plan file and checks it with [`parse_on_host`].
pub fn load_on_host(path: &Path) -> Result<Plan, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_on_host(&src, &path.display().to_string())
}

/// Reads and parses a plan file (no host checks: see [`load_on_host`]).
pub fn load(path: &Path) -> Result<Plan, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse(&src, &path.display().to_string())
}

/// Where the plan is: `explicit` (from `--config`), else `./rampdeck.toml`,
/// else `<user config dir>/rampdeck.toml`. The error lists every place tried.
pub fn discover(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        // An explicit path that is missing is an error, never a fallback.
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ConfigError::NotFound {
                looked: vec![p.to_path_buf()],
            })
        };
    }
    let mut looked = vec![PathBuf::from(".").join(FILE_NAME)];
    if let Some(dirs) = directories::ProjectDirs::from("", "", "rampdeck") {
        looked.push(dirs.config_dir().join(FILE_NAME));
    }
    match looked.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(ConfigError::NotFound { looked }),
    }
}

/// The user's data dir for journals (e.g. `~/.local/share/rampdeck`), or
/// `./rampdeck-journals` when the platform has no home directory.
pub fn default_journal_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "rampdeck").map_or_else(
        || PathBuf::from("./rampdeck-journals"),
        |d| d.data_dir().to_path_buf(),
    )
}

/// Where this plan's journals go: `rollout.journal_dir` (`~/` is the home
/// directory) or the default.
pub fn journal_dir(plan: &Plan) -> PathBuf {
    plan.rollout
        .journal_dir
        .as_deref()
        .map_or_else(default_journal_dir, expand_home)
}

/// Allowed but risky: shown by `rampdeck plan` and at start.
pub fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for s in &plan.sources {
        let target = match &s.kind {
            SourceKind::Prometheus(t)
            | SourceKind::HttpJson(t)
            | SourceKind::Probe { target: t, .. } => Some(t),
            SourceKind::Command => None,
        };
        if target.is_some_and(|t| t.insecure_skip_verify) {
            out.push(format!(
                "source \"{}\" skips TLS certificate checks (insecure_skip_verify)",
                s.name
            ));
        }
        if !plan.metrics.iter().any(|m| m.source == s.name) {
            out.push(format!("source \"{}\" is not used by any metric", s.name));
        }
    }
    if plan.triggers.is_empty() {
        out.push("no [[triggers]]: nothing rolls back on its own; only a human can".into());
    }
    let can_breach = plan.metrics.iter().any(|m| {
        let t = &m.threshold;
        t.limit.is_some() || t.ratio.is_some() || t.delta.is_some()
    });
    if let Some(step) = plan
        .steps
        .iter()
        .find(|s| s.weight > 0 && s.gate == GateKind::Auto)
    {
        if !can_breach {
            out.push(format!(
                "step \"{}\" sends {} % of traffic on an auto gate, but no metric has a limit, ratio or delta that can breach",
                step.name, step.weight
            ));
        }
    }
    if plan.hooks.rollback.is_none() {
        out.push(
            "no [hooks.rollback]: a rollback is only recorded; nothing moves traffic back".into(),
        );
    }
    if plan.steps.last().is_some_and(|s| s.weight < 100) {
        out.push(
            "the last step is below 100 %: the rollout ends without all traffic on the new version"
                .into(),
        );
    }
    if plan.rollout.strategy == Strategy::BlueGreen {
        if plan.hooks.switch.is_none() && plan.hooks.set_weight.is_none() {
            out.push("blue-green plan without [hooks.switch] or [hooks.set_weight]: the switch is only recorded; nothing moves traffic".into());
        }
        if plan.hooks.scale_down.is_some() && plan.hooks.redeploy.is_none() {
            out.push("blue-green plan with [hooks.scale_down] but no [hooks.redeploy]: once the old stack is scaled down a rollback is only recorded".into());
        }
    }
    for m in &plan.metrics {
        if let Some(r) = m.threshold.ratio {
            let wrong_side = match m.bad {
                crate::plan::BadDirection::Up => r < 1.0,
                crate::plan::BadDirection::Down => r > 1.0,
            };
            if wrong_side {
                out.push(format!(
                    "metric \"{}\": ratio {r} is a breach even when the canary equals the baseline",
                    m.id
                ));
            }
        }
    }
    if plan.rollout.ticket.is_none() {
        out.push("no [rollout.ticket]: the journal will not name a change ticket".into());
    }
    out
}

/// A warning when `now` is outside the plan's change window, for `plan`
/// and `run` to show (kept out of `explain` so its output needs no clock).
/// A window whose end is before its start crosses midnight and belongs to
/// the day it starts on.
pub fn outside_window(plan: &Plan, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let w = plan.rollout.window.as_ref()?;
    let minute = u16::try_from(now.hour() * 60 + now.minute()).unwrap_or(0);
    let day_name = |d: chrono::Weekday| d.to_string().to_ascii_lowercase();
    let today = now.weekday();
    let inside = if w.start_min < w.end_min {
        (w.start_min..w.end_min).contains(&minute) && w.days.contains(&day_name(today))
    } else {
        (minute >= w.start_min && w.days.contains(&day_name(today)))
            || (minute < w.end_min && w.days.contains(&day_name(today.pred())))
    };
    (!inside).then(|| {
        format!(
            "outside the change window ({}-{} UTC, {}): it is {} {} UTC",
            crate::engine::words::minute_of_day(w.start_min),
            crate::engine::words::minute_of_day(w.end_min),
            w.days.join(" "),
            day_name(today),
            crate::engine::words::minute_of_day(minute)
        )
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_change;

//! What the plan says about change windows and freezes, as validated data,
//! and the parsers `config` and [`super::Windows`] share so that a plan that
//! was accepted always compiles.
//!
//! The shape is Argo CD's sync windows (`kind`, `schedule`, `duration`,
//! `time_zone`, `description`) rather than one of our own, so people who
//! know those read ours at once; dated freezes add what a cron cannot say
//! (one fortnight at year end).

use std::str::FromStr;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

use crate::engine::types::Timestamp;
use crate::plan::ChangeWindow;

/// `[[windows]]`, `[[freezes]]` and `[change_window]` of a plan. Empty by
/// default, and then skipped when a plan is journaled, so journals written
/// before windows existed read the same.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WindowPlan {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freezes: Vec<FreezeSpec>,
    /// What a window closing during a rollout does.
    #[serde(default)]
    pub on_close: OnClose,
}

impl WindowPlan {
    /// Whether the plan says nothing about windows (for `skip_serializing_if`).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.freezes.is_empty() && self.on_close == OnClose::Hold
    }
}

/// Argo CD's window kinds: with allow windows a change may happen only inside
/// one; a deny window forbids changes while it is open, whatever allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Allow,
    Deny,
}

impl WindowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::Allow => "allow",
            WindowKind::Deny => "deny",
        }
    }
}

/// `on_close`: what a window that closes during a rollout does to it.
/// Holding is the default because a rollback moves traffic too, and the
/// people who own the window may prefer to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnClose {
    /// Hold the ramp at its step (triggers stay armed) until a window opens.
    #[default]
    Hold,
    /// Roll back.
    Rollback,
}

/// One `[[windows]]` entry: open for `duration` from each occurrence of
/// `schedule` in `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub kind: WindowKind,
    /// A 5-field cron expression (minute hour day-of-month month day-of-week).
    pub schedule: String,
    #[serde(with = "crate::plan::duration_ms")]
    pub duration: Duration,
    /// IANA zone name; "UTC" by default.
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl WindowSpec {
    /// The old `[rollout.window]` ("HH:MM" to "HH:MM" in UTC on some days)
    /// as one daily allow window in UTC, so plans written before keep
    /// meaning what they meant. A window crossing midnight belongs to the
    /// day it starts on, which is what a cron occurrence plus a duration
    /// says too.
    pub fn from_legacy(w: &ChangeWindow) -> WindowSpec {
        let minutes = (i32::from(w.end_min) - i32::from(w.start_min)).rem_euclid(24 * 60);
        let days = if w.days.len() == 7 {
            "*".to_string()
        } else {
            w.days.join(",")
        };
        WindowSpec {
            kind: WindowKind::Allow,
            schedule: format!("{} {} * * {days}", w.start_min % 60, w.start_min / 60),
            duration: Duration::from_secs(minutes as u64 * 60),
            time_zone: "UTC".into(),
            description: Some(format!(
                "rollout.window {}-{} UTC",
                crate::engine::words::minute_of_day(w.start_min),
                crate::engine::words::minute_of_day(w.end_min)
            )),
        }
    }
}

/// One `[[freezes]]` entry: no changes from `from` to `to`, local date-times
/// ("2026-12-20 18:00") in `time_zone`. Kept as written so `plan` and the
/// journal show what the person typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeSpec {
    pub from: String,
    pub to: String,
    /// IANA zone name; "UTC" by default.
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The format of a freeze's `from` and `to`.
pub const LOCAL_FORMAT: &str = "%Y-%m-%d %H:%M";

/// Parses a 5-field cron expression the way windows use it: no seconds and
/// no year field, so "0 9 * * 1-5" means what it means to crontab and Argo
/// CD. The error is croner's own message.
pub fn parse_schedule(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 && !expr.trim_start().starts_with('@') {
        return Err(format!(
            "it has {fields} fields; a schedule has 5 (minute hour day-of-month month day-of-week)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| e.to_string())
}

/// Parses an IANA zone name ("Europe/Berlin", "UTC").
pub fn parse_zone(name: &str) -> Option<Tz> {
    Tz::from_str(name).ok()
}

/// Why a local date-time does not name one instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    #[error("\"{0}\" is not a date-time of the form \"YYYY-MM-DD HH:MM\"")]
    Format(String),
    #[error("\"{0}\" does not exist in {1}: the clocks skip it")]
    Skipped(String, String),
}

/// The instant of a local date-time in `tz`. A time that happens twice (the
/// clocks go back) is its first occurrence for a freeze's start and its
/// second for its end, so the freeze covers the whole of both.
pub fn local_instant(text: &str, tz: Tz, latest: bool) -> Result<Timestamp, LocalTimeError> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), LOCAL_FORMAT)
        .map_err(|_| LocalTimeError::Format(text.to_string()))?;
    let at = match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t,
        chrono::LocalResult::Ambiguous(first, second) => {
            if latest {
                second
            } else {
                first
            }
        }
        chrono::LocalResult::None => {
            return Err(LocalTimeError::Skipped(text.to_string(), tz.name().into()));
        }
    };
    Ok(Timestamp(at.timestamp_millis()))
}

//! Change windows and freezes: whether a change may happen at `now`, why,
//! and when that next changes. Pure: time comes in as a [`Timestamp`].
//!
//! Semantics are Argo CD's sync windows: with no windows a change is always
//! allowed; with allow windows only inside one; an open deny window or
//! freeze wins over any allow window. A window is open at t when some
//! occurrence s of its schedule (in its zone, so 09:00 stays 09:00 local
//! across a DST change) has s ≤ t < s + duration.
//!
//! The search for the next change is bounded ([`LOOK_AHEAD`]) so that a
//! schedule that never fires, or a plan with a freeze a year away, costs the
//! same as any other: past the bound the state says "not within 8 days".

mod spec;
mod words;

use std::time::Duration;

use chrono::TimeZone;
use chrono_tz::Tz;
use croner::Cron;

use crate::engine::types::Timestamp;
use crate::plan::Plan;

pub use spec::{
    FreezeSpec, LOCAL_FORMAT, LocalTimeError, OnClose, WindowKind, WindowPlan, WindowSpec,
    local_instant, parse_schedule, parse_zone,
};

/// How far ahead the next opening or closing is looked for.
pub const LOOK_AHEAD: Duration = Duration::from_secs(8 * 24 * 3600);

/// Occurrences of one schedule read per question: a schedule firing every
/// minute with a long duration is one long open span, and reading more of
/// it says nothing new, while an unbounded read would cost the caller's
/// tick.
const MAX_OCCURRENCES: usize = 4096;

/// Which rule is open: an index into [`Windows::windows`] (the plan's
/// windows, then the converted `[rollout.window]`) or [`Windows::freezes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Window(usize),
    Freeze(usize),
}

/// The answer for one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    /// Whether a rollout may start or promote now.
    pub allowed: bool,
    /// The same in words, for the header, `plan` and refusals.
    pub why: String,
    /// The windows and freezes open now.
    pub active: Vec<Rule>,
    /// When `allowed` next flips, if within [`LOOK_AHEAD`].
    pub changes_at: Option<Timestamp>,
}

/// Why a plan's windows do not compile. `config` refuses such plans with
/// the line and column, so for a parsed plan this does not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("window {index}: schedule \"{schedule}\": {message}")]
    Schedule {
        index: usize,
        schedule: String,
        message: String,
    },
    #[error("unknown time zone \"{0}\"")]
    Zone(String),
    #[error("window {0}: a duration under a minute is never open")]
    TooShort(usize),
    #[error("freeze {index}: {error}")]
    Local { index: usize, error: LocalTimeError },
    #[error("freeze {0}: `to` is not after `from`")]
    Reversed(usize),
}

/// One compiled window.
#[derive(Debug, Clone)]
pub struct Window {
    pub spec: WindowSpec,
    cron: Cron,
    tz: Tz,
}

/// One compiled freeze: its instants, and its zone for the words.
#[derive(Debug, Clone)]
pub struct Freeze {
    pub spec: FreezeSpec,
    pub from: Timestamp,
    pub to: Timestamp,
    tz: Tz,
}

/// A plan's windows and freezes, compiled once, asked many times.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    pub windows: Vec<Window>,
    pub freezes: Vec<Freeze>,
}

/// An open span of one rule, `[start, end)` in ms.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    end: i64,
    rule: Rule,
}

impl Windows {
    /// The plan's `[[windows]]` and `[[freezes]]`, with its old
    /// `[rollout.window]` as one more daily allow window in UTC.
    pub fn of(plan: &Plan) -> Result<Windows, WindowError> {
        let mut specs = plan.change_windows.windows.clone();
        specs.extend(plan.rollout.window.as_ref().map(WindowSpec::from_legacy));
        Windows::new(&specs, &plan.change_windows.freezes)
    }

    /// Compiles windows and freezes, checking what `config` checks.
    pub fn new(windows: &[WindowSpec], freezes: &[FreezeSpec]) -> Result<Windows, WindowError> {
        let zone = |name: &str| parse_zone(name).ok_or_else(|| WindowError::Zone(name.into()));
        let mut out = Windows::default();
        for (index, spec) in windows.iter().enumerate() {
            let cron = parse_schedule(&spec.schedule).map_err(|message| WindowError::Schedule {
                index,
                schedule: spec.schedule.clone(),
                message,
            })?;
            if spec.duration < Duration::from_secs(60) {
                return Err(WindowError::TooShort(index));
            }
            out.windows.push(Window {
                tz: zone(&spec.time_zone)?,
                cron,
                spec: spec.clone(),
            });
        }
        for (index, spec) in freezes.iter().enumerate() {
            let tz = zone(&spec.time_zone)?;
            let local = |text: &str, latest| {
                local_instant(text, tz, latest).map_err(|error| WindowError::Local { index, error })
            };
            let (from, to) = (local(&spec.from, false)?, local(&spec.to, true)?);
            if to <= from {
                return Err(WindowError::Reversed(index));
            }
            out.freezes.push(Freeze {
                spec: spec.clone(),
                from,
                to,
                tz,
            });
        }
        Ok(out)
    }

    /// Whether there is anything to check at all.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.freezes.is_empty()
    }

    /// Whether a change may happen at `now`, why, which rules are open, and
    /// when that next changes.
    pub fn state(&self, now: Timestamp) -> WindowState {
        let (spans, horizon) = self.spans(now.0, now.0.saturating_add(ms(LOOK_AHEAD)));
        let (allowed, active) = self.judge(&spans, now.0);
        let change = self.next_change(&spans, now.0, horizon, allowed);
        let why = words::why(self, &spans, now, allowed, &active, change, horizon);
        WindowState {
            allowed,
            why,
            active,
            changes_at: change.map(|(t, _)| Timestamp(t)),
        }
    }

    /// [`Windows::state`]'s words alone.
    pub fn describe(&self, now: Timestamp) -> String {
        self.state(now).why
    }

    /// A rule's name for people: its description, else what it is.
    pub fn label(&self, rule: Rule) -> String {
        match rule {
            Rule::Window(i) => self.windows.get(i).map_or_else(String::new, |w| {
                w.spec.description.clone().unwrap_or_else(|| {
                    format!(
                        "{} {} for {}",
                        w.spec.kind.as_str(),
                        w.spec.schedule,
                        humantime::format_duration(w.spec.duration)
                    )
                })
            }),
            Rule::Freeze(i) => self.freezes.get(i).map_or_else(String::new, |f| {
                f.spec
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("{} to {}", f.spec.from, f.spec.to))
            }),
        }
    }

    /// The next span in which `rule` alone is open, `[opens, closes)`,
    /// from `now` on: `opens` ≤ `now` when it is open now. `None` when it
    /// does not open within [`LOOK_AHEAD`] (or, for a long-open window,
    /// does not close within it: then `closes` is the look-ahead's end).
    /// Whether a change is allowed also depends on the other rules: see
    /// [`Windows::state`].
    pub fn next_open(&self, rule: Rule, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let to = now.0.saturating_add(ms(LOOK_AHEAD));
        let (spans, _) = self.spans(now.0, to);
        spans
            .iter()
            .filter(|s| s.rule == rule && s.end > now.0)
            .min_by_key(|s| s.start)
            .map(|s| (Timestamp(s.start), Timestamp(s.end)))
    }

    /// `t` with its date, in the zone of `rule`: "Mon 2026-12-07 09:00
    /// Europe/Berlin", for a document read later than it was made.
    pub fn dated(&self, rule: Rule, t: Timestamp) -> String {
        words::dated(t, self.zone(rule))
    }

    /// The zone a rule's times are shown in.
    fn zone(&self, rule: Rule) -> Tz {
        match rule {
            Rule::Window(i) => self.windows.get(i).map_or(Tz::UTC, |w| w.tz),
            Rule::Freeze(i) => self.freezes.get(i).map_or(Tz::UTC, |f| f.tz),
        }
    }

    fn kind(&self, rule: Rule) -> WindowKind {
        match rule {
            Rule::Window(i) => self
                .windows
                .get(i)
                .map_or(WindowKind::Deny, |w| w.spec.kind),
            Rule::Freeze(_) => WindowKind::Deny,
        }
    }

    fn has_allow(&self) -> bool {
        self.windows
            .iter()
            .any(|w| w.spec.kind == WindowKind::Allow)
    }

    /// The open spans of every rule that touch `[from, to)`, each rule's
    /// overlapping spans merged, and how far they are complete: `to`, or
    /// less when a schedule fired more than [`MAX_OCCURRENCES`] times.
    fn spans(&self, from: i64, to: i64) -> (Vec<Span>, i64) {
        let mut out = Vec::new();
        let mut horizon = to;
        for (i, w) in self.windows.iter().enumerate() {
            let d = ms(w.spec.duration);
            let mut mine: Vec<Span> = Vec::new();
            // An occurrence after `from - d` may still be open at `from`.
            let Some(mut at) = w.tz.timestamp_millis_opt(from.saturating_sub(d)).single() else {
                continue;
            };
            for n in 0.. {
                let Ok(s) = w.cron.find_next_occurrence(&at, false) else {
                    break;
                };
                let start = s.timestamp_millis();
                if start >= to {
                    break;
                }
                if n == MAX_OCCURRENCES {
                    horizon = horizon.min(start);
                    break;
                }
                let end = start.saturating_add(d);
                match mine.last_mut() {
                    Some(last) if start <= last.end => last.end = last.end.max(end),
                    _ => mine.push(Span {
                        start,
                        end,
                        rule: Rule::Window(i),
                    }),
                }
                // Open past the end of the question: nothing later matters.
                if mine.last().is_some_and(|l| l.end >= to) {
                    break;
                }
                at = s;
            }
            out.extend(mine);
        }
        for (i, f) in self.freezes.iter().enumerate() {
            if f.to.0 > from && f.from.0 < to {
                out.push(Span {
                    start: f.from.0,
                    end: f.to.0,
                    rule: Rule::Freeze(i),
                });
            }
        }
        (out, horizon)
    }

    /// Argo CD's rule at instant `t`: allowed unless a deny is open, and,
    /// when there are allow windows, only inside one.
    fn judge(&self, spans: &[Span], t: i64) -> (bool, Vec<Rule>) {
        let mut active: Vec<Rule> = Vec::new();
        for s in spans.iter().filter(|s| s.start <= t && t < s.end) {
            if !active.contains(&s.rule) {
                active.push(s.rule);
            }
        }
        let denied = active.iter().any(|r| self.kind(*r) == WindowKind::Deny);
        let inside_allow = active.iter().any(|r| self.kind(*r) == WindowKind::Allow);
        (!denied && (inside_allow || !self.has_allow()), active)
    }

    /// The first span edge after `now` (and up to `horizon`) where the
    /// answer differs from `allowed`, with the rule whose edge it is.
    fn next_change(
        &self,
        spans: &[Span],
        now: i64,
        horizon: i64,
        allowed: bool,
    ) -> Option<(i64, Rule)> {
        let mut edges: Vec<(i64, Rule)> = spans
            .iter()
            .flat_map(|s| [(s.start, s.rule), (s.end, s.rule)])
            .filter(|(t, _)| *t > now && *t <= horizon)
            .collect();
        edges.sort_by_key(|(t, _)| *t);
        edges
            .into_iter()
            .find(|(t, _)| self.judge(spans, *t).0 != allowed)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

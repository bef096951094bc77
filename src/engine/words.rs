//! The rollout's words: how a number, a value with its unit, a duration, a
//! countdown, a time of day, a phase and the next automatic action read.
//!
//! Each exists once, here. The cockpit, attached views, headless lines,
//! notices, the journal's reasons, the summary and `rampdeck plan` all call
//! these functions, so the same thing reads the same everywhere. Pure:
//! every function is a function of its arguments (no clock, no I/O).

use std::time::Duration;

use crate::plan::{Metric, NoDataAction};

use super::types::{NextAction, Phase, Timestamp};

/// Shown for a value that is absent.
pub const MISSING: &str = "-";

/// A number with three significant digits (all of an integer part) and no
/// trailing zeros: `0.081`, `2.3`, `1.15`, `1235`, `0`. Very small or very large magnitudes use
/// an exponent (`1.2e-7`, `3.5e15`); infinities read `+Inf` / `-Inf`
/// (as Prometheus writes them) and not-a-number reads `NaN`.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        // Also -0.0: a sign on nothing only confuses.
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e15).contains(&a) {
        return exponent(v);
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

/// `1.2e-7`: three significant digits, trailing zeros dropped.
fn exponent(v: f64) -> String {
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa.to_string())),
        None => s,
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Like [`number`] but always with a decimal point, for ratios: `2.0`,
/// `2.3`, `1.25`.
pub fn ratio(v: f64) -> String {
    let s = number(v);
    if s.contains(['.', 'e', 'I', 'N']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// How a metric's numbers are shown: raw values times `scale`, followed by
/// `unit` ("7.3 % > 2 % limit" rather than "0.073 > 0.02"). Only the
/// wording changes; judgements are always on raw values.
#[derive(Debug, Clone, Copy)]
pub struct Units<'a> {
    pub scale: f64,
    pub unit: &'a str,
}

impl<'a> Units<'a> {
    /// Raw values, no unit.
    pub const RAW: Units<'static> = Units {
        scale: 1.0,
        unit: "",
    };

    /// The display scale and unit of `metric`.
    pub fn of(metric: &'a Metric) -> Self {
        Units {
            scale: metric.display_scale,
            unit: &metric.unit,
        }
    }

    /// `v` scaled, with its unit: `1.2 %`, `812 ms`, `0.5`.
    pub fn show(&self, v: f64) -> String {
        let n = number(v * self.scale);
        match self.unit {
            // A bare ratio reads best as a bare number.
            "" | "ratio" => n,
            u => format!("{n} {u}"),
        }
    }

    /// Like [`Units::show`], [`MISSING`] when absent.
    pub fn show_opt(&self, v: Option<f64>) -> String {
        v.map_or_else(|| MISSING.to_string(), |x| self.show(x))
    }
}

/// A raw value of `metric` in its display units: `1.2 %`, `812 ms`.
pub fn value(metric: &Metric, raw: f64) -> String {
    Units::of(metric).show(raw)
}

/// Like [`value`], [`MISSING`] when absent.
pub fn opt_value(metric: &Metric, raw: Option<f64>) -> String {
    Units::of(metric).show_opt(raw)
}

/// A configured duration as the plan writes it: `5m`, `1h 30m`, `3d`,
/// `250ms` (days rather than humantime's `3days` or `1month 6h`; all read
/// back through humantime).
pub fn duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 || d.subsec_nanos() != 0 {
        return humantime::format_duration(d).to_string();
    }
    let mut parts = Vec::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= len {
            parts.push(format!("{}{unit}", s / len));
            s %= len;
        }
    }
    parts.join(" ")
}

/// A measured duration, exact enough for a record: `120 ms`, `30s`,
/// `1.5s`, `4m 10s`, `1h 02m 03s`.
pub fn elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    let s = ms / 1000;
    match s {
        0 if ms < 1000 => format!("{ms} ms"),
        0..60 if ms % 1000 != 0 => format!("{:.1}s", d.as_secs_f64()),
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m {:02}s", s / 3600, (s % 3600) / 60, s % 60),
    }
}

/// A countdown: `03:12`, or `1:02:03` past an hour. Rounds up, so a
/// countdown never shows `00:00` while time is left: `00:00` means now.
pub fn clock(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// An estimate: `~10 s`, `~3 min` (rounded up).
pub fn approx(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    if secs < 120 {
        format!("~{secs} s")
    } else {
        format!("~{} min", secs.div_ceil(60))
    }
}

/// UTC wall-clock time of a timestamp: `14:03:07`.
pub fn time_of_day(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

/// UTC date and time of a timestamp: `2026-03-01 14:03:07 UTC`.
pub fn date_time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{} ms", t.0))
}

/// A minute of the day (a change window's edge): `09:30`.
pub fn minute_of_day(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The phase as the cockpit's header shows it: `PROGRESSING`.
pub fn phase_headline(phase: &Phase) -> &'static str {
    match phase {
        Phase::Pending => "PENDING",
        Phase::Promoting { .. } => "PROMOTING",
        Phase::Holding { .. } => "PROGRESSING",
        Phase::AwaitingApproval { .. } => "AWAITING APPROVAL",
        Phase::Paused { .. } => "PAUSED",
        Phase::Observing { .. } => "OBSERVING",
        Phase::Promoted => "PROMOTED",
        Phase::RollingBack => "ROLLING BACK",
        Phase::RolledBack => "ROLLED BACK",
        Phase::Failed { .. } => "FAILED",
    }
}

/// The headline in lower case, for the middle of a sentence: "not paused
/// (phase: progressing)".
pub fn phase_in_text(phase: &Phase) -> String {
    phase_headline(phase).to_lowercase()
}

/// The phase with what it is about, for a line of its own (headless
/// results, shell verbs, notices): the header's words, then the details:
/// `PROGRESSING at step 2`, `PAUSED by alice: checking logs`, `FAILED:
/// <reason>`.
pub fn phase_sentence(phase: &Phase) -> String {
    let head = phase_headline(phase);
    match phase {
        Phase::Promoting { step } => format!("{head} to step {}", step + 1),
        Phase::Holding { step } | Phase::AwaitingApproval { step } => {
            format!("{head} at step {}", step + 1)
        }
        Phase::Paused { by, reason, .. } if reason.is_empty() => format!("{head} by {by}"),
        Phase::Paused { by, reason, .. } => format!("{head} by {by}: {reason}"),
        Phase::Promoted => format!("{head} to 100 %"),
        Phase::Observing { .. } => format!("{head} at 100 %"),
        Phase::Failed { reason } => format!("{head}: {reason}"),
        Phase::Pending | Phase::RollingBack | Phase::RolledBack => head.into(),
    }
}

/// `one` for 1, `many` otherwise.
pub fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The next automatic action as a sentence, as the cockpit's countdown
/// line shows it: "advance to 25 % in 03:12".
pub fn next_action(next: &NextAction) -> String {
    match next {
        NextAction::Advance { to_weight, in_ms } => {
            format!("advance to {to_weight} % in {}", clock(*in_ms))
        }
        NextAction::AwaitApproval { to_weight } => {
            format!("waiting for approval to advance to {to_weight} %")
        }
        NextAction::AwaitApprovals {
            missing,
            need,
            from,
        } => format!(
            "waiting for {missing} more {} (of {need}) from {}",
            plural(*missing, "approval", "approvals"),
            from.join(", ")
        ),
        NextAction::ApprovalIn { to_weight, in_ms } => {
            format!("approval for {to_weight} % opens in {}", clock(*in_ms))
        }
        NextAction::PromoteFull { in_ms } => format!("promote to 100 % in {}", clock(*in_ms)),
        NextAction::HoldEnds { in_ms } => format!("hold at 100 % over in {}", clock(*in_ms)),
        NextAction::SwitchIn { in_ms } => {
            format!("switch all traffic to the new stack in {}", clock(*in_ms))
        }
        NextAction::NextBatch {
            batch,
            instances,
            of,
            in_ms,
        } => format!(
            "batch {batch} ({instances} of {of} instances on the new version) in {}",
            clock(*in_ms)
        ),
        NextAction::AwaitPreflight { missing } => {
            let items: Vec<String> = missing.iter().map(|t| format!("\"{t}\"")).collect();
            format!("waiting for pre-flight: {}", items.join(", "))
        }
        NextAction::Observe(o) => observe_sentence(o),
        NextAction::RollbackIn {
            metric,
            breaches_left,
            approx_ms,
        } => format!(
            "rollback in {breaches_left} more {} of {metric} ({})",
            plural(*breaches_left, "breach", "breaches"),
            approx(*approx_ms)
        ),
        NextAction::PauseIn {
            breaches_left,
            approx_ms,
            ..
        } => format!(
            "pause in {breaches_left} more {} ({})",
            plural(*breaches_left, "breach", "breaches"),
            approx(*approx_ms)
        ),
        NextAction::NoDataAction {
            metric,
            action,
            polls_left,
        } => {
            let what = match action {
                NoDataAction::Hold => "hold",
                NoDataAction::Pause => "pause",
                NoDataAction::Rollback => "rollback",
            };
            let noun = plural(*polls_left, "poll", "polls");
            format!("{what} in {polls_left} {noun} without data ({metric})")
        }
        NextAction::HoldingForGates { blocking } => format!("holding: {}", blocking.join(", ")),
        NextAction::Paused { by, reason } if reason.is_empty() => format!("paused by {by}"),
        NextAction::Paused { by, reason } => format!("paused by {by}: {reason}"),
        NextAction::WaitingForHook { kind } => format!("waiting for {} hook", kind.as_str()),
        NextAction::HoldingUnattended => "holding: operator detached (unattended = hold)".into(),
        NextAction::RetryRollback { attempt, in_ms } => format!(
            "retrying the rollback (attempt {attempt}) in {}",
            clock(*in_ms)
        ),
        NextAction::None => "nothing more will happen on its own".into(),
    }
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;

/// The NEXT line while observing at 100 %: when the rollout is promoted,
/// or what it waits for.
fn observe_sentence(o: &super::exit::ObservationView) -> String {
    if o.waiting_for_data {
        return format!(
            "observing paused, no data: {}; {} of the period left",
            o.unstable.join(", "),
            clock(o.left_ms)
        );
    }
    if !o.unstable.is_empty() {
        return format!(
            "observing: {}; the {} period starts again once every gate passes",
            o.unstable.join(", "),
            duration(std::time::Duration::from_millis(o.observe_ms))
        );
    }
    let items: Vec<&str> = o.missing.iter().map(String::as_str).collect();
    let n = items.len() as u32;
    if let (0, true, Some(ms)) = (o.left_ms, items.is_empty(), o.scale_down_ms) {
        return match ms {
            0 => "promoted once the old stack is scaled down".into(),
            ms => format!("old stack scaled down in {}, then promoted", clock(ms)),
        };
    }
    match (o.left_ms, items.is_empty()) {
        (0, false) => format!("observing: waiting for exit items: {}", items.join(", ")),
        (left, true) => format!("promoted in {} if every gate keeps passing", clock(left)),
        (left, false) => format!(
            "promoted in {} if gates keep passing and {n} more exit {} done",
            clock(left),
            plural(n, "item is", "items are")
        ),
    }
}

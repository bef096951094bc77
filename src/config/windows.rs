//! `[[windows]]`, `[[freezes]]` and `[change_window]` → [`WindowPlan`].
//! Each value is checked with the parsers the engine compiles them with
//! (`engine::window`), so a plan that parses always compiles, and each
//! refusal names the value, what the parser said, and what to write.

use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, Ctx};
use super::raw::{RawFreeze, RawPlan, RawSyncWindow};
use super::values::R;
use crate::engine::window::{
    self, FreezeSpec, LocalTimeError, OnClose, WindowKind, WindowPlan, WindowSpec,
};

/// A window shorter than a minute never sees an occurrence of a
/// minute-grained schedule through; longer than a month is a freeze's job.
const MIN_DURATION: Duration = Duration::from_secs(60);
const MAX_DURATION: Duration = Duration::from_secs(31 * 24 * 3600);

pub(crate) fn build_windows(ctx: &Ctx, raw: &RawPlan) -> R<WindowPlan> {
    let windows = raw
        .windows
        .iter()
        .map(|w| sync_window(ctx, w.get_ref()))
        .collect::<R<Vec<_>>>()?;
    let freezes = raw
        .freezes
        .iter()
        .map(|f| freeze(ctx, f.get_ref()))
        .collect::<R<Vec<_>>>()?;
    let on_close = match raw
        .change_window
        .as_ref()
        .and_then(|c| c.get_ref().on_close.as_ref())
    {
        Some(v) => ctx.pick(
            "on_close",
            v,
            &[("hold", OnClose::Hold), ("rollback", OnClose::Rollback)],
        )?,
        None => OnClose::default(),
    };
    Ok(WindowPlan {
        windows,
        freezes,
        on_close,
    })
}

fn sync_window(ctx: &Ctx, w: &RawSyncWindow) -> R<WindowSpec> {
    let kind = ctx.pick(
        "kind",
        &w.kind,
        &[("allow", WindowKind::Allow), ("deny", WindowKind::Deny)],
    )?;
    let schedule = w.schedule.get_ref().trim().to_string();
    if let Err(message) = window::parse_schedule(&schedule) {
        return Err(ctx.err(
            w.schedule.span(),
            format!("bad cron schedule \"{schedule}\": {message}"),
            "write 5 fields, minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\" for 09:00 on weekdays",
        ));
    }
    let duration = ctx.duration("duration", &w.duration, Some((MIN_DURATION, MAX_DURATION)))?;
    if duration.is_zero() {
        return Err(ctx.err(
            w.duration.span(),
            "a window's duration is zero, so it is never open",
            "give how long it stays open from each occurrence, e.g. \"8h\"",
        ));
    }
    ctx.duration_range(
        "duration",
        &w.duration,
        duration,
        MIN_DURATION,
        MAX_DURATION,
    )?;
    Ok(WindowSpec {
        kind,
        schedule,
        duration,
        time_zone: zone(ctx, w.time_zone.as_ref())?,
        description: description(w.description.as_ref()),
    })
}

fn freeze(ctx: &Ctx, f: &RawFreeze) -> R<FreezeSpec> {
    let time_zone = zone(ctx, f.time_zone.as_ref())?;
    let tz = window::parse_zone(&time_zone).unwrap_or(chrono_tz::Tz::UTC);
    let instant = |v: &Spanned<String>, latest: bool| {
        window::local_instant(v.get_ref(), tz, latest).map_err(|e| {
            let help = match e {
                LocalTimeError::Format(_) => {
                    "write a local date and time such as \"2026-12-20 18:00\" (in `time_zone`)"
                }
                LocalTimeError::Skipped(..) => {
                    "pick a time outside the hour the clocks skip, e.g. an hour later"
                }
            };
            ctx.err(v.span(), e.to_string(), help)
        })
    };
    let (from, to) = (instant(&f.from, false)?, instant(&f.to, true)?);
    if to <= from {
        return Err(ctx.err(
            f.to.span(),
            format!(
                "freeze ends (\"{}\") before it starts (\"{}\")",
                f.to.get_ref(),
                f.from.get_ref()
            ),
            "`to` must be after `from`; swap them or fix the date",
        ));
    }
    Ok(FreezeSpec {
        from: f.from.get_ref().trim().to_string(),
        to: f.to.get_ref().trim().to_string(),
        time_zone,
        description: description(f.description.as_ref()),
    })
}

fn description(d: Option<&Spanned<String>>) -> Option<String> {
    d.map(|d| d.get_ref().trim().to_string())
        .filter(|d| !d.is_empty())
}

/// The zone's IANA name, "UTC" when none is given; an unknown name is
/// refused with the closest known ones.
fn zone(ctx: &Ctx, v: Option<&Spanned<String>>) -> R<String> {
    let Some(v) = v else {
        return Ok("UTC".into());
    };
    let name = v.get_ref().trim();
    if window::parse_zone(name).is_some() {
        return Ok(name.to_string());
    }
    Err(unknown_zone(ctx, v, name))
}

fn unknown_zone(ctx: &Ctx, v: &Spanned<String>, name: &str) -> ConfigError {
    let close = closest_zones(name);
    let help = if close.is_empty() {
        "use an IANA time zone name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\""
            .to_string()
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    ctx.err(v.span(), format!("unknown time zone \"{name}\""), help)
}

/// Up to three IANA names closest to `name`, comparing the whole name and
/// its last part, so "berlin" and "Europe/Berln" both find
/// "Europe/Berlin".
pub(crate) fn closest_zones(name: &str) -> Vec<String> {
    let want = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            let full = tz.name();
            let lower = full.to_ascii_lowercase();
            let city = lower.rsplit('/').next().unwrap_or(&lower).to_string();
            let score = strsim::jaro_winkler(&want, &lower).max(strsim::jaro_winkler(&want, &city));
            (score, full)
        })
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| format!("\"{n}\""))
        .collect()
}

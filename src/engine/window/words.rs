//! The window state in words: one sentence the header, `plan` and a refusal
//! can all show, with times in the zone of the rule they come from (a
//! Berlin window closes at 17:00 Europe/Berlin, not at 15:00 UTC).

use chrono::TimeZone;
use chrono_tz::Tz;

use super::{Rule, Span, WindowKind, Windows};
use crate::engine::types::Timestamp;

/// The sentence for [`super::WindowState::why`].
pub(super) fn why(
    w: &Windows,
    spans: &[Span],
    now: Timestamp,
    allowed: bool,
    active: &[Rule],
    change: Option<(i64, Rule)>,
    horizon: i64,
) -> String {
    let at = |(t, rule): (i64, Rule)| when(now, Timestamp(t), w.zone(rule));
    let bound = within(horizon.saturating_sub(now.0));
    let quoted = |r: Rule| format!("'{}'", w.label(r));
    let of_kind = |k: WindowKind| active.iter().copied().find(|r| w.kind(*r) == k);
    if allowed {
        if w.is_empty() {
            return "no change windows or freezes: always allowed".into();
        }
        if let Some(open) = of_kind(WindowKind::Allow) {
            let closes = change.map_or_else(
                || format!("does not close {bound}"),
                |c| format!("closes {}", at(c)),
            );
            return format!("inside window {} ({closes})", quoted(open));
        }
        let next = change.map_or_else(String::new, |c| {
            format!("; {} starts {}", quoted(c.1), at(c))
        });
        return format!("allowed: no allow windows and no deny open{next}");
    }
    let freeze = active.iter().find_map(|r| match r {
        Rule::Freeze(i) => w.freezes.get(*i).map(|f| (*r, f.to.0)),
        Rule::Window(_) => None,
    });
    let deny = of_kind(WindowKind::Deny).and_then(|r| {
        spans
            .iter()
            .find(|s| s.rule == r && s.start <= now.0 && now.0 < s.end)
            .map(|s| (r, s.end))
    });
    let again = |own_end: i64| match change {
        Some(c) if c.0 != own_end => format!("; allowed again {}", at(c)),
        Some(_) => String::new(),
        None => format!("; not allowed again {bound}"),
    };
    if let Some((r, end)) = freeze {
        return format!("frozen: {} until {}{}", quoted(r), at((end, r)), again(end));
    }
    if let Some((r, end)) = deny {
        return format!(
            "denied by window {} until {}{}",
            quoted(r),
            at((end, r)),
            again(end)
        );
    }
    match change {
        Some(c) => format!("outside every allow window; next opens {}", at(c)),
        None => format!("outside every allow window; none opens {bound}"),
    }
}

/// `t` as people read it from `now`: "17:00" later today, "Mon 09:00"
/// within the week, else the full date; always with the zone's name.
pub fn when(now: Timestamp, t: Timestamp, tz: Tz) -> String {
    let (Some(n), Some(l)) = (
        tz.timestamp_millis_opt(now.0).single(),
        tz.timestamp_millis_opt(t.0).single(),
    ) else {
        return format!("{} ms", t.0);
    };
    let days = l
        .date_naive()
        .signed_duration_since(n.date_naive())
        .num_days();
    let form = if days == 0 {
        "%H:%M"
    } else if (1..7).contains(&days) {
        "%a %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    format!("{} {}", l.format(form), tz.name())
}

/// `t` with its weekday and date in `tz`: "Mon 2026-12-07 09:00 UTC".
pub fn dated(t: Timestamp, tz: Tz) -> String {
    match tz.timestamp_millis_opt(t.0).single() {
        Some(l) => format!("{} {}", l.format("%a %Y-%m-%d %H:%M"), tz.name()),
        None => format!("{} ms", t.0),
    }
}

/// "within 8 days": how far the search looked, in whole days (hours when
/// a schedule firing very often cut it short).
fn within(ms: i64) -> String {
    let hours = ms / 3_600_000;
    if hours >= 48 {
        format!("within {} days", hours / 24)
    } else {
        format!("within {hours} hours")
    }
}

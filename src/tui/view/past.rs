//! What the service's past says beside the ramp (issue 15): the weights at
//! which past rollouts were rolled back, one sentence per prior rollback,
//! the plan's incidents and risky areas.

use ratatui::text::{Line, Span};

use super::truncate;
use crate::journal::history::{Chain, Entry, Fired};
use crate::plan::Plan;
use crate::snapshot::Snapshot;
use crate::tui::theme::Theme;

/// The mark beside a weight where past rollouts were rolled back.
pub fn mark(snap: &Snapshot, weight: u8, ascii: bool) -> Option<String> {
    let n = snap
        .history
        .rollbacks()
        .filter(|(_, f)| f.weight == weight)
        .count();
    let symbol = if ascii { "<-rb" } else { "↺" };
    match n {
        0 => None,
        1 => Some(symbol.to_string()),
        n => Some(format!("{symbol}{n}")),
    }
}

/// "rolled back at 25 % on p95 latency, 2026-10-02, by the `latency`
/// trigger: <reason>".
pub fn sentence(plan: &Plan, e: &Entry, f: &Fired) -> String {
    let on = f.metric.as_deref().map_or(String::new(), |m| {
        let name = plan.metric(m).map_or(m, |x| x.name.as_str());
        format!(" on {name}")
    });
    let day = f.at.get(..10).unwrap_or(&f.at);
    let by = match (&f.trigger, &f.metric) {
        (Some(t), _) => format!("by the `{t}` trigger"),
        (None, Some(_)) => "for missing data".to_string(),
        (None, None) => format!("by {}", f.by),
    };
    let flag = match &e.chain {
        Chain::Verified | Chain::Open => String::new(),
        c => format!(" [journal {}]", c.words()),
    };
    // The trigger's reason starts with its name, already said.
    let reason = match &f.trigger {
        Some(t) => f
            .reason
            .strip_prefix(&format!("trigger {t}: "))
            .unwrap_or(&f.reason),
        None => &f.reason,
    };
    format!(
        "rolled back at {} %{on}, {day}, {by}: {}{flag}",
        f.weight,
        crate::journal::escape::line(reason)
    )
}

/// `text` on at most `rows` lines of `width` (cut at spaces, the later
/// lines indented by two), the last cut at the edge.
fn wrap(text: &str, width: usize, rows: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.to_string();
    while out.len() + 1 < rows && rest.chars().count() > width {
        let head: String = rest.chars().take(width).collect();
        let cut = head
            .rfind(' ')
            .filter(|&i| i > width / 3)
            .unwrap_or(head.len());
        out.push(rest[..cut].trim_end().to_string());
        rest = format!("  {}", rest[cut..].trim_start());
    }
    out.push(truncate(&rest, width));
    out
}

/// At most `max` lines: the newest prior rollbacks (each on up to `rows`
/// lines), then the incidents (newest first) and the risky areas.
pub fn lines(
    snap: &Snapshot,
    t: &Theme,
    width: usize,
    max: usize,
    rows: usize,
) -> Vec<Line<'static>> {
    let plan = &snap.plan;
    let mut out = Vec::new();
    let symbol = if t.ascii { "<-" } else { "↺" };
    let rollbacks: Vec<_> = snap.history.rollbacks().collect();
    let shown = rollbacks.len().min(3).min(max.saturating_sub(1).max(1));
    for (e, f) in rollbacks.iter().take(shown) {
        let text = format!("{symbol} {}", sentence(plan, e, f));
        for row in wrap(&text, width, rows) {
            out.push(Line::from(Span::styled(row, t.warning())));
        }
    }
    if rollbacks.len() > shown {
        let text = format!(
            "  and {} earlier: rampdeck history {}",
            rollbacks.len() - shown,
            plan.rollout.service
        );
        out.push(Line::from(Span::styled(truncate(&text, width), t.dim())));
    }
    let mut incidents: Vec<_> = plan.incidents.iter().collect();
    incidents.sort_by(|a, b| b.date.cmp(&a.date));
    for i in incidents {
        let text = format!("! incident {}", crate::config::incident_line(plan, i));
        out.push(Line::from(Span::styled(truncate(&text, width), t.dim())));
    }
    if !plan.rollout.risky_areas.is_empty() {
        let text = format!("! risky: {}", plan.rollout.risky_areas.join(", "));
        out.push(Line::from(Span::styled(truncate(&text, width), t.dim())));
    }
    out.truncate(max);
    out
}

//! `[[incidents]]` and `[rollout] risky_areas`: what the service's past
//! teaches, shown beside the ramp and by `plan`.

use toml::Spanned;

use super::error::Ctx;
use super::raw::{RawIncident, RawPlan};
use super::values::R;
use crate::plan::{Incident, Metric};

/// Incidents a plan may list: the ramp shows a few, `plan` all.
const MAX_INCIDENTS: usize = 100;
/// The longest title, area or risky area, in characters.
const MAX_TEXT: usize = 200;

fn text(ctx: &Ctx, key: &str, v: &Spanned<String>) -> R<String> {
    let s = v.get_ref().trim();
    if s.is_empty() {
        return Err(ctx.err(
            v.span(),
            format!("`{key}` is empty"),
            format!("write the {key}, or remove the key"),
        ));
    }
    if s.chars().count() > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(ctx.err(
            v.span(),
            format!("`{key}` must be one line of at most {MAX_TEXT} characters"),
            "shorten it; link the details with `link`",
        ));
    }
    Ok(s.to_string())
}

pub(crate) fn build_incidents(ctx: &Ctx, raw: &RawPlan, metrics: &[Metric]) -> R<Vec<Incident>> {
    if let Some(extra) = raw.incidents.get(MAX_INCIDENTS) {
        return Err(ctx.err(
            extra.span(),
            format!("more than {MAX_INCIDENTS} [[incidents]]"),
            "keep the incidents that still teach something about this service",
        ));
    }
    raw.incidents
        .iter()
        .map(|i| incident(ctx, i.get_ref(), metrics))
        .collect()
}

fn incident(ctx: &Ctx, r: &RawIncident, metrics: &[Metric]) -> R<Incident> {
    let date = r.date.get_ref().trim();
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() || date.len() != 10 {
        return Err(ctx.err(
            r.date.span(),
            format!("incident `date` \"{date}\" is not a date"),
            "write it as YYYY-MM-DD, e.g. date = \"2026-10-02\"",
        ));
    }
    let link = match &r.link {
        Some(l) => {
            let url = ctx.url("link", l, "link the page without them")?;
            if !url.starts_with("https://") {
                return Err(ctx.err(
                    l.span(),
                    format!("incident `link` \"{url}\" is not an https URL"),
                    "link the postmortem or ticket with https://",
                ));
            }
            Some(url)
        }
        None => None,
    };
    let metric = match &r.metric {
        Some(m) if !metrics.iter().any(|x| x.id == *m.get_ref()) => {
            let ids: Vec<String> = metrics.iter().map(|x| format!("\"{}\"", x.id)).collect();
            return Err(ctx.err(
                m.span(),
                format!("incident names unknown metric \"{}\"", m.get_ref()),
                format!(
                    "use one of the metric ids: {}, or describe it with `area` instead",
                    ids.join(", ")
                ),
            ));
        }
        Some(m) => Some(m.get_ref().clone()),
        None => None,
    };
    Ok(Incident {
        date: date.to_string(),
        title: text(ctx, "title", &r.title)?,
        link,
        metric,
        area: r.area.as_ref().map(|a| text(ctx, "area", a)).transpose()?,
    })
}

pub(crate) fn risky_areas(ctx: &Ctx, raw: &[Spanned<String>]) -> R<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in raw {
        let area = text(ctx, "risky_areas", a)?;
        if out.contains(&area) {
            return Err(ctx.err(
                a.span(),
                format!("\"{area}\" is twice in `risky_areas`"),
                "list each area once",
            ));
        }
        out.push(area);
    }
    Ok(out)
}

//! `plan`'s section on what the service's past teaches: its
//! `[[incidents]]` and `risky_areas` (issue 15), if the plan has any.

use super::Block;
use crate::plan::{Incident, Plan};

/// "2026-10-02 checkout outage (metric error_rate; area payments) https://…".
pub fn incident_line(plan: &Plan, i: &Incident) -> String {
    let mut about = Vec::new();
    if let Some(m) = &i.metric {
        let name = plan.metric(m).map_or(m.as_str(), |x| x.name.as_str());
        about.push(format!("metric {name}"));
    }
    if let Some(a) = &i.area {
        about.push(format!("area {a}"));
    }
    let mut s = format!("{} {}", i.date, i.title);
    if !about.is_empty() {
        s.push_str(&format!(" ({})", about.join("; ")));
    }
    if let Some(l) = &i.link {
        s.push_str(&format!(" {l}"));
    }
    s
}

pub(super) fn section(plan: &Plan) -> Vec<Block> {
    let areas = &plan.rollout.risky_areas;
    if plan.incidents.is_empty() && areas.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Block::Heading("Past incidents and risky areas".into())];
    if !areas.is_empty() {
        out.push(Block::Fields(vec![(
            "Risky areas".into(),
            areas.join(", "),
        )]));
    }
    if !plan.incidents.is_empty() {
        let mut list: Vec<&Incident> = plan.incidents.iter().collect();
        list.sort_by(|a, b| b.date.cmp(&a.date));
        out.push(Block::List(
            list.into_iter().map(|i| incident_line(plan, i)).collect(),
        ));
    }
    out
}

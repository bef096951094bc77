//! `plan`'s rows for change windows and freezes (issue 13).

use crate::plan::Plan;

/// The plan's change windows and freezes, one row each, and what a close
/// does: starting and promoting need an open window (or a freeze exception
/// approved by someone other than the driver); rollback and pause never wait.
pub(super) fn rows(plan: &Plan) -> Vec<(String, String)> {
    let cw = &plan.change_windows;
    let mut rows: Vec<(String, String)> = cw
        .windows
        .iter()
        .map(|w| {
            let kind = match w.kind {
                crate::plan::WindowKind::Allow => "allow",
                crate::plan::WindowKind::Deny => "deny",
            };
            let about = w
                .description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            (
                format!("Window ({kind})"),
                format!(
                    "from each \"{}\" for {} ({}){about}",
                    w.schedule,
                    crate::engine::words::duration(w.duration),
                    w.time_zone
                ),
            )
        })
        .collect();
    rows.extend(cw.freezes.iter().map(|f| {
        let about = f
            .description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        (
            "Freeze".into(),
            format!("{} to {} ({}){about}", f.from, f.to, f.time_zone),
        )
    }));
    if !rows.is_empty() || plan.rollout.window.is_some() {
        rows.push((
            "Outside a window".into(),
            "no start or promotion without a freeze exception approved by someone other than \
             the driver; rollback and pause are never blocked"
                .into(),
        ));
        rows.push((
            "When a window closes".into(),
            match cw.on_close {
                crate::plan::OnClose::Hold => {
                    "hold at the current step, triggers armed (on_close = \"hold\")".into()
                }
                crate::plan::OnClose::Rollback => "roll back (on_close = \"rollback\")".into(),
            },
        ));
    }
    rows
}

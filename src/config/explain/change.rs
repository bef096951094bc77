//! `plan`'s sections on what surrounds the ramp (issue 13): the pre-flight
//! items with their owners and checks, the approvals each step needs, and
//! the decision points in ramp order.

use std::time::Duration;

use super::{Block, code, gated_by};
use crate::engine::words::duration;
use crate::plan::{GateKind, Plan, TriggerAction};

/// The pre-flight items to do before the start (the old `checklist`
/// strings first, as manual items), if the plan has any.
pub(super) fn preflight(plan: &Plan) -> Vec<Block> {
    let items = plan.preflight_items();
    if items.is_empty() {
        return Vec::new();
    }
    vec![
        Block::Heading("Pre-flight".into()),
        Block::Fields(vec![(
            "Start".into(),
            "once every required item is done: checks pass, people tick the manual items in the cockpit (or --preflight-confirmed-by without a screen)".into(),
        )]),
        Block::List(items.iter().map(item_line).collect()),
    ]
}

/// One checklist item: `[ ] title (owner; check or manual; optional)`.
fn item_line(i: &crate::plan::PreflightItem) -> String {
    let mut notes = Vec::new();
    if let Some(o) = &i.owner {
        notes.push(format!("owner {o}"));
    }
    match &i.check {
        Some(c) => notes.push(format!(
            "check {}, timeout {}",
            code(&c.describe()),
            crate::engine::words::elapsed(c.timeout)
        )),
        None => notes.push("manual".into()),
    }
    if !i.required {
        notes.push("optional".into());
    }
    format!("[ ] {} ({})", i.title, notes.join("; "))
}

/// The exit criteria (`[exit]`): what must hold at 100 % before the
/// rollout is promoted, or that it is promoted as soon as it gets there.
pub(super) fn exit(plan: &Plan) -> Vec<Block> {
    let mut out = vec![Block::Heading("Exit criteria".into())];
    let Some(exit) = &plan.exit else {
        out.push(Block::Fields(vec![(
            "Observation".into(),
            "none: the rollout is promoted as soon as traffic reaches 100 % (add [exit] observe = \"10m\" to watch it there first)".into(),
        )]));
        return out;
    };
    let mut criteria = vec![
        format!("[ ] {} observed at 100 %", duration(exit.observe)),
        format!(
            "[ ] every gate of the last step passes for the whole {} (thresholds, burn rate, judge); a breach starts the period again, time without data does not count",
            duration(exit.observe)
        ),
    ];
    criteria.extend(exit.items.iter().map(item_line));
    out.push(Block::Fields(vec![
        ("Observation".into(), format!("{} at 100 %", duration(exit.observe))),
        (
            "Promoted".into(),
            "only when every criterion below holds; rollback triggers stay armed while observing, and promote ends the observation early (recorded with what was not met)".into(),
        ),
    ]));
    out.push(Block::List(criteria));
    out
}

/// Who approves each step that waits for people, how many, whether the
/// driver counts, and how long an approval counts.
pub(super) fn approvals(plan: &Plan) -> Vec<Block> {
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (from, need, own, counts) = match (&s.approvals, s.gate) {
                (Some(a), _) => (
                    a.from.join(", "),
                    a.count.to_string(),
                    if a.allow_self { "yes" } else { "no" },
                    a.expires_ms.map_or("while the step lasts".into(), |ms| {
                        duration(Duration::from_millis(ms))
                    }),
                ),
                (None, GateKind::Manual) => {
                    ("a driver in control".into(), "1".into(), "yes", "-".into())
                }
                (None, GateKind::Auto) => return None,
            };
            Some(vec![
                (i + 1).to_string(),
                s.name.clone(),
                format!("{} %", s.weight),
                from,
                need,
                own.into(),
                counts,
            ])
        })
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    let mut notes = vec![
        "An approval is given with `a` in the cockpit or `rampdeck approve ROLLOUT --reason ...`; \
         one person counts once; promote cannot skip required approvals; rollback and pause \
         never wait for them."
            .to_string(),
    ];
    if plan.steps.last().is_some_and(|s| s.approvals.is_some()) {
        notes.push("The last step's approvals gate the promotion to 100 %.".into());
    }
    vec![
        Block::Heading("Approvals".into()),
        Block::Table(
            vec![
                "#",
                "step",
                "weight",
                "from",
                "needed",
                "driver may approve",
                "each counts",
            ],
            rows,
        ),
        Block::List(notes),
    ]
}

/// The ramp's decision points in order: when each step can be decided at
/// the earliest (every hold in a row from the start), who or what decides,
/// and what can stop it at any time.
pub(super) fn decision_points(plan: &Plan) -> Vec<Block> {
    let windows = !plan.change_windows.windows.is_empty()
        || !plan.change_windows.freezes.is_empty()
        || plan.rollout.window.is_some();
    let mut at = Duration::ZERO;
    let mut items: Vec<String> = plan
        .steps
        .iter()
        .map(|s| {
            at += s.hold;
            let owner = s
                .owner
                .as_deref()
                .map(|o| format!(", owner {o}"))
                .unwrap_or_default();
            let gates = gated_by(plan, s);
            let decides = match (&s.approvals, s.gate) {
                (Some(a), _) => format!("waits for {}", a.describe()),
                (None, GateKind::Manual) => "waits for a driver's approval".into(),
                (None, GateKind::Auto) if gates.starts_with("nothing") => {
                    "advances by itself after the hold".into()
                }
                (None, GateKind::Auto) => {
                    format!("advances by itself when its gates pass ({gates})")
                }
            };
            format!(
                "+{} — {} ({} %){owner}: after its {} hold, {decides}",
                duration(at),
                s.name,
                s.weight,
                duration(s.hold)
            )
        })
        .collect();
    let triggers: Vec<String> = plan
        .triggers
        .iter()
        .map(|t| {
            let action = match t.action {
                TriggerAction::Rollback => "rolls back",
                TriggerAction::Pause => "pauses",
            };
            format!(
                "{} {action} after {} breaches of {}",
                t.name, t.consecutive, t.metric
            )
        })
        .collect();
    let stop = if triggers.is_empty() {
        "At any step: a driver may pause or roll back at any time.".to_string()
    } else {
        format!(
            "At any step: {}; a driver may pause or roll back at any time.",
            triggers.join("; ")
        )
    };
    items.push(stop);
    if windows {
        items.push(
            "Every start and advance needs an open change window (or a freeze exception); \
             rollback and pause never wait for one."
                .into(),
        );
    }
    vec![Block::Heading("Decision points".into()), Block::List(items)]
}

/// A blue-green plan's phases: preview, switch, post-switch observation,
/// scale-down, and what a rollback means before and after it.
pub(super) fn strategy(plan: &Plan) -> Vec<Block> {
    if let Some(r) = &plan.rolling {
        return rolling(plan, r);
    }
    let Some(bg) = &plan.blue_green else {
        return Vec::new();
    };
    let h = &plan.hooks;
    let hook = |k: crate::plan::HookKind| match h.get(k) {
        Some(_) => format!("the `{}` hook", k.as_str()),
        None => format!("no `{}` hook: only recorded", k.as_str()),
    };
    let preview: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.weight == 0)
        .map(|s| s.name.as_str())
        .collect();
    let switch_by = if h.switch.is_some() {
        hook(crate::plan::HookKind::Switch)
    } else {
        hook(crate::plan::HookKind::SetWeight)
    };
    let delay = duration(bg.scale_down_delay);
    let mut fields = vec![
        (
            "Preview".into(),
            if preview.is_empty() {
                "none: the plan switches without a preview".into()
            } else {
                format!(
                    "{}: the new stack runs beside the active one with no user traffic; its gates judge the preview's own metrics (from_weight = 0)",
                    preview.join(", ")
                )
            },
        ),
        (
            "Switch".into(),
            format!("all traffic to the new stack in one step, by {switch_by} (journaled `switched`)"),
        ),
        (
            "After the switch".into(),
            "the 100 % step's hold (and [exit], if any) judges the new stack against the old stack's numbers from before the switch (the frozen baseline)".into(),
        ),
        (
            "Scale-down".into(),
            match h.scale_down {
                Some(_) => format!("{delay} after the switch, by {} (journaled `scaled_down`); the rollout is promoted after it", hook(crate::plan::HookKind::ScaleDown)),
                None => "no `scale_down` hook: the old stack is left running".into(),
            },
        ),
        (
            "Rollback before it".into(),
            format!("instant: switch back by {}", hook(crate::plan::HookKind::Rollback)),
        ),
    ];
    if h.scale_down.is_some() {
        fields.push((
            "Rollback after it".into(),
            format!(
                "redeploys the old version by {}",
                hook(crate::plan::HookKind::Redeploy)
            ),
        ));
    }
    if bg.partial_switch {
        fields.push((
            "Partial switch".into(),
            "allowed: steps between 0 % and 100 % move part of the traffic".into(),
        ));
    }
    vec![Block::Heading("Blue-green".into()), Block::Fields(fields)]
}

/// A rolling plan: its batches of instances, and what a rollback undoes.
fn rolling(plan: &Plan, r: &crate::plan::RollingPlan) -> Vec<Block> {
    let mut before = 0;
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let after = s.instances.unwrap_or(0);
            let row = vec![
                (k + 1).to_string(),
                s.name.clone(),
                format!("+{}", after.saturating_sub(before)),
                format!("{after} of {}", r.instances),
                format!("{} %", s.weight),
            ];
            before = after;
            row
        })
        .collect();
    let mut fields = vec![
        (
            "Baseline".into(),
            "the instances still on the old version; once every instance is updated, each metric's baseline_when_empty (frozen: the old version's numbers from before, labelled as such)".into(),
        ),
        (
            "Hooks".into(),
            "set_weight gets {batch} (1-based) and {instances} (updated so far) beside {weight}".into(),
        ),
        (
            "Rollback".into(),
            "redeploys the old version to the instances updated so far (the rollback hook gets {instances}); the record says how many batches it undoes".into(),
        ),
    ];
    if let Some(m) = r.max_unavailable {
        fields.push((
            "Max unavailable".into(),
            format!("{m} instance(s) at once, for the deploy tool"),
        ));
    }
    vec![
        Block::Heading("Rolling".into()),
        Block::Fields(vec![("Instances".into(), r.instances.to_string())]),
        Block::Table(
            vec!["batch", "step", "updates", "on the new version", "weight"],
            rows,
        ),
        Block::Fields(fields),
    ]
}

//! Raw → `Plan`: the `[rollout]`, `[[steps]]`, `[notify]` and `[ui]` rules,
//! and the order in which the sections are built.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::hooks::{build_hooks, samples};
use super::metrics::{build_metrics, build_triggers};
use super::raw::{RawPlan, RawRollout, RawStep, RawWindow};
use super::sources::build_sources;
use super::values::R;
use crate::engine::Command;
use crate::plan::{
    ChangeWindow, DEFAULT_MAX_CONNECTIONS, GateKind, JournalSettings, Metric, Notify, Plan,
    RolloutInfo, Step, Strategy, Ticket, UiSettings, Unattended,
};

/// A step that must bake longer than a week is a manual gate's job.
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(7 * 24 * 3600);
/// Chart points are kept in memory: at least a minute, at most a week.
const MIN_RETENTION: Duration = Duration::from_secs(60);
const MAX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub(crate) fn build(ctx: &Ctx, raw: &RawPlan) -> R<Plan> {
    let rollout = rollout(ctx, &raw.rollout)?;
    let steps = steps(ctx, raw)?;
    let sources = build_sources(ctx, &raw.sources)?;
    let mut metrics = build_metrics(ctx, &raw.metrics, &sources)?;
    let blue_green = rollout.strategy == Strategy::BlueGreen;
    if blue_green {
        // The step at 0 % is the preview: the new stack serves its own
        // (smoke) traffic, and its metrics gate it unless they say not.
        for m in metrics.iter_mut().filter(|m| m.from_weight.is_none()) {
            m.from_weight = Some(0);
        }
    }
    check_step_gates(ctx, raw, &steps, &metrics, blue_green)?;
    let triggers = build_triggers(ctx, &raw.triggers, &metrics)?;
    let weights: Vec<u8> = steps.iter().map(|s| s.weight).collect();
    let sample_id = rollout
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-20260101-000000", rollout.service));
    let hooks = build_hooks(
        ctx,
        &raw.hooks,
        &metrics,
        &samples(&rollout.service, &sample_id, &weights),
    )?;
    let notify = match &raw.notify {
        Some(n) => {
            let n = n.get_ref();
            if let Some(v) = &n.slack_webhook {
                return Err(ctx.secret(
                    v,
                    "slack_webhook",
                    "`slack_webhook_env = \"SLACK_WEBHOOK_URL\"`",
                ));
            }
            Notify {
                slack_webhook_env: n
                    .slack_webhook_env
                    .as_ref()
                    .map(|e| ctx.env_name("slack_webhook_env", e))
                    .transpose()?,
            }
        }
        None => Notify::default(),
    };
    let journal = match &raw.journal {
        Some(j) => {
            let j = j.get_ref();
            if let Some(v) = &j.key {
                return Err(ctx.secret(v, "key", "`key_env = \"RAMPDECK_JOURNAL_KEY\"`"));
            }
            JournalSettings {
                key_env: j
                    .key_env
                    .as_ref()
                    .map(|e| ctx.env_name("key_env", e))
                    .transpose()?,
            }
        }
        None => JournalSettings::default(),
    };
    let ui = match &raw.ui {
        Some(u) => {
            let u = u.get_ref();
            let d = UiSettings::default();
            let retention = match &u.retention {
                Some(v) => ctx.duration_in("retention", v, MIN_RETENTION, MAX_RETENTION)?,
                None => d.retention,
            };
            UiSettings {
                retention,
                reason_required: match &u.reason_required {
                    Some(list) => actions(ctx, "reason_required", list)?,
                    None => d.reason_required,
                },
                keys: keys(ctx, &u.keys)?,
            }
        }
        None => UiSettings::default(),
    };
    let judge = super::kinds::score(ctx, raw.judge.as_ref())?;
    Ok(Plan {
        preflight: super::preflight::build_preflight(ctx, raw)?,
        exit: super::preflight::build_exit(ctx, raw)?,
        blue_green: super::strategy::build_blue_green(ctx, raw, &rollout, &steps)?,
        rolling: super::strategy::build_rolling(ctx, raw, &rollout)?,
        incidents: super::incidents::build_incidents(ctx, raw, &metrics)?,
        change_windows: super::windows::build_windows(ctx, raw)?,
        judge,
        rollout,
        steps,
        metrics,
        triggers,
        sources,
        hooks,
        notify,
        ui,
        journal,
    })
}

/// Each step's `gates` names metrics that exist, and no step is gated by a
/// metric that cannot pass at its weight: at 0 % the canary takes no
/// traffic, so a metric measuring it has nothing to judge and the step
/// would wait forever. A blue-green preview (`preview`) has its own smoke
/// traffic, so there a minimum traffic can be met.
fn check_step_gates(
    ctx: &Ctx,
    raw: &RawPlan,
    steps: &[Step],
    metrics: &[Metric],
    preview: bool,
) -> R<()> {
    let ids = || {
        metrics
            .iter()
            .map(|m| format!("\"{}\"", m.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let raw_steps: &[Spanned<RawStep>] = raw.steps.as_ref().map_or(&[], |s| s.get_ref());
    for (step, raw_step) in steps.iter().zip(raw_steps) {
        let raw_step = raw_step.get_ref();
        if let Some(list) = &raw_step.gates {
            for id in list.get_ref() {
                if !metrics.iter().any(|m| m.id == *id.get_ref()) {
                    return Err(ctx.err(
                        id.span(),
                        format!(
                            "step \"{}\" is gated by unknown metric \"{}\"",
                            step.name,
                            id.get_ref()
                        ),
                        format!("use one of the metric ids: {}", ids()),
                    ));
                }
            }
        }
        if step.weight > 0 {
            continue;
        }
        for m in metrics.iter().filter(|m| step.gated_by(m)) {
            let span = raw_step
                .gates
                .as_ref()
                .and_then(|g| g.get_ref().iter().find(|id| *id.get_ref() == m.id))
                .map_or(raw_step.name.span(), |id| id.span());
            if m.min_traffic.is_some() && !preview {
                return Err(ctx.err(
                    span,
                    format!(
                        "step \"{}\" at 0 % is gated by \"{}\", whose min_traffic needs canary traffic: at 0 % there is none, so the step can never pass",
                        step.name, m.id
                    ),
                    "leave it out of this step's `gates` (by default a metric that measures canary traffic gates only steps above 0 %)",
                ));
            }
            if m.needs_traffic() && m.from_weight != Some(0) {
                return Err(ctx.err(
                    span,
                    format!(
                        "step \"{}\" at 0 % is gated by \"{}\", which measures the canary's traffic: at 0 % there is none, so its query has no data and the step can never pass",
                        step.name, m.id
                    ),
                    format!(
                        "remove \"{}\" from this step's `gates`, or set `from_weight = 0` on the metric if its source reports data without canary traffic",
                        m.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `[ui] keys`, checked as the cockpit will merge them, in file order, so
/// a keymap the cockpit cannot use is refused before traffic moves.
fn keys(
    ctx: &Ctx,
    raw: &std::collections::BTreeMap<Spanned<String>, Spanned<String>>,
) -> R<std::collections::BTreeMap<String, String>> {
    let mut entries: Vec<(&Spanned<String>, &Spanned<String>)> = raw.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(k, v)| (k.get_ref().as_str(), v.get_ref().as_str()))
        .collect();
    if let Err((i, e)) = crate::tui::Keymap::check_overrides(&pairs) {
        let (k, v) = entries[i];
        use crate::tui::keymap::KeymapError as K;
        let span = match e {
            K::BadAction { .. } | K::DialogAction(_) => v.span(),
            _ => k.span(),
        };
        let what = e.to_string();
        let (what, help) = match what.split_once(": ") {
            Some((w, h)) if !matches!(e, K::Conflict { .. }) => (w.to_string(), h.to_string()),
            _ => (
                what.clone(),
                "each key may be bound once per mode; see assets/keymap.toml for the defaults"
                    .to_string(),
            ),
        };
        return Err(ctx.err(span, what, help));
    }
    Ok(raw
        .iter()
        .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
        .collect())
}

fn rollout(ctx: &Ctx, r: &Spanned<RawRollout>) -> R<RolloutInfo> {
    let r = r.get_ref();
    let service = ctx.dns_label("service", &r.service)?;
    let strategy = ctx.pick(
        "strategy",
        &r.strategy,
        &[
            ("canary", Strategy::Canary),
            ("blue-green", Strategy::BlueGreen),
            ("rolling", Strategy::Rolling),
        ],
    )?;
    let id =
        r.id.as_ref()
            .map(|id| ctx.dns_label("rollout id", id))
            .transpose()?;
    if let Some(req) = r.require_ticket.as_ref().filter(|b| *b.get_ref())
        && r.ticket.is_none()
    {
        return Err(ctx.err(
            req.span(),
            "the plan requires a change ticket (require_ticket = true) and names none",
            "add `[rollout.ticket]` with `id = \"CHG-4821\"` (and `url = ...`), or drop require_ticket",
        ));
    }
    let ticket = match &r.ticket {
        Some(t) => {
            let t = t.get_ref();
            if t.id.get_ref().trim().is_empty() {
                return Err(ctx.err(
                    t.id.span(),
                    "empty ticket id",
                    "write the change ticket's id, e.g. \"CHG-4821\"",
                ));
            }
            Some(Ticket {
                id: t.id.get_ref().clone(),
                url: t
                    .url
                    .as_ref()
                    .map(|u| {
                        ctx.url(
                            "ticket url",
                            u,
                            "link the ticket without them: a reviewer's browser signs in on its own",
                        )
                    })
                    .transpose()?,
            })
        }
        None => None,
    };
    let names = |key: &str, list: &[Spanned<String>]| -> R<Vec<String>> {
        list.iter()
            .map(|n| {
                if n.get_ref().trim().is_empty() {
                    Err(ctx.err(
                        n.span(),
                        format!("empty name in `{key}`"),
                        "remove it or write a user name",
                    ))
                } else {
                    Ok(n.get_ref().clone())
                }
            })
            .collect()
    };
    Ok(RolloutInfo {
        id,
        service,
        strategy,
        ticket,
        owners: names("owners", &r.owners)?,
        drivers: names("drivers", &r.drivers)?,
        require_second: actions(ctx, "require_second", &r.require_second)?,
        unattended: match &r.unattended {
            Some(u) => ctx.pick(
                "unattended",
                u,
                &[
                    ("hold", Unattended::Hold),
                    ("continue", Unattended::Continue),
                ],
            )?,
            None => Unattended::default(),
        },
        window: r.window.as_ref().map(|w| window(ctx, w)).transpose()?,
        checklist: names("checklist", &r.checklist)?,
        journal_dir: r
            .journal_dir
            .as_ref()
            .map(|d| super::host::journal_dir_form(ctx, d))
            .transpose()?,
        session_group: r.session_group.as_ref().map(|g| g.get_ref().clone()),
        max_connections: match &r.max_connections {
            Some(n) => usize::try_from(ctx.int_in("max_connections", n, 1, 4096)?)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            None => DEFAULT_MAX_CONNECTIONS,
        },
        risky_areas: super::incidents::risky_areas(ctx, &r.risky_areas)?,
    })
}

fn actions(ctx: &Ctx, key: &str, list: &[Spanned<String>]) -> R<Vec<Command>> {
    let mut out: Vec<Command> = Vec::new();
    for a in list {
        let Some(command) = Command::from_word(a.get_ref()) else {
            return Err(ctx.err(
                a.span(),
                format!("unknown action \"{}\" in `{key}`", a.get_ref()),
                format!(
                    "actions are {}",
                    Command::ALL
                        .map(|c| format!("\"{}\"", c.as_str()))
                        .join(", ")
                ),
            ));
        };
        if !out.contains(&command) {
            out.push(command);
        }
    }
    Ok(out)
}

fn window(ctx: &Ctx, w: &Spanned<RawWindow>) -> R<ChangeWindow> {
    let r = w.get_ref();
    let hhmm = |v: &Spanned<String>| -> R<u16> {
        let bad = || {
            ctx.err(
                v.span(),
                format!("change window time \"{}\" is not HH:MM", v.get_ref()),
                "write a 24-hour UTC time such as \"09:00\" or \"16:30\"",
            )
        };
        let (h, m) = v.get_ref().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 || v.get_ref().len() != 5 {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (start_min, end_min) = (hhmm(&r.start)?, hhmm(&r.end)?);
    if start_min == end_min {
        return Err(ctx.err(
            r.end.span(),
            "change window starts and ends at the same time",
            "give a window such as start = \"09:00\", end = \"16:00\" (it may cross midnight)",
        ));
    }
    let mut days = Vec::new();
    for d in r.days.iter().flatten() {
        let name = d.get_ref().to_ascii_lowercase();
        if !DAYS.contains(&name.as_str()) {
            return Err(ctx.err(
                d.span(),
                format!("unknown day \"{}\" in the change window", d.get_ref()),
                "days are \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"",
            ));
        }
        if days.contains(&name) {
            return Err(ctx.err(
                d.span(),
                format!("day \"{name}\" is listed twice"),
                "list each day once",
            ));
        }
        days.push(name);
    }
    if r.days.as_ref().is_some_and(Vec::is_empty) {
        return Err(ctx.err(
            w.span(),
            "change window with no days",
            "list the days (e.g. [\"mon\", \"tue\"]) or remove `days` for every day",
        ));
    }
    if days.is_empty() {
        days = DAYS.map(String::from).to_vec();
    }
    Ok(ChangeWindow {
        start_min,
        end_min,
        days,
    })
}

fn steps(ctx: &Ctx, raw: &RawPlan) -> R<Vec<Step>> {
    let list: &[Spanned<RawStep>] = raw.steps.as_ref().map_or(&[], |s| s.get_ref());
    if list.is_empty() {
        let span = raw.steps.as_ref().map_or(raw.rollout.span(), Spanned::span);
        return Err(ctx.err(
            span,
            "the plan has no steps",
            "add at least one [[steps]] with `name`, `weight` and `hold`",
        ));
    }
    let mut out: Vec<Step> = Vec::new();
    let mut names = HashSet::new();
    for s in list {
        let r = s.get_ref();
        let name = ctx.dns_label("step name", &r.name)?;
        if !names.insert(name.clone()) {
            return Err(ctx.err(
                r.name.span(),
                format!("duplicate step name \"{name}\""),
                "give each [[steps]] a unique `name`",
            ));
        }
        let (weight, instances, span) =
            super::strategy::step_weight(ctx, raw, &name, r, out.last())?;
        if let Some(prev) = out.last() {
            if weight < prev.weight {
                return Err(ctx.err(
                    span,
                    format!("step \"{name}\" has weight {weight}, lower than step \"{}\" before it ({})", prev.name, prev.weight),
                    "weights never go down: reorder the steps or raise this weight; a rollback is what lowers traffic",
                ));
            }
        }
        let gates = r.gates.as_ref().map(|g| {
            g.get_ref()
                .iter()
                .map(|id| id.get_ref().clone())
                .collect::<Vec<_>>()
        });
        let gate = step_gate(ctx, &name, r, r.approvals.is_some())?;
        let approvals = match &r.approvals {
            Some(a) => Some(super::approvals::build_approvals(ctx, &name, a)?),
            None => None,
        };
        out.push(Step {
            gates,
            approvals,
            gate,
            name,
            weight,
            hold: ctx.duration_in("hold", &r.hold, Duration::ZERO, MAX_HOLD)?,
            owner: r.owner.as_ref().map(|o| o.get_ref().clone()),
            instances,
            cohort: r
                .cohort
                .as_ref()
                .map(|c| ctx.dns_label("cohort", c))
                .transpose()?,
        });
    }
    Ok(out)
}

/// A step's gate: `approvals` make it manual (they are what it waits
/// for), so `gate = "auto"` next to them is a contradiction to fix.
fn step_gate(ctx: &Ctx, name: &str, r: &RawStep, approvals: bool) -> R<GateKind> {
    let Some(g) = &r.gate else {
        return Ok(if approvals {
            GateKind::Manual
        } else {
            GateKind::Auto
        });
    };
    let kind = ctx.pick(
        "gate",
        g,
        &[("auto", GateKind::Auto), ("manual", GateKind::Manual)],
    )?;
    if approvals && kind == GateKind::Auto {
        return Err(ctx.err(
            g.span(),
            format!("step \"{name}\" has gate = \"auto\" and approvals"),
            "a step with `approvals` waits for them: remove `gate = \"auto\"` (or set it to \"manual\"), or remove `approvals`",
        ));
    }
    Ok(kind)
}

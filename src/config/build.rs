//! Raw → `Plan`: the `[rollout]`, `[[steps]]`, `[notify]` and `[ui]` rules,
//! and the order in which the sections are built.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::hooks::build_hooks;
use super::metrics::{build_metrics, build_triggers};
use super::raw::{RawPlan, RawRollout, RawStep, RawWindow};
use super::sources::build_sources;
use super::values::{ACTIONS, R};
use crate::plan::{
    ChangeWindow, DEFAULT_MAX_CONNECTIONS, GateKind, JournalSettings, Notify, Plan, RolloutInfo,
    Step, Strategy, Ticket, UiSettings, Unattended,
};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub(crate) fn build(ctx: &Ctx, raw: &RawPlan) -> R<Plan> {
    let rollout = rollout(ctx, &raw.rollout)?;
    let steps = steps(ctx, raw)?;
    let sources = build_sources(ctx, &raw.sources)?;
    let metrics = build_metrics(ctx, &raw.metrics, &sources)?;
    let triggers = build_triggers(ctx, &raw.triggers, &metrics)?;
    let hooks = build_hooks(ctx, &raw.hooks, &metrics)?;
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
                Some(v) => {
                    let r = ctx.duration("retention", v)?;
                    if r < Duration::from_secs(60) {
                        return Err(ctx.err(
                            v.span(),
                            "`retention` is under 1m",
                            "keep at least \"1m\" of points; the default is \"6h\"",
                        ));
                    }
                    r
                }
                None => d.retention,
            };
            UiSettings {
                retention,
                reason_required: match &u.reason_required {
                    Some(list) => actions(ctx, "reason_required", list)?,
                    None => d.reason_required,
                },
                keys: u
                    .keys
                    .iter()
                    .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                    .collect(),
            }
        }
        None => UiSettings::default(),
    };
    Ok(Plan {
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
                    .map(|u| ctx.url("ticket url", u))
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
        journal_dir: r.journal_dir.as_ref().map(|d| d.get_ref().clone()),
        session_group: r.session_group.as_ref().map(|g| g.get_ref().clone()),
        max_connections: match &r.max_connections {
            Some(n) => usize::try_from(ctx.int_in("max_connections", n, 1, 4096)?)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            None => DEFAULT_MAX_CONNECTIONS,
        },
    })
}

fn actions(ctx: &Ctx, key: &str, list: &[Spanned<String>]) -> R<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in list {
        if !ACTIONS.contains(&a.get_ref().as_str()) {
            return Err(ctx.err(
                a.span(),
                format!("unknown action \"{}\" in `{key}`", a.get_ref()),
                format!(
                    "actions are {}",
                    ACTIONS.map(|a| format!("\"{a}\"")).join(", ")
                ),
            ));
        }
        if !out.contains(a.get_ref()) {
            out.push(a.get_ref().clone());
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
        let w = *r.weight.get_ref();
        if !(0..=100).contains(&w) {
            return Err(ctx.err(
                r.weight.span(),
                format!("step \"{name}\" has weight {w}, outside 0..=100"),
                "weight is the canary's share of traffic in percent, 0 to 100",
            ));
        }
        let weight = u8::try_from(w).unwrap_or(0);
        if let Some(prev) = out.last() {
            if weight < prev.weight {
                return Err(ctx.err(
                    r.weight.span(),
                    format!("step \"{name}\" has weight {weight}, lower than step \"{}\" before it ({})", prev.name, prev.weight),
                    "weights never go down: reorder the steps or raise this weight; a rollback is what lowers traffic",
                ));
            }
        }
        out.push(Step {
            name,
            weight,
            hold: ctx.duration("hold", &r.hold)?,
            gate: match &r.gate {
                Some(g) => ctx.pick(
                    "gate",
                    g,
                    &[("auto", GateKind::Auto), ("manual", GateKind::Manual)],
                )?,
                None => GateKind::Auto,
            },
            owner: r.owner.as_ref().map(|o| o.get_ref().clone()),
        });
    }
    Ok(out)
}

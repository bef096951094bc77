//! What `rampdeck plan` prints for a reviewer to sign off, as text or as
//! Markdown to paste into a change ticket. Both formats render one document
//! model, so they always say the same thing.

use std::time::Duration;

use super::warnings;
use crate::engine::Timestamp;
use crate::engine::words::duration;
use crate::plan::{
    Auth, GateKind, Hook, HookAction, HookKind, Plan, SourceKind, Trigger, TriggerAction,
    Unattended,
};
use crate::template::{Context, Encoding, Placeholder, Template};

mod change;
mod kinds;
mod metrics;
pub mod past;
mod render;
mod windows;

/// Output format of [`explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainFormat {
    /// Aligned plain text for a terminal.
    Text,
    /// Headings and tables, pasteable into a change ticket.
    Markdown,
}

impl From<crate::cli::PlanFormat> for ExplainFormat {
    fn from(f: crate::cli::PlanFormat) -> Self {
        match f {
            crate::cli::PlanFormat::Text => ExplainFormat::Text,
            crate::cli::PlanFormat::Markdown => ExplainFormat::Markdown,
        }
    }
}

/// Worst-case time from the first breaching sample to the rollback (or
/// pause) starting: the breach may land just after a poll, then
/// `consecutive` polls must breach, the last one taking up to the timeout.
pub fn worst_case_to_rollback(plan: &Plan, trigger: &Trigger) -> Duration {
    let source = plan
        .metric(&trigger.metric)
        .and_then(|m| plan.source(&m.source));
    match source {
        Some(s) => s
            .interval
            .saturating_mul(trigger.consecutive)
            .saturating_add(s.timeout),
        None => plan
            .interval_of(&trigger.metric)
            .saturating_mul(trigger.consecutive),
    }
}

enum Block {
    Heading(String),
    Sub(String),
    Fields(Vec<(String, String)>),
    Table(Vec<&'static str>, Vec<Vec<String>>),
    List(Vec<String>),
}

/// The plan as a reviewer reads it, at `now` (the change windows' next
/// open and close times are worked out from it; the CLI passes the clock
/// in, nothing here reads one).
pub fn explain(plan: &Plan, format: ExplainFormat, now: Timestamp) -> String {
    let doc = document(plan, now);
    match format {
        ExplainFormat::Text => render::render_text(&doc),
        ExplainFormat::Markdown => render::render_markdown(&doc),
    }
}

fn document(plan: &Plan, now: Timestamp) -> Vec<Block> {
    let mut doc = overview(plan, now);
    doc.extend(windows::section(plan, now));
    let sections: [fn(&Plan) -> Vec<Block>; 13] = [
        change::preflight,
        steps,
        past::section,
        change::decision_points,
        change::approvals,
        change::exit,
        change::strategy,
        sources,
        metrics::section,
        triggers,
        hooks,
        notifications,
        warnings_section,
    ];
    doc.extend(sections.iter().flat_map(|section| section(plan)));
    doc
}

/// `(none)` for an empty list, else the items joined with commas.
fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".to_string()
    } else {
        v.join(", ")
    }
}

/// The title and who, what and when of the rollout.
fn overview(plan: &Plan, now: Timestamp) -> Vec<Block> {
    let r = &plan.rollout;
    let mut head = vec![
        ("Service".into(), r.service.clone()),
        ("Strategy".into(), r.strategy.as_str().into()),
        (
            "Change ticket".into(),
            r.ticket.as_ref().map_or("(none)".into(), |t| match &t.url {
                Some(u) => render::link(&t.id, u),
                None => t.id.clone(),
            }),
        ),
        (
            "Rollout id".into(),
            r.id.clone()
                .unwrap_or_else(|| format!("{}-<UTC start time>", r.service)),
        ),
        ("Owners".into(), or_none(&r.owners)),
        (
            "Drivers".into(),
            if r.drivers.is_empty() {
                "the user who starts it".into()
            } else {
                r.drivers.join(", ")
            },
        ),
        (
            "Second person confirms".into(),
            or_none(&commands(&r.require_second)),
        ),
        (
            "When unattended".into(),
            match r.unattended {
                Unattended::Hold => {
                    "hold: triggers stay armed, no advance past the current step".into()
                }
                Unattended::Continue => "continue as if attended".into(),
            },
        ),
    ];
    head.push(windows::now_row(plan, now));
    head.push((
        "Journal".into(),
        r.journal_dir
            .clone()
            .unwrap_or_else(|| "the user's data dir".into()),
    ));
    vec![
        Block::Heading(format!(
            "Rollout plan: {} ({})",
            r.service,
            r.strategy.as_str()
        )),
        Block::Fields(head),
    ]
}

/// The steps in order, and the shortest possible run.
fn steps(plan: &Plan) -> Vec<Block> {
    let rows = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                s.name.clone(),
                match &s.cohort {
                    Some(c) => format!("{} % (cohort {c})", s.weight),
                    None => format!("{} %", s.weight),
                },
                duration(s.hold),
                match (s.gate, &s.approvals) {
                    (_, Some(a)) => a.describe(),
                    (GateKind::Auto, None) => "auto".into(),
                    (GateKind::Manual, None) => "manual approval".into(),
                },
                s.owner.clone().unwrap_or_else(|| "-".into()),
                gated_by(plan, s),
            ]
        })
        .collect();
    let total: Duration = plan.steps.iter().map(|s| s.hold).sum();
    vec![
        Block::Heading("Steps".into()),
        Block::Table(
            vec!["#", "step", "weight", "hold", "gate", "owner", "gated by"],
            rows,
        ),
        Block::List(vec![format!(
            "Shortest run, every hold in a row: {}",
            duration(total)
        )]),
    ]
}

/// The metric sources: where, how often, and how they authenticate.
fn sources(plan: &Plan) -> Vec<Block> {
    let rows = plan.sources.iter().map(|s| {
        let (kind, target) = match &s.kind {
            SourceKind::Prometheus(t) => ("prometheus", Some(t)),
            SourceKind::HttpJson(t) => ("http_json", Some(t)),
            SourceKind::Probe { target, .. } => ("probe", Some(target)),
            SourceKind::Command => ("command", None),
        };
        let mut detail = Vec::new();
        if let Some(t) = target {
            detail.push(match &t.auth {
                Auth::None => "no auth".to_string(),
                Auth::Bearer { token_env } => format!("bearer token from ${token_env}"),
                Auth::Basic {
                    user_env,
                    password_env,
                } => format!("basic auth from ${user_env}/${password_env}"),
            });
            for (k, v) in &t.headers_env {
                detail.push(format!("header {k} from ${v}"));
            }
            if t.insecure_skip_verify {
                detail.push("TLS NOT VERIFIED".into());
            }
        }
        if let SourceKind::Probe {
            expect_status,
            body_contains,
            ..
        } = &s.kind
        {
            detail.push(format!("expects {expect_status}"));
            if let Some(b) = body_contains {
                detail.push(format!("body contains \"{b}\""));
            }
        }
        vec![
            s.name.clone(),
            kind.into(),
            target.map_or("-".into(), |t| t.url.clone()),
            duration(s.interval),
            duration(s.timeout),
            detail.join(", "),
        ]
    });
    vec![
        Block::Heading("Sources".into()),
        Block::Table(
            vec!["source", "kind", "url", "every", "timeout", "details"],
            rows.collect(),
        ),
    ]
}

/// The triggers, with how long a breach can take to act on.
fn triggers(plan: &Plan) -> Vec<Block> {
    let rows = plan.triggers.iter().map(|t| {
        let src = plan.metric(&t.metric).and_then(|m| plan.source(&m.source));
        let why = src.map_or(String::new(), |s| {
            format!(
                "{} = {} x {} + {}",
                duration(worst_case_to_rollback(plan, t)),
                duration(s.interval),
                t.consecutive,
                duration(s.timeout)
            )
        });
        let threshold = plan
            .metric(&t.metric)
            .map_or_else(|| "-".into(), metrics::breach_when);
        vec![
            t.name.clone(),
            t.metric.clone(),
            threshold,
            format!("{} breaches in a row", t.consecutive),
            match t.action {
                TriggerAction::Rollback => "rollback".into(),
                TriggerAction::Pause => "pause".into(),
            },
            why,
        ]
    });
    let owners = if plan.rollout.owners.is_empty() {
        "(none named)".to_string()
    } else {
        format!(
            "{} (the rollout's owners; a trigger acts without waiting for anyone)",
            plan.rollout.owners.join(", ")
        )
    };
    vec![
        Block::Heading("Triggers".into()),
        Block::Table(
            vec![
                "trigger",
                "metric",
                "breach when",
                "fires after",
                "action",
                "breach to action, worst case",
            ],
            rows.collect(),
        ),
        Block::Fields(vec![("Owners".into(), owners)]),
    ]
}

/// What each hook runs, and what happens after a failed rollback or a crash.
fn hooks(plan: &Plan) -> Vec<Block> {
    let mut kinds = vec![
        HookKind::SetWeight,
        HookKind::Promote,
        HookKind::Pause,
        HookKind::Resume,
        HookKind::Rollback,
        HookKind::OnFinish,
    ];
    if plan.blue_green.is_some() {
        kinds.extend([HookKind::Switch, HookKind::ScaleDown, HookKind::Redeploy]);
    }
    let mut rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|k| match plan.hooks.get(*k) {
            Some(h) => hook_row(plan, k.as_str(), h),
            None => vec![
                k.as_str().into(),
                "(none: recorded only)".into(),
                "-".into(),
            ],
        })
        .collect();
    rows.extend(
        plan.hooks
            .on_step_enter
            .iter()
            .map(|h| hook_row(plan, "on_step_enter", h)),
    );
    vec![
        Block::Heading("Hooks".into()),
        Block::Table(vec!["hook", "runs", "limits"], rows),
        Block::Fields(vec![
            (
                "Failed rollback".into(),
                format!(
                    "retried until it succeeds, 5 s after the failure and then at most {} apart",
                    duration(plan.hooks.rollback_retry())
                ),
            ),
            (
                "After a crash".into(),
                crate::engine::resume::describe_resume(plan),
            ),
        ]),
    ]
}

/// Slack, the reasons asked for, chart retention and journal seals.
fn notifications(plan: &Plan) -> Vec<Block> {
    let mut fields = vec![
        (
            "Slack".into(),
            plan.notify
                .slack_webhook_env
                .as_ref()
                .map_or("(none)".into(), |e| format!("webhook URL from ${e}")),
        ),
        (
            "Reason required for".into(),
            or_none(&commands(&plan.ui.reason_required)),
        ),
        ("Chart retention".into(), duration(plan.ui.retention)),
    ];
    if let Some(var) = &plan.journal.key_env {
        fields.push((
            "Journal seals".into(),
            format!(
                "every record sealed with HMAC-SHA256, key from ${var} (required to run; `rampdeck verify` checks the seals when it is set)"
            ),
        ));
    }
    vec![
        Block::Heading("Notifications and UI".into()),
        Block::Fields(fields),
    ]
}

/// What the checks found worth a second look.
fn warnings_section(plan: &Plan) -> Vec<Block> {
    let warns = warnings(plan);
    vec![
        Block::Heading("Warnings".into()),
        Block::List(if warns.is_empty() {
            vec!["(none)".into()]
        } else {
            warns
        }),
    ]
}

/// Commands by their words, as the plan writes them.
fn commands(list: &[crate::engine::Command]) -> Vec<String> {
    list.iter().map(|c| c.as_str().to_string()).collect()
}

/// The metrics that gate a step, as the engine applies them.
fn gated_by(plan: &Plan, s: &crate::plan::Step) -> String {
    let ids: Vec<&str> = plan
        .metrics
        .iter()
        .filter(|m| s.gated_by(m))
        .map(|m| m.id.as_str())
        .collect();
    if ids.is_empty() {
        "nothing (hold only)".into()
    } else if ids.len() == plan.metrics.len() {
        "every metric".into()
    } else {
        ids.join(", ")
    }
}

fn hook_row(plan: &Plan, name: &str, h: &Hook) -> Vec<String> {
    let runs = match &h.action {
        HookAction::Command(argv) => code(&shell_words(argv, plan, Context::Hook)),
        HookAction::Webhook(w) => {
            let url = fill(&w.url, plan, Context::Hook, Encoding::Url);
            let mut s = format!("{} {url}", w.method);
            if !w.headers_env.is_empty() {
                let hs: Vec<String> = w
                    .headers_env
                    .iter()
                    .map(|(k, v)| format!("{k} from ${v}"))
                    .collect();
                s.push_str(&format!(" ({})", hs.join(", ")));
            }
            s
        }
    };
    let mut limits = format!("timeout {}", duration(h.timeout));
    if h.idempotent {
        limits.push_str(&format!(", idempotent, {} retries", h.retries));
    }
    vec![name.into(), runs, limits]
}

/// argv as it will run: `{service}` filled in (known now), other
/// placeholders left for run time; arguments quoted where a shell reader
/// would need it (no shell is used).
fn shell_words(argv: &[String], plan: &Plan, context: Context) -> String {
    argv.iter()
        .map(|a| {
            let a = fill(a, plan, context, Encoding::Argv);
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$`\\;&|<>()*?!#~".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fills the placeholders known before the start: `{service}`, and
/// `{rollout_id}` when the plan fixes it; the others stay as written.
fn fill(s: &str, plan: &Plan, context: Context, encoding: Encoding) -> String {
    let mut known = vec![(Placeholder::Service, plan.rollout.service.as_str())];
    if let Some(id) = &plan.rollout.id {
        known.push((Placeholder::RolloutId, id.as_str()));
    }
    Template::parse(s, context).fill(&known[..], encoding)
}

/// A code span that survives backticks inside (Markdown; readable as text).
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

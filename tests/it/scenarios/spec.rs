//! The compact scenario format of `tests/scenarios/*.toml` and its
//! translation into a `Plan` and engine `Input`s. Included by
//! `tests/it/scenarios.rs`; see its module doc for the format.

use std::collections::BTreeMap;
use std::time::Duration;

use rampdeck::engine::{Actor, Cohort, Command, HookCall, HookOutcome, Input, Reading};
use rampdeck::plan::{
    BadDirection, Baseline, GateKind, Hook, HookAction, HookKind, Hooks, Metric, MetricQuery,
    MinTraffic, NoDataAction, NoDataPolicy, Notify, Plan, RolloutInfo, Source, SourceKind, Step,
    Strategy, Threshold, Trigger, TriggerAction, UiSettings, Unattended,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub description: String,
    pub plan: PlanSpec,
    pub events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    #[serde(default)]
    pub unattended: Option<String>,
    #[serde(default)]
    pub hooks: Vec<String>,
    #[serde(default)]
    pub checks: usize,
    /// Source poll interval in seconds.
    #[serde(default = "five")]
    pub interval: u64,
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    #[serde(default)]
    pub triggers: Vec<TriggerSpec>,
    /// The source's policy for answers with warnings: "hold" (default) or "pass".
    #[serde(default)]
    pub degraded: Option<String>,
    /// `[exit]`: the observation period and exit items.
    #[serde(default)]
    pub exit: Option<ExitSpec>,
    /// "canary" (default), "blue-green" or "rolling".
    #[serde(default)]
    pub strategy: Option<String>,
    /// Blue-green: seconds from the switch to the scale-down.
    #[serde(default)]
    pub scale_down_delay: Option<u64>,
    /// Rolling: the instances the batches update.
    #[serde(default)]
    pub instances: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitSpec {
    /// Seconds.
    pub observe: u64,
    /// Titles of automatic exit checks (a command each).
    #[serde(default)]
    pub checks: Vec<String>,
    /// Titles of manual hand-off items, after the checks.
    #[serde(default)]
    pub handoff: Vec<String>,
}

pub fn five() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub weight: u8,
    /// Seconds.
    #[serde(default)]
    pub hold: u64,
    #[serde(default)]
    pub gate: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The metric ids that gate this step (default: by `from_weight`).
    #[serde(default)]
    pub gates: Option<Vec<String>>,
    /// Rolling: instances on the new version after this step's batch.
    #[serde(default)]
    pub instances: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub id: String,
    #[serde(default)]
    pub bad: Option<String>,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub ratio: Option<f64>,
    #[serde(default)]
    pub delta: Option<f64>,
    /// "none" (default), "cohort", "pre_deploy", or use `baseline_value`.
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub baseline_value: Option<f64>,
    #[serde(default = "one")]
    pub min_samples: u32,
    #[serde(default)]
    pub min_traffic: Option<MinTrafficSpec>,
    /// "hold:3", "pause:2", "rollback:3"; default "hold:3".
    #[serde(default)]
    pub no_data: Option<String>,
    /// A health probe (needs no canary traffic) instead of a query.
    #[serde(default)]
    pub probe: bool,
    #[serde(default)]
    pub from_weight: Option<u8>,
    /// "frozen" (default) or "no_data".
    #[serde(default)]
    pub baseline_when_empty: Option<String>,
}

pub fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinTrafficSpec {
    pub metric: String,
    pub at_least: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub metric: String,
    pub consecutive: u32,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Seconds since the scenario's epoch.
    pub at: f64,
    pub start: Option<String>,
    pub tick: Option<bool>,
    pub sample: Option<String>,
    pub samples: Option<Vec<String>>,
    pub command: Option<String>,
    pub by: Option<String>,
    pub reason: Option<String>,
    pub hook: Option<String>,
    pub hook_kind: Option<String>,
    pub hook_id: Option<u64>,
    pub presence: Option<String>,
    /// An exit check's result: "ok" or "fail", for item `item`.
    pub exit_check: Option<String>,
    /// Exit item `item` ticked by this person.
    pub exit_confirm: Option<String>,
    pub item: Option<usize>,
    // Expectations.
    pub phase: Option<String>,
    pub step: Option<usize>,
    pub weight: Option<u8>,
    pub effects: Option<Vec<String>>,
    pub gates: Option<BTreeMap<String, String>>,
    pub gate_detail: Option<BTreeMap<String, String>>,
    pub next: Option<String>,
    pub reasons: Option<BTreeMap<String, String>>,
    pub details: Option<BTreeMap<String, String>>,
    pub breaches: Option<BTreeMap<String, u32>>,
    pub no_data_polls: Option<BTreeMap<String, u32>>,
    pub series_len: Option<BTreeMap<String, usize>>,
    pub phase_reason: Option<String>,
    pub rollback_failed: Option<bool>,
    pub hook_running: Option<String>,
    pub step_states: Option<Vec<String>>,
    pub notify: Option<String>,
    pub hold_left: Option<f64>,
    pub started_at: Option<f64>,
    pub step_entered_at: Option<f64>,
    pub step_left_at: Option<Vec<f64>>,
    pub series_capacity: Option<BTreeMap<String, usize>>,
    pub gating: Option<BTreeMap<String, bool>>,
    pub baseline: Option<BTreeMap<String, f64>>,
}

pub fn hook_kind(s: &str) -> Result<HookKind, String> {
    Ok(match s {
        "set_weight" => HookKind::SetWeight,
        "promote" => HookKind::Promote,
        "pause" => HookKind::Pause,
        "resume" => HookKind::Resume,
        "rollback" => HookKind::Rollback,
        "on_step_enter" => HookKind::OnStepEnter,
        "on_finish" => HookKind::OnFinish,
        "switch" => HookKind::Switch,
        "scale_down" => HookKind::ScaleDown,
        "redeploy" => HookKind::Redeploy,
        other => return Err(format!("unknown hook kind {other:?}")),
    })
}

pub fn build_plan(p: &PlanSpec) -> Result<Plan, String> {
    let hook = || Hook {
        action: HookAction::Command(vec!["true".into()]),
        timeout: Duration::from_secs(30),
        retries: 0,
        idempotent: true,
    };
    let mut hooks = Hooks::default();
    for h in &p.hooks {
        let slot = match hook_kind(h)? {
            HookKind::SetWeight => &mut hooks.set_weight,
            HookKind::Promote => &mut hooks.promote,
            HookKind::Pause => &mut hooks.pause,
            HookKind::Resume => &mut hooks.resume,
            HookKind::Rollback => &mut hooks.rollback,
            HookKind::OnFinish => &mut hooks.on_finish,
            HookKind::Switch => &mut hooks.switch,
            HookKind::ScaleDown => &mut hooks.scale_down,
            HookKind::Redeploy => &mut hooks.redeploy,
            HookKind::OnStepEnter => return Err("use `checks = N` for on_step_enter".into()),
        };
        *slot = Some(hook());
    }
    hooks.on_step_enter = (0..p.checks).map(|_| hook()).collect();
    let steps = p
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(Step {
                name: s.name.clone().unwrap_or_else(|| format!("s{i}")),
                weight: s.weight,
                hold: Duration::from_secs(s.hold),
                gate: match s.gate.as_deref() {
                    None | Some("auto") => GateKind::Auto,
                    Some("manual") => GateKind::Manual,
                    Some(o) => return Err(format!("bad gate {o:?}")),
                },
                owner: None,
                gates: s.gates.clone(),
                approvals: None,
                instances: s.instances,
                cohort: None,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let metrics = p
        .metrics
        .iter()
        .map(|m| {
            let baseline = match (m.baseline_value, m.baseline.as_deref()) {
                (Some(v), _) => Baseline::Value(v),
                (None, None | Some("none")) => Baseline::None,
                (None, Some("cohort")) => Baseline::Cohort,
                (None, Some("pre_deploy")) => Baseline::PreDeploy(Duration::from_secs(900)),
                (None, Some(o)) => return Err(format!("bad baseline {o:?}")),
            };
            let nd = m.no_data.as_deref().unwrap_or("hold:3");
            let (a, n) = nd.split_once(':').ok_or("no_data must be ACTION:N")?;
            let action = match a {
                "hold" => NoDataAction::Hold,
                "pause" => NoDataAction::Pause,
                "rollback" => NoDataAction::Rollback,
                o => return Err(format!("bad no_data action {o:?}")),
            };
            Ok(Metric {
                kinds: Default::default(),
                id: m.id.clone(),
                name: m.id.clone(),
                source: "src".into(),
                query: if m.probe {
                    MetricQuery::Probe(rampdeck::plan::ProbeField::Up)
                } else {
                    MetricQuery::Promql("x".into())
                },
                baseline,
                unit: "ratio".into(),
                display_scale: 1.0,
                bad: match m.bad.as_deref() {
                    None | Some("up") => BadDirection::Up,
                    Some("down") => BadDirection::Down,
                    Some(o) => return Err(format!("bad direction {o:?}")),
                },
                threshold: Threshold {
                    limit: m.limit,
                    ratio: m.ratio,
                    delta: m.delta,
                    slo: None,
                },
                min_samples: m.min_samples,
                min_traffic: m.min_traffic.as_ref().map(|t| MinTraffic {
                    metric: t.metric.clone(),
                    at_least: t.at_least,
                }),
                no_data: NoDataPolicy {
                    action,
                    after: n.parse().map_err(|e| format!("no_data count: {e}"))?,
                },
                from_weight: m.from_weight,
                baseline_when_empty: match m.baseline_when_empty.as_deref() {
                    None | Some("frozen") => rampdeck::plan::BaselineWhenEmpty::Frozen,
                    Some("no_data") => rampdeck::plan::BaselineWhenEmpty::NoData,
                    Some(o) => return Err(format!("bad baseline_when_empty {o:?}")),
                },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let triggers = p
        .triggers
        .iter()
        .map(|t| {
            Ok(Trigger {
                name: t.name.clone().unwrap_or_else(|| t.metric.clone()),
                metric: t.metric.clone(),
                consecutive: t.consecutive,
                action: match t.action.as_deref() {
                    None | Some("rollback") => TriggerAction::Rollback,
                    Some("pause") => TriggerAction::Pause,
                    Some(o) => return Err(format!("bad trigger action {o:?}")),
                },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Plan {
        preflight: vec![],
        exit: p.exit.as_ref().map(|x| {
            let item = |title: &String, check: bool| rampdeck::plan::PreflightItem {
                title: title.clone(),
                owner: None,
                required: true,
                check: check.then(|| rampdeck::plan::PreflightCheck {
                    command: vec!["./smoke.sh".into()],
                    http: None,
                    timeout: Duration::from_secs(30),
                }),
            };
            let checks = x.checks.iter().map(|t| item(t, true));
            rampdeck::plan::ExitPlan {
                observe: Duration::from_secs(x.observe),
                items: checks
                    .chain(x.handoff.iter().map(|t| item(t, false)))
                    .collect(),
            }
        }),
        blue_green: (p.strategy.as_deref() == Some("blue-green")).then(|| {
            rampdeck::plan::BlueGreenPlan {
                scale_down_delay: Duration::from_secs(p.scale_down_delay.unwrap_or(30)),
                partial_switch: false,
            }
        }),
        rolling: p.instances.map(|instances| rampdeck::plan::RollingPlan {
            instances,
            max_unavailable: None,
        }),
        judge: Default::default(),
        change_windows: Default::default(),
        incidents: vec![],
        rollout: RolloutInfo {
            id: Some("test".into()),
            service: "checkout".into(),
            strategy: match p.strategy.as_deref() {
                None | Some("canary") => Strategy::Canary,
                Some("blue-green") => Strategy::BlueGreen,
                Some("rolling") => Strategy::Rolling,
                Some(o) => return Err(format!("bad strategy {o:?}")),
            },
            ticket: None,
            owners: vec![],
            drivers: vec![],
            require_second: vec![],
            unattended: match p.unattended.as_deref() {
                None | Some("hold") => Unattended::Hold,
                Some("continue") => Unattended::Continue,
                Some(o) => return Err(format!("bad unattended {o:?}")),
            },
            window: None,
            checklist: vec![],
            journal_dir: None,
            session_group: None,
            max_connections: rampdeck::plan::DEFAULT_MAX_CONNECTIONS,
            risky_areas: vec![],
        },
        steps,
        metrics,
        triggers,
        sources: vec![Source {
            name: "src".into(),
            kind: SourceKind::Command,
            interval: Duration::from_secs(p.interval),
            timeout: Duration::from_secs(2),
            max_response: rampdeck::plan::DEFAULT_MAX_RESPONSE,
            degraded: match p.degraded.as_deref() {
                None | Some("hold") => rampdeck::plan::DegradedPolicy::Hold,
                Some("pass") => rampdeck::plan::DegradedPolicy::Pass,
                Some(o) => return Err(format!("bad degraded {o:?}")),
            },
        }],
        hooks,
        notify: Notify::default(),
        ui: UiSettings::default(),
        journal: Default::default(),
    })
}

pub fn parse_sample(s: &str) -> Result<Input, String> {
    let (cohort, rest) = match s.strip_prefix("baseline:") {
        Some(r) => (Cohort::Baseline, r),
        None => (Cohort::Canary, s),
    };
    let (metric, v) = rest
        .split_once('=')
        .ok_or_else(|| format!("sample {s:?} is not METRIC=VALUE"))?;
    // "0.01!partial data: store-1 unreachable" is a value with a warning.
    let (v, warning) = match v.split_once('!') {
        Some((v, w)) => (v, Some(w.to_string())),
        None => (v, None),
    };
    let value = |value: f64| Reading::Value {
        value,
        degraded: warning.is_some(),
        warnings: warning.iter().cloned().collect(),
    };
    let reading = match v {
        "nodata" => Reading::NoData {
            why: "empty vector".into(),
        },
        "error" => Reading::ProviderError {
            message: "Prometheus unreachable".into(),
            code: Some("503".into()),
        },
        "inf" | "+inf" => value(f64::INFINITY),
        "-inf" => value(f64::NEG_INFINITY),
        "nan" => value(f64::NAN),
        n => value(n.parse().map_err(|e| format!("sample value {n:?}: {e}"))?),
    };
    Ok(Input::Sample {
        metric: metric.into(),
        cohort,
        reading,
    })
}

pub fn command(s: &str) -> Result<Command, String> {
    Ok(match s {
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "promote" => Command::Promote,
        "promote_full" => Command::PromoteFull,
        "rollback" => Command::Rollback,
        "approve" => Command::Approve,
        o => return Err(format!("unknown command {o:?}")),
    })
}

/// The inputs of one event (several for `samples`).
pub fn inputs(e: &Event, outstanding: &mut Vec<HookCall>) -> Result<Vec<Input>, String> {
    let mut v = Vec::new();
    if let Some(who) = &e.start {
        v.push(Input::Start {
            actor: Actor::named(who),
        });
    }
    if e.tick == Some(true) {
        v.push(Input::Tick);
    }
    if let Some(s) = &e.sample {
        v.push(parse_sample(s)?);
    }
    for s in e.samples.iter().flatten() {
        v.push(parse_sample(s)?);
    }
    if let Some(c) = &e.command {
        v.push(Input::Command {
            command: command(c)?,
            actor: Actor::named(e.by.as_deref().unwrap_or("alice")),
            reason: e.reason.clone().unwrap_or_default(),
        });
    }
    if let Some(p) = &e.presence {
        v.push(Input::OperatorPresence {
            attached: p == "attached",
            actor: Actor::named(e.by.as_deref().unwrap_or("alice")),
        });
    }
    if let Some(result) = &e.exit_check {
        v.push(Input::CheckResult {
            stage: rampdeck::engine::Stage::Exit,
            item: e.item.unwrap_or(0),
            ok: result == "ok",
            summary: format!("smoke: {result}"),
        });
    }
    if let Some(who) = &e.exit_confirm {
        v.push(Input::Confirm {
            stage: rampdeck::engine::Stage::Exit,
            item: e.item,
            actor: Actor::named(who),
            reason: e.reason.clone().unwrap_or_default(),
        });
    }
    if let Some(result) = &e.hook {
        let ok = match result.as_str() {
            "ok" => true,
            "fail" => false,
            o => return Err(format!("hook must be ok or fail, not {o:?}")),
        };
        let id = if let Some(id) = e.hook_id {
            outstanding.retain(|c| c.id != id);
            id
        } else {
            let pos = match &e.hook_kind {
                Some(k) => {
                    let k = hook_kind(k)?;
                    outstanding.iter().position(|c| c.kind == k)
                }
                None => (!outstanding.is_empty()).then_some(0),
            }
            .ok_or("no outstanding hook to answer")?;
            outstanding.remove(pos).id
        };
        v.push(Input::HookResult {
            id,
            outcome: HookOutcome {
                ok,
                code: Some(if ok { 0 } else { 1 }),
                summary: if ok { "exit 0".into() } else { "exit 1".into() },
                stdout: String::new(),
                stderr: String::new(),
                attempts: 1,
                duration_ms: 10,
            },
        });
    }
    if v.is_empty() {
        return Err("event has no input".into());
    }
    Ok(v)
}

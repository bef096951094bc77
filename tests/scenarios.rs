//! Data-driven engine scenarios: every `tests/scenarios/*.toml` file is a
//! compact plan plus a list of inputs over time, each with the state and
//! effects expected right after it. One test runs them all and names the
//! file and event of every failure.
//!
//! Event inputs (exactly one per event): `start = "alice"`, `tick = true`,
//! `sample = "error_rate=0.01"` / `samples = [...]` (prefix `baseline:` for
//! the baseline cohort; value a number, `inf`, `nodata` or `error`),
//! `command = "pause"` with `by` and `reason`, `hook = "ok" | "fail"`
//! (answers the oldest outstanding hook, or the oldest of `hook_kind`, or
//! `hook_id`), `presence = "detached" | "attached"`.
//!
//! Expectations (all optional): `phase`, `step`, `weight`, `effects`
//! (`"journal:ACTION"`, `"hook:KIND"` or `"hook:KIND@WEIGHT"`, notifications
//! left out), `gates` (metric → verdict), `gate_detail` (metric → substring),
//! `next` (exact `NextAction::describe`), `reasons` / `details` (action →
//! substring of that decision's reason / JSON detail in this event's
//! effects), `breaches`, `no_data_polls`, `series_len`, `phase_reason`,
//! `rollback_failed`, `hook_running` (`"none"` for none), `step_states`,
//! `notify` (substring of a notification).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rampdeck::engine::{
    Actor, Cohort, Command, Effect, Engine, HookCall, HookOutcome, Input, Phase, Reading,
    StepState, Timestamp,
};
use rampdeck::plan::{
    BadDirection, Baseline, GateKind, Hook, HookAction, HookKind, Hooks, Metric, MetricQuery,
    MinTraffic, NoDataAction, NoDataPolicy, Notify, Plan, RolloutInfo, Source, SourceKind, Step,
    Strategy, Threshold, Trigger, TriggerAction, UiSettings, Unattended,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    plan: PlanSpec,
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSpec {
    #[serde(default)]
    unattended: Option<String>,
    #[serde(default)]
    hooks: Vec<String>,
    #[serde(default)]
    checks: usize,
    /// Source poll interval in seconds.
    #[serde(default = "five")]
    interval: u64,
    steps: Vec<StepSpec>,
    #[serde(default)]
    metrics: Vec<MetricSpec>,
    #[serde(default)]
    triggers: Vec<TriggerSpec>,
}

fn five() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    weight: u8,
    /// Seconds.
    #[serde(default)]
    hold: u64,
    #[serde(default)]
    gate: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSpec {
    id: String,
    #[serde(default)]
    bad: Option<String>,
    #[serde(default)]
    limit: Option<f64>,
    #[serde(default)]
    ratio: Option<f64>,
    #[serde(default)]
    delta: Option<f64>,
    /// "none" (default), "cohort", "pre_deploy", or use `baseline_value`.
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    baseline_value: Option<f64>,
    #[serde(default = "one")]
    min_samples: u32,
    #[serde(default)]
    min_traffic: Option<MinTrafficSpec>,
    /// "hold:3", "pause:2", "rollback:3"; default "hold:3".
    #[serde(default)]
    no_data: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinTrafficSpec {
    metric: String,
    at_least: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerSpec {
    metric: String,
    consecutive: u32,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    /// Seconds since the scenario's epoch.
    at: f64,
    start: Option<String>,
    tick: Option<bool>,
    sample: Option<String>,
    samples: Option<Vec<String>>,
    command: Option<String>,
    by: Option<String>,
    reason: Option<String>,
    hook: Option<String>,
    hook_kind: Option<String>,
    hook_id: Option<u64>,
    presence: Option<String>,
    // Expectations.
    phase: Option<String>,
    step: Option<usize>,
    weight: Option<u8>,
    effects: Option<Vec<String>>,
    gates: Option<BTreeMap<String, String>>,
    gate_detail: Option<BTreeMap<String, String>>,
    next: Option<String>,
    reasons: Option<BTreeMap<String, String>>,
    details: Option<BTreeMap<String, String>>,
    breaches: Option<BTreeMap<String, u32>>,
    no_data_polls: Option<BTreeMap<String, u32>>,
    series_len: Option<BTreeMap<String, usize>>,
    phase_reason: Option<String>,
    rollback_failed: Option<bool>,
    hook_running: Option<String>,
    step_states: Option<Vec<String>>,
    notify: Option<String>,
}

fn hook_kind(s: &str) -> Result<HookKind, String> {
    Ok(match s {
        "set_weight" => HookKind::SetWeight,
        "promote" => HookKind::Promote,
        "pause" => HookKind::Pause,
        "resume" => HookKind::Resume,
        "rollback" => HookKind::Rollback,
        "on_step_enter" => HookKind::OnStepEnter,
        "on_finish" => HookKind::OnFinish,
        other => return Err(format!("unknown hook kind {other:?}")),
    })
}

fn build_plan(p: &PlanSpec) -> Result<Plan, String> {
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
                id: m.id.clone(),
                name: m.id.clone(),
                source: "src".into(),
                query: MetricQuery::Promql("x".into()),
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
        rollout: RolloutInfo {
            id: Some("test".into()),
            service: "checkout".into(),
            strategy: Strategy::Canary,
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
        },
        steps,
        metrics,
        triggers,
        sources: vec![Source {
            name: "src".into(),
            kind: SourceKind::Command,
            interval: Duration::from_secs(p.interval),
            timeout: Duration::from_secs(2),
        }],
        hooks,
        notify: Notify::default(),
        ui: UiSettings::default(),
    })
}

fn parse_sample(s: &str) -> Result<Input, String> {
    let (cohort, rest) = match s.strip_prefix("baseline:") {
        Some(r) => (Cohort::Baseline, r),
        None => (Cohort::Canary, s),
    };
    let (metric, v) = rest
        .split_once('=')
        .ok_or_else(|| format!("sample {s:?} is not METRIC=VALUE"))?;
    let reading = match v {
        "nodata" => Reading::NoData {
            why: "empty vector".into(),
        },
        "error" => Reading::ProviderError {
            message: "Prometheus unreachable".into(),
            code: Some("503".into()),
        },
        "inf" => Reading::Value {
            value: f64::INFINITY,
            degraded: false,
        },
        n => Reading::Value {
            value: n.parse().map_err(|e| format!("sample value {n:?}: {e}"))?,
            degraded: false,
        },
    };
    Ok(Input::Sample {
        metric: metric.into(),
        cohort,
        reading,
    })
}

fn command(s: &str) -> Result<Command, String> {
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
fn inputs(e: &Event, outstanding: &mut Vec<HookCall>) -> Result<Vec<Input>, String> {
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

fn effect_name(e: &Effect) -> Option<String> {
    match e {
        Effect::Journal(d) => Some(format!("journal:{}", d.action)),
        Effect::RunHook(c) => Some(format!("hook:{}@{}", c.kind.as_str(), c.weight)),
        Effect::Notify(_) => None,
    }
}

fn check_event(engine: &Engine, e: &Event, effects: &[Effect], now: Timestamp) -> Vec<String> {
    let mut errs = Vec::new();
    let view = engine.view(now);
    // Invariant in every scenario: a RunHook follows its hook_started record.
    for (i, eff) in effects.iter().enumerate() {
        if let Effect::RunHook(c) = eff {
            let journaled = effects[..i].iter().any(|p| {
                matches!(p, Effect::Journal(d) if d.action == "hook_started"
                    && d.hook.as_ref().map(|h| h.id) == Some(c.id))
            });
            if !journaled {
                errs.push(format!("RunHook {} not preceded by its hook_started", c.id));
            }
        }
    }
    if let Some(p) = &e.phase
        && engine.phase().name() != p
    {
        errs.push(format!("phase: want {p}, got {:?}", engine.phase()));
    }
    if let Some(s) = e.step
        && view.step != Some(s)
    {
        errs.push(format!("step: want {s}, got {:?}", view.step));
    }
    if let Some(w) = e.weight
        && view.weight != w
    {
        errs.push(format!("weight: want {w}, got {}", view.weight));
    }
    if let Some(want) = &e.effects {
        let got: Vec<String> = effects.iter().filter_map(effect_name).collect();
        let matches = want.len() == got.len()
            && want.iter().zip(&got).all(|(w, g)| {
                if w.contains('@') {
                    w == g
                } else {
                    g.split('@').next() == Some(w.as_str())
                }
            });
        if !matches {
            errs.push(format!("effects: want {want:?}, got {got:?}"));
        }
    }
    for (m, want) in e.gates.iter().flatten() {
        match view.gates.iter().find(|g| &g.metric == m) {
            Some(g) if g.verdict.as_str() == want => {}
            Some(g) => errs.push(format!(
                "gate {m}: want {want}, got {} ({})",
                g.verdict.as_str(),
                g.detail
            )),
            None => errs.push(format!("gate {m}: no such gate")),
        }
    }
    for (m, want) in e.gate_detail.iter().flatten() {
        match view.gates.iter().find(|g| &g.metric == m) {
            Some(g) if g.detail.contains(want.as_str()) => {}
            Some(g) => errs.push(format!(
                "gate {m} detail: want ~{want:?}, got {:?}",
                g.detail
            )),
            None => errs.push(format!("gate {m}: no such gate")),
        }
    }
    for (m, want) in e.breaches.iter().flatten() {
        let got = view
            .gates
            .iter()
            .find(|g| &g.metric == m)
            .map(|g| g.breaches);
        if got != Some(*want) {
            errs.push(format!("breaches {m}: want {want}, got {got:?}"));
        }
    }
    for (m, want) in e.no_data_polls.iter().flatten() {
        let got = view
            .gates
            .iter()
            .find(|g| &g.metric == m)
            .map(|g| g.no_data_polls);
        if got != Some(*want) {
            errs.push(format!("no_data_polls {m}: want {want}, got {got:?}"));
        }
    }
    for (m, want) in e.series_len.iter().flatten() {
        let got = engine
            .series()
            .iter()
            .find(|s| &s.metric == m)
            .map(|s| s.canary.len());
        if got != Some(*want) {
            errs.push(format!("series_len {m}: want {want}, got {got:?}"));
        }
    }
    if let Some(want) = &e.next {
        let got = view.next.describe();
        if &got != want {
            errs.push(format!("next: want {want:?}, got {got:?}"));
        }
    }
    let decisions: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Journal(d) => Some(d),
            _ => None,
        })
        .collect();
    for (action, want) in e.reasons.iter().flatten() {
        if !decisions
            .iter()
            .any(|d| &d.action == action && d.reason.contains(want.as_str()))
        {
            let got: Vec<_> = decisions.iter().map(|d| (&d.action, &d.reason)).collect();
            errs.push(format!("reason of {action}: want ~{want:?}, got {got:?}"));
        }
    }
    for (action, want) in e.details.iter().flatten() {
        let found = decisions
            .iter()
            .any(|d| &d.action == action && d.detail.to_string().contains(want.as_str()));
        if !found {
            errs.push(format!("detail of {action}: want ~{want:?}"));
        }
    }
    if let Some(want) = &e.phase_reason {
        let got = match engine.phase() {
            Phase::Paused { by, reason, .. } => format!("{by}: {reason}"),
            Phase::Failed { reason } => reason.clone(),
            _ => String::new(),
        };
        if !got.contains(want.as_str()) {
            errs.push(format!("phase reason: want ~{want:?}, got {got:?}"));
        }
    }
    if let Some(want) = e.rollback_failed
        && view.rollback_failed != want
    {
        errs.push(format!(
            "rollback_failed: want {want}, got {}",
            view.rollback_failed
        ));
    }
    if let Some(want) = &e.hook_running {
        let got = view.hook_running.map(|k| k.as_str()).unwrap_or("none");
        if got != want {
            errs.push(format!("hook_running: want {want}, got {got}"));
        }
    }
    if let Some(want) = &e.step_states {
        let got: Vec<&str> = view
            .steps
            .iter()
            .map(|s| match s.state {
                StepState::Done => "done",
                StepState::Current => "current",
                StepState::AwaitingApproval => "awaiting_approval",
                StepState::Pending => "pending",
                StepState::Failed => "failed",
            })
            .collect();
        if &got != want {
            errs.push(format!("step_states: want {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = &e.notify {
        let found = effects
            .iter()
            .any(|e| matches!(e, Effect::Notify(n) if n.text.contains(want.as_str())));
        if !found {
            errs.push(format!("no notification containing {want:?}"));
        }
    }
    // Every decision carries every gate's numbers.
    for d in &decisions {
        if d.gates.len() != view.gates.len() {
            errs.push(format!("decision {} lacks gates", d.action));
        }
    }
    errs
}

/// A short name for an input in failure messages.
fn label(input: &Input) -> String {
    match input {
        Input::Start { .. } => "start".into(),
        Input::Tick => "tick".into(),
        Input::Sample { metric, cohort, .. } => format!("sample {metric} ({cohort:?})"),
        Input::Command { command, .. } => format!("command {}", command.as_str()),
        Input::HookResult { id, outcome } => format!("hook {id} ok={}", outcome.ok),
        Input::OperatorPresence { attached, .. } => format!("presence attached={attached}"),
    }
}

fn run_scenario(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let sc: Scenario = toml::from_str(&text).map_err(|e| e.to_string())?;
    let plan = build_plan(&sc.plan)?;
    let mut engine = Engine::new(Arc::new(plan));
    let mut outstanding: Vec<HookCall> = Vec::new();
    let mut failures = Vec::new();
    for (i, ev) in sc.events.iter().enumerate() {
        let now = Timestamp((ev.at * 1000.0).round() as i64);
        let ins = inputs(ev, &mut outstanding).map_err(|e| format!("event #{i}: {e}"))?;
        let what = ins.first().map(label).unwrap_or_default();
        let mut effects = Vec::new();
        for input in ins {
            effects.extend(engine.handle(input, now));
        }
        for eff in &effects {
            if let Effect::RunHook(c) = eff {
                outstanding.push(c.clone());
            }
        }
        for err in check_event(&engine, ev, &effects, now) {
            failures.push(format!("event #{i} (at {}s, {what}): {err}", ev.at));
        }
    }
    let _ = sc.description;
    Ok(failures)
}

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 25,
        "expected 25+ scenarios, found {}",
        files.len()
    );
    let mut report = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match run_scenario(f) {
            Ok(errs) => report.extend(errs.into_iter().map(|e| format!("{name}: {e}"))),
            Err(e) => report.push(format!("{name}: cannot run: {e}")),
        }
    }
    assert!(
        report.is_empty(),
        "{} scenario failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

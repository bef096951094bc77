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
//! `next` (exact `engine::words::next_action`, the cockpit's sentence), `reasons` / `details` (action →
//! substring of that decision's reason / JSON detail in this event's
//! effects), `breaches`, `no_data_polls`, `series_len`, `phase_reason`,
//! `rollback_failed`, `hook_running` (`"none"` for none), `step_states`,
//! `notify` (substring of a notification), `hold_left`, `started_at`,
//! `step_entered_at` (seconds), `step_left_at` (seconds per step, -1 for
//! none), `series_capacity` (metric → points), `gating` (metric → whether
//! it gates the current step), `baseline` (metric → the gate's baseline).
//!
//! Sample values may also be `-inf` or `nan`, and `VALUE!WARNING` is a
//! value that came with a warning (a degraded answer).

mod spec;

use rampdeck::engine::{DecisionKind, words};
use std::path::Path;
use std::sync::Arc;

use rampdeck::engine::{
    Actor, Command, Effect, Engine, HookCall, Input, Phase, StepState, Timestamp,
};

use spec::{Event, Scenario, build_plan, inputs};

fn effect_name(e: &Effect) -> Option<String> {
    match e {
        Effect::Journal(d) => Some(format!("journal:{}", d.action)),
        Effect::RunHook(c) => Some(format!("hook:{}@{}", c.kind.as_str(), c.weight)),
        Effect::Notify(_) => None,
        Effect::RunCheck { stage, item } => Some(format!("check:{}#{item}", stage.word())),
    }
}

fn check_event(engine: &Engine, e: &Event, effects: &[Effect], now: Timestamp) -> Vec<String> {
    let mut errs = Vec::new();
    let view = engine.view(now);
    // Invariant in every scenario: a RunHook follows its hook_started record.
    for (i, eff) in effects.iter().enumerate() {
        if let Effect::RunHook(c) = eff {
            let journaled = effects[..i].iter().any(|p| {
                matches!(p, Effect::Journal(d) if d.action == DecisionKind::HookStarted
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
    for (m, want) in e.gating.iter().flatten() {
        let got = view.gates.iter().find(|g| &g.metric == m).map(|g| g.gating);
        if got != Some(*want) {
            errs.push(format!("gating {m}: want {want}, got {got:?}"));
        }
    }
    for (m, want) in e.baseline.iter().flatten() {
        let got = view
            .gates
            .iter()
            .find(|g| &g.metric == m)
            .map(|g| g.baseline);
        if got != Some(Some(*want)) {
            errs.push(format!("baseline {m}: want {want:?}, got {got:?}"));
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
        let got = words::next_action(&view.next);
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
            .any(|d| d.action.as_str() == action && d.reason.contains(want.as_str()))
        {
            let got: Vec<_> = decisions.iter().map(|d| (&d.action, &d.reason)).collect();
            errs.push(format!("reason of {action}: want ~{want:?}, got {got:?}"));
        }
    }
    for (action, want) in e.details.iter().flatten() {
        let found = decisions
            .iter()
            .any(|d| d.action.as_str() == action && d.detail.to_string().contains(want.as_str()));
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
    let secs = |t: Option<Timestamp>| t.map(|t| t.0 as f64 / 1000.0);
    if let Some(want) = e.hold_left {
        let got = view
            .step
            .and_then(|k| view.steps.get(k))
            .and_then(|s| s.hold_left_ms)
            .map(|ms| ms as f64 / 1000.0);
        if got != Some(want) {
            errs.push(format!("hold_left: want {want} s, got {got:?}"));
        }
    }
    if let Some(want) = e.started_at
        && secs(view.started_at) != Some(want)
    {
        errs.push(format!(
            "started_at: want {want}, got {:?}",
            view.started_at
        ));
    }
    if let Some(want) = e.step_entered_at
        && secs(view.step_entered_at) != Some(want)
    {
        errs.push(format!(
            "step_entered_at: want {want}, got {:?}",
            view.step_entered_at
        ));
    }
    if let Some(want) = &e.step_left_at {
        let got: Vec<f64> = view
            .steps
            .iter()
            .map(|s| secs(s.left_at).unwrap_or(-1.0))
            .collect();
        if &got != want {
            errs.push(format!("step_left_at: want {want:?}, got {got:?}"));
        }
    }
    for (m, want) in e.series_capacity.iter().flatten() {
        let got = engine
            .series()
            .iter()
            .find(|s| &s.metric == m)
            .map(|s| s.canary.capacity());
        if got != Some(*want) {
            errs.push(format!("series_capacity {m}: want {want}, got {got:?}"));
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
        Input::Resume { .. } => "resume".into(),
        Input::Tick => "tick".into(),
        Input::Sample { metric, cohort, .. } => format!("sample {metric} ({cohort:?})"),
        Input::Command { command, .. } => format!("command {}", command.as_str()),
        Input::HookResult { id, outcome } => format!("hook {id} ok={}", outcome.ok),
        Input::OperatorPresence { attached, .. } => format!("presence attached={attached}"),
        Input::FreezeException { approver, .. } => format!("freeze exception by {approver}"),
        Input::RunChecks { stage, .. } => format!("run {} checks", stage.word()),
        Input::CheckResult {
            stage, item, ok, ..
        } => {
            format!("{} check {item} ok={ok}", stage.word())
        }
        Input::Confirm { stage, actor, .. } => {
            format!("{} confirmed by {}", stage.word(), actor.user)
        }
        Input::ApproveStep { step, actor, .. } => {
            format!("approve step {} by {}", step + 1, actor.user)
        }
        Input::PeerFreezeException { approver, .. } => {
            format!("freeze exception by {} (peer)", approver.user)
        }
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

/// The decision log a view gets is bounded, newest last.
#[test]
fn recent_decisions_are_bounded() {
    let spec: Scenario = toml::from_str(
        r#"
        description = "bounded"
        events = []
        [plan]
        [[plan.steps]]
        weight = 10
        "#,
    )
    .expect("inline scenario parses");
    let mut engine = Engine::new(Arc::new(build_plan(&spec.plan).expect("plan builds")));
    for i in 0..250 {
        let effects = engine.handle(
            Input::Command {
                command: Command::Resume,
                actor: Actor::named("alice"),
                reason: format!("try {i}"),
            },
            Timestamp(i),
        );
        assert_eq!(effects.len(), 1, "one refused record per command");
    }
    let view = engine.view(Timestamp(300));
    assert_eq!(
        view.recent.len(),
        rampdeck::engine::decision::RECENT_DECISIONS
    );
    let last = view.recent.last().expect("has decisions");
    assert_eq!(last.action, DecisionKind::Refused);
    assert_eq!(last.detail["reason"], "try 249");
    assert_eq!(view.recent[0].detail["reason"], "try 50");
}

/// One random step of the property test below.
#[derive(Debug, Clone)]
enum Op {
    Tick(u16),
    Sample(usize, u8),
    Command(u8),
    Hook(usize, bool),
    Presence(bool),
    Start,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0u16..40).prop_map(Op::Tick),
        (0usize..3, 0u8..7).prop_map(|(m, v)| Op::Sample(m, v)),
        (0u8..6).prop_map(Op::Command),
        (0usize..4, any::<bool>()).prop_map(|(i, ok)| Op::Hook(i, ok)),
        any::<bool>().prop_map(Op::Presence),
        Just(Op::Start),
    ]
}

const RICH_PLAN: &str = r#"
description = "every hook, checks, manual step, all policies"
events = []
[plan]
hooks = ["set_weight", "promote", "pause", "resume", "rollback", "on_finish"]
checks = 1
[[plan.steps]]
weight = 0
hold = 10
[[plan.steps]]
weight = 20
hold = 20
gate = "manual"
[[plan.steps]]
weight = 60
hold = 5
[[plan.metrics]]
id = "error_rate"
limit = 0.05
ratio = 2.0
baseline = "cohort"
min_samples = 2
no_data = "pause:3"
[[plan.metrics]]
id = "latency"
limit = 0.5
no_data = "rollback:4"
[[plan.metrics]]
id = "rps"
bad = "down"
limit = 1.0
no_data = "hold:2"
[[plan.triggers]]
metric = "error_rate"
consecutive = 2
[[plan.triggers]]
metric = "latency"
consecutive = 3
action = "pause"
"#;

proptest::proptest! {
    /// Whatever happens in whatever order, the engine does not panic, a hook
    /// never runs before its record, and what it shows never lies about
    /// traffic: promoted means 100 %, rolled back means 0 %, a failed
    /// rollback is flagged until a rollback succeeds.
    #[test]
    fn engine_invariants_hold_for_any_input_sequence(ops in proptest::collection::vec(op(), 1..120)) {
        let spec: Scenario = toml::from_str(RICH_PLAN).expect("plan parses");
        let plan = build_plan(&spec.plan).expect("plan builds");
        let metrics: Vec<String> = plan.metrics.iter().map(|m| m.id.clone()).collect();
        let mut engine = Engine::new(Arc::new(plan));
        let mut outstanding: Vec<u64> = Vec::new();
        let mut now = 0i64;
        let cmds = [Command::Pause, Command::Resume, Command::Promote, Command::PromoteFull,
            Command::Rollback, Command::Approve];
        for o in ops {
            let input = match o {
                Op::Tick(dt) => { now += i64::from(dt) * 1000; Input::Tick }
                Op::Start => Input::Start { actor: Actor::named("alice") },
                Op::Presence(attached) => Input::OperatorPresence { attached, actor: Actor::named("alice") },
                Op::Command(c) => Input::Command {
                    command: cmds[usize::from(c) % cmds.len()],
                    actor: Actor::named("bob"),
                    reason: "prop".into(),
                },
                Op::Sample(m, v) => {
                    let reading = match v {
                        0 => rampdeck::engine::Reading::NoData { why: "empty".into() },
                        1 => rampdeck::engine::Reading::ProviderError { message: "503".into(), code: None },
                        2 => rampdeck::engine::Reading::value(f64::INFINITY),
                        n => rampdeck::engine::Reading::value(f64::from(n) * 0.02),
                    };
                    let cohort = if v == 6 { rampdeck::engine::Cohort::Baseline } else { rampdeck::engine::Cohort::Canary };
                    Input::Sample { metric: metrics[m % metrics.len()].clone(), cohort, reading }
                }
                Op::Hook(i, ok) => {
                    // Mostly answer a real outstanding hook; sometimes a bogus id.
                    let id = if outstanding.is_empty() { 9999 } else { outstanding.remove(i % outstanding.len()) };
                    Input::HookResult { id, outcome: rampdeck::engine::HookOutcome {
                        ok, code: None, summary: "x".into(), stdout: String::new(),
                        stderr: String::new(), attempts: 1, duration_ms: 1,
                    } }
                }
            };
            let was_terminal = matches!(engine.phase(), Phase::Promoted | Phase::RolledBack);
            let before = engine.phase().clone();
            let effects = engine.handle(input, Timestamp(now));
            for (i, e) in effects.iter().enumerate() {
                match e {
                    Effect::RunHook(c) => {
                        let journaled = effects[..i].iter().any(|p| matches!(p,
                            Effect::Journal(d) if d.action == DecisionKind::HookStarted
                                && d.hook.as_ref().map(|h| h.id) == Some(c.id)));
                        proptest::prop_assert!(journaled, "RunHook {} without its record", c.id);
                        outstanding.push(c.id);
                    }
                    Effect::Journal(d) => proptest::prop_assert_eq!(d.gates.len(), metrics.len()),
                    Effect::Notify(_) | Effect::RunCheck { .. } => {}
                }
            }
            let view = engine.view(Timestamp(now));
            if was_terminal {
                proptest::prop_assert_eq!(engine.phase(), &before, "an ended rollout stays ended");
            }
            match engine.phase() {
                Phase::Promoted => proptest::prop_assert_eq!(view.weight, 100),
                Phase::RolledBack => {
                    proptest::prop_assert_eq!(view.weight, 0);
                    proptest::prop_assert!(!view.rollback_failed);
                }
                Phase::Failed { reason } if view.rollback_failed => {
                    proptest::prop_assert!(reason.starts_with("ROLLBACK FAILED"));
                }
                Phase::Failed { .. } | Phase::RollingBack => {}
                _ => proptest::prop_assert!(!view.rollback_failed),
            }
            proptest::prop_assert!(view.weight <= 100);
            let _ = words::next_action(&view.next);
        }
    }
}

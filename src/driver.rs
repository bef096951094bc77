//! The one owner of a rollout's state.
//!
//! The driver task owns the pure [`Engine`], feeds it samples from the
//! pollers, commands from views and hook results, and runs the effects it
//! returns in order: a journal record is appended and fsynced before the
//! hook it explains starts. Views never touch the engine: they receive
//! [`Snapshot`]s through a `watch` channel and send [`DriverInput`]s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::engine::series::MetricSeries;
use crate::engine::{
    Actor, Command, Decision, Effect, Engine, GateStatus, HookCall, Input, Phase, Timestamp,
    Verdict,
};
use crate::hooks::{self, HookVars};
use crate::journal::JournalWriter;
use crate::plan::{HookKind, Plan, SourceKind};
use crate::snapshot::{Snapshot, SourceHealth, SourceState};
use crate::sources::{self, LatestFilter, SampleMsg};

/// The wall clock, as engine time. Only the driver and pollers read it.
pub fn wall_now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

/// Messages from views (local TUI, attached clients, signals) to the driver.
#[derive(Debug, Clone)]
pub enum DriverInput {
    Command {
        command: Command,
        actor: Actor,
        reason: String,
    },
    Presence {
        attached: bool,
        actor: Actor,
    },
    /// Stop the driver (the last view closed, or a signal). Journaled.
    Shutdown {
        actor: Actor,
        why: String,
    },
}

/// One line of progress for headless output and notifications.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: Timestamp,
    /// "decision", "verdict", "hook", "source", "end"
    pub kind: &'static str,
    pub text: String,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// What a driver needs to start.
pub struct DriverSetup {
    pub plan: Arc<Plan>,
    pub rollout_id: String,
    pub journal_path: PathBuf,
    /// Who started the rollout (journaled on `rollout_started`).
    pub starter: Actor,
    pub warnings: Vec<String>,
    /// End the task once the rollout is over and its hooks are done
    /// (headless). A screen keeps it alive until the user quits.
    pub exit_when_done: bool,
}

/// How a driver ended.
#[derive(Debug, Clone)]
pub struct DriverOutcome {
    pub phase: Phase,
    pub journal_path: PathBuf,
    pub summary_path: Option<PathBuf>,
}

/// Handles to a running driver.
pub struct DriverHandle {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub inputs: mpsc::Sender<DriverInput>,
    pub events: broadcast::Sender<Event>,
    /// Subscribed before the task started, so it misses no event.
    pub first_events: broadcast::Receiver<Event>,
    pub task: JoinHandle<color_eyre::Result<DriverOutcome>>,
}

/// Creates the journal, starts the pollers and the driver task.
pub fn start(setup: DriverSetup) -> color_eyre::Result<DriverHandle> {
    // A source that cannot start (a missing secret) is a clear error now,
    // not a provider error every interval later.
    sources::check_sources(&setup.plan)?;
    let journal = JournalWriter::create(&setup.journal_path, &setup.rollout_id)?;
    let now = wall_now();
    let engine = Engine::new(setup.plan.clone());
    let (sample_tx, sample_rx) = mpsc::channel(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let pollers = sources::spawn_pollers(
        setup.plan.clone(),
        setup.plan.rollout.service.clone(),
        sample_tx,
        shutdown_rx,
    );
    let (input_tx, input_rx) = mpsc::channel(64);
    let (hook_tx, hook_rx) = mpsc::channel(64);
    let (events, first_events) = broadcast::channel(1024);
    let sources = setup
        .plan
        .sources
        .iter()
        .map(|s| SourceHealth {
            name: s.name.clone(),
            kind: source_kind_name(&s.kind).into(),
            state: SourceState::Unknown,
            last_ok: None,
            last_error: None,
            latency_ms: None,
            degraded: false,
        })
        .collect();
    let series = Arc::new(engine.series().to_vec());
    let first = Arc::new(Snapshot {
        version: 0,
        rollout_id: setup.rollout_id.clone(),
        plan: setup.plan.clone(),
        engine: engine.view(now),
        series: series.clone(),
        sources,
        driver: Some(setup.starter.user.clone()),
        watchers: 0,
        now,
        journal_path: setup.journal_path.display().to_string(),
        summary_path: None,
        warnings: setup.warnings.clone(),
    });
    let (snap_tx, snap_rx) = watch::channel(first.clone());
    let driver = Driver {
        engine,
        journal,
        setup,
        snap_tx,
        last: first,
        series,
        series_dirty: false,
        events: events.clone(),
        hook_tx,
        hooks_running: HashMap::new(),
        cancel_tx: watch::channel(false).0,
        filter: LatestFilter::new(),
        last_poll: HashMap::new(),
        shutdown_tx,
        pollers,
        summary_path: None,
    };
    let task = tokio::spawn(driver.run(input_rx, hook_rx, sample_rx));
    Ok(DriverHandle {
        snapshots: snap_rx,
        inputs: input_tx,
        events,
        first_events,
        task,
    })
}

fn source_kind_name(k: &SourceKind) -> &'static str {
    match k {
        SourceKind::Prometheus(_) => "prometheus",
        SourceKind::HttpJson(_) => "http_json",
        SourceKind::Probe { .. } => "probe",
        SourceKind::Command => "command",
    }
}

struct Driver {
    engine: Engine,
    journal: JournalWriter,
    setup: DriverSetup,
    snap_tx: watch::Sender<Arc<Snapshot>>,
    last: Arc<Snapshot>,
    series: Arc<Vec<MetricSeries>>,
    series_dirty: bool,
    events: broadcast::Sender<Event>,
    hook_tx: mpsc::Sender<(u64, crate::engine::HookOutcome)>,
    hooks_running: HashMap<u64, HookKind>,
    /// Set to true to stop retrying hooks (a human took over).
    cancel_tx: watch::Sender<bool>,
    filter: LatestFilter,
    /// Per source: when its latest poll result arrived.
    last_poll: HashMap<String, Timestamp>,
    shutdown_tx: watch::Sender<bool>,
    pollers: Vec<JoinHandle<()>>,
    summary_path: Option<PathBuf>,
}

impl Driver {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<DriverInput>,
        mut hook_results: mpsc::Receiver<(u64, crate::engine::HookOutcome)>,
        mut samples: mpsc::Receiver<SampleMsg>,
    ) -> color_eyre::Result<DriverOutcome> {
        let starter = self.setup.starter.clone();
        self.apply(Input::Start { actor: starter }, wall_now())?;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop: Option<(Actor, String)> = None;
        loop {
            tokio::select! {
                // Commands first: a rollback always wins over anything queued.
                biased;
                msg = inputs.recv() => match msg {
                    Some(DriverInput::Command { command, actor, reason }) => {
                        if command == Command::Rollback {
                            // A new rollback supersedes retries of an old one.
                            self.cancel_tx.send_replace(true);
                            self.cancel_tx = watch::channel(false).0;
                        }
                        self.apply(Input::Command { command, actor, reason }, wall_now())?;
                    }
                    Some(DriverInput::Presence { attached, actor }) => {
                        self.apply(Input::OperatorPresence { attached, actor }, wall_now())?;
                    }
                    Some(DriverInput::Shutdown { actor, why }) => {
                        stop = Some((actor, why));
                    }
                    None => stop = Some((Actor::system(), "every view closed".into())),
                },
                Some((id, outcome)) = hook_results.recv() => {
                    self.hooks_running.remove(&id);
                    self.apply(Input::HookResult { id, outcome }, wall_now())?;
                }
                Some(msg) = samples.recv() => {
                    self.on_sample(msg)?;
                }
                _ = tick.tick() => {
                    let now = wall_now();
                    self.apply(Input::Tick, now)?;
                    self.refresh_staleness(now);
                }
            }
            let ended = self.engine.phase().is_terminal() && self.hooks_running.is_empty();
            if ended && self.summary_path.is_none() {
                self.finish();
            }
            self.publish(wall_now());
            if let Some((actor, why)) = stop.take() {
                self.record_stop(&actor, &why)?;
                break;
            }
            if ended && self.setup.exit_when_done {
                break;
            }
        }
        self.shutdown_tx.send_replace(true);
        for p in self.pollers.drain(..) {
            p.abort();
        }
        Ok(DriverOutcome {
            phase: self.engine.phase().clone(),
            journal_path: self.setup.journal_path.clone(),
            summary_path: self.summary_path.clone(),
        })
    }

    fn on_sample(&mut self, msg: SampleMsg) -> color_eyre::Result<()> {
        self.last_poll.insert(msg.source.clone(), msg.at);
        self.update_health(&msg);
        if !self.filter.accept_msg(&msg) {
            return Ok(());
        }
        self.series_dirty = true;
        self.apply(
            Input::Sample {
                metric: msg.metric,
                cohort: msg.cohort,
                reading: msg.reading,
            },
            msg.at.max(wall_now()),
        )
    }

    fn update_health(&mut self, msg: &SampleMsg) {
        use crate::engine::Reading;
        let snap = Arc::make_mut(&mut self.last);
        let Some(h) = snap.sources.iter_mut().find(|h| h.name == msg.source) else {
            return;
        };
        let before = h.state;
        h.latency_ms = Some(msg.latency_ms);
        match &msg.reading {
            Reading::Value { degraded, .. } => {
                h.state = SourceState::Up;
                h.last_ok = Some(msg.at);
                h.degraded = *degraded;
                h.last_error = None;
            }
            Reading::NoData { why } => {
                h.state = SourceState::NoData;
                h.last_ok = Some(msg.at);
                h.last_error = Some(why.clone());
            }
            Reading::ProviderError { message, .. } => {
                h.state = SourceState::Erroring;
                h.last_error = Some(message.clone());
            }
        }
        if before != h.state && before != SourceState::Unknown {
            let text = format!(
                "source {}: {} → {}{}",
                h.name,
                state_word(before),
                state_word(h.state),
                h.last_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            self.emit(msg.at, "source", text, serde_json::Value::Null);
        }
    }

    fn refresh_staleness(&mut self, now: Timestamp) {
        let plan = self.setup.plan.clone();
        let snap = Arc::make_mut(&mut self.last);
        for h in snap.sources.iter_mut() {
            let Some(src) = plan.source(&h.name) else {
                continue;
            };
            let limit = src.interval * 2 + src.timeout;
            let last = self.last_poll.get(&h.name).copied();
            let started = self.engine.view(now).started_at.unwrap_or(now);
            let since = now.since(last.unwrap_or(started));
            if since > limit && h.state != SourceState::Stale {
                h.state = SourceState::Stale;
                h.last_error = Some(format!("no answer for {} s", since.as_secs()));
            }
        }
    }

    /// Runs the engine and its effects, in order.
    fn apply(&mut self, input: Input, now: Timestamp) -> color_eyre::Result<()> {
        let before: Vec<GateStatus> = self.engine.view(now).gates;
        let effects = self.engine.handle(input, now);
        for effect in effects {
            match effect {
                Effect::Journal(d) => {
                    // Journal before action: the record is on disk before
                    // any hook it explains starts. A failed append stops the
                    // driver rather than act without a record.
                    let journal = &mut self.journal;
                    tokio::task::block_in_place(|| journal.append(now, &d))?;
                    self.on_decision(now, &d);
                }
                Effect::RunHook(call) => self.spawn_hook(call),
                Effect::Notify(n) => {
                    self.emit(now, "notice", n.text.clone(), serde_json::Value::Null);
                    self.notify(n.text);
                }
            }
        }
        let after = self.engine.view(now).gates;
        for g in &after {
            let old = before.iter().find(|b| b.metric == g.metric);
            if old.map(|o| o.verdict) != Some(g.verdict) {
                let text = format!(
                    "verdict {}: {} → {} ({})",
                    g.metric,
                    old.map(|o| o.verdict.as_str()).unwrap_or("-"),
                    g.verdict.as_str(),
                    g.detail
                );
                let data = serde_json::to_value(g).unwrap_or_default();
                self.emit(now, "verdict", text, data);
            }
        }
        Ok(())
    }

    fn on_decision(&mut self, now: Timestamp, d: &Decision) {
        let text = decision_text(d, self.setup.plan.steps.len());
        let data = serde_json::to_value(d).unwrap_or_default();
        let kind = if d.action.starts_with("hook") {
            "hook"
        } else {
            "decision"
        };
        self.emit(now, kind, text.clone(), data);
        if !d.action.starts_with("hook_started") {
            self.notify(text);
        }
    }

    fn notify(&self, text: String) {
        let Some(var) = self.setup.plan.notify.slack_webhook_env.clone() else {
            return;
        };
        let Ok(url) = std::env::var(&var) else {
            return;
        };
        let service = self.setup.plan.rollout.service.clone();
        tokio::spawn(async move {
            let _ = hooks::notify_slack(&url, &format!("[{service}] {text}")).await;
        });
    }

    fn spawn_hook(&mut self, call: HookCall) {
        let plan = self.setup.plan.clone();
        let hook = match call.kind {
            HookKind::OnStepEnter => plan.hooks.on_step_enter.get(call.index).cloned(),
            k => plan.hooks.get(k).cloned(),
        };
        let tx = self.hook_tx.clone();
        let id = call.id;
        self.hooks_running.insert(id, call.kind);
        let Some(hook) = hook else {
            // The engine only asks for configured hooks; answer rather than
            // leave it waiting if that ever changes.
            let outcome = crate::engine::HookOutcome {
                ok: true,
                code: None,
                summary: "no hook configured".into(),
                stdout: String::new(),
                stderr: String::new(),
                attempts: 0,
                duration_ms: 0,
            };
            tokio::spawn(async move {
                let _ = tx.send((id, outcome)).await;
            });
            return;
        };
        let vars = HookVars {
            service: plan.rollout.service.clone(),
            rollout_id: self.setup.rollout_id.clone(),
            step: call.step + 1,
            weight: call.weight,
            actor: call.actor.user.clone(),
            reason: call.reason.clone(),
        };
        let cancel = self.cancel_tx.subscribe();
        tokio::spawn(async move {
            let outcome = match vars.validate() {
                Ok(()) => hooks::run(&hook, &vars, cancel).await,
                Err(e) => crate::engine::HookOutcome {
                    ok: false,
                    code: None,
                    summary: format!("not run: {e}"),
                    stdout: String::new(),
                    stderr: String::new(),
                    attempts: 0,
                    duration_ms: 0,
                },
            };
            let _ = tx.send((id, outcome)).await;
        });
    }

    fn emit(&self, at: Timestamp, kind: &'static str, text: String, data: serde_json::Value) {
        let _ = self.events.send(Event {
            at,
            kind,
            text,
            data,
        });
    }

    fn finish(&mut self) {
        let path = &self.setup.journal_path;
        match crate::journal::write_summary_next_to(path) {
            Ok(p) => self.summary_path = Some(p),
            Err(e) => {
                let text = format!("could not write the summary: {e}");
                self.emit(wall_now(), "warning", text, serde_json::Value::Null);
                self.summary_path = Some(PathBuf::new());
            }
        }
        let phase = self.engine.phase().clone();
        let text = format!("rollout ended: {}", phase_words(&phase));
        let data = serde_json::json!({
            "phase": phase.name(),
            "journal": self.setup.journal_path.display().to_string(),
            "summary": self.summary_path.as_ref().map(|p| p.display().to_string()),
        });
        self.emit(wall_now(), "end", text, data);
    }

    fn record_stop(&mut self, actor: &Actor, why: &str) -> color_eyre::Result<()> {
        let now = wall_now();
        let view = self.engine.view(now);
        let d = Decision {
            action: "driver_stopped".into(),
            actor: actor.clone(),
            reason: why.to_string(),
            step: view.step,
            weight: view.weight,
            phase: view.phase.name().into(),
            gates: view.gates,
            hook: None,
            detail: serde_json::Value::Null,
            at: Some(now),
        };
        let journal = &mut self.journal;
        tokio::task::block_in_place(|| journal.append(now, &d))?;
        self.on_decision(now, &d);
        Ok(())
    }

    fn publish(&mut self, now: Timestamp) {
        let engine = self.engine.view(now);
        if self.series_dirty {
            self.series = Arc::new(self.engine.series().to_vec());
            self.series_dirty = false;
        }
        let summary = self.summary_path.as_ref().map(|p| p.display().to_string());
        let changed = engine != self.last.engine
            || !Arc::ptr_eq(&self.series, &self.last.series)
            || summary != self.last.summary_path
            || now.0 / 1000 != self.last.now.0 / 1000;
        let snap = Arc::make_mut(&mut self.last);
        let health_changed = self.snap_tx.borrow().sources != snap.sources;
        if !changed && !health_changed {
            return;
        }
        snap.engine = engine;
        snap.series = self.series.clone();
        snap.summary_path = summary;
        snap.now = now;
        snap.version += 1;
        self.snap_tx.send_replace(self.last.clone());
    }
}

fn state_word(s: SourceState) -> &'static str {
    match s {
        SourceState::Unknown => "unknown",
        SourceState::Up => "up",
        SourceState::NoData => "no data",
        SourceState::Stale => "stale",
        SourceState::Erroring => "erroring",
    }
}

/// The phase in words, as a human reads it.
pub fn phase_words(p: &Phase) -> String {
    match p {
        Phase::Pending => "pending".into(),
        Phase::Promoting { step } => format!("moving traffic to step {}", step + 1),
        Phase::Holding { step } => format!("holding at step {}", step + 1),
        Phase::AwaitingApproval { step } => format!("step {} awaiting approval", step + 1),
        Phase::Paused { by, reason, .. } => format!("paused by {by}: {reason}"),
        Phase::Promoted => "PROMOTED to 100 %".into(),
        Phase::RollingBack => "ROLLING BACK".into(),
        Phase::RolledBack => "ROLLED BACK".into(),
        Phase::Failed { reason } => format!("FAILED: {reason}"),
    }
}

/// One line for a journal decision.
pub fn decision_text(d: &Decision, steps: usize) -> String {
    let mut s = format!("{} by {}", d.action, d.actor.user);
    if !d.reason.is_empty() {
        s.push_str(&format!(": {}", d.reason));
    }
    if let Some(step) = d.step {
        s.push_str(&format!(" [step {}/{steps}, {} %]", step + 1, d.weight));
    }
    if let Some(h) = &d.hook
        && let Some(o) = &h.outcome
    {
        let ok = if o.ok { "ok" } else { "FAILED" };
        s.push_str(&format!(" — {} {ok}: {}", h.kind.as_str(), o.summary));
    }
    let breaches: Vec<String> = d
        .gates
        .iter()
        .filter(|g| g.verdict != Verdict::Pass)
        .map(|g| format!("{} {} ({})", g.metric, g.verdict.as_str(), g.detail))
        .collect();
    if !breaches.is_empty() && !d.action.starts_with("hook") {
        s.push_str(&format!(" | {}", breaches.join("; ")));
    }
    s
}

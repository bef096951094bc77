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

use crate::engine::resume::ResumePoint;
use crate::engine::series::MetricSeries;
use crate::engine::{Actor, Decision, Effect, Engine, GateStatus, Input, Phase, Timestamp};
use crate::journal::{JournalOptions, JournalWriter};
use crate::plan::{HookKind, Plan};
use crate::session::{self, Access};
use crate::snapshot::{Snapshot, SourceHealth};
use crate::sources::{self, LatestFilter};

mod ending;
mod error;
mod health;
mod inputs;
mod preflight;
mod recorder;
mod resume;
mod run_hooks;
mod sharing;
mod words;

use inputs::Channels;
pub use inputs::DriverInput;
use resume::open_journal;
pub use resume::resume_point;

/// The longest a driver waits at its end for chat notices still being sent.
const NOTICES_AT_EXIT: Duration = Duration::from_secs(10);

/// The wall clock, as engine time. Only the driver and pollers read it.
pub fn wall_now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
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
    /// Whether a local view (screen or headless output) drives from the
    /// start. A detached driver starts with none.
    pub local_view: bool,
    /// Serve attached views on this Unix socket (`rampdeck attach`).
    pub socket: Option<PathBuf>,
    /// The driver whose stale lock this one took over, to journal it.
    pub took_over: Option<String>,
    /// Where this rollout's journal left it, when the journal exists: the
    /// driver resumes there instead of starting over.
    pub resume: Option<ResumePoint>,
    /// A freeze exception given on the command line (approver, reason),
    /// journaled before the start.
    pub freeze_exception: Option<(String, String)>,
    /// Who confirmed the manual pre-flight items on the command line, and
    /// their note; journaled before the start.
    pub preflight_confirmed: Option<(String, String)>,
    /// The service's past rollouts, for the views (see [`Snapshot::history`]).
    pub history: Arc<crate::journal::history::History>,
}

/// How a driver ended.
#[derive(Debug, Clone)]
pub struct DriverOutcome {
    pub phase: Phase,
    pub journal_path: PathBuf,
    pub summary_path: Option<PathBuf>,
    /// The hash of the journal's last record, to keep elsewhere for
    /// `rampdeck verify --expect-head`.
    pub head: String,
    /// Records in the journal.
    pub records: u64,
    /// A `rollout_ended` record closed the journal.
    pub closed: bool,
}

/// Handles to a running driver.
pub struct DriverHandle {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub inputs: mpsc::Sender<DriverInput>,
    pub events: broadcast::Sender<Event>,
    /// Subscribed before the task started, so it misses no event.
    pub first_events: broadcast::Receiver<Event>,
    pub task: JoinHandle<Result<DriverOutcome, DriverError>>,
}

/// What views show before the first input: the plan, every step pending,
/// every source unknown. A screen can draw it before the driver has
/// started (the journal's fsync is then off the first frame's path).
pub fn initial_snapshot(setup: &DriverSetup, engine: &Engine, now: Timestamp) -> Snapshot {
    let sources = setup
        .plan
        .sources
        .iter()
        .map(|s| SourceHealth::unknown(&s.name, s.kind.name()))
        .collect();
    Snapshot {
        version: 0,
        rollout_id: setup.rollout_id.clone(),
        plan: setup.plan.clone(),
        engine: engine.view(now),
        series: Arc::new(engine.series().to_vec()),
        sources,
        driver: Some(setup.starter.user.clone()),
        watchers: 0,
        now,
        journal_path: setup.journal_path.display().to_string(),
        summary_path: None,
        warnings: setup.warnings.clone(),
        replay: None,
        history: setup.history.clone(),
    }
}

/// Creates the journal, starts the pollers and the driver task.
pub async fn start(setup: DriverSetup) -> Result<DriverHandle, DriverError> {
    // A source that cannot start (a missing secret) is a clear error now,
    // not a provider error every interval later.
    sources::check_sources(&setup.plan)?;
    let opts = JournalOptions::from_plan(&setup.plan)?;
    let redactor = opts.redactor.clone();
    let journal = open_journal(&setup, opts)?;
    let now = wall_now();
    let engine = Engine::new(setup.plan.clone());
    let recorder = recorder::open(&setup, now);
    let (sample_tx, sample_rx) = mpsc::channel(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (cohort_tx, cohort_rx) = watch::channel(String::new());
    let pollers = sources::spawn_pollers_for(
        setup.plan.clone(),
        setup.plan.rollout.service.clone(),
        cohort_rx,
        sample_tx,
        shutdown_rx,
    );
    let (input_tx, input_rx) = mpsc::channel(64);
    let (hook_tx, hook_rx) = mpsc::channel(64);
    let (check_tx, check_rx) = mpsc::channel(64);
    let (events, first_events) = broadcast::channel(1024);
    let first = Arc::new(initial_snapshot(&setup, &engine, now));
    let series = first.series.clone();
    let (snap_tx, snap_rx) = watch::channel(first.clone());
    let first_sources = first.sources.clone();
    let setup_rollout = setup.plan.rollout.clone();
    let starter = setup.starter.clone();
    let local_view = setup.local_view;
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
        check_tx,
        awaiting_start: false,
        hooks_running: HashMap::new(),
        cancel_tx: watch::channel(false).0,
        filter: LatestFilter::new(),
        last_poll: HashMap::new(),
        shutdown_tx,
        cohort_tx,
        pollers,
        summary_path: None,
        access: Access::from_plan(&setup_rollout, &session::access::person(&starter)),
        server: None,
        local_view,
        views: HashMap::new(),
        pending_views: HashMap::new(),
        driving: local_view,
        own_records: std::collections::VecDeque::new(),
        own_dirty: false,
        sources: first_sources,
        dirty: true,
        started: now,
        flood: session::flood::Flood::new(),
        queries: health::Queries::new(),
        connections_said: (0, now),
        redactor,
        notifying: Vec::new(),
        recorder,
    };
    let (request_tx, request_rx) = mpsc::channel(256);
    let server = match &driver.setup.socket {
        Some(path) => {
            let config = session::ServerConfig {
                group: driver.setup.plan.rollout.session_group.clone(),
                max_connections: driver.setup.plan.rollout.max_connections,
                drivers: driver.access.drivers().to_vec(),
                ..session::ServerConfig::default()
            };
            Some(
                session::serve_with(
                    path,
                    driver.snap_tx.subscribe(),
                    request_tx,
                    driver.shutdown_tx.subscribe(),
                    config,
                )
                .await?,
            )
        }
        None => None,
    };
    let mut driver = driver;
    driver.server = server;
    let channels = Channels {
        inputs: input_rx,
        hook_results: hook_rx,
        check_results: check_rx,
        samples: sample_rx,
        requests: request_rx,
    };
    let task = tokio::spawn(driver.run(channels));
    Ok(DriverHandle {
        snapshots: snap_rx,
        inputs: input_tx,
        events,
        first_events,
        task,
    })
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
    /// Where checklist checks send their `Input::CheckResult`.
    check_tx: mpsc::Sender<Input>,
    /// A new rollout waits for its pre-flight before `Start`.
    awaiting_start: bool,
    hooks_running: HashMap<u64, HookKind>,
    /// Set to true to stop retrying hooks (a human took over).
    cancel_tx: watch::Sender<bool>,
    filter: LatestFilter,
    /// Per source: when its latest poll result arrived.
    last_poll: HashMap<String, Timestamp>,
    shutdown_tx: watch::Sender<bool>,
    /// The current step's cohort name, for `{cohort_name}` in queries.
    cohort_tx: watch::Sender<String>,
    pollers: Vec<JoinHandle<()>>,
    summary_path: Option<PathBuf>,
    /// Who may drive, who is in control, pending two-person requests.
    access: Access,
    server: Option<session::ServerHandle>,
    /// The local view is attached (it counts as a driving view).
    local_view: bool,
    /// Attached socket views: client id → the person behind it.
    views: HashMap<u64, Actor>,
    /// Just connected; admitted once they stay (see `sharing::PEEK`).
    pending_views: HashMap<u64, (Actor, Timestamp)>,
    /// Whether a driving view is attached, as the engine last heard it.
    driving: bool,
    /// Decisions the driver journaled itself (views, access, locks), shown
    /// in the decision log beside the engine's.
    own_records: std::collections::VecDeque<Arc<Decision>>,
    own_dirty: bool,
    /// The data-health lane, published with each snapshot.
    sources: Vec<SourceHealth>,
    /// Something views show may have changed since the last publish.
    dirty: bool,
    /// When this driver started (staleness of sources that never answered).
    started: Timestamp,
    /// The debounced health of every query of every source.
    queries: health::Queries,
    /// What attached views may make the driver journal (see `session::flood`).
    flood: session::flood::Flood,
    /// Connections refused over the caps that a record already counts, and
    /// when it was written.
    connections_said: (u64, Timestamp),
    /// The plan's secrets, kept out of the engine, views, output and chat.
    redactor: crate::journal::Redactor,
    /// Chat notices being sent.
    notifying: Vec<JoinHandle<()>>,
    /// Every input handed to the engine, beside the journal.
    recorder: crate::recording::Recorder,
}

/// The longest wait at exit for the session server to say `Bye` to its
/// views and remove its socket.
const SOCKET_CLOSE: Duration = Duration::from_secs(2);

impl Driver {
    async fn run(mut self, channels: Channels) -> Result<DriverOutcome, DriverError> {
        let Channels {
            mut inputs,
            mut hook_results,
            mut check_results,
            mut samples,
            mut requests,
        } = channels;
        self.begin().await?;
        // Twice a second: holds end within half a second of their time, and
        // samples (which decide rollbacks) are handled as they arrive.
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop: Option<(Actor, String)> = None;
        loop {
            tokio::select! {
                // Commands first: a rollback always wins over anything queued.
                biased;
                msg = inputs.recv() => match msg {
                    Some(DriverInput::Command { command, actor, reason }) => {
                        self.command(command, actor, reason, None)?;
                    }
                    Some(DriverInput::Presence { attached, actor }) => {
                        self.local_view = attached;
                        self.presence_changed(actor)?;
                    }
                    Some(DriverInput::ExitWhenDone) => self.setup.exit_when_done = true,
                    Some(DriverInput::Shutdown { actor, why }) => {
                        stop = Some((actor, why));
                    }
                    Some(DriverInput::Confirm { stage, item, actor, reason }) => {
                        self.confirm(stage, item, actor, reason, None)?;
                    }
                    Some(DriverInput::RunChecks { stage, item }) => {
                        self.apply(Input::RunChecks { stage, item }, wall_now())?;
                    }
                    None => stop = Some((Actor::system(), "every view closed".into())),
                },
                Some(req) = requests.recv() => self.on_request(req)?,
                Some((id, mut outcome)) = hook_results.recv() => {
                    self.hooks_running.remove(&id);
                    // A hook that prints its environment (or a webhook
                    // answer echoing a header) tells nobody a secret.
                    self.redactor.outcome(&mut outcome);
                    self.apply(Input::HookResult { id, outcome }, wall_now())?;
                }
                Some(input) = check_results.recv() => self.apply(input, wall_now())?,
                Some(msg) = samples.recv() => {
                    let command_waits = || !inputs.is_empty() || !requests.is_empty();
                    self.on_samples(msg, &mut samples, command_waits)?;
                }
                _ = tick.tick() => {
                    let now = wall_now();
                    self.apply(Input::Tick, now)?;
                    self.refresh_staleness(now)?;
                    self.expire_seconds(now)?;
                    self.admit_settled(now)?;
                    self.say_held_back(now, false)?;
                }
            }
            if let Some(why) = self.start_when_ready()? {
                // Pending for want of pre-flight with no one to tick it:
                // the driver ends (socket removed) and says what is missing,
                // in the journal too.
                self.record_stop(&Actor::system(), &format!("not started: {why}"))?;
                self.publish(wall_now());
                let _ = self.wind_down().await;
                return Err(DriverError::Preflight(why));
            }
            let ended = self.engine.is_over() && self.hooks_running.is_empty();
            // A failed rollout gets its summary at once; once it is rolled
            // back after all, the journal is closed and the summary redone.
            if ended && (self.summary_path.is_none() || self.closable()) {
                // Counts held back so far belong in the summary.
                self.say_held_back(wall_now(), true)?;
                self.finish()?;
            }
            self.publish(wall_now());
            if let Some((actor, why)) = stop.take() {
                self.say_held_back(wall_now(), true)?;
                self.record_stop(&actor, &why)?;
                break;
            }
            if ended && self.setup.exit_when_done {
                self.say_held_back(wall_now(), true)?;
                break;
            }
        }
        Ok(self.wind_down().await)
    }

    /// Lets attached views and notices in flight finish, stops the pollers,
    /// and says how the rollout ended.
    async fn wind_down(mut self) -> DriverOutcome {
        self.flush_recording();
        if self.server.as_ref().is_some_and(|s| s.clients() > 0) {
            // Attached views get the last state before the socket closes.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        self.shutdown_tx.send_replace(true);
        for p in self.pollers.drain(..) {
            p.abort();
        }
        if let Some(server) = self.server.take() {
            // The socket file goes before the process does: left to the
            // server's task, a stop signal could end the process first and
            // leave a dead socket behind.
            let path = server.socket_path().to_path_buf();
            let _ = tokio::time::timeout(SOCKET_CLOSE, server.closed()).await;
            let _ = std::fs::remove_file(&path);
        }
        // The last notice carries the head to keep: let notices in flight
        // finish (each is bounded by its own timeout; this bounds them all).
        let notices = futures_util::future::join_all(std::mem::take(&mut self.notifying));
        let _ = tokio::time::timeout(NOTICES_AT_EXIT, notices).await;
        DriverOutcome {
            phase: self.engine.phase().clone(),
            journal_path: self.setup.journal_path.clone(),
            summary_path: self.summary_path.clone(),
            head: self.journal.head().to_string(),
            records: self.journal.last_seq(),
            closed: self.journal.is_closed(),
        }
    }

    /// Runs the engine and its effects, in order.
    fn apply(&mut self, input: Input, now: Timestamp) -> Result<(), DriverError> {
        let before: Vec<GateStatus> = self.engine.gate_statuses();
        if !matches!(input, Input::Tick) {
            self.dirty = true;
        }
        let effects = self.engine.handle(input.clone(), now);
        if !effects.is_empty() {
            self.dirty = true;
        }
        for effect in effects {
            match effect {
                // Journal before action: the record is on disk before any
                // hook it explains starts. A failed append stops the driver
                // rather than act without a record.
                Effect::Journal(d) => self.append(now, &d)?,
                Effect::RunHook(call) if self.journal.is_closed() => {
                    // Never reached (an ended rollout runs no hook), and
                    // never run without its record.
                    let text = format!(
                        "{} hook not run: the rollout ended and its journal is closed",
                        call.kind.as_str()
                    );
                    self.emit(now, "warning", text, serde_json::Value::Null);
                }
                Effect::RunHook(call) => self.spawn_hook(call),
                Effect::RunCheck { stage, item } => self.spawn_check(stage, item),
                // Notices are for chat: the decision's own line already
                // says the same to headless output and views.
                Effect::Notify(n) => self.notify(n.text),
            }
        }
        let cohort = self.engine.cohort_name();
        self.cohort_tx.send_if_modified(|c| {
            let changed = c != cohort;
            if changed {
                cohort.clone_into(c);
            }
            changed
        });
        let after = self.engine.gate_statuses();
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
        self.record_input(input, now, &after)
    }

    fn on_decision(&mut self, now: Timestamp, d: &Decision) {
        let text = decision_text(d, self.setup.plan.steps.len());
        let data = serde_json::to_value(d).unwrap_or_default();
        let kind = if d.action.is_hook() {
            "hook"
        } else {
            "decision"
        };
        self.emit(now, kind, text, data);
    }

    /// Tells headless output (and whoever listens) about an event, with
    /// every known secret redacted: the one place printed events pass.
    fn emit(&self, at: Timestamp, kind: &'static str, text: String, data: serde_json::Value) {
        let text = self.redactor.text(&text).into_owned();
        let mut data = data;
        self.redactor.value(&mut data);
        let _ = self.events.send(Event {
            at,
            kind,
            text,
            data,
        });
    }

    fn publish(&mut self, now: Timestamp) {
        // Idle ticks cost nothing: the view is built only when something
        // happened or a countdown's second turned.
        let second_changed = now.0 / 1000 != self.last.now.0 / 1000;
        if !self.dirty && !self.own_dirty && !self.series_dirty && !second_changed {
            return;
        }
        self.dirty = false;
        let mut engine = self.engine.view(now);
        if !self.own_records.is_empty() {
            // One log, in time order: the engine's decisions and the
            // driver's own (viewers, access, locks).
            let mut all: Vec<Arc<Decision>> = engine.recent.drain(..).collect();
            all.extend(self.own_records.iter().cloned());
            all.sort_by_key(|d| d.at);
            let keep = crate::engine::decision::RECENT_DECISIONS;
            let skip = all.len().saturating_sub(keep);
            engine.recent = all.split_off(skip);
        }
        let own_dirty = std::mem::take(&mut self.own_dirty);
        if self.series_dirty {
            // Cheap whatever the retention: each series' sealed chunks are
            // shared with the engine and older snapshots, only the open
            // tails (under `series::CHUNK` points) are copied.
            self.series = Arc::new(self.engine.series().to_vec());
            self.series_dirty = false;
            self.dirty = true;
        }
        let summary = self.summary_path.as_ref().map(|p| p.display().to_string());
        let controller = self.access.controller().map(str::to_string);
        let watchers = self.server.as_ref().map_or(0, |s| s.clients());
        let changed = own_dirty
            || second_changed
            || engine != self.last.engine
            || controller != self.last.driver
            || watchers != self.last.watchers
            || !Arc::ptr_eq(&self.series, &self.last.series)
            || summary != self.last.summary_path
            || self.sources != self.last.sources;
        if !changed {
            return;
        }
        // A new snapshot rather than a mutated copy: views may still hold
        // the previous one, and cloning it whole would copy its log.
        let next = Snapshot {
            version: self.last.version + 1,
            rollout_id: self.last.rollout_id.clone(),
            plan: self.setup.plan.clone(),
            engine,
            series: self.series.clone(),
            sources: self.sources.clone(),
            driver: controller,
            watchers,
            now,
            journal_path: self.last.journal_path.clone(),
            summary_path: summary,
            warnings: self.last.warnings.clone(),
            replay: None,
            history: self.last.history.clone(),
        };
        self.last = Arc::new(next);
        self.snap_tx.send_replace(self.last.clone());
    }
}

pub use error::DriverError;
pub use words::decision_text;

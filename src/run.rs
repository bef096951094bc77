//! `rampdeck run` and `rampdeck demo`: load the plan, start the driver, and
//! show it on the cockpit screen or as headless lines.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::driver::{self, DriverInput, DriverSetup};
use crate::headless::{self, EXIT_CONFIG, EXIT_INTERNAL, HeadlessOptions};
use crate::plan::Plan;

/// How to show a rollout.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    pub headless: bool,
    pub json: bool,
    pub ascii: bool,
    pub max_pause: Option<Duration>,
    /// Start the driver in the background and attach to it.
    pub detach: bool,
    /// Internal: this process is the background driver of `--detach`.
    pub serve_only: bool,
    /// Internal: the rollout id chosen by the process that detached us.
    pub rollout_id: Option<String>,
    /// A freeze exception: who approved it, and why.
    pub freeze_exception: Option<(String, String)>,
    /// Who confirmed the manual pre-flight items, and the note.
    pub preflight_confirmed: Option<(String, String)>,
}

/// `<service>-<UTC yyyymmdd-hhmmss>` unless the plan names the rollout.
pub fn rollout_id(plan: &Plan, now: chrono::DateTime<chrono::Utc>) -> String {
    plan.rollout
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", plan.rollout.service, now.format("%Y%m%d-%H%M%S")))
}

/// A plan without `id` gets a dated one per run; run again after a crash,
/// it must still find the rollout it left: the newest journal of this
/// service (`<service>-YYYYMMDD-HHMMSS.jsonl`) whose rollout has not ended.
fn unfinished_rollout(plan: &Plan, journal_dir: &Path) -> Option<String> {
    if plan.rollout.id.is_some() {
        return None;
    }
    let prefix = format!("{}-", plan.rollout.service);
    let mut ids: Vec<String> = std::fs::read_dir(journal_dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".jsonl").map(str::to_owned))
        .filter(|id| {
            id.strip_prefix(&prefix).is_some_and(|stamp| {
                chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").is_ok()
            })
        })
        .collect();
    ids.sort();
    let newest = ids.pop()?;
    let path = journal_dir.join(format!("{newest}.jsonl"));
    match driver::resume_point(&path, &newest) {
        Ok(Some(_)) => Some(newest),
        _ => None,
    }
}

/// `rampdeck run`.
pub async fn run_cmd(config: Option<&Path>, view: ViewOptions) -> i32 {
    let path = match crate::config::discover(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    let plan = match crate::config::load_on_host(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    if view.detach {
        let id = rollout_id(&plan, chrono::Utc::now());
        return crate::attach::detach(&path, &id, view.ascii).await;
    }
    let journal_dir = crate::config::journal_dir(&plan);
    drive(plan, journal_dir, view).await
}

/// Starts a driver for `plan` and shows it; returns the exit code.
pub async fn drive(plan: Plan, journal_dir: PathBuf, view: ViewOptions) -> i32 {
    // Caught from the start: a signal while the driver starts is journaled
    // like any other stop rather than killing it half-way.
    let signals = crate::tty::Signals::new();
    let mut warnings = crate::config::warnings(&plan);
    warnings.extend(crate::config::outside_window(&plan, chrono::Utc::now()));
    let id = view
        .rollout_id
        .clone()
        .or_else(|| unfinished_rollout(&plan, &journal_dir))
        .unwrap_or_else(|| rollout_id(&plan, chrono::Utc::now()));
    // Where the journal and the socket go must work before anything runs
    // (`run` checked the plan's own values with their line; the demo's
    // journal dir comes from the environment).
    if let Err(why) = crate::config::journal_dir_usable(&journal_dir) {
        eprintln!(
            "rampdeck: the journal directory cannot be used: {why}\n  help: set `journal_dir` in the plan (or XDG_DATA_HOME) to a directory you can write"
        );
        return EXIT_CONFIG;
    }
    if let Some(group) = plan.rollout.session_group.as_deref()
        && let Err((why, help)) = crate::config::session_group_usable(group)
    {
        eprintln!("rampdeck: {why}\n  help: {help}");
        return EXIT_CONFIG;
    }
    let journal_path = journal_dir.join(format!("{id}.jsonl"));
    // Read while the checks below run, off the first frame's path.
    let history = prior_history(&journal_dir, &plan.rollout.service, &id);
    let headless = view.headless || view.serve_only || !std::io::stdout().is_terminal();
    // A source that cannot start (a secret's variable is not set) is a
    // configuration error, refused before anything runs.
    if let Err(e) = crate::sources::check_sources(&plan) {
        eprintln!("rampdeck: {e}");
        return EXIT_CONFIG;
    }
    // So is a journal key the plan asks for and the environment lacks.
    if let Err(e) = crate::journal::JournalOptions::from_plan(&plan) {
        eprintln!("rampdeck: {e}");
        return EXIT_CONFIG;
    }
    let group = plan.rollout.session_group.as_deref();
    if let Err(e) = crate::session::paths::ensure_dir(&crate::session::runtime_dir(), group) {
        eprintln!("rampdeck: {e}");
        return EXIT_INTERNAL;
    }
    // One driver per rollout: a second `run` of the same id is refused and
    // told how to watch the one that runs.
    let lock = match crate::session::acquire(&id) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rampdeck: {e}");
            return headless::EXIT_STOPPED;
        }
    };
    let took_over = lock.took_over_from().map(|i| {
        format!(
            "the lock of driver pid {} ({}) was left by a process that is gone",
            i.pid, i.user
        )
    });
    // A journal this id already has is resumed, never started over; one
    // whose rollout ended is refused with a new id to use.
    let resume = match driver::resume_point(&journal_path, &id) {
        Ok(r) => r,
        Err(msg) => {
            crate::tty::say(format_args!("rampdeck: {msg}"));
            return EXIT_CONFIG;
        }
    };
    if resume.is_none() {
        let driver = crate::identity::local_actor().user;
        let by = view.freeze_exception.as_ref().map(|(by, _)| by.as_str());
        let now = crate::engine::Timestamp(chrono::Utc::now().timestamp_millis());
        if let Err(why) = crate::engine::windowed::start_check(&plan, now, by, &driver) {
            crate::tty::say(format_args!("rampdeck: {why}"));
            return EXIT_CONFIG;
        }
        // Without a screen no one can tick a manual item: they must be
        // confirmed on the command line. The cockpit shows them to tick.
        let confirmed = view.preflight_confirmed.is_some() || !headless;
        if let Err(why) = crate::engine::preflight::manual_check(&plan, confirmed) {
            crate::tty::say(format_args!("rampdeck: {why}"));
            return EXIT_CONFIG;
        }
    }
    if let Some(p) = &resume {
        warnings.push(format!(
            "resumed from the journal: it left the rollout {} at step {} with {} % confirmed; see the decision log",
            p.phase,
            p.step.map_or("-".to_string(), |s| (s + 1).to_string()),
            p.weight
        ));
    }
    let history = history.await;
    let setup = DriverSetup {
        plan: Arc::new(plan),
        rollout_id: id.clone(),
        journal_path,
        starter: crate::identity::local_actor(),
        warnings,
        exit_when_done: headless,
        local_view: !view.serve_only,
        socket: Some(crate::session::socket_path(&id)),
        took_over,
        freeze_exception: view.freeze_exception.clone(),
        preflight_confirmed: view.preflight_confirmed.clone(),
        resume,
        history,
    };
    // The cockpit is on screen before the driver starts, so creating the
    // journal (an fsync) and binding sockets are not on the first frame's
    // path.
    let early = (!headless).then(|| open_screen(&setup, view.ascii));
    let handle = match driver::start(setup).await {
        Ok(h) => h,
        Err(e) => {
            if let Some(screen) = early {
                screen.tui.abort();
                let _ = screen.tui.await;
            }
            eprintln!("rampdeck: could not start the rollout: {e}");
            return EXIT_INTERNAL;
        }
    };
    let code = match early {
        Some(early) => screen(handle, early, signals).await,
        None => show(handle, &view, headless, signals).await,
    };
    drop(lock);
    code
}

/// The service's past rollouts, for the ramp: read on a blocking thread
/// (bounded in journals, bytes and time by `prior_for`), given up on when
/// it takes longer than that.
fn prior_history(
    dir: &Path,
    service: &str,
    id: &str,
) -> impl std::future::Future<Output = Arc<crate::journal::history::History>> + use<> {
    use crate::journal::history::{History, read::PRIOR_TIME};
    let (dir, service, id) = (dir.to_path_buf(), service.to_string(), id.to_string());
    // Started now (spawned), awaited when the driver is set up.
    let read = tokio::task::spawn_blocking(move || {
        crate::journal::history::prior_for(&dir, &service, &id)
    });
    async move {
        match tokio::time::timeout(PRIOR_TIME * 2, read).await {
            Ok(Ok(h)) => Arc::new(h),
            _ => Arc::new(History {
                cut_short: Some("the journal directory was not read in time".into()),
                ..History::default()
            }),
        }
    }
}

/// A cockpit already drawing while its driver starts.
struct EarlyScreen {
    snapshots: tokio::sync::watch::Sender<Arc<crate::snapshot::Snapshot>>,
    commands: tokio::sync::mpsc::Receiver<crate::tui::UiCommand>,
    tui: tokio::task::JoinHandle<Result<crate::tui::TuiExit, crate::tui::TuiError>>,
    actor: crate::engine::Actor,
}

fn open_screen(setup: &DriverSetup, ascii: bool) -> EarlyScreen {
    let engine = crate::engine::Engine::new(setup.plan.clone());
    let first = driver::initial_snapshot(setup, &engine, driver::wall_now());
    let (snapshots, rx) = tokio::sync::watch::channel(Arc::new(first));
    let (ui_tx, commands) = tokio::sync::mpsc::channel(16);
    let actor = crate::identity::local_actor();
    let mut opts = crate::tui::TuiOptions::from_env(ascii, &actor.user);
    opts.groups = actor.groups.clone();
    opts.hosts_driver = true;
    opts.hangup_log = Some(crate::tty::log_path_for(&setup.journal_path));
    let tui = tokio::spawn(crate::tui::run(rx, ui_tx, opts));
    EarlyScreen {
        snapshots,
        commands,
        tui,
        actor,
    }
}

/// Headless output, or nothing at all for a background driver.
async fn show(
    handle: driver::DriverHandle,
    view: &ViewOptions,
    headless: bool,
    mut signals: crate::tty::Signals,
) -> i32 {
    if view.serve_only {
        // A background driver has no terminal to lose; a stop signal is
        // journaled and ends it like any other stop.
        let mut task = handle.task;
        let outcome = loop {
            tokio::select! {
                res = &mut task => break res,
                ask = signals.recv() => if let crate::tty::SignalAsk::Stop(n) = ask {
                    let _ = handle.inputs.send(DriverInput::Shutdown {
                        actor: crate::identity::local_actor(),
                        why: format!("stopped by {}", crate::tty::signal_name(n)),
                    }).await;
                },
            }
        };
        return match outcome {
            Ok(Ok(o)) => headless::exit_code(&o.phase),
            _ => EXIT_INTERNAL,
        };
    }
    debug_assert!(headless, "a screen is opened before the driver starts");
    let opts = HeadlessOptions {
        json: view.json,
        max_pause: view.max_pause,
    };
    headless::run(handle, opts, signals).await
}

async fn screen(
    handle: driver::DriverHandle,
    early: EarlyScreen,
    mut signals: crate::tty::Signals,
) -> i32 {
    let EarlyScreen {
        snapshots: to_screen,
        commands: ui_rx,
        tui,
        actor,
    } = early;
    let forward = forward_snapshots(handle.snapshots.clone(), to_screen);
    let bridge = bridge_commands(ui_rx, handle.inputs.clone(), actor.clone());
    let exit = match tui.await {
        Ok(r) => r,
        Err(e) => Err(crate::tui::TuiError::Task(e.to_string())),
    };
    bridge.abort();
    forward.abort();
    screen_closed(&handle.inputs, &exit, &actor).await;
    // After a hang-up the driver runs on with no screen; a stop signal
    // still stops it, journaled like any other stop.
    let mut task = handle.task;
    let outcome = loop {
        tokio::select! {
            res = &mut task => break res,
            ask = signals.recv() => if let crate::tty::SignalAsk::Stop(n) = ask {
                let _ = handle.inputs.send(DriverInput::Shutdown {
                    actor: actor.clone(),
                    why: format!(
                        "stopped by {} while running without a screen",
                        crate::tty::signal_name(n)
                    ),
                }).await;
            },
        }
    };
    if let Err(e) = exit {
        crate::tty::say(format_args!("rampdeck: the screen failed: {e:?}"));
        return EXIT_INTERNAL;
    }
    match outcome {
        Ok(Ok(o)) => print_outcome(&o),
        Ok(Err(driver::DriverError::Preflight(why))) => {
            crate::tty::say(format_args!("rampdeck: {why}"));
            EXIT_CONFIG
        }
        Ok(Err(e)) => {
            crate::tty::say(format_args!("rampdeck: the driver stopped: {e}"));
            EXIT_INTERNAL
        }
        Err(e) => {
            crate::tty::say(format_args!("rampdeck: the driver task failed: {e}"));
            EXIT_INTERNAL
        }
    }
}

/// Passes the driver's snapshots on to the screen.
fn forward_snapshots(
    mut from_driver: tokio::sync::watch::Receiver<Arc<crate::snapshot::Snapshot>>,
    to_screen: tokio::sync::watch::Sender<Arc<crate::snapshot::Snapshot>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let snap = from_driver.borrow_and_update().clone();
            to_screen.send_replace(snap);
            if from_driver.changed().await.is_err() {
                break;
            }
        }
    })
}

/// Passes the screen's commands on to the driver, as `actor`'s.
fn bridge_commands(
    mut ui_rx: tokio::sync::mpsc::Receiver<crate::tui::UiCommand>,
    inputs: tokio::sync::mpsc::Sender<DriverInput>,
    actor: crate::engine::Actor,
) -> tokio::task::JoinHandle<()> {
    use crate::tui::UiCommand;
    tokio::spawn(async move {
        while let Some(cmd) = ui_rx.recv().await {
            let msg = match cmd {
                UiCommand::Engine { command, reason } => DriverInput::Command {
                    command,
                    actor: actor.clone(),
                    reason,
                },
                // The local terminal of the person who started the
                // rollout is in control from the start.
                UiCommand::TakeControl => continue,
                UiCommand::Confirm { stage, item, note } => DriverInput::Confirm {
                    stage,
                    item: Some(item),
                    actor: actor.clone(),
                    reason: note,
                },
                UiCommand::RunChecks { stage, item } => DriverInput::RunChecks { stage, item },
                // Only a replay's own snapshots offer playback keys.
                UiCommand::Replay(_) => continue,
                UiCommand::Quit => break,
            };
            if inputs.send(msg).await.is_err() {
                break;
            }
        }
    })
}

/// Tells the driver how the screen ended: a hang-up leaves it running, any
/// other end stops it.
async fn screen_closed(
    inputs: &tokio::sync::mpsc::Sender<DriverInput>,
    exit: &Result<crate::tui::TuiExit, crate::tui::TuiError>,
    actor: &crate::engine::Actor,
) {
    use crate::tui::TuiExit;
    match exit {
        // The terminal hung up (SSH dropped): the driver carries on with
        // every trigger armed, `rampdeck attach` picks it up again.
        Ok(TuiExit::HangUp) => {
            let _ = inputs
                .send(DriverInput::Presence {
                    attached: false,
                    actor: actor.clone(),
                })
                .await;
            let _ = inputs.send(DriverInput::ExitWhenDone).await;
        }
        other => {
            let why = match other {
                Ok(TuiExit::Signal(n)) => format!("stopped by {}", crate::tty::signal_name(*n)),
                Ok(_) => "the operator closed the cockpit".to_string(),
                Err(e) => format!("the screen failed: {e}"),
            };
            let _ = inputs
                .send(DriverInput::Shutdown {
                    actor: actor.clone(),
                    why,
                })
                .await;
        }
    }
}

/// Prints where the rollout ended up; returns the exit code.
fn print_outcome(o: &driver::DriverOutcome) -> i32 {
    // stdout may be a terminal that hung up: never panic on it.
    let mut out = std::io::stdout();
    use crate::journal::escape::line;
    let words = crate::engine::words::phase_sentence(&o.phase);
    let _ = writeln!(out, "rollout {}: {}", o.phase.name(), line(&words));
    if let Some(s) = o
        .summary_path
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        let _ = writeln!(out, "summary: {}", line(&s.display().to_string()));
    }
    let state = if o.closed { "closed" } else { "open" };
    let _ = writeln!(
        out,
        "head: {} ({} records, journal {state})",
        o.head, o.records
    );
    let journal = o.journal_path.display().to_string();
    let _ = writeln!(out, "journal: {}", line(&journal));
    if o.phase.is_terminal() {
        headless::exit_code(&o.phase)
    } else {
        headless::EXIT_STOPPED
    }
}

#[cfg(feature = "demo")]
#[path = "run_demo.rs"]
mod demo;
#[cfg(feature = "demo")]
pub use demo::{DemoArgs, demo_cmd, demo_plan, demo_plan_for};

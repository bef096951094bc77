//! `rampdeck run` and `rampdeck demo`: load the plan, start the driver, and
//! show it on the cockpit screen or as headless lines.

use std::io::IsTerminal;
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
}

/// `<service>-<UTC yyyymmdd-hhmmss>` unless the plan names the rollout.
pub fn rollout_id(plan: &Plan, now: chrono::DateTime<chrono::Utc>) -> String {
    plan.rollout
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", plan.rollout.service, now.format("%Y%m%d-%H%M%S")))
}

/// `rampdeck run`.
pub async fn run_cmd(config: Option<&Path>, view: ViewOptions) -> i32 {
    let plan = match crate::config::discover(config).and_then(|p| crate::config::load(&p)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    let journal_dir = crate::config::journal_dir(&plan);
    drive(plan, journal_dir, view).await
}

/// Starts a driver for `plan` and shows it; returns the exit code.
pub async fn drive(plan: Plan, journal_dir: PathBuf, view: ViewOptions) -> i32 {
    let warnings = crate::config::warnings(&plan);
    let id = rollout_id(&plan, chrono::Utc::now());
    let journal_path = journal_dir.join(format!("{id}.jsonl"));
    let headless = view.headless || !std::io::stdout().is_terminal();
    let setup = DriverSetup {
        plan: Arc::new(plan),
        rollout_id: id,
        journal_path,
        starter: crate::identity::local_actor(),
        warnings,
        exit_when_done: headless,
    };
    let handle = match driver::start(setup) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("rampdeck: could not start the rollout: {e}");
            return EXIT_INTERNAL;
        }
    };
    if headless {
        let opts = HeadlessOptions {
            json: view.json,
            max_pause: view.max_pause,
        };
        return headless::run(handle, opts).await;
    }
    screen(handle, view.ascii).await
}

async fn screen(handle: driver::DriverHandle, ascii: bool) -> i32 {
    use crate::tui::{TuiExit, TuiOptions, UiCommand};
    let actor = crate::identity::local_actor();
    let (ui_tx, mut ui_rx) = tokio::sync::mpsc::channel::<UiCommand>(16);
    let inputs = handle.inputs.clone();
    let bridge_actor = actor.clone();
    let bridge = tokio::spawn(async move {
        while let Some(cmd) = ui_rx.recv().await {
            let msg = match cmd {
                UiCommand::Engine { command, reason } => DriverInput::Command {
                    command,
                    actor: bridge_actor.clone(),
                    reason,
                },
                UiCommand::TakeControl => continue,
                UiCommand::Quit => break,
            };
            if inputs.send(msg).await.is_err() {
                break;
            }
        }
    });
    let opts = TuiOptions::from_env(ascii, &actor.user);
    let exit = crate::tui::run(handle.snapshots.clone(), ui_tx, opts).await;
    bridge.abort();
    let why = match &exit {
        Ok(TuiExit::Signal(_)) => "the terminal went away (signal)",
        _ => "the operator closed the cockpit",
    };
    let _ = handle
        .inputs
        .send(DriverInput::Shutdown {
            actor: actor.clone(),
            why: why.into(),
        })
        .await;
    let outcome = handle.task.await;
    if let Err(e) = exit {
        eprintln!("rampdeck: the screen failed: {e:?}");
        return EXIT_INTERNAL;
    }
    match outcome {
        Ok(Ok(o)) => {
            println!(
                "rollout {}: {}",
                o.phase.name(),
                driver::phase_words(&o.phase)
            );
            if let Some(s) = o.summary_path.filter(|p| !p.as_os_str().is_empty()) {
                println!("summary: {}", s.display());
            }
            println!("journal: {}", o.journal_path.display());
            if o.phase.is_terminal() {
                headless::exit_code(&o.phase)
            } else {
                headless::EXIT_STOPPED
            }
        }
        Ok(Err(e)) => {
            eprintln!("rampdeck: the driver stopped: {e:?}");
            EXIT_INTERNAL
        }
        Err(e) => {
            eprintln!("rampdeck: the driver task failed: {e}");
            EXIT_INTERNAL
        }
    }
}

/// `rampdeck demo`: the simulated service, `assets/demo.toml`, and the same
/// driver and views as real use.
pub async fn demo_cmd(scenario: &str, speed: f64, view: ViewOptions) -> i32 {
    let scenario: crate::demo::Scenario = match scenario.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck demo: {e}");
            return EXIT_CONFIG;
        }
    };
    if !(speed.is_finite() && (0.05..=100.0).contains(&speed)) {
        eprintln!("rampdeck demo: --speed must be between 0.05 and 100 (got {speed})");
        return EXIT_CONFIG;
    }
    let service = match crate::demo::start(scenario, speed).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck demo: could not start the simulated service: {e}");
            return EXIT_INTERNAL;
        }
    };
    let plan = match demo_plan(&service.addr().to_string(), speed) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rampdeck demo: assets/demo.toml is broken: {e}");
            return EXIT_INTERNAL;
        }
    };
    let dir = crate::config::default_journal_dir().join("demo");
    let code = drive(plan, dir, view).await;
    drop(service);
    code
}

/// The demo plan with the simulated service's address and holds divided by
/// `speed`.
pub fn demo_plan(addr: &str, speed: f64) -> Result<Plan, crate::config::ConfigError> {
    let text = crate::demo::DEMO_CONFIG.replace(crate::demo::ADDR_PLACEHOLDER, addr);
    let mut plan = crate::config::parse(&text, "assets/demo.toml")?;
    for step in &mut plan.steps {
        step.hold = step.hold.div_f64(speed);
    }
    Ok(plan)
}

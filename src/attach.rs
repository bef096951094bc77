//! `rampdeck attach`, `rampdeck ls`, `rampdeck rollback` and `run --detach`:
//! views and commands that reach a driver through its Unix socket (the
//! other verbs from a shell are in [`crate::act`]).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::engine::Command;
use crate::headless::{EXIT_CONFIG, EXIT_INTERNAL, EXIT_STOPPED};
use crate::session::{self, ClientMsg, RolloutListing};
use crate::snapshot::Snapshot;
use crate::tui::{TuiOptions, UiCommand};

/// Picks the rollout to talk to: the one named, or the only one running.
pub(crate) fn choose(rollout: Option<&str>) -> Result<std::path::PathBuf, String> {
    if let Some(id) = rollout {
        let path = session::socket_path(id);
        if !path.exists() {
            return Err(format!(
                "no rollout {id:?} is running here (no socket at {}); `rampdeck ls` lists those that are",
                path.display()
            ));
        }
        return Ok(path);
    }
    let running = session::list();
    match running.as_slice() {
        [] => Err("no rollout is running on this host; start one with `rampdeck run`".into()),
        [one] => Ok(one.socket.clone()),
        many => Err(format!(
            "{} rollouts are running; name one: {}",
            many.len(),
            many.iter()
                .map(|r| r.rollout_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `rampdeck ls`.
pub fn ls_cmd(json: bool) -> i32 {
    let running = session::list();
    let mut out = std::io::stdout();
    if json {
        let rows: Vec<serde_json::Value> = running.iter().map(listing_json).collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
        return 0;
    }
    if running.is_empty() {
        let _ = writeln!(out, "no rollouts are running on this host");
        return 0;
    }
    let _ = writeln!(
        out,
        "{:<36} {:<14} {:<18} {:>6}  {:<12} {:>8}",
        "ROLLOUT", "SERVICE", "PHASE", "WEIGHT", "DRIVER", "WATCHERS"
    );
    for r in &running {
        let _ = writeln!(
            out,
            "{:<36} {:<14} {:<18} {:>5}%  {:<12} {:>8}",
            r.rollout_id,
            r.service,
            r.phase,
            r.weight,
            r.driver.as_deref().unwrap_or("(nobody)"),
            r.watchers
        );
    }
    0
}

fn listing_json(r: &RolloutListing) -> serde_json::Value {
    serde_json::json!({
        "rollout": r.rollout_id,
        "service": r.service,
        "phase": r.phase,
        "weight": r.weight,
        "driver": r.driver,
        "watchers": r.watchers,
        "socket": r.socket.display().to_string(),
    })
}

/// `rampdeck rollback [ROLLOUT] --reason R`: the kill switch from another
/// shell. Journaled with this shell's identity (from the socket's peer
/// credentials) like any other command.
pub async fn rollback_cmd(rollout: Option<&str>, reason: &str) -> i32 {
    // Refused here, before anything is sent or journaled.
    if let Err(why) = crate::engine::reason::check_reason(reason) {
        eprintln!("rampdeck rollback: {why}");
        return EXIT_CONFIG;
    }
    let socket = match choose(rollout) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck rollback: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut client = match session::connect(&socket).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampdeck rollback: {e}");
            return EXIT_INTERNAL;
        }
    };
    let required = client.snapshots.borrow().plan.ui.reason_required.clone();
    if let Some(why) = crate::act::missing_reason(&required, Command::Rollback, reason) {
        eprintln!("rampdeck rollback: {why}");
        return EXIT_CONFIG;
    }
    let msg = ClientMsg::Command {
        command: Command::Rollback,
        reason: reason.to_string(),
    };
    if let Err(e) = client.send(msg).await {
        eprintln!("rampdeck rollback: {e}");
        return EXIT_INTERNAL;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let phase = client.snapshots.borrow().engine.phase.clone();
        use crate::engine::Phase;
        match phase {
            Phase::RollingBack | Phase::RolledBack => {
                println!(
                    "rollback started: {}",
                    crate::engine::words::phase_sentence(&phase)
                );
                return 0;
            }
            Phase::Failed { reason } if reason.contains("ROLLBACK") => {
                println!("{reason}");
                return EXIT_STOPPED;
            }
            _ => {}
        }
        tokio::select! {
            changed = client.snapshots.changed() => {
                if changed.is_err() {
                    // The driver closed the connection: say why, never spin.
                    while let Ok(n) = client.notices.try_recv() {
                        if n.starts_with("refused") {
                            eprintln!("rampdeck rollback: {n}");
                            return EXIT_STOPPED;
                        }
                    }
                    eprintln!("rampdeck rollback: the driver closed the connection: {}", client.close_reason());
                    return EXIT_STOPPED;
                }
            }
            Some(n) = client.notices.recv() => {
                if n.starts_with("refused") {
                    eprintln!("rampdeck rollback: {n}");
                    return EXIT_STOPPED;
                }
                if n.contains("second driver must") {
                    // The two-person rule: recorded, not yet done.
                    println!("{n}");
                    return EXIT_STOPPED;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                eprintln!("rampdeck rollback: the driver did not start a rollback within 10 s; see its decision log");
                return EXIT_STOPPED;
            }
        }
    }
}

/// `rampdeck attach [ROLLOUT]`: the full cockpit on a running driver.
pub async fn attach_cmd(rollout: Option<&str>, ascii: bool) -> i32 {
    let socket = match choose(rollout) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck attach: {e}");
            return EXIT_CONFIG;
        }
    };
    attach_socket(&socket, ascii, Duration::ZERO).await
}

async fn attach_socket(socket: &Path, ascii: bool, wait: Duration) -> i32 {
    let client = match session::connect_when_ready(socket, wait).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampdeck attach: {e}");
            return EXIT_INTERNAL;
        }
    };
    // Who the driver saw in the peer credentials: the footer offers `a`
    // to this person only when the engine would count their approval.
    let me = client.hello.you.clone();
    let (view_tx, view_rx) = watch::channel(client.snapshots.borrow().clone());
    let (ui_tx, ui_rx) = mpsc::channel::<UiCommand>(16);
    let bridge = tokio::spawn(bridge(client, view_tx, ui_rx));
    let mut opts = TuiOptions::from_env(ascii, &me.user);
    opts.groups = me.groups;
    let exit = crate::tui::run(view_rx, ui_tx, opts).await;
    bridge.abort();
    match exit {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("rampdeck attach: the screen failed: {e:?}");
            EXIT_INTERNAL
        }
    }
}

/// Forwards the view's commands to the driver, and the driver's snapshots
/// to the view with its notices ("bob took control", refusals) shown among
/// the warnings for a while.
async fn bridge(
    mut client: session::Client,
    view: watch::Sender<Arc<Snapshot>>,
    mut ui: mpsc::Receiver<UiCommand>,
) {
    let mut notices: Vec<(tokio::time::Instant, String)> = Vec::new();
    let mut expire = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            cmd = ui.recv() => {
                let msg = match cmd {
                    Some(UiCommand::Engine { command, reason }) => ClientMsg::Command { command, reason },
                    Some(UiCommand::TakeControl) => ClientMsg::TakeControl,
                    Some(UiCommand::Confirm { stage, item, note }) => {
                        ClientMsg::Confirm { stage: Some(stage), item: Some(item), note }
                    }
                    Some(UiCommand::RunChecks { stage, item }) => ClientMsg::RunChecks { stage, item },
                    // Only a replay's own snapshots offer playback keys.
                    Some(UiCommand::Replay(_)) => continue,
                    Some(UiCommand::Quit) | None => return,
                };
                if client.send(msg).await.is_err() {
                    notices.push((tokio::time::Instant::now(), "the driver is gone".into()));
                }
            }
            changed = client.snapshots.changed() => {
                if changed.is_err() {
                    let why = client.close_reason();
                    notices.push((tokio::time::Instant::now(), format!("disconnected: {why}")));
                    publish(&view, &client.snapshots.borrow(), &notices);
                    // Keep the last picture on screen until the user quits.
                    while ui.recv().await.is_some() {}
                    return;
                }
            }
            Some(n) = client.notices.recv() => {
                // The cockpit shows what an accepted command did.
                if n.starts_with(crate::act::ACCEPTED) {
                    continue;
                }
                notices.push((tokio::time::Instant::now(), n));
            }
            _ = expire.tick() => {
                let before = notices.len();
                notices.retain(|(at, _)| at.elapsed() < Duration::from_secs(15));
                if before == notices.len() {
                    continue;
                }
            }
        }
        publish(&view, &client.snapshots.borrow(), &notices);
    }
}

fn publish(
    view: &watch::Sender<Arc<Snapshot>>,
    snap: &Arc<Snapshot>,
    notices: &[(tokio::time::Instant, String)],
) {
    if notices.is_empty() {
        view.send_replace(snap.clone());
        return;
    }
    let mut s = (**snap).clone();
    s.warnings.extend(notices.iter().map(|(_, n)| n.clone()));
    // A notice changing is a change worth a redraw.
    s.version = s
        .version
        .wrapping_mul(1000)
        .wrapping_add(notices.len() as u64);
    view.send_replace(Arc::new(s));
}

/// `rampdeck run --detach`: start this plan's driver as a background
/// process in its own session (a hang-up of this terminal never reaches
/// it), then attach. Closing every view leaves it running.
pub async fn detach(config: &Path, rollout_id: &str, ascii: bool) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rampdeck: cannot find my own executable to detach: {e}");
            return EXIT_INTERNAL;
        }
    };
    let log = crate::config::default_journal_dir().join(format!("{rollout_id}.driver.log"));
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log_file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "rampdeck: cannot write the driver log {}: {e}",
                log.display()
            );
            return EXIT_INTERNAL;
        }
    };
    let err_file = match log_file.try_clone() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rampdeck: {e}");
            return EXIT_INTERNAL;
        }
    };
    let child = std::process::Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(config)
        .args(["--serve-only", "--rollout-id", rollout_id])
        .stdin(std::process::Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn();
    match child {
        Ok(c) => {
            eprintln!(
                "rampdeck: driver of {rollout_id} runs in the background (pid {}, log {}); `rampdeck attach {rollout_id}` to come back",
                c.id(),
                log.display()
            );
        }
        Err(e) => {
            eprintln!("rampdeck: could not start the background driver: {e}");
            return EXIT_INTERNAL;
        }
    }
    attach_socket(
        &session::socket_path(rollout_id),
        ascii,
        Duration::from_secs(10),
    )
    .await
}

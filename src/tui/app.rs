//! The terminal loop: raw mode and the alternate screen, keys in, commands
//! out, a redraw only when something changed (a new snapshot, a key, a
//! resize, a countdown's second), written by [`super::wire::Wire`] in as
//! few bytes as the screen allows.
//!
//! The terminal is restored on every way out: normal return, error, panic
//! (the hook restores before the color-eyre report prints), SIGTERM and
//! SIGHUP.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::terminal::{
    EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode,
    enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::keymap::Keymap;
use super::state::{UiCommand, UiState};
use super::theme::Theme;
use super::view::render;
use super::wire::{Screen, Wire};
use crate::engine::{NextAction, Phase, StepState};
use crate::snapshot::Snapshot;

/// How the cockpit draws and who it acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiOptions {
    /// Avoid Unicode box and braille characters.
    pub ascii: bool,
    /// No colors (also implied by `NO_COLOR` or `TERM=dumb`).
    pub mono: bool,
    /// The operator's name, for commands and the "you drive" check.
    pub actor_name: String,
    /// The operator's Unix groups, so `a` is offered to an `@group`
    /// approver (as the engine will count them).
    pub groups: Vec<String>,
    /// This process runs the driver: closing the cockpit stops it (as
    /// opposed to a view attached to a driver that runs elsewhere).
    pub hosts_driver: bool,
    /// Where stdout and stderr go once the terminal hangs up (the driver's
    /// log); `/dev/null` when unset.
    pub hangup_log: Option<std::path::PathBuf>,
}

impl TuiOptions {
    /// Options with `mono` taken from `NO_COLOR` / `TERM=dumb`.
    pub fn from_env(ascii: bool, actor_name: &str) -> Self {
        let theme = Theme::detect(ascii, false, |k| std::env::var(k).ok());
        TuiOptions {
            ascii,
            mono: theme.mono,
            actor_name: actor_name.to_string(),
            groups: Vec::new(),
            hosts_driver: false,
            hangup_log: None,
        }
    }
}

/// Why the cockpit closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuiExit {
    /// The operator quit (after confirming, if the rollout was in progress).
    Quit,
    /// A signal asked to stop (SIGTERM, SIGINT, SIGQUIT, ...: its number);
    /// the terminal was restored.
    Signal(i32),
    /// The terminal is gone (SIGHUP, or reading or writing it failed):
    /// nothing was written to it after that, and stdout and stderr now go
    /// to [`TuiOptions::hangup_log`].
    HangUp,
}

type Out = BufWriter<Stdout>;
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync + 'static>;

/// Whether the cockpit has the terminal (raw mode, alternate screen).
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Put the terminal back as we found it. Only the first call after
/// [`TerminalGuard::enter`] writes anything: the panic hook restores, then
/// the guard's drop runs while unwinding, and a second "leave the alternate
/// screen" would move the cursor back to where the cockpit started (xterm
/// restores the saved cursor), so the shell prompt would overwrite the
/// panic report.
fn restore_terminal() {
    if !TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

/// Why the cockpit could not run: the terminal refused to be set up or
/// drawn on, or the plan's key overrides are wrong.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("could not {what}: {source}")]
    Terminal {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the plan's [ui] keys could not be used: {0}")]
    Keys(#[from] super::KeymapError),
    #[error("the screen task failed: {0}")]
    Task(String),
}

fn terminal(what: &'static str) -> impl FnOnce(io::Error) -> TuiError {
    move |source| TuiError::Terminal { what, source }
}

/// Owns raw mode and the alternate screen; restores both when dropped and
/// from the panic hook.
struct TerminalGuard {
    terminal: Screen<Out>,
    prev_hook: Arc<PanicHook>,
}

impl TerminalGuard {
    fn enter() -> Result<Self, TuiError> {
        let prev_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&prev_hook);
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the report that follows is readable.
            restore_terminal();
            chained(info);
        }));
        TERMINAL_TAKEN.store(true, Ordering::SeqCst);
        if let Err(e) = enable_raw_mode() {
            restore_terminal();
            return Err(terminal("switch the terminal to raw mode")(e));
        }
        let mut out = BufWriter::new(io::stdout());
        if let Err(e) = execute!(out, EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(terminal("enter the alternate screen")(e));
        }
        let terminal = match Screen::new(Wire::new(out, true)) {
            Ok(t) => t,
            Err(e) => {
                restore_terminal();
                return Err(terminal("set up the terminal")(e));
            }
        };
        Ok(TerminalGuard {
            terminal,
            prev_hook,
        })
    }

    fn draw(&mut self, snap: &Snapshot, ui: &UiState) -> Result<(), TuiError> {
        self.terminal
            .draw(|buf| render(buf, snap, ui))
            .map_err(terminal("draw"))?;
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        // Hand the panic hook back (not allowed while panicking).
        if !std::thread::panicking() {
            let _ = std::panic::take_hook();
            let prev = Arc::clone(&self.prev_hook);
            std::panic::set_hook(Box::new(move |info| prev(info)));
        }
    }
}

/// Run the cockpit until the operator quits or a signal arrives.
///
/// Draws the latest snapshot from `snapshots`; sends operator commands on
/// `commands`. Quitting sends [`UiCommand::Quit`] and never promotes or
/// rolls back.
pub async fn run(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<UiCommand>,
    opts: TuiOptions,
) -> Result<TuiExit, TuiError> {
    let mut current: Arc<Snapshot> = snapshots.borrow_and_update().clone();
    // Bad key overrides are reported before the screen is taken over.
    let keymap = Keymap::with_overrides(&current.plan.ui.keys)?;
    let theme = Theme::detect(opts.ascii, opts.mono, |k| std::env::var(k).ok());
    let mut ui = UiState::new(theme, keymap, &opts.actor_name);
    ui.groups = opts.groups.clone();
    ui.hosts_driver = opts.hosts_driver;

    let mut signals = crate::tty::Signals::new();
    let mut term = TerminalGuard::enter()?;
    let hangup_log = opts
        .hangup_log
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("/dev/null"));
    // The terminal is gone: one last try to put it back (a few bytes whose
    // errors are ignored: a closed pty answers EIO at once), then never
    // write to it again (see `crate::tty`).
    let hang_up = || -> Result<TuiExit, TuiError> {
        restore_terminal();
        crate::tty::lose_terminal(&hangup_log);
        Ok(TuiExit::HangUp)
    };
    let mut events = EventStream::new();
    // A resize before the event stream listened for it is never reported:
    // the first draw asks the terminal its size again.
    term.terminal.backend().resized();

    let mut received = Instant::now();
    // What is on screen: `current` as of its last data frame; between data
    // frames only its countdowns move.
    let mut shown = current.clone();
    let mut shown_received = received;
    let mut snapshots_open = true;
    let mut frames = Frames::new();
    loop {
        let now = Instant::now();
        if frames.due(now) {
            if frames.data_due(now) {
                shown = current.clone();
                shown_received = received;
            }
            let elapsed = shown_received.elapsed().as_millis() as u64;
            let aged_view = aged(&shown, elapsed);
            if term
                .draw(aged_view.as_ref().unwrap_or(&shown), &ui)
                .is_err()
            {
                // A write to the terminal failed (EIO once the pty closed).
                return hang_up();
            }
            frames.drawn(now);
        }
        let wake = frames.wake_at(&shown, shown_received);
        tokio::select! {
            changed = snapshots.changed(), if snapshots_open => match changed {
                Ok(()) => {
                    let s = snapshots.borrow_and_update().clone();
                    if s.version != current.version || !Arc::ptr_eq(&s, &current) {
                        if is_urgent(&shown, &s) {
                            frames.urgent = true;
                        } else {
                            frames.data = true;
                        }
                        current = s;
                        received = Instant::now();
                    }
                }
                // The driver is gone: keep the last screen until the operator quits.
                Err(_) => snapshots_open = false,
            },
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    frames.urgent = true;
                    if let Some(exit) = on_key(&mut ui, key, &current, &commands).await {
                        return Ok(exit);
                    }
                }
                Some(Ok(Event::Resize(..))) => {
                    term.terminal.backend().resized();
                    if term.terminal.autoresize().is_err() {
                        return hang_up();
                    }
                    frames.urgent = true;
                }
                Some(Ok(_)) => {}
                // Reading the terminal failed or it closed: it is gone.
                Some(Err(_)) | None => return hang_up(),
            },
            // Only wakes the loop: a countdown's second is due by the clock
            // (`Frames::tick_at`), whichever branch wins the race with
            // samples that arrive in the same instant.
            _ = sleep_until_opt(wake), if wake.is_some() => {}
            ask = signals.recv() => match ask {
                crate::tty::SignalAsk::HangUp => return hang_up(),
                crate::tty::SignalAsk::Stop(n) => return Ok(TuiExit::Signal(n)),
            },
        }
    }
}

/// Sends the command a key asks for; `Some` when the key quits.
async fn on_key(
    ui: &mut UiState,
    key: crossterm::event::KeyEvent,
    current: &Snapshot,
    commands: &mpsc::Sender<UiCommand>,
) -> Option<TuiExit> {
    let cmd = ui.on_key(key, current)?;
    if cmd == UiCommand::Quit {
        let _ = commands.send(UiCommand::Quit).await;
        return Some(TuiExit::Quit);
    }
    if commands.send(cmd).await.is_err() {
        ui.flash = Some("the driver has stopped; nothing was sent".into());
    }
    None
}

/// When to draw. `urgent`: draw now, with the newest data (a key, a
/// resize, a new phase, decision or verdict). `data`: new samples wait for
/// the next data slot (every [`DATA_INTERVAL`]); `tick_at`: when a
/// countdown's second turns, drawn at most once per [`FRAME_INTERVAL`]
/// with the data already on screen. Over an SSH link a second then costs the few cells
/// of its countdowns, and the numbers and charts every third second.
struct Frames {
    urgent: bool,
    data: bool,
    tick_at: Option<Instant>,
    last: Instant,
    last_data: Instant,
    first_drawn: bool,
}

impl Frames {
    fn new() -> Self {
        let now = Instant::now();
        Frames {
            urgent: true,
            data: false,
            tick_at: None,
            last: now,
            last_data: now,
            first_drawn: false,
        }
    }

    /// This frame takes the newest snapshot: at its slot, or a little
    /// early when a countdown's frame goes out anyway (one frame, not two a
    /// few milliseconds apart).
    fn data_due(&self, now: Instant) -> bool {
        let slot = self.last_data + DATA_INTERVAL;
        self.urgent || (self.data && (now >= slot || (self.tick_due(now) && now + MERGE >= slot)))
    }

    fn tick_due(&self, now: Instant) -> bool {
        self.tick_at.is_some_and(|t| now >= t) && now >= self.last + FRAME_INTERVAL
    }

    fn due(&self, now: Instant) -> bool {
        self.data_due(now) || self.tick_due(now)
    }

    fn drawn(&mut self, now: Instant) {
        if self.data_due(now) {
            self.data = false;
            self.last_data = now;
        }
        self.urgent = false;
        self.tick_at = None;
        self.last = now;
        if !self.first_drawn {
            self.first_drawn = true;
            test_panic_after_first_frame();
        }
    }

    /// Wake for the next data slot when samples wait, and at the next whole
    /// second of a countdown on screen (only while one runs: idle costs
    /// nothing). That second is kept until it is drawn: samples arriving
    /// at the same instant (pollers run on whole seconds too) wake the loop
    /// first, and must not push it a second further.
    fn wake_at(&mut self, shown: &Snapshot, received: Instant) -> Option<Instant> {
        let data = self.data.then(|| self.last_data + DATA_INTERVAL);
        let elapsed = received.elapsed().as_millis() as u64;
        if self.tick_at.is_none() && has_countdown(shown, elapsed) {
            self.tick_at = Some(received + Duration::from_millis((elapsed / 1000 + 1) * 1000));
        }
        let tick = self.tick_at.map(|t| t.max(self.last + FRAME_INTERVAL));
        match (data, tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The shortest time between two frames nobody asked for (countdown
/// seconds). The driver publishes several snapshots a second (every
/// sample, every engine tick); drawing each one cost about 5 KB/s at
/// 200x50.
const FRAME_INTERVAL: Duration = Duration::from_secs(1);

/// How early new samples may join a countdown's frame rather than wait for
/// their own slot.
const MERGE: Duration = Duration::from_millis(500);

/// The shortest time between two frames that show new samples: numbers and
/// charts move every third second, countdowns every second, and what the
/// operator must see (a breach, a verdict, a decision, the phase) at once
/// (issue 11: at most a fifth of htop's bytes at 200x50; every 2 s cost
/// 0.3 of htop's).
const DATA_INTERVAL: Duration = Duration::from_secs(3);

/// A change the operator must see at once rather than at the next frame
/// slot: the phase (their pause, an automatic rollback), the step, a new
/// decision, a failed rollback, a source going up or down, or a gate's
/// verdict or breach streak changing.
fn is_urgent(old: &Snapshot, new: &Snapshot) -> bool {
    let (o, n) = (&old.engine, &new.engine);
    let verdicts = |e: &crate::engine::EngineView| {
        e.gates
            .iter()
            .map(|g| (g.verdict, g.breaches))
            .collect::<Vec<_>>()
    };
    o.phase != n.phase
        || o.step != n.step
        || o.weight != n.weight
        || o.rollback_failed != n.rollback_failed
        || o.hook_running != n.hook_running
        || o.recent.len() != n.recent.len()
        || o.recent.last().map(|d| (&d.action, d.at)) != n.recent.last().map(|d| (&d.action, d.at))
        || old.summary_path != new.summary_path
        || old.driver != new.driver
        || old.watchers != new.watchers
        || old
            .sources
            .iter()
            .map(|s| s.state)
            .ne(new.sources.iter().map(|s| s.state))
        // A gate turning (a breach, its streak growing) shows at once.
        || verdicts(o) != verdicts(n)
}

/// Test hook for the end-to-end tests (tests/it/e2e_pty.rs): with
/// `RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME=1` the cockpit panics right after
/// its first frame, to check the terminal is restored and the color-eyre
/// report is readable. Costs one environment read per run.
fn test_panic_after_first_frame() {
    if std::env::var_os("RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME").is_some_and(|v| v == "1") {
        panic!("RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME is set: panicking after the first frame");
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    if let Some(t) = t {
        tokio::time::sleep_until(t).await;
    }
}

/// Something on screen counts down and has not reached zero.
fn has_countdown(snap: &Snapshot, elapsed_ms: u64) -> bool {
    countdown_ms(snap).is_some_and(|ms| ms > elapsed_ms)
}

fn countdown_ms(snap: &Snapshot) -> Option<u64> {
    if snap.replay.is_some() {
        return None;
    }
    let e = &snap.engine;
    let next = match e.next {
        NextAction::Advance { in_ms, .. }
        | NextAction::PromoteFull { in_ms }
        | NextAction::HoldEnds { in_ms }
        | NextAction::SwitchIn { in_ms }
        | NextAction::NextBatch { in_ms, .. } => Some(in_ms),
        _ => None,
    };
    // The hold only runs while holding (not while paused or in a hook).
    let hold = matches!(e.phase, Phase::Holding { .. })
        .then(|| e.steps.iter().find(|s| s.state == StepState::Current))
        .flatten()
        .and_then(|s| s.hold_left_ms);
    next.max(hold)
}

/// The snapshot as it reads `elapsed_ms` after it was published, so
/// countdowns tick between publishes. `None` when nothing changes. A
/// replay's clock is the playback's, not the wall's: it publishes every
/// second it plays and nothing while paused.
pub fn aged(snap: &Snapshot, elapsed_ms: u64) -> Option<Snapshot> {
    if elapsed_ms < 1000 || countdown_ms(snap).is_none() {
        return None;
    }
    let mut s = snap.clone();
    s.now = s.now.plus(Duration::from_millis(elapsed_ms));
    match &mut s.engine.next {
        NextAction::Advance { in_ms, .. }
        | NextAction::PromoteFull { in_ms }
        | NextAction::HoldEnds { in_ms }
        | NextAction::SwitchIn { in_ms }
        | NextAction::NextBatch { in_ms, .. } => {
            *in_ms = in_ms.saturating_sub(elapsed_ms);
        }
        _ => {}
    }
    if matches!(s.engine.phase, Phase::Holding { .. }) {
        for step in &mut s.engine.steps {
            if let Some(left) = &mut step.hold_left_ms {
                *left = left.saturating_sub(elapsed_ms);
            }
        }
    }
    Some(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{Scenario, snapshot};

    /// New samples join a countdown's frame when their slot is near, so a
    /// second costs one frame, not a tick and then the data 8 ms later.
    #[test]
    fn samples_join_a_countdown_frame_near_their_slot() {
        let mut f = Frames::new();
        let t0 = f.last;
        f.drawn(t0);
        f.data = true;
        let slot = DATA_INTERVAL.as_millis() as u64;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Samples wait for their slot; nothing else is due.
        assert!(!f.due(at(slot - 1_000)));
        assert!(f.due(at(slot)) && f.data_due(at(slot)));
        // A countdown's second turns 0.4 s before the slot: one frame, with
        // the samples.
        f.tick_at = Some(at(slot - 800));
        assert!(f.due(at(slot - 400)) && f.data_due(at(slot - 400)));
        // 0.8 s before, the slot is too far: the countdown alone.
        assert!(f.due(at(slot - 800)) && !f.data_due(at(slot - 800)));
        f.drawn(at(slot - 800));
        assert!(f.data, "the samples still wait");
        assert!(!f.due(at(slot - 100)), "no frame between slot and tick");
        assert!(f.data_due(at(slot)));
    }

    /// Pollers answer on whole seconds, as the countdown turns: samples
    /// arriving in that instant (and waking the loop before the timer)
    /// must not cost the countdown its second. They did: the screen's
    /// clocks stood still for one or two seconds every few seconds.
    #[test]
    fn a_countdown_second_is_drawn_when_samples_arrive_in_the_same_instant() {
        let shown = snapshot(Scenario::Progressing);
        let mut f = Frames::new();
        let t0 = f.last;
        f.drawn(t0);
        let second = f.wake_at(&shown, t0).unwrap();
        // The samples' branch wins the race: the loop runs without the
        // timer having fired, and asks again when to wake.
        f.data = true;
        assert_eq!(f.wake_at(&shown, t0), Some(second), "the second is kept");
        assert!(f.due(second) && !f.data_due(second));
        f.drawn(second);
        let next = f.wake_at(&shown, t0).unwrap();
        assert_eq!(next - second, Duration::from_secs(1));
    }

    #[test]
    fn countdowns_age_between_publishes_and_nothing_else_does() {
        let s = snapshot(Scenario::Progressing);
        assert!(aged(&s, 500).is_none());
        let a = aged(&s, 3_000).unwrap();
        assert_eq!(
            a.engine.next,
            NextAction::Advance {
                to_weight: 25,
                in_ms: 117_000
            }
        );
        assert_eq!(a.now.0, s.now.0 + 3_000);
        // A paused rollout has no countdown: no wake-ups, no redraws.
        let p = snapshot(Scenario::Paused);
        assert!(!has_countdown(&p, 0));
        assert!(aged(&p, 5_000).is_none());
    }
}

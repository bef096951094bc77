//! The cockpit's own state (focus, open screen, dialogs) and what a key does
//! to it. Keys never act on the rollout directly: destructive actions open a
//! `ConfirmAction` dialog, and only its confirmation yields a command
//! (`ConfirmedAction` → [`UiCommand::Engine`]).

use std::cell::RefCell;

use crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;

use super::downsample::Downsampler;
use super::keymap::{Action, Keymap, Mode};
use super::theme::Theme;
use crate::engine::checklist::{ItemState, ItemView};
use crate::engine::{Actor, Command, Phase, Stage};
use crate::snapshot::Snapshot;

/// What the cockpit asks of the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiCommand {
    /// An operator command, with the reason typed in the confirm dialog.
    Engine { command: Command, reason: String },
    /// Ask to become the driver of a shared session (issue 6).
    TakeControl,
    /// Tick manual item `item` of `stage`, with a note.
    Confirm {
        stage: Stage,
        item: usize,
        note: String,
    },
    /// Run `stage`'s automatic checks again (one, or every one not passed).
    RunChecks { stage: Stage, item: Option<usize> },
    /// A replay's playback key (`rampdeck replay`).
    Replay(crate::recording::player::ReplayControl),
    /// The operator closed the cockpit. Never promotes or rolls back.
    Quit,
}

/// The replay's playback keys as the help lists them (what
/// [`replay_key`] reads).
pub const REPLAY_KEYS: [(&str, &str); 5] = [
    ("space", "play or pause the replay"),
    ("n / N", "jump to the next / previous decision"),
    (
        "left / right",
        "seek 10 s back / forward (with shift: a minute)",
    ),
    ("+ / -", "play faster / slower"),
    ("q", "close the replay"),
];

/// A replay's playback keys: space plays and pauses, `n` / `N` step from
/// decision to decision, ← / → seek 10 s (shift: a minute), `+` / `-`
/// change the speed.
fn replay_key(ev: &KeyEvent) -> Option<crate::recording::player::ReplayControl> {
    use crate::recording::player::ReplayControl as R;
    use crossterm::event::{KeyCode, KeyModifiers};
    let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
    Some(match ev.code {
        KeyCode::Char(' ') => R::PlayPause,
        KeyCode::Char('n') => R::NextDecision,
        KeyCode::Char('N') => R::PreviousDecision,
        KeyCode::Left => R::Seek(if shift { -60 } else { -10 }),
        KeyCode::Right => R::Seek(if shift { 60 } else { 10 }),
        KeyCode::Char('+') | KeyCode::Char('=') => R::Faster,
        KeyCode::Char('-') => R::Slower,
        _ => return None,
    })
}

/// Which full screen is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Main,
    /// The focused chart, full screen.
    Zoom,
    /// The full decision log.
    Log,
    /// The key help.
    Help,
}

/// What confirming `command` will do, in words, for its dialog.
pub fn consequence(command: Command, snap: &Snapshot) -> String {
    let svc = &snap.plan.rollout.service;
    let e = &snap.engine;
    let next_weight = e
        .step
        .and_then(|s| snap.plan.steps.get(s + 1))
        .map_or(100, |s| s.weight);
    match command {
        Command::Pause => format!(
            "Pause {svc} at {} %. Rollback triggers stay armed; nothing advances until resumed.",
            e.weight
        ),
        Command::Resume => format!("Resume {svc}: gates and holds count again."),
        Command::Promote if matches!(e.phase, Phase::Observing { .. }) => format!(
            "End the observation of {svc} now: promoted without waiting for the exit criteria (what is not met is recorded)."
        ),
        Command::Promote => format!(
            "Move {svc} from {} % to {next_weight} % now, whatever the gates say.",
            e.weight
        ),
        Command::PromoteFull => format!("Send 100 % of {svc}'s traffic to the canary now."),
        Command::Rollback => format!(
            "Roll {svc} back: all traffic returns to the baseline (now {} % canary).",
            e.weight
        ),
        Command::Approve => format!("Approve the manual gate: {svc} advances to {next_weight} %."),
    }
}

/// The confirm dialog with its reason field.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    /// The command confirming sends.
    pub action: Command,
    pub reason: TextArea<'static>,
    /// A reason must be typed before enter confirms.
    pub required: bool,
    /// Shown inline (e.g. "a reason is required").
    pub error: Option<String>,
}

/// A dialog on top of the current screen.
#[derive(Debug, Clone)]
pub enum Dialog {
    Confirm(Box<ConfirmDialog>),
    /// "The rollout is in progress: quit anyway?"
    Quit,
    /// Tick a checklist item, with an optional note.
    Tick(Box<TickDialog>),
}

/// The tick dialog: which item, and the note.
#[derive(Debug, Clone)]
pub struct TickDialog {
    pub stage: Stage,
    pub item: usize,
    pub title: String,
    pub note: TextArea<'static>,
    pub error: Option<String>,
}

/// The checklist the cockpit shows now, if any: the pre-flight before the
/// start, the exit items while observing at 100 %.
pub fn active_checklist(snap: &Snapshot) -> Option<(Stage, &[ItemView])> {
    let e = &snap.engine;
    match e.checklist? {
        Stage::Preflight => Some((Stage::Preflight, &e.preflight)),
        Stage::Exit => Some((Stage::Exit, &e.exit)),
    }
}

/// Everything the views need besides the snapshot.
#[derive(Debug, Clone)]
pub struct UiState {
    pub theme: Theme,
    pub keymap: Keymap,
    /// Who this cockpit acts as.
    pub actor: String,
    /// The Unix groups of `actor` (for `@group` approvers).
    pub groups: Vec<String>,
    pub screen: Screen,
    /// Index of the focused metric chart.
    pub focus: usize,
    /// Lines scrolled in the log (0 = newest first).
    pub log_scroll: usize,
    pub help_scroll: usize,
    pub dialog: Option<Dialog>,
    /// The selected item of the checklist on screen.
    pub item: usize,
    /// Closing this cockpit stops the driver (see `TuiOptions`).
    pub hosts_driver: bool,
    /// A one-line note for the footer after a key that could not act.
    pub flash: Option<String>,
    /// Each chart's series fitted to its width, kept between frames (two
    /// per metric: canary, baseline). A memo, not state: drawing the same
    /// snapshot gives the same screen with or without it.
    pub plots: RefCell<Vec<Downsampler>>,
}

impl UiState {
    pub fn new(theme: Theme, keymap: Keymap, actor: &str) -> Self {
        UiState {
            theme,
            keymap,
            actor: actor.to_string(),
            groups: Vec::new(),
            screen: Screen::Main,
            focus: 0,
            log_scroll: 0,
            help_scroll: 0,
            dialog: None,
            item: 0,
            hosts_driver: false,
            flash: None,
            plots: RefCell::new(Vec::new()),
        }
    }

    /// The person at this cockpit, as the engine judges an approval.
    pub fn me(&self) -> Actor {
        Actor {
            groups: self.groups.clone(),
            ..Actor::named(&self.actor)
        }
    }

    /// Which key table applies now.
    pub fn mode(&self) -> Mode {
        match (&self.dialog, self.screen) {
            (Some(Dialog::Confirm(_) | Dialog::Tick(_)), _) => Mode::Dialog,
            (Some(Dialog::Quit), _) => Mode::Quit,
            (None, Screen::Main) => Mode::Normal,
            (None, Screen::Zoom) => Mode::Zoom,
            (None, Screen::Log) => Mode::Log,
            (None, Screen::Help) => Mode::Help,
        }
    }

    /// Apply one key. Returns a command for the driver when the key (or the
    /// dialog it confirmed) asks for one.
    pub fn on_key(&mut self, ev: KeyEvent, snap: &Snapshot) -> Option<UiCommand> {
        self.flash = None;
        let mode = self.mode();
        if snap.replay.is_some() && mode == Mode::Normal && self.screen == Screen::Main {
            if let Some(c) = replay_key(&ev) {
                return Some(UiCommand::Replay(c));
            }
        }
        let action = self.keymap.action(mode, &ev);
        if snap.replay.is_some() && action.is_some_and(Action::changes_rollout) {
            self.flash = Some("a replay is read-only: nothing is sent to any rollout".into());
            return None;
        }
        let field = match &mut self.dialog {
            Some(Dialog::Confirm(d)) => Some((&mut d.reason, &mut d.error)),
            Some(Dialog::Tick(d)) => Some((&mut d.note, &mut d.error)),
            _ => None,
        };
        if let Some((text, error)) = field
            && !matches!(action, Some(Action::Confirm | Action::Back))
        {
            // Everything else is typing in the reason field, up to the
            // engine's limit: a key that would pass it is undone and said.
            text.input(ev);
            *error = None;
            let typed: usize = text.lines().iter().map(|l| l.len() + 1).sum();
            if typed.saturating_sub(1) > crate::engine::reason::MAX_REASON_BYTES {
                text.undo();
                *error = Some(format!(
                    "a reason is at most {} bytes: shorten it (a ticket link says more)",
                    crate::engine::reason::MAX_REASON_BYTES
                ));
            }
            return None;
        }
        self.apply(action?, snap)
    }

    /// Apply one action (also used by tests and by remote views).
    pub fn apply(&mut self, action: Action, snap: &Snapshot) -> Option<UiCommand> {
        match action {
            Action::Confirm => return self.confirm(),
            Action::Back => {
                if self.dialog.take().is_none() {
                    self.screen = Screen::Main;
                }
            }
            Action::Quit => {
                // A failed rollback being retried is still in progress.
                let retrying = matches!(
                    snap.engine.next,
                    crate::engine::NextAction::RetryRollback { .. }
                );
                // A replay acts on nothing: closing it needs no second look.
                let replay = snap.replay.is_some();
                if replay
                    || self.mode() == Mode::Quit
                    || !(in_progress(&snap.engine.phase) || retrying)
                {
                    return Some(UiCommand::Quit);
                }
                self.dialog = Some(Dialog::Quit);
            }
            Action::PauseResume
            | Action::Promote
            | Action::PromoteFull
            | Action::Rollback
            | Action::Approve => return self.operator(action, snap),
            Action::TakeControl => {
                if available(action, snap, &self.me()) {
                    return Some(UiCommand::TakeControl);
                }
                self.flash = Some("you are already driving".into());
            }
            Action::Help => {
                self.screen = if self.screen == Screen::Help {
                    Screen::Main
                } else {
                    Screen::Help
                };
                self.help_scroll = 0;
            }
            Action::Log => {
                self.screen = Screen::Log;
                self.log_scroll = 0;
            }
            Action::Zoom => {
                if !snap.plan.metrics.is_empty() {
                    self.screen = Screen::Zoom;
                }
            }
            Action::FocusNext | Action::FocusPrev => {
                let n = snap.plan.metrics.len().max(1);
                self.focus = if action == Action::FocusNext {
                    (self.focus + 1) % n
                } else {
                    (self.focus + n - 1) % n
                };
            }
            Action::ScrollUp | Action::ScrollDown | Action::PageUp | Action::PageDown => {
                let delta: isize = match action {
                    Action::ScrollUp => -1,
                    Action::ScrollDown => 1,
                    Action::PageUp => -10,
                    _ => 10,
                };
                let (pos, max) = if self.screen == Screen::Help {
                    (&mut self.help_scroll, 200)
                } else {
                    (&mut self.log_scroll, snap.engine.recent.len())
                };
                *pos = pos.saturating_add_signed(delta).min(max.saturating_sub(1));
            }
            Action::ItemNext | Action::ItemPrev => {
                let n = active_checklist(snap).map_or(0, |(_, items)| items.len());
                if n > 0 {
                    self.item = if action == Action::ItemNext {
                        (self.item + 1) % n
                    } else {
                        (self.item + n - 1) % n
                    };
                }
            }
            Action::Tick => return self.tick(snap),
            Action::Recheck => return self.recheck(snap),
            Action::Top => self.log_scroll = 0,
            Action::Bottom => self.log_scroll = snap.engine.recent.len().saturating_sub(1),
        }
        None
    }

    fn operator(&mut self, action: Action, snap: &Snapshot) -> Option<UiCommand> {
        let confirm = command_of(action, snap)?;
        if let Err(why) = snap.engine.allowed_for(confirm, &self.me()) {
            // The engine's own words, as it would journal them.
            self.flash = Some(format!("{}: {why}", confirm.as_str()));
            return None;
        }
        let required = snap.plan.ui.reason_required.contains(&confirm);
        // Resume and approve are not destructive: they only ask when the plan
        // wants a reason for them.
        if matches!(confirm, Command::Resume | Command::Approve) && !required {
            return Some(UiCommand::Engine {
                command: confirm,
                reason: String::new(),
            });
        }
        let mut reason = TextArea::default();
        reason.set_placeholder_style(self.theme.dim());
        reason.set_cursor_line_style(ratatui::style::Style::default());
        reason.set_placeholder_text(if required {
            "why? (required)"
        } else {
            "why? (optional)"
        });
        self.dialog = Some(Dialog::Confirm(Box::new(ConfirmDialog {
            action: confirm,
            reason,
            required,
            error: None,
        })));
        None
    }

    /// The selected item of the checklist on screen, within its length.
    pub fn selected<'a>(&self, snap: &'a Snapshot) -> Option<(Stage, usize, &'a ItemView)> {
        let (stage, items) = active_checklist(snap)?;
        let k = self.item.min(items.len().checked_sub(1)?);
        Some((stage, k, &items[k]))
    }

    fn tick(&mut self, snap: &Snapshot) -> Option<UiCommand> {
        let Some((stage, item, it)) = self.selected(snap) else {
            self.flash = Some("nothing to tick: no pre-flight or exit item is on screen".into());
            return None;
        };
        if it.automatic {
            self.flash = Some(format!(
                "\"{}\" is an automatic check: x runs it again",
                it.title
            ));
            return None;
        }
        if it.done() {
            self.flash = Some(format!("\"{}\" is already {}", it.title, it.state_word()));
            return None;
        }
        let mut note = TextArea::default();
        note.set_placeholder_style(self.theme.dim());
        note.set_cursor_line_style(ratatui::style::Style::default());
        note.set_placeholder_text("note (optional): a link, what you checked");
        self.dialog = Some(Dialog::Tick(Box::new(TickDialog {
            stage,
            item,
            title: it.title.clone(),
            note,
            error: None,
        })));
        None
    }

    fn recheck(&mut self, snap: &Snapshot) -> Option<UiCommand> {
        let (stage, items) = active_checklist(snap)?;
        let selected = self.selected(snap).filter(|(_, _, it)| it.automatic);
        if let Some((_, k, it)) = selected {
            if it.state == ItemState::Running {
                self.flash = Some(format!("\"{}\" is running", it.title));
                return None;
            }
            return Some(UiCommand::RunChecks {
                stage,
                item: Some(k),
            });
        }
        if !items.iter().any(|i| i.automatic) {
            self.flash = Some(format!("the {} list has no automatic checks", stage.word()));
            return None;
        }
        Some(UiCommand::RunChecks { stage, item: None })
    }

    fn confirm(&mut self) -> Option<UiCommand> {
        match self.dialog.take()? {
            Dialog::Quit => Some(UiCommand::Quit),
            Dialog::Tick(d) => {
                let note = d.note.lines().join(" ").trim().to_string();
                if let Err(problem) = crate::engine::reason::check_reason(&note) {
                    let mut d = d;
                    d.error = Some(problem);
                    self.dialog = Some(Dialog::Tick(d));
                    return None;
                }
                Some(UiCommand::Confirm {
                    stage: d.stage,
                    item: d.item,
                    note,
                })
            }
            Dialog::Confirm(d) => {
                let reason = d.reason.lines().join(" ").trim().to_string();
                let problem = if d.required && reason.is_empty() {
                    Some(format!(
                        "a reason is required for {}: type why, then confirm",
                        d.action.as_str()
                    ))
                } else {
                    crate::engine::reason::check_reason(&reason).err()
                };
                if let Some(problem) = problem {
                    let mut d = d;
                    d.error = Some(problem);
                    self.dialog = Some(Dialog::Confirm(d));
                    return None;
                }
                Some(UiCommand::Engine {
                    command: d.action,
                    reason,
                })
            }
        }
    }
}

/// The rollout has started and not ended: quitting asks first.
pub fn in_progress(phase: &Phase) -> bool {
    !matches!(phase, Phase::Pending) && !phase.is_terminal()
}

/// The engine command a key stands for now: the pause key resumes a paused
/// rollout.
pub fn command_of(action: Action, snap: &Snapshot) -> Option<Command> {
    Some(match action {
        Action::PauseResume if matches!(snap.engine.phase, Phase::Paused { .. }) => Command::Resume,
        Action::PauseResume => Command::Pause,
        Action::Promote => Command::Promote,
        Action::PromoteFull => Command::PromoteFull,
        Action::Rollback => Command::Rollback,
        Action::Approve => Command::Approve,
        _ => return None,
    })
}

/// Whether `action` can do anything in this snapshot for `me`; the footer
/// shows only these. For the keys that send a command, the engine's own
/// answer (`EngineView::allowed_for`: an approval of a step that names its
/// approvers only to one it would count) decides, nothing else.
pub fn available(action: Action, snap: &Snapshot, me: &Actor) -> bool {
    if let Some(command) = command_of(action, snap) {
        return snap.engine.allowed_for(command, me).is_ok();
    }
    match action {
        Action::TakeControl => snap.driver.as_deref().is_some_and(|d| d != me.user),
        Action::Zoom | Action::FocusNext | Action::FocusPrev => !snap.plan.metrics.is_empty(),
        Action::Tick => active_checklist(snap)
            .is_some_and(|(_, items)| items.iter().any(|i| !i.automatic && !i.done())),
        Action::Recheck => active_checklist(snap).is_some_and(|(_, items)| {
            items
                .iter()
                .any(|i| i.automatic && !matches!(i.state, ItemState::Running))
        }),
        Action::ItemNext | Action::ItemPrev => {
            active_checklist(snap).is_some_and(|(_, items)| items.len() > 1)
        }
        _ => true,
    }
}

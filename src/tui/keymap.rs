//! Key bindings as data: `Mode × key → Action`.
//!
//! The defaults live in `assets/keymap.toml`; the plan's `[ui] keys` table is
//! merged over them. The help screen and the footer are generated from the
//! same bindings, so what they show is what the keys do.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

/// The default bindings, compiled in.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// Everything a key can do in the cockpit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Pause the rollout (after a confirm dialog with a reason), or resume it
    /// when paused.
    PauseResume,
    /// Advance to the next step now, whatever the gates say (asks first).
    Promote,
    /// Go to 100 % now (asks first; a reason is required by default).
    PromoteFull,
    /// Roll back (asks first; a reason is required by default). Always
    /// available while the rollout can still be rolled back, also when paused.
    Rollback,
    /// Approve a manual gate whose hold is over.
    Approve,
    /// Show the key help.
    Help,
    /// Move focus to the next chart.
    FocusNext,
    /// Move focus to the previous chart.
    FocusPrev,
    /// Show the focused chart full screen.
    Zoom,
    /// Close the current screen or dialog.
    Back,
    /// Open the full decision log.
    Log,
    /// Close the cockpit (asks first while the rollout is in progress).
    Quit,
    /// Ask to become the driver of a shared session (issue 6).
    TakeControl,
    /// Scroll up one line.
    ScrollUp,
    /// Scroll down one line.
    ScrollDown,
    /// Scroll up one page.
    PageUp,
    /// Scroll down one page.
    PageDown,
    /// Jump to the top.
    Top,
    /// Jump to the bottom.
    Bottom,
    /// Confirm the open dialog.
    Confirm,
    /// Select the next checklist item (pre-flight, exit).
    ItemNext,
    /// Select the previous checklist item.
    ItemPrev,
    /// Tick the selected manual checklist item (asks for a note).
    Tick,
    /// Run the checklist's automatic checks again (the selected one, or
    /// every one not passed).
    Recheck,
}

impl Action {
    /// Every action, in the order help lists them.
    pub const ALL: [Action; 24] = [
        Action::PauseResume,
        Action::Promote,
        Action::PromoteFull,
        Action::Rollback,
        Action::Approve,
        Action::TakeControl,
        Action::Tick,
        Action::Recheck,
        Action::ItemNext,
        Action::ItemPrev,
        Action::Confirm,
        Action::Zoom,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Log,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Help,
        Action::Back,
        Action::Quit,
    ];

    /// Short label for the footer.
    pub fn label(self) -> &'static str {
        match self {
            Action::PauseResume => "pause/resume",
            Action::Promote => "promote",
            Action::PromoteFull => "promote 100%",
            Action::Rollback => "rollback",
            Action::Approve => "approve",
            Action::Help => "help",
            Action::FocusNext => "next",
            Action::FocusPrev => "prev",
            Action::Zoom => "zoom",
            Action::Back => "back",
            Action::Log => "log",
            Action::Quit => "quit",
            Action::TakeControl => "take control",
            Action::ScrollUp => "scroll up",
            Action::ScrollDown => "scroll down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Confirm => "confirm",
            Action::ItemNext => "next item",
            Action::ItemPrev => "prev item",
            Action::Tick => "tick item",
            Action::Recheck => "re-run checks",
        }
    }

    /// Commands to the rollout: pause or resume, promote, roll back,
    /// approve, take control.
    fn commands_rollout(self) -> bool {
        matches!(
            self,
            Action::PauseResume
                | Action::Promote
                | Action::PromoteFull
                | Action::Rollback
                | Action::Approve
                | Action::TakeControl
        )
    }

    /// Actions that change the rollout (or ask to): none works in a
    /// replay, which is read-only.
    pub fn changes_rollout(self) -> bool {
        self.commands_rollout() || matches!(self, Action::Tick | Action::Recheck)
    }

    /// Actions that act on the rollout (or leave the cockpit): reachable from
    /// every screen except dialogs.
    pub fn is_operator(self) -> bool {
        self.commands_rollout() || matches!(self, Action::Help | Action::Log | Action::Quit)
    }
}

/// Which screen or dialog has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The main cockpit screen.
    Normal,
    /// One chart full screen.
    Zoom,
    /// The full decision log.
    Log,
    /// The key help.
    Help,
    /// A confirm dialog with a reason field.
    Dialog,
    /// "Quit while the rollout is in progress?"
    Quit,
}

impl Mode {
    const ALL: [Mode; 6] = [
        Mode::Normal,
        Mode::Zoom,
        Mode::Log,
        Mode::Help,
        Mode::Dialog,
        Mode::Quit,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Zoom => "zoom",
            Mode::Log => "log",
            Mode::Help => "help",
            Mode::Dialog => "dialog",
            Mode::Quit => "quit",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A key with its modifiers, normalised so that `P` and `shift-p` compare
/// equal the way terminals report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    code: KeyCodeOrd,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` is not `Ord`; this is the subset we bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(&'static str),
}

const NAMED: [(&str, KeyCode); 13] = [
    ("space", KeyCode::Char(' ')),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
];

impl Key {
    /// Parse "p", "P", "space", "ctrl-r", "alt-enter", "f5", "shift-tab".
    pub fn parse(text: &str) -> Result<Key, KeymapError> {
        let bad = || KeymapError::BadKey(text.to_string());
        let mut rest = text;
        let (mut ctrl, mut alt, mut shift) = (false, false, false);
        loop {
            // A lone "-" is the minus key, not an empty modifier.
            if rest.chars().count() <= 1 {
                break;
            }
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("shift-") {
                shift = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if shift => KeyCodeOrd::Char(c.to_ascii_uppercase()),
            (Some(c), None) => KeyCodeOrd::Char(c),
            _ => {
                let lower = rest.to_ascii_lowercase();
                if shift && lower == "tab" {
                    KeyCodeOrd::Named("backtab")
                } else if lower == "space" {
                    KeyCodeOrd::Char(' ')
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    KeyCodeOrd::F(n)
                } else if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == lower) {
                    KeyCodeOrd::Named(name)
                } else if lower == "backspace" {
                    KeyCodeOrd::Named("backspace")
                } else {
                    return Err(bad());
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    /// A key that types a character into a text field.
    fn is_typing(&self) -> bool {
        matches!(self.code, KeyCodeOrd::Char(_)) && !self.ctrl && !self.alt
    }

    /// Display preference (lower first).
    fn rank(&self) -> (bool, u8, usize, Key) {
        let (kind, idx) = match self.code {
            KeyCodeOrd::Named(n) => (0, NAMED.iter().position(|(m, _)| *m == n).unwrap_or(99)),
            KeyCodeOrd::Char(' ') => (0, 0),
            KeyCodeOrd::Char(_) => (1, 0),
            KeyCodeOrd::F(_) => (2, 0),
        };
        (self.ctrl || self.alt, kind, idx, *self)
    }

    /// The key a terminal event stands for, if it is one we can bind.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) if ctrl => KeyCodeOrd::Char(c.to_ascii_lowercase()),
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Backspace => KeyCodeOrd::Named("backspace"),
            other => {
                let (name, _) = NAMED.iter().find(|(_, k)| *k == other)?;
                KeyCodeOrd::Named(name)
            }
        };
        Some(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Named(n) => f.write_str(n),
        }
    }
}

/// A keymap that could not be built; says which entry to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error(
        "unknown key {0:?} in [ui] keys: use a single character, space, enter, esc, tab, \
         backtab, up, down, left, right, pageup, pagedown, home, end, backspace or f1..f12, \
         optionally with ctrl- or alt-"
    )]
    BadKey(String),
    #[error(
        "unknown action {action:?} for key {key:?} in [ui] keys: use one of {known}, or \"none\" \
         to unbind the key"
    )]
    BadAction {
        key: String,
        action: String,
        known: String,
    },
    #[error(
        "unknown mode {mode:?} in [ui] keys entry {spec:?}: modes are normal, zoom, log, help, \
         dialog and quit (\"log:j\"); a key alone binds the main screen"
    )]
    BadMode { spec: String, mode: String },
    #[error(
        "[ui] keys {key:?} and {other:?} are the same key bound to different actions: keep one"
    )]
    Conflict { key: String, other: String },
    #[error(
        "key {0:?} in [ui] keys does nothing in the reason dialog: only confirm and back work \
         there, every other key types the reason"
    )]
    DialogAction(String),
    #[error(
        "key {0:?} in [ui] keys is a character the reason dialog needs for typing: bind \
         enter, esc, a ctrl- or alt- key, or an f-key instead"
    )]
    DialogTyping(String),
    #[error(
        "[ui] keys leave {action} without a key in the {mode} mode: bind {action} to another \
         key in the same table before unbinding or rebinding this one"
    )]
    Unbound { mode: &'static str, action: String },
    #[error("the built-in keymap is invalid: {0}")]
    Defaults(String),
}

/// `Mode × key → Action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    map: BTreeMap<(Mode, Key), Action>,
}

impl Keymap {
    /// The built-in bindings from `assets/keymap.toml`.
    pub fn defaults() -> Result<Keymap, KeymapError> {
        let raw: BTreeMap<Mode, BTreeMap<String, Action>> =
            toml::from_str(DEFAULT_KEYMAP).map_err(|e| KeymapError::Defaults(e.to_string()))?;
        let mut map = BTreeMap::new();
        for (mode, keys) in raw {
            for (key, action) in keys {
                let key = Key::parse(&key).map_err(|e| KeymapError::Defaults(e.to_string()))?;
                map.insert((mode, key), action);
            }
        }
        Ok(Keymap { map })
    }

    /// The defaults with `overrides` (the plan's `[ui] keys`) merged over them.
    /// A key is `"p"` (main screen) or `"log:j"` (another mode); an action of
    /// `"none"` unbinds the key. See [`Keymap::check_overrides`].
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, KeymapError> {
        let entries: Vec<(&str, &str)> = overrides
            .iter()
            .map(|(k, a)| (k.as_str(), a.as_str()))
            .collect();
        Keymap::check_overrides(&entries).map_err(|(_, e)| e)
    }

    /// Merges `entries` (key spec, action name), in order, over the
    /// defaults; on a problem, the index of the entry to fix and why. Refused:
    /// an unknown key, mode or action; two entries binding one key to
    /// different actions (`"P"` and `"shift-p"`); a letter bound in the
    /// reason dialog (it could no longer be typed); an action the dialog
    /// ignores; and a keymap that leaves rollback or quit on the main screen,
    /// or confirm or back in a dialog, without a key.
    pub fn check_overrides(entries: &[(&str, &str)]) -> Result<Keymap, (usize, KeymapError)> {
        let mut km = Keymap::defaults().map_err(|e| (0, e))?;
        let mut seen: BTreeMap<(Mode, Key), (usize, Option<Action>)> = BTreeMap::new();
        // Who last took a key away from an action that must keep one.
        let mut blame: BTreeMap<(Mode, Action), usize> = BTreeMap::new();
        for (i, (spec, action)) in entries.iter().enumerate() {
            let (mode, key, action) = parse_override(spec, action).map_err(|e| (i, e))?;
            if let Some((first, before)) = seen.get(&(mode, key))
                && *before != action
            {
                return Err((
                    i,
                    KeymapError::Conflict {
                        key: spec.to_string(),
                        other: entries[*first].0.to_string(),
                    },
                ));
            }
            seen.insert((mode, key), (i, action));
            if mode == Mode::Dialog {
                if action.is_some_and(|a| !matches!(a, Action::Confirm | Action::Back)) {
                    return Err((i, KeymapError::DialogAction(spec.to_string())));
                }
                if action.is_some() && key.is_typing() {
                    return Err((i, KeymapError::DialogTyping(spec.to_string())));
                }
            }
            if let Some(old) = km.map.get(&(mode, key)) {
                blame.insert((mode, *old), i);
            }
            match action {
                Some(a) => km.map.insert((mode, key), a),
                None => km.map.remove(&(mode, key)),
            };
        }
        for (mode, action) in REQUIRED {
            if km.keys_unsorted(mode, action).is_empty() {
                let i = blame.get(&(mode, action)).copied().unwrap_or(0);
                return Err((
                    i,
                    KeymapError::Unbound {
                        mode: mode.as_str(),
                        action: action_name(action),
                    },
                ));
            }
        }
        Ok(km)
    }

    /// What a key does in `mode`. Screens other than the main one fall back to
    /// the main screen's operator actions (rollback, pause, quit, ...), so
    /// those work everywhere except inside a dialog.
    pub fn action(&self, mode: Mode, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev)?;
        if let Some(a) = self.map.get(&(mode, key)) {
            return Some(*a);
        }
        match mode {
            Mode::Zoom | Mode::Log | Mode::Help => self
                .map
                .get(&(Mode::Normal, key))
                .copied()
                .filter(|a| a.is_operator()),
            _ => None,
        }
    }

    /// The keys bound to `action` in `mode` (fallbacks included), the one
    /// to show first: plain before modified, named keys (tab, esc, arrows)
    /// before letters.
    pub fn keys_for(&self, mode: Mode, action: Action) -> Vec<Key> {
        let mut keys = self.keys_unsorted(mode, action);
        keys.sort_by_key(|k| k.rank());
        keys
    }

    fn keys_unsorted(&self, mode: Mode, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .map
            .iter()
            .filter(|((m, _), a)| *m == mode && **a == action)
            .map(|((_, k), _)| *k)
            .collect();
        if keys.is_empty() && matches!(mode, Mode::Zoom | Mode::Log | Mode::Help) {
            keys = self
                .map
                .iter()
                .filter(|((m, k), a)| {
                    *m == Mode::Normal
                        && **a == action
                        && a.is_operator()
                        && !self.map.contains_key(&(mode, *k))
                })
                .map(|((_, k), _)| *k)
                .collect();
        }
        keys
    }

    /// All (mode, key, action) bindings, for the help screen.
    pub fn bindings(&self) -> impl Iterator<Item = (Mode, Key, Action)> + '_ {
        self.map.iter().map(|((m, k), a)| (*m, *k, *a))
    }
}

/// Bindings that must keep a key: the kill switch and the way out on the
/// main screen, and both answers of each dialog.
const REQUIRED: [(Mode, Action); 6] = [
    (Mode::Normal, Action::Rollback),
    (Mode::Normal, Action::Quit),
    (Mode::Dialog, Action::Confirm),
    (Mode::Dialog, Action::Back),
    (Mode::Quit, Action::Confirm),
    (Mode::Quit, Action::Back),
];

/// One `[ui] keys` entry: `"p"` or `"log:j"`, and an action name or
/// `"none"` (unbind: `None`).
pub fn parse_override(
    spec: &str,
    action: &str,
) -> Result<(Mode, Key, Option<Action>), KeymapError> {
    let (mode, key_text) = match spec.split_once(':') {
        Some((m, k)) if !m.is_empty() && !k.is_empty() => match Mode::parse(m) {
            Some(mode) => (mode, k),
            None => {
                return Err(KeymapError::BadMode {
                    spec: spec.to_string(),
                    mode: m.to_string(),
                });
            }
        },
        _ => (Mode::Normal, spec),
    };
    let key = Key::parse(key_text)?;
    if action == "none" {
        return Ok((mode, key, None));
    }
    let parsed: Action = serde_json::from_value(serde_json::Value::String(action.to_string()))
        .map_err(|_| KeymapError::BadAction {
            key: spec.to_string(),
            action: action.to_string(),
            known: Action::ALL
                .iter()
                .map(|a| action_name(*a))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok((mode, key, Some(parsed)))
}

/// The serde name of an action ("pause_resume").
pub fn action_name(a: Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

mod describe;
#[cfg(test)]
mod tests;

//! What each action does, in one sentence for the help screen.

use super::Action;

impl Action {
    /// One sentence for the help screen.
    pub fn describe(self) -> &'static str {
        match self {
            Action::PauseResume => {
                "pause the rollout (asks to confirm, with a reason), or resume it"
            }
            Action::Promote => "advance to the next step now, whatever the gates say",
            Action::PromoteFull => "go to 100 % now",
            Action::Rollback => "roll back (works in every state, also while paused)",
            Action::Approve => "approve a manual gate whose hold is over",
            Action::Help => "show this help",
            Action::FocusNext => "focus the next chart",
            Action::FocusPrev => "focus the previous chart",
            Action::Zoom => "show the focused chart full screen",
            Action::Back => "close this screen or dialog",
            Action::Log => "open the full decision log",
            Action::Quit => "close the cockpit (asks first while the rollout runs)",
            Action::TakeControl => "ask to become the driver of a shared session",
            Action::ScrollUp => "scroll up",
            Action::ScrollDown => "scroll down",
            Action::PageUp => "scroll up a page",
            Action::PageDown => "scroll down a page",
            Action::Top => "jump to the top",
            Action::Bottom => "jump to the bottom",
            Action::Confirm => "confirm",
            Action::ItemNext => "select the next pre-flight or exit item",
            Action::ItemPrev => "select the previous pre-flight or exit item",
            Action::Tick => "tick the selected manual item as done (with an optional note)",
            Action::Recheck => "run the selected automatic check again (or every one not passed)",
        }
    }
}

//! The cockpit: a full-screen terminal view of one rollout.
//!
//! `view::render` draws a [`Snapshot`](crate::snapshot::Snapshot) and the
//! cockpit's own [`UiState`]; `app::run` owns the terminal, turns keys into
//! [`UiCommand`]s for the driver and redraws only when something changed.
//! Bindings are data (`keymap`, defaults in `assets/keymap.toml`).

pub mod app;
pub mod downsample;
#[doc(hidden)]
#[cfg(any(test, feature = "demo"))]
pub mod fixtures;
#[doc(hidden)]
#[cfg(any(test, feature = "demo"))]
pub mod fixtures_checklist;
#[doc(hidden)]
#[cfg(any(test, feature = "demo"))]
pub mod fixtures_recording;
#[doc(hidden)]
#[cfg(any(test, feature = "demo"))]
pub mod fixtures_strategy;
pub mod keymap;
pub mod state;
pub mod theme;
pub mod view;
pub mod wire;

pub use app::{TuiError, TuiExit, TuiOptions, run};
pub use keymap::{Action, Keymap, KeymapError, Mode};
pub use state::{UiCommand, UiState};
pub use theme::Theme;
pub use view::render;

//! rampdeck: a terminal cockpit for live deploys.
//!
//! See `DESIGN.md` for how the parts fit: `config` makes a [`plan::Plan`];
//! the pure [`engine`] decides; the [`driver`] owns the engine, feeds it
//! samples from `sources` and commands from views, and runs its effects
//! (`journal`, `hooks`); views draw [`snapshot::Snapshot`]s.

pub mod act;
pub mod attach;
pub mod backtest_cmd;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod driver;
pub mod engine;
pub mod headless;
pub mod hooks;
pub mod identity;
pub mod journal;
pub mod judge_cmd;
pub mod plan;
pub mod proc;
#[cfg(test)]
mod purity_check;
pub mod recording;
pub mod replay;
pub mod run;
pub mod session;
pub mod snapshot;
pub mod sources;
pub mod template;
pub mod tty;
pub mod tui;

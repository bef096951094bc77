//! The pure rollout engine: phases, gates, series and decisions.
//!
//! No tokio, ratatui, crossterm, reqwest or `std::fs` here, and no clock:
//! `Engine::handle(input, now)` is the only way time passes.

pub mod series;
pub mod types;

pub use types::*;

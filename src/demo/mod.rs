//! The built-in demo: a simulated service that speaks the Prometheus HTTP
//! API for its own metrics, so `rampdeck demo` runs the whole loop (real HTTP
//! polling, gates, triggers, webhooks) on a fresh machine with no setup.
//!
//! - [`sim`]: the pure model (baseline and canary cohorts, scenarios, noise).
//! - [`server`]: the HTTP service around it ([`start`] → [`DemoService`]).
//! - [`DEMO_CONFIG`]: `assets/demo.toml`, the plan the demo runs; put the
//!   service's address in with [`demo_config`] before parsing it.
//!
//! ```no_run
//! # async fn f() -> Result<(), rampdeck::demo::DemoError> {
//! use rampdeck::demo::{self, Scenario};
//! let service = demo::start(Scenario::BadCanary, 1.0).await?;
//! let toml = demo::demo_config(service.addr());
//! // parse `toml` with the config loader and drive it; hold `service` meanwhile.
//! service.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod offline;
pub mod scenario;
pub mod selector;
pub mod server;
pub mod sim;
pub mod strategies;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;

use std::net::SocketAddr;

pub use scenario::{ParseScenarioError, Scenario};
pub use server::{
    Clock, DemoError, DemoOptions, DemoService, ManualClock, SystemClock, start, start_with,
};

/// The demo's plan, `assets/demo.toml`, with `127.0.0.1:0` standing for the
/// service's address.
pub const DEMO_CONFIG: &str = include_str!("../../assets/demo.toml");

/// The placeholder address in [`DEMO_CONFIG`].
pub const ADDR_PLACEHOLDER: &str = "127.0.0.1:0";

/// [`DEMO_CONFIG`] with the placeholder replaced by the bound address.
pub fn demo_config(addr: SocketAddr) -> String {
    DEMO_CONFIG.replace(ADDR_PLACEHOLDER, &addr.to_string())
}

//! Live metric sources and their polling.
//!
//! - [`prometheus`]: the Prometheus HTTP API (instant and range queries);
//! - [`http_json`]: a number at a JSON pointer in a GET response;
//! - [`probe`]: a health probe (up/down and latency);
//! - [`command`]: an argv command whose stdout's first number is the value;
//! - [`poller`]: one task per source, results as [`SampleMsg`]s;
//! - [`backfill`](mod@backfill): chart history and the pre-deploy baseline.
//!
//! Every failure is mapped to an [`engine::Reading`](crate::engine::Reading)
//! (`NoData` or `ProviderError` with a message a human can act on); nothing
//! here panics on what a server sends.

pub mod backfill;
pub mod command;
pub mod http;
pub mod http_json;
pub mod poller;
pub mod probe;
pub mod prometheus;

pub use backfill::{backfill, pre_deploy_baseline};
pub use poller::{LatestFilter, SampleMsg, check_sources, spawn_pollers, spawn_pollers_for};

use crate::engine::Cohort;
use crate::template::{Encoding, MetricVars};

/// A metric's PromQL `template` as Prometheus is asked it for `service` and
/// `cohort`: `{service}` and `{cohort}` replaced by escaped label values
/// (see [`Encoding::PromqlLabel`]), so `a"} or vector(1) #` stays one label
/// value.
pub fn render_query(template: &str, service: &str, cohort: Cohort) -> String {
    MetricVars {
        service,
        cohort,
        cohort_name: "",
    }
    .render(template, Encoding::PromqlLabel)
}

/// Why a source cannot start. Each message names the source and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "source {source_name:?}: environment variable {var} (for {what}) is not set: export it before starting rampdeck"
    )]
    MissingEnv {
        source_name: String,
        var: String,
        what: String,
    },
    #[error("source {source_name:?}: cannot use CA file {path}: {why}")]
    CaFile {
        source_name: String,
        path: String,
        why: String,
    },
    #[error("source {source_name:?}: header {name:?} is not valid: {why}")]
    BadHeader {
        source_name: String,
        name: String,
        why: String,
    },
    #[error("source {source_name:?}: cannot build the HTTP client: {why}")]
    Client { source_name: String, why: String },
}

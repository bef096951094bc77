//! The validated rollout plan: what `config` produces from a TOML file and
//! what the engine, the sources, the hooks and the views consume.
//!
//! These are plain data with no I/O. Every field here has already been
//! checked by `config::parse` (ids unique, weights non-decreasing,
//! references resolved, secrets given by environment-variable name only), so
//! consumers may index `steps`, `metrics` and `sources` without re-checking.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::engine::analysis::{GateKinds, JudgeScore};
pub use crate::engine::exit::ExitPlan;
pub use crate::engine::preflight::{PreflightCheck, PreflightItem};
pub use crate::engine::strategy::{BlueGreenPlan, RollingPlan};
pub use crate::engine::types::duration_ms;
pub use crate::engine::window::{FreezeSpec, OnClose, WindowKind, WindowPlan, WindowSpec};

mod hooks;
pub use hooks::{DEFAULT_ROLLBACK_RETRY, Hook, HookAction, HookKind, Hooks, TargetStep, Webhook};

/// A whole rollout plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub rollout: RolloutInfo,
    /// Ramp steps in order; weights never go down.
    pub steps: Vec<Step>,
    pub metrics: Vec<Metric>,
    pub triggers: Vec<Trigger>,
    pub sources: Vec<Source>,
    pub hooks: Hooks,
    pub notify: Notify,
    pub ui: UiSettings,
    /// `[journal]`: how the journal is sealed.
    #[serde(default)]
    pub journal: JournalSettings,
    /// `[judge]`: the step score's thresholds for judged metrics.
    #[serde(default)]
    pub judge: JudgeScore,
    /// `[[windows]]`, `[[freezes]]` and `[change_window]`: when changes may
    /// happen (see `engine::window::Windows::of`, which adds the old
    /// `rollout.window` as a daily allow window in UTC).
    #[serde(default, skip_serializing_if = "WindowPlan::is_empty")]
    pub change_windows: WindowPlan,
    /// `[[preflight]]`: what must be done before the ramp may start (issue
    /// 13). The old `rollout.checklist` strings are added to these as
    /// manual, required items by [`Plan::preflight_items`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<PreflightItem>,
    /// `[exit]`: the observation at 100 % and the exit items before the
    /// rollout is promoted (issue 13); none: promoted at 100 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitPlan>,
    /// `[blue_green]`: the scale-down delay and whether intermediate
    /// weights are wanted (strategy = "blue-green" only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenPlan>,
    /// `[rolling]`: how many instances the batches update (strategy =
    /// "rolling" only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<RollingPlan>,
    /// `[[incidents]]`: past incidents of this service, shown beside the
    /// ramp and by `plan`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
}

/// A past incident of the service (`[[incidents]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub title: String,
    /// An https link to the postmortem or ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The plan's metric involved, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The area involved, in words ("payments").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

impl Plan {
    pub fn metric(&self, id: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.id == id)
    }
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }
    /// Poll interval of the source behind a metric (default 5 s if unknown).
    pub fn interval_of(&self, metric_id: &str) -> Duration {
        self.metric(metric_id)
            .and_then(|m| self.source(&m.source))
            .map(|s| s.interval)
            .unwrap_or(Duration::from_secs(5))
    }

    /// Whether metric `m` gates step `k` (see [`Step::gated_by`]); every
    /// metric gates outside the steps (before the start, full promotion).
    pub fn gates_step(&self, m: &Metric, k: usize) -> bool {
        self.steps.get(k).is_none_or(|s| s.gated_by(m))
    }
}

impl Step {
    /// Whether metric `m` gates this step: it is in the step's `gates`
    /// list, or the step lists none and its weight reaches the metric's
    /// [`Metric::lowest_gated_weight`]. A metric that does not gate a step
    /// is still polled, shown and judged, and its triggers still act on a
    /// breach; only its verdict and its no-data policy do not hold the step.
    pub fn gated_by(&self, m: &Metric) -> bool {
        match &self.gates {
            Some(ids) => ids.contains(&m.id),
            None => self.weight >= m.lowest_gated_weight(),
        }
    }
}

impl Metric {
    /// Whether nothing judges the metric (no limit, ratio or delta, and no
    /// other gate kind): it is on screen for its magnitude only, like a
    /// request rate.
    pub fn display_only(&self) -> bool {
        let t = &self.threshold;
        t.limit.is_none() && t.ratio.is_none() && t.delta.is_none() && self.kinds.is_empty()
    }

    /// Whether the metric measures the canary's traffic, so it has nothing
    /// to say while the canary takes none: every metric but a health probe.
    pub fn needs_traffic(&self) -> bool {
        !matches!(self.query, MetricQuery::Probe(_))
    }

    /// The lowest step weight the metric gates (see [`Metric::from_weight`]).
    pub fn lowest_gated_weight(&self) -> u8 {
        self.from_weight
            .unwrap_or(if self.needs_traffic() { 1 } else { 0 })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Canary,
    BlueGreen,
    Rolling,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rolling => "rolling",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutInfo {
    /// Stable id of this rollout (journal file name, socket name). When the
    /// config gives none, it is `<service>-<UTC yyyymmdd-hhmmss>` at start.
    pub id: Option<String>,
    /// Service name; a DNS label (`[a-z0-9-]`, at most 63 characters).
    pub service: String,
    pub strategy: Strategy,
    pub ticket: Option<Ticket>,
    pub owners: Vec<String>,
    /// Who may drive (issue 6). Empty means: the user who started it.
    pub drivers: Vec<String>,
    /// Commands that need a second identity to confirm (issue 6).
    pub require_second: Vec<crate::engine::Command>,
    /// What the driver does when no operator is attached.
    pub unattended: Unattended,
    /// Change window in UTC, `HH:MM` to `HH:MM`, if any.
    pub window: Option<ChangeWindow>,
    /// Items a human ticks before starting (shown by `plan`, journaled).
    pub checklist: Vec<String>,
    /// Where journals go; default: the user's data dir.
    pub journal_dir: Option<String>,
    /// A Unix group whose members may attach to this rollout's socket (the
    /// runtime dir becomes 0750 and the socket 0660 for that group). By
    /// default only the user who started the driver can attach.
    #[serde(default)]
    pub session_group: Option<String>,
    /// Views connected at once to this rollout's socket (attach, `ls`, the
    /// kill switch from another shell). People in `drivers` may open a few
    /// more, so a flood of viewers never locks them out.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Areas known to be risky for this service ("payments"), shown beside
    /// the ramp and by `plan`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risky_areas: Vec<String>,
}

/// The default of [`RolloutInfo::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeWindow {
    /// Minutes after 00:00 UTC.
    pub start_min: u16,
    pub end_min: u16,
    pub days: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unattended {
    /// Keep triggers armed but do not advance past the current step.
    #[default]
    Hold,
    /// Carry on as if attended.
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// Advance when the hold is over and every gate passes.
    Auto,
    /// Wait for a human approval once the hold is over.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// Traffic weight in percent, 0..=100.
    pub weight: u8,
    #[serde(with = "duration_ms")]
    pub hold: Duration,
    pub gate: GateKind,
    pub owner: Option<String>,
    /// The metrics that gate this step, by id. `None`: every metric whose
    /// [`Metric::from_weight`] this step's weight reaches (see
    /// [`Plan::gates_step`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Vec<String>>,
    /// N-of-M approvals this step waits for (implies a manual gate); on
    /// the last step they gate the promotion to 100 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<crate::engine::approvals::ApprovalSpec>,
    /// Rolling: instances on the new version once this step's batch is
    /// done (its weight is their share of `[rolling] instances`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// The cohort this step targets, beside or instead of a weight
    /// (`employees`, `beta`, `eu-west-1`); hooks get it as `{cohort_name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadDirection {
    /// Higher values are worse (error ratio, latency).
    Up,
    /// Lower values are worse (success ratio, throughput).
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The same query with `{cohort}` = "baseline".
    Cohort,
    /// Another query for the baseline.
    Query(String),
    /// A fixed number.
    Value(f64),
    /// The canary's own query averaged over this window before the rollout.
    PreDeploy(#[serde(with = "duration_ms")] Duration),
    /// No baseline: only absolute limits apply.
    None,
}

/// How a metric's value is read from its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricQuery {
    /// PromQL; `{service}` and `{cohort}` are replaced by escaped label values.
    Promql(String),
    /// JSON pointer into the source's response (`/data/error_rate`).
    JsonPointer(String),
    /// argv run without a shell; the first number in stdout is the value.
    Command(Vec<String>),
    /// A health probe field.
    Probe(ProbeField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeField {
    /// 1 when the probe succeeded, 0 when not.
    Up,
    /// Response latency in milliseconds.
    LatencyMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub id: String,
    /// Human name for charts; defaults to the id.
    pub name: String,
    /// Name of a source in `sources`.
    pub source: String,
    pub query: MetricQuery,
    pub baseline: Baseline,
    /// Display unit: "%", "ms", "s", "req/s", "ratio", or free text.
    pub unit: String,
    /// Multiply raw values by this for display (e.g. 100 for ratio → %).
    pub display_scale: f64,
    pub bad: BadDirection,
    pub threshold: Threshold,
    /// Verdict is `NoData` until this many samples have arrived in the step.
    pub min_samples: u32,
    /// Verdict is `NoData` while the canary's traffic is below this.
    pub min_traffic: Option<MinTraffic>,
    pub no_data: NoDataPolicy,
    /// The lowest step weight this metric gates. `None`: 0 for a health
    /// probe, which needs no canary traffic, and 1 for every other metric,
    /// which has nothing to measure while the canary takes no traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_weight: Option<u8>,
    /// What the gate compares with once the baseline cohort is empty (the
    /// canary at 100 %): see [`BaselineWhenEmpty`].
    #[serde(default)]
    pub baseline_when_empty: BaselineWhenEmpty,
    /// Gate kinds beside the thresholds: burn rate, judge, sequential test.
    #[serde(default, skip_serializing_if = "GateKinds::is_empty")]
    pub kinds: GateKinds,
}

/// What a gate whose baseline is another cohort (`cohort` or `query`)
/// does once that cohort takes no traffic (the canary at 100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineWhenEmpty {
    /// Keep judging against the baseline as it was when the canary reached
    /// 100 %, labelled "frozen" wherever it is shown.
    #[default]
    Frozen,
    /// Ratio and delta limits say NoData (with the reason); an absolute
    /// limit still judges.
    NoData,
}

/// Whether an answer that came with warnings (Prometheus' partial data)
/// may pass a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradedPolicy {
    /// A degraded answer may breach (and so trigger a rollback) but never
    /// passes: it does not advance a step.
    #[default]
    Hold,
    /// A degraded answer is judged like any other.
    Pass,
}

/// Limits that make a sample a breach. All that are set apply; a sample is a
/// breach when it crosses any. Values are in the metric's raw units.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Threshold {
    /// Absolute limit (max when bad = up, min when bad = down).
    pub limit: Option<f64>,
    /// canary / baseline beyond this ratio is a breach.
    pub ratio: Option<f64>,
    /// canary - baseline beyond this delta is a breach.
    pub delta: Option<f64>,
    /// SLO line shown on the chart; not a gate by itself.
    pub slo: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinTraffic {
    /// Id of the metric that measures the canary's traffic (e.g. req/s).
    pub metric: String,
    pub at_least: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataAction {
    /// Do not advance; keep waiting (the gate is not a pass).
    Hold,
    /// Pause the rollout for a human.
    Pause,
    /// Roll back.
    Rollback,
}

/// What happens after `after` consecutive polls of a metric gave `NoData` or
/// `ProviderError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoDataPolicy {
    pub action: NoDataAction,
    pub after: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerAction {
    Rollback,
    Pause,
}

/// A rollback (or pause) trigger: fires when `metric`'s gate has been a
/// breach for `consecutive` polls in a row, in any phase before the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    pub metric: String,
    pub consecutive: u32,
    pub action: TriggerAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    #[serde(with = "duration_ms")]
    pub interval: Duration,
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    /// The largest answer read from the source, in bytes: an HTTP body or a
    /// command's stdout. A larger one is refused as a provider error that
    /// names this cap. Range queries (chart backfill) may take
    /// [`RANGE_ANSWER_FACTOR`] times as much.
    #[serde(default = "default_max_response")]
    pub max_response: usize,
    /// Whether an answer with warnings may pass a gate.
    #[serde(default)]
    pub degraded: DegradedPolicy,
}

/// The default of [`Source::max_response`]: 1 MiB, far above any sane
/// instant-query answer and small enough that a hostile one costs nothing.
pub const DEFAULT_MAX_RESPONSE: usize = 1 << 20;

/// A range query's answer may be this many times a source's
/// [`Source::max_response`]: hours of points at a few seconds' step.
pub const RANGE_ANSWER_FACTOR: usize = 16;

fn default_max_response() -> usize {
    DEFAULT_MAX_RESPONSE
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Prometheus(HttpTarget),
    HttpJson(HttpTarget),
    Probe {
        target: HttpTarget,
        expect_status: u16,
        body_contains: Option<String>,
    },
    Command,
}

impl SourceKind {
    /// The kind as the config names it: "prometheus", "http_json", "probe",
    /// "command".
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Prometheus(_) => "prometheus",
            SourceKind::HttpJson(_) => "http_json",
            SourceKind::Probe { .. } => "probe",
            SourceKind::Command => "command",
        }
    }
}

/// An HTTP endpoint with its auth. Secrets are environment-variable names,
/// resolved when the source starts, never stored in the plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpTarget {
    pub url: String,
    pub auth: Auth,
    /// Extra headers with literal values (non-secret, e.g. X-Scope-OrgID).
    pub headers: BTreeMap<String, String>,
    /// Extra headers whose values come from environment variables.
    pub headers_env: BTreeMap<String, String>,
    pub ca_file: Option<String>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    #[default]
    None,
    Bearer {
        token_env: String,
    },
    Basic {
        user_env: String,
        password_env: String,
    },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Notify {
    /// Environment variable holding a Slack-compatible incoming-webhook URL.
    pub slack_webhook_env: Option<String>,
}

/// `[journal]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JournalSettings {
    /// Environment variable holding the key that seals each record with an
    /// HMAC-SHA256, so that whoever can write the journal file but lacks
    /// the key cannot forge its chain. Required at `run` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiSettings {
    /// How long series are kept in memory.
    #[serde(with = "duration_ms")]
    pub retention: Duration,
    /// Commands that need a reason (the cockpit's dialog, the CLI and the
    /// driver all ask for one).
    pub reason_required: Vec<crate::engine::Command>,
    /// Key overrides: key name → action name, merged over the defaults.
    pub keys: BTreeMap<String, String>,
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            retention: Duration::from_secs(6 * 3600),
            reason_required: vec![
                crate::engine::Command::Rollback,
                crate::engine::Command::PromoteFull,
            ],
            keys: BTreeMap::new(),
        }
    }
}

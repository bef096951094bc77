//! The TOML schema as written, before validation. Every table denies unknown
//! keys; fields checked later keep their span for `FILE:LINE:COL` messages.
//! Keys that would hold a literal secret are accepted here only so that
//! validation can refuse them with a message naming the `*_env` key to use.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value};

type S<T> = Spanned<T>;
type Map = BTreeMap<String, S<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub rollout: S<RawRollout>,
    pub steps: Option<S<Vec<S<RawStep>>>>,
    #[serde(default)]
    pub metrics: Vec<S<RawMetric>>,
    #[serde(default)]
    pub triggers: Vec<S<RawTrigger>>,
    #[serde(default)]
    pub sources: BTreeMap<String, S<RawSource>>,
    #[serde(default)]
    pub hooks: RawHooks,
    pub notify: Option<S<RawNotify>>,
    pub ui: Option<S<RawUi>>,
    pub journal: Option<S<RawJournal>>,
    pub judge: Option<S<Value>>,
    #[serde(default)]
    pub windows: Vec<S<RawSyncWindow>>,
    #[serde(default)]
    pub freezes: Vec<S<RawFreeze>>,
    pub change_window: Option<S<RawChangePolicy>>,
    #[serde(default)]
    pub preflight: Vec<S<RawPreflight>>,
    pub exit: Option<S<RawExit>>,
    pub blue_green: Option<S<RawBlueGreen>>,
    pub rolling: Option<S<RawRolling>>,
    #[serde(default)]
    pub incidents: Vec<S<RawIncident>>,
}

/// `[[incidents]]`: a past incident of this service, shown beside the ramp.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncident {
    pub date: S<String>,
    pub title: S<String>,
    pub link: Option<S<String>>,
    pub metric: Option<S<String>>,
    pub area: Option<S<String>>,
}

/// `[rolling]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRolling {
    pub instances: S<i64>,
    pub max_unavailable: Option<S<i64>>,
}

/// `[blue_green]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlueGreen {
    pub scale_down_delay: Option<S<Value>>,
    pub partial_switch: Option<S<bool>>,
}

/// `[exit]`: the observation period and the exit items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExit {
    pub observe: Option<S<Value>>,
    #[serde(default)]
    pub items: Vec<S<RawPreflight>>,
}

/// `[[preflight]]`: an item to do before the ramp starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreflight {
    pub title: S<String>,
    pub owner: Option<S<String>>,
    pub required: Option<S<bool>>,
    pub check: Option<S<RawPreflightCheck>>,
}

/// `check = { command = [...], timeout = "30s" }` or
/// `check = { http = "https://…", status = 200 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreflightCheck {
    pub command: Option<S<Vec<S<String>>>>,
    pub http: Option<S<String>>,
    pub status: Option<S<i64>>,
    pub timeout: Option<S<Value>>,
}

/// `[[windows]]`, Argo CD's sync window shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyncWindow {
    pub kind: S<String>,
    pub schedule: S<String>,
    pub duration: S<Value>,
    pub time_zone: Option<S<String>>,
    pub description: Option<S<String>>,
}

/// `[[freezes]]`: local date-times in a zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeze {
    pub from: S<String>,
    pub to: S<String>,
    pub time_zone: Option<S<String>>,
    pub description: Option<S<String>>,
}

/// `[change_window]`: what the plan does when a window closes mid-rollout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChangePolicy {
    pub on_close: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub id: Option<S<String>>,
    pub service: S<String>,
    pub strategy: S<String>,
    pub ticket: Option<S<RawTicket>>,
    /// Refuse the plan without a `[rollout.ticket]` (change control).
    pub require_ticket: Option<S<bool>>,
    #[serde(default)]
    pub owners: Vec<S<String>>,
    #[serde(default)]
    pub drivers: Vec<S<String>>,
    #[serde(default)]
    pub require_second: Vec<S<String>>,
    pub unattended: Option<S<String>>,
    pub window: Option<S<RawWindow>>,
    #[serde(default)]
    pub checklist: Vec<S<String>>,
    pub journal_dir: Option<S<String>>,
    pub session_group: Option<S<String>>,
    pub max_connections: Option<S<i64>>,
    #[serde(default)]
    pub risky_areas: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTicket {
    pub id: S<String>,
    pub url: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub start: S<String>,
    pub end: S<String>,
    pub days: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: S<String>,
    /// Required but for rolling steps, whose weight follows `batch`.
    pub weight: Option<S<i64>>,
    /// Rolling: instances updated in this batch, `2` or `"25%"`.
    pub batch: Option<S<Value>>,
    /// The cohort this step targets (`employees`, `beta`, `eu-west-1`).
    pub cohort: Option<S<String>>,
    pub hold: S<Value>,
    pub gate: Option<S<String>>,
    pub owner: Option<S<String>>,
    pub gates: Option<S<Vec<S<String>>>>,
    pub approvals: Option<S<RawApprovals>>,
}

/// A step's `approvals = { from = [...], count = N, allow_self, expires }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    pub from: S<Vec<S<String>>>,
    pub count: S<i64>,
    pub allow_self: Option<S<bool>>,
    pub expires: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub id: S<String>,
    pub name: Option<S<String>>,
    pub source: S<String>,
    pub query: Option<S<String>>,
    pub pointer: Option<S<String>>,
    pub command: Option<S<Vec<S<String>>>>,
    pub field: Option<S<String>>,
    pub baseline: Option<S<Value>>,
    pub unit: Option<S<String>>,
    pub display_scale: Option<S<f64>>,
    pub bad: S<String>,
    pub threshold: Option<S<RawThreshold>>,
    pub min_samples: Option<S<i64>>,
    pub min_traffic: Option<S<RawMinTraffic>>,
    pub no_data: Option<S<RawNoData>>,
    pub from_weight: Option<S<i64>>,
    pub baseline_when_empty: Option<S<String>>,
    pub burn: Option<S<Value>>,
    pub judge: Option<S<Value>>,
    pub sequential: Option<S<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub limit: Option<S<f64>>,
    pub ratio: Option<S<f64>>,
    pub delta: Option<S<f64>>,
    pub slo: Option<S<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMinTraffic {
    pub metric: S<String>,
    pub at_least: S<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNoData {
    pub action: Option<S<String>>,
    pub after: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub name: S<String>,
    pub metric: S<String>,
    pub consecutive: Option<S<i64>>,
    pub action: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub kind: S<String>,
    pub url: Option<S<String>>,
    pub interval: Option<S<Value>>,
    pub timeout: Option<S<Value>>,
    pub auth: Option<S<RawAuth>>,
    pub headers: Option<S<Map>>,
    pub headers_env: Option<S<Map>>,
    pub ca_file: Option<S<String>>,
    pub insecure_skip_verify: Option<S<bool>>,
    pub expect_status: Option<S<i64>>,
    pub body_contains: Option<S<String>>,
    pub max_response: Option<S<Value>>,
    pub degraded: Option<S<String>>,
    // Refused: literal secrets.
    pub token: Option<S<Value>>,
    pub bearer: Option<S<Value>>,
    pub bearer_token: Option<S<Value>>,
    pub password: Option<S<Value>>,
    pub api_key: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub bearer: Option<S<RawBearer>>,
    pub basic: Option<S<RawBasic>>,
    // Refused: literal secrets.
    pub token: Option<S<Value>>,
    pub password: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBearer {
    pub token_env: Option<S<String>>,
    pub token: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasic {
    pub user_env: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub user: Option<S<Value>>,
    pub password: Option<S<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHooks {
    pub set_weight: Option<S<RawHook>>,
    pub promote: Option<S<RawHook>>,
    pub pause: Option<S<RawHook>>,
    pub resume: Option<S<RawHook>>,
    pub rollback: Option<S<RawHook>>,
    #[serde(default)]
    pub on_step_enter: Vec<S<RawHook>>,
    pub on_finish: Option<S<RawHook>>,
    pub switch: Option<S<RawHook>>,
    pub scale_down: Option<S<RawHook>>,
    pub redeploy: Option<S<RawHook>>,
    /// After a failed rollback, the longest wait before the next attempt.
    pub rollback_retry: Option<S<Value>>,
    pub target_step: Option<S<RawTargetStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargetStep {
    pub metric: S<String>,
    pub scale: Option<S<f64>>,
    pub offset: Option<S<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    pub command: Option<S<Vec<S<String>>>>,
    pub webhook: Option<S<RawWebhook>>,
    pub timeout: Option<S<Value>>,
    pub retries: Option<S<i64>>,
    pub idempotent: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub method: Option<S<String>>,
    pub url: S<String>,
    pub body: Option<S<String>>,
    pub headers: Option<S<Map>>,
    pub headers_env: Option<S<Map>>,
    pub expect_status: Option<S<Vec<S<i64>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub slack_webhook_env: Option<S<String>>,
    // Refused: a webhook URL is a secret.
    pub slack_webhook: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJournal {
    pub key_env: Option<S<String>>,
    // Refused: a key is a secret.
    pub key: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    pub retention: Option<S<Value>>,
    pub reason_required: Option<Vec<S<String>>>,
    /// Key spans too: a bad key is reported where it is written.
    #[serde(default)]
    pub keys: BTreeMap<S<String>, S<String>>,
}

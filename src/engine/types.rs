//! The engine's vocabulary: what goes in (`Input`), what comes out
//! (`Effect`), and what the views see (`Snapshot`). Pure data.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::HookKind;

pub use super::kind::{DecisionKind, PhaseKind, Severity};

/// Milliseconds since the Unix epoch, UTC. Time always comes into the engine
/// as a value; the engine never reads a clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(s: i64) -> Self {
        Timestamp(s * 1000)
    }
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis() as i64))
    }
    /// Time since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

/// Who did something. Automatic decisions use [`Actor::system`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Login uid from /proc/PID/loginuid, where it differs from uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// SSH client address from SSH_CONNECTION/SSH_CLIENT of the driving view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
    /// Unix groups the user is in, resolved where the identity is made
    /// (the engine is pure): `@group` approvers match on these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Actor {
    /// The engine itself (automatic advance, trigger rollback).
    pub fn system() -> Self {
        Actor {
            user: "rampdeck".into(),
            uid: None,
            login_uid: None,
            host: None,
            ssh_client: None,
            groups: Vec::new(),
        }
    }
    pub fn named(user: &str) -> Self {
        Actor {
            user: user.into(),
            ..Actor::system()
        }
    }
    pub fn is_system(&self) -> bool {
        self.user == "rampdeck" && self.uid.is_none()
    }
}

/// Which side of the comparison a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    Canary,
    Baseline,
}

/// One poll's result for one metric and cohort, as the sources map it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reading {
    /// A number. `+Inf` is a value (and always breaches); NaN never arrives
    /// here (sources map it to NoData).
    Value {
        value: f64,
        /// The source returned warnings; the value is shown as degraded.
        #[serde(default)]
        degraded: bool,
        /// What the warnings said (Prometheus' `warnings`), for the
        /// data-health lane, headless output and the journal.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The source answered but had no data (empty vector, NaN, no traffic).
    NoData { why: String },
    /// The source failed: HTTP error, `status: error`, timeout, unreachable.
    ProviderError {
        message: String,
        /// HTTP status or Prometheus errorType, kept for the journal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

impl Reading {
    /// A plain value: no warnings.
    pub fn value(value: f64) -> Self {
        Reading::Value {
            value,
            degraded: false,
            warnings: Vec::new(),
        }
    }
}

/// Operator commands. Every one carries an actor and a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    /// Advance to the next step now, whatever the gates say.
    Promote,
    /// Go to 100 % now.
    PromoteFull,
    Rollback,
    /// Approve a manual gate whose hold is over.
    Approve,
}

impl Command {
    /// Every command, in the order help and lists show them.
    pub const ALL: [Command; 6] = [
        Command::Pause,
        Command::Resume,
        Command::Promote,
        Command::PromoteFull,
        Command::Rollback,
        Command::Approve,
    ];

    /// The command a word names (`"promote_full"`), if any.
    pub fn from_word(word: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.as_str() == word)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Promote => "promote",
            Command::PromoteFull => "promote_full",
            Command::Rollback => "rollback",
            Command::Approve => "approve",
        }
    }
}

/// Why a command (or any other request) was refused, in words for the
/// journal and the screen: "hold not over yet: 01:20 left; use promote to
/// skip".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The engine's answer, for every operator command, to "would you do it
/// now?" ([`super::Engine::allowed`]), published with each view so the
/// footer, the dialogs and attached views offer exactly what the engine
/// accepts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Allowed {
    /// The commands that would be refused, with why; the rest are allowed.
    pub refused: Vec<(Command, Refusal)>,
}

impl Allowed {
    /// Ok, or why `command` would be refused.
    pub fn check(&self, command: Command) -> Result<(), Refusal> {
        match self.refused.iter().find(|(c, _)| *c == command) {
            Some((_, why)) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

/// The result of a hook run, reported back by the driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookOutcome {
    pub ok: bool,
    /// Exit code or HTTP status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Short human summary: "exit 0", "timed out after 30s", "HTTP 503".
    pub summary: String,
    /// Captured stdout (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    /// Captured stderr (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    pub attempts: u32,
    pub duration_ms: u64,
}

impl HookOutcome {
    /// A first attempt that succeeded at once, saying `summary` (for
    /// simulations and tests that answer hooks themselves).
    pub fn succeeded(summary: &str) -> Self {
        HookOutcome {
            ok: true,
            code: Some(0),
            summary: summary.into(),
            stdout: String::new(),
            stderr: String::new(),
            attempts: 1,
            duration_ms: 0,
        }
    }
}

/// Everything that can happen to a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// Begin the rollout: journal the start and enter the first step.
    Start { actor: Actor },
    /// A poll result for one metric and cohort.
    Sample {
        metric: String,
        cohort: Cohort,
        reading: Reading,
    },
    /// Time passed (the driver ticks at least once a second).
    Tick,
    /// An operator command.
    Command {
        command: Command,
        actor: Actor,
        reason: String,
    },
    /// A hook the engine asked for has finished (after any retries).
    HookResult { id: u64, outcome: HookOutcome },
    /// The driving view went away (SSH dropped) or came back.
    OperatorPresence { attached: bool, actor: Actor },
    /// A freeze exception: `approver` (who must not be `actor`, the
    /// driver) lets this rollout start and promote outside its change
    /// windows, for `reason`.
    FreezeException {
        approver: String,
        actor: Actor,
        reason: String,
    },
    /// `actor` approves step `step` (0-based) by number (`rampdeck approve
    /// ROLLOUT STEP`): refused unless it is the rollout's current step, so
    /// a late approval of one step never counts for the next.
    ApproveStep {
        step: usize,
        actor: Actor,
        reason: String,
    },
    /// A freeze exception granted by `approver` themselves over the
    /// rollout's socket (identity from peer credentials, not typed):
    /// refused from the driver, and while the window is open.
    PeerFreezeException { approver: Actor, reason: String },
    /// Run the automatic checks of `stage` that are not running (all of
    /// them, or the one at `item`): the engine marks them running and asks
    /// for each with an [`Effect::RunCheck`].
    RunChecks { stage: Stage, item: Option<usize> },
    /// An automatic check of `stage` finished: item `item` of the stage's
    /// list, and the start of its output.
    CheckResult {
        stage: Stage,
        item: usize,
        ok: bool,
        summary: String,
    },
    /// `actor` confirms the manual item `item` of `stage` (or every manual
    /// item of it when `None`), with a note.
    Confirm {
        stage: Stage,
        item: Option<usize>,
        actor: Actor,
        reason: String,
    },
    /// Instead of `Start`: go on from where the rollout's journal left it
    /// (see [`super::resume`]).
    Resume {
        point: Box<super::resume::ResumePoint>,
        actor: Actor,
    },
}

/// What the engine asks the driver to do, in order. A `Journal` effect must
/// be written and fsynced before any later effect in the same batch runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Journal(Box<Decision>),
    RunHook(HookCall),
    Notify(Notice),
    /// Run the automatic check of item `item` of `stage`; answer with
    /// `Input::CheckResult`.
    RunCheck {
        stage: Stage,
        item: usize,
    },
}

pub use super::checklist::Stage;

/// A hook to run. The driver fills placeholders from `vars`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCall {
    /// Unique per engine; echoed in `Input::HookResult`.
    pub id: u64,
    pub kind: HookKind,
    /// Index into `on_step_enter` checks; 0 for other kinds.
    pub index: usize,
    pub step: usize,
    pub weight: u8,
    pub actor: Actor,
    pub reason: String,
}

/// A message for humans (Slack webhook, headless line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub text: String,
}

/// A gate's verdict for one metric at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Breach,
    NoData,
    ProviderError,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "Pass",
            Verdict::Breach => "Breach",
            Verdict::NoData => "NoData",
            Verdict::ProviderError => "ProviderError",
        }
    }
}

/// Numbers that may be `+Inf`, `-Inf` or NaN, which JSON cannot hold: they
/// are written as the strings "+Inf", "-Inf" and "NaN" (as Prometheus
/// writes them) and read back from either form, so the journal, the
/// summary and attached views keep the value that decided a verdict.
pub mod number {
    use serde::{Deserialize, Deserializer, Serializer};

    /// The JSON for a number that may not be finite.
    pub fn json(v: Option<f64>) -> serde_json::Value {
        match v {
            None => serde_json::Value::Null,
            Some(x) if x.is_finite() => serde_json::json!(x),
            Some(x) => serde_json::Value::String(word(x).into()),
        }
    }

    /// "+Inf", "-Inf" or "NaN" for a number that is not finite.
    pub fn word(x: f64) -> &'static str {
        if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        }
    }

    /// A number from its JSON: a number, one of the words, or null.
    pub fn from_json(v: &serde_json::Value) -> Option<f64> {
        match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => match s.as_str() {
                "+Inf" | "Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                "NaN" => Some(f64::NAN),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(x) if x.is_finite() => s.serialize_f64(*x),
            Some(x) => s.serialize_str(word(*x)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match &v {
            serde_json::Value::Null => Ok(None),
            other => from_json(other).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{other} is not a number, \"+Inf\", \"-Inf\" or \"NaN\""
                ))
            }),
        }
    }
}

/// A gate's verdict with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateStatus {
    pub metric: String,
    pub verdict: Verdict,
    /// Latest canary value (raw units).
    #[serde(with = "number", default)]
    pub canary: Option<f64>,
    /// Latest baseline value (raw units).
    #[serde(with = "number", default)]
    pub baseline: Option<f64>,
    /// The limit that was crossed, or the tightest one that applies.
    #[serde(with = "number", default)]
    pub limit: Option<f64>,
    /// Human explanation: "0.081 > 0.05 (limit)", "no data: empty vector",
    /// "2 of 3 samples", "Prometheus: 503 unavailable".
    pub detail: String,
    /// Consecutive breaches so far.
    pub breaches: u32,
    /// Consecutive polls without data (NoData or ProviderError) so far.
    pub no_data_polls: u32,
    /// Samples in the current step.
    pub samples: u32,
    /// The source returned warnings for the latest value.
    pub degraded: bool,
    /// What those warnings said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether this metric gates the current step (see
    /// [`crate::plan::Step::gated_by`]); one that does not is shown and
    /// judged but never holds the step.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub gating: bool,
    /// The baseline is frozen at its value from this moment: its cohort
    /// takes no traffic any more (the canary at 100 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_frozen_at: Option<Timestamp>,
    /// What the metric's other gate kinds (burn, judge, sequential) said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<super::analysis::KindStatus>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One journal-worthy decision. The journal adds sequence, timestamp,
/// rollout id and hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What was decided (written as its snake_case word).
    pub action: DecisionKind,
    pub actor: Actor,
    pub reason: String,
    /// Step index (0-based) at the moment of the decision.
    pub step: Option<usize>,
    pub weight: u8,
    /// The phase once the decision took effect.
    pub phase: PhaseKind,
    pub gates: Vec<GateStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookRecord>,
    /// Anything else worth keeping (e.g. the plan on rollout_started).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    /// When the engine made the decision (its `now`), for the decision log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRecord {
    pub id: u64,
    pub kind: HookKind,
    /// The weight the hook was run for (what a `set_weight` sets, 0 for a
    /// rollback). Absent in journals written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<HookOutcome>,
}

/// The rollout's phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Not started.
    Pending,
    /// Hooks that move traffic to `step` are running.
    Promoting { step: usize },
    /// In `step`, hold running and gates counting.
    Holding { step: usize },
    /// In a manual `step` whose hold is over; waits for `Approve`.
    AwaitingApproval { step: usize },
    /// Stopped by `by` for `reason`; triggers stay armed.
    Paused {
        step: usize,
        by: String,
        reason: String,
    },
    /// At 100 % on the new version, watching the exit criteria (`[exit]`)
    /// for the observation period; triggers stay armed. `Promoted` once
    /// they hold.
    Observing { step: usize },
    /// Full promotion done.
    Promoted,
    /// Rollback hooks running.
    RollingBack,
    /// Rollback done.
    RolledBack,
    /// A hook failed and a human must act ("ROLLBACK FAILED: manual action
    /// needed" when it was the rollback).
    Failed { reason: String },
}

impl Phase {
    /// The phase without its data, as records name it.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Pending => PhaseKind::Pending,
            Phase::Promoting { .. } => PhaseKind::Promoting,
            Phase::Holding { .. } => PhaseKind::Holding,
            Phase::AwaitingApproval { .. } => PhaseKind::AwaitingApproval,
            Phase::Paused { .. } => PhaseKind::Paused,
            Phase::Observing { .. } => PhaseKind::Observing,
            Phase::Promoted => PhaseKind::Promoted,
            Phase::RollingBack => PhaseKind::RollingBack,
            Phase::RolledBack => PhaseKind::RolledBack,
            Phase::Failed { .. } => PhaseKind::Failed,
        }
    }

    /// The record's name of the phase (`holding`), as the journal and
    /// machine-readable output write it; for people, see
    /// [`crate::engine::words::phase_headline`].
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
    /// The rollout has ended (nothing automatic will happen any more).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Phase::Promoted | Phase::RolledBack | Phase::Failed { .. }
        )
    }
}

pub use super::view::{EngineView, NextAction, StepState, StepView};

/// Durations serialize as whole milliseconds.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

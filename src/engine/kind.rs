//! What kind each journaled decision is, and what that means: the one list
//! of decision kinds, with the properties the rest of rampdeck asks about
//! (a rollback? does it end a step? worth a notification? how alarming?).
//! The journal keeps writing the same snake_case words; a word this
//! version does not know (a newer journal) is kept as [`DecisionKind::Other`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of a journal record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecisionKind {
    // The rollout moving.
    RolloutStarted,
    Resumed,
    ResumeConfirmed,
    ResumeMismatch,
    ResumeCheck,
    StepEntered,
    AwaitingApproval,
    AutoAdvance,
    Promote,
    PromoteFull,
    Approve,
    /// One approval of an N-of-M step recorded (not yet enough to advance).
    Approval,
    /// An approval of the step still waiting for it lapsed (`expires`).
    ApprovalExpired,
    /// Approvals given under another plan were not counted on a resume.
    ApprovalsInvalidated,
    Promoted,
    // Stopping.
    Pause,
    TriggerPause,
    NoDataPause,
    CheckFailedPause,
    Resume,
    // Rolling back.
    Rollback,
    RollbackRetry,
    TriggerRollback,
    NoDataRollback,
    RolledBack,
    Failed,
    RolloutEnded,
    // Hooks.
    HookStarted,
    HookResult,
    HookResultIgnored,
    // Data.
    SourceState,
    DataHoldStarted,
    DataHoldEnded,
    // Change windows (issue 13).
    WindowClosed,
    WindowOpened,
    WindowRollback,
    FreezeException,
    // Pre-flight (issue 13).
    PreflightCheck,
    PreflightConfirmed,
    // Exit criteria (issue 13): the observation after the last step.
    ObservationStarted,
    ExitCheck,
    ExitConfirmed,
    // Strategies (issue 14).
    Switched,
    ScaledDown,
    BatchDone,
    // People and views.
    Refused,
    OperatorAttached,
    OperatorDetached,
    ViewerAttached,
    ViewerDetached,
    ControlTaken,
    AwaitingSecond,
    SecondExpired,
    HeldBack,
    ConnectionsRefused,
    // The driver and its journal.
    LockTakenOver,
    DriverStopped,
    Recovered,
    /// The flight recorder stopped (an I/O error or its size cap): the
    /// recording ends early; the rollout goes on.
    RecordingIncomplete,
    /// A word this version does not know, kept as written.
    Other(String),
}

/// How a decision reads in a log: something to notice, something gone
/// wrong, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Breach,
}

use DecisionKind as K;

impl DecisionKind {
    /// Every known kind, for tables and tests.
    pub const ALL: [DecisionKind; 59] = [
        K::RolloutStarted,
        K::Resumed,
        K::ResumeConfirmed,
        K::ResumeMismatch,
        K::ResumeCheck,
        K::StepEntered,
        K::AwaitingApproval,
        K::AutoAdvance,
        K::Promote,
        K::PromoteFull,
        K::Approve,
        K::Approval,
        K::ApprovalExpired,
        K::ApprovalsInvalidated,
        K::Promoted,
        K::Pause,
        K::TriggerPause,
        K::NoDataPause,
        K::CheckFailedPause,
        K::Resume,
        K::Rollback,
        K::RollbackRetry,
        K::TriggerRollback,
        K::NoDataRollback,
        K::RolledBack,
        K::Failed,
        K::RolloutEnded,
        K::HookStarted,
        K::HookResult,
        K::HookResultIgnored,
        K::SourceState,
        K::DataHoldStarted,
        K::DataHoldEnded,
        K::WindowClosed,
        K::WindowOpened,
        K::WindowRollback,
        K::FreezeException,
        K::PreflightCheck,
        K::PreflightConfirmed,
        K::ObservationStarted,
        K::ExitCheck,
        K::ExitConfirmed,
        K::Switched,
        K::ScaledDown,
        K::BatchDone,
        K::Refused,
        K::OperatorAttached,
        K::OperatorDetached,
        K::ViewerAttached,
        K::ViewerDetached,
        K::ControlTaken,
        K::AwaitingSecond,
        K::SecondExpired,
        K::HeldBack,
        K::ConnectionsRefused,
        K::LockTakenOver,
        K::DriverStopped,
        K::Recovered,
        K::RecordingIncomplete,
    ];

    /// The word in the journal.
    pub fn as_str(&self) -> &str {
        match self {
            K::RolloutStarted => "rollout_started",
            K::Resumed => "resumed",
            K::ResumeConfirmed => "resume_confirmed",
            K::ResumeMismatch => "resume_mismatch",
            K::ResumeCheck => "resume_check",
            K::StepEntered => "step_entered",
            K::AwaitingApproval => "awaiting_approval",
            K::AutoAdvance => "auto_advance",
            K::Promote => "promote",
            K::PromoteFull => "promote_full",
            K::Approve => "approve",
            K::Approval => "approval",
            K::ApprovalExpired => "approval_expired",
            K::ApprovalsInvalidated => "approvals_invalidated",
            K::Promoted => "promoted",
            K::Pause => "pause",
            K::TriggerPause => "trigger_pause",
            K::NoDataPause => "no_data_pause",
            K::CheckFailedPause => "check_failed_pause",
            K::Resume => "resume",
            K::Rollback => "rollback",
            K::RollbackRetry => "rollback_retry",
            K::TriggerRollback => "trigger_rollback",
            K::NoDataRollback => "no_data_rollback",
            K::RolledBack => "rolled_back",
            K::Failed => "failed",
            K::RolloutEnded => "rollout_ended",
            K::HookStarted => "hook_started",
            K::HookResult => "hook_result",
            K::HookResultIgnored => "hook_result_ignored",
            K::SourceState => "source_state",
            K::DataHoldStarted => "data_hold_started",
            K::DataHoldEnded => "data_hold_ended",
            K::WindowClosed => "window_closed",
            K::WindowOpened => "window_opened",
            K::WindowRollback => "window_rollback",
            K::FreezeException => "freeze_exception",
            K::PreflightCheck => "preflight_check",
            K::PreflightConfirmed => "preflight_confirmed",
            K::ObservationStarted => "observation_started",
            K::ExitCheck => "exit_check",
            K::ExitConfirmed => "exit_confirmed",
            K::Switched => "switched",
            K::ScaledDown => "scaled_down",
            K::BatchDone => "batch_done",
            K::Refused => "refused",
            K::OperatorAttached => "operator_attached",
            K::OperatorDetached => "operator_detached",
            K::ViewerAttached => "viewer_attached",
            K::ViewerDetached => "viewer_detached",
            K::ControlTaken => "control_taken",
            K::AwaitingSecond => "awaiting_second",
            K::SecondExpired => "second_expired",
            K::HeldBack => "held_back",
            K::ConnectionsRefused => "connections_refused",
            K::LockTakenOver => "lock_taken_over",
            K::DriverStopped => "driver_stopped",
            K::Recovered => "recovered",
            K::RecordingIncomplete => "recording_incomplete",
            K::Other(s) => s,
        }
    }

    /// The kind a journal word names ([`DecisionKind::Other`] if none).
    pub fn from_word(word: &str) -> DecisionKind {
        K::ALL
            .iter()
            .find(|k| k.as_str() == word)
            .cloned()
            .unwrap_or_else(|| K::Other(word.to_string()))
    }

    /// A decision to roll back (by a person, a trigger, missing data, or a
    /// retry of a failed rollback).
    pub fn is_rollback(&self) -> bool {
        matches!(
            self,
            K::Rollback
                | K::RollbackRetry
                | K::TriggerRollback
                | K::NoDataRollback
                | K::WindowRollback
        )
    }

    /// A decision to pause (by a person or by rampdeck).
    pub fn is_pause(&self) -> bool {
        matches!(
            self,
            K::Pause | K::TriggerPause | K::NoDataPause | K::CheckFailedPause
        )
    }

    /// The decision leaves the current step: an advance (the step ends
    /// when the next is entered), a rollback, or the rollout's end.
    pub fn ends_step(&self) -> bool {
        self.advances()
            || self.is_rollback()
            || matches!(self, K::Promoted | K::RolledBack | K::Failed)
    }

    /// A decision to move to the next step (or to 100 %).
    pub fn advances(&self) -> bool {
        matches!(
            self,
            K::AutoAdvance | K::Promote | K::PromoteFull | K::Approve
        )
    }

    /// The rollout's outcome: it ended promoted, rolled back, or failed.
    pub fn is_outcome(&self) -> bool {
        matches!(self, K::Promoted | K::RolledBack | K::Failed)
    }

    /// Someone watching came or went, rather than deciding.
    pub fn is_presence(&self) -> bool {
        matches!(
            self,
            K::OperatorAttached | K::OperatorDetached | K::ViewerAttached | K::ViewerDetached
        )
    }

    /// A hook started or finished.
    pub fn is_hook(&self) -> bool {
        matches!(self, K::HookStarted | K::HookResult | K::HookResultIgnored)
    }

    /// What a flood of attached views can repeat without end: the summary
    /// counts these past the first few of each person.
    pub fn is_repeatable_noise(&self) -> bool {
        matches!(
            self,
            K::Refused
                | K::ViewerAttached
                | K::ViewerDetached
                | K::HeldBack
                | K::ConnectionsRefused
        )
    }

    /// Worth a notification (chat, headless decision lines): what a person
    /// following the rollout wants to hear about.
    pub fn notifies(&self) -> bool {
        self.is_rollback()
            || self.is_pause()
            || self.advances()
            || matches!(
                self,
                K::RolloutStarted
                    | K::StepEntered
                    | K::AwaitingApproval
                    | K::Approval
                    | K::ObservationStarted
                    | K::Switched
                    | K::ScaledDown
                    | K::ApprovalExpired
                    | K::ApprovalsInvalidated
                    | K::Resume
                    | K::RolledBack
                    | K::Promoted
                    | K::Failed
            )
    }

    /// How a log shows it.
    pub fn severity(&self) -> Severity {
        if self.is_rollback() || matches!(self, K::Failed | K::RolledBack) {
            Severity::Breach
        } else if self.is_pause()
            || matches!(
                self,
                K::Refused
                    | K::DataHoldStarted
                    | K::WindowClosed
                    | K::FreezeException
                    | K::ApprovalExpired
                    | K::ApprovalsInvalidated
                    | K::ResumeMismatch
                    | K::HeldBack
                    | K::ConnectionsRefused
                    | K::OperatorDetached
                    | K::SecondExpired
                    | K::Recovered
                    | K::RecordingIncomplete
            )
        {
            Severity::Warning
        } else {
            Severity::Info
        }
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DecisionKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DecisionKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(DecisionKind::from_word(&word))
    }
}

/// The kind of a phase, as records and headless lines name it (the phase
/// without its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    Pending,
    Promoting,
    Holding,
    AwaitingApproval,
    Paused,
    /// At 100 %, watching the exit criteria before `Promoted`.
    Observing,
    Promoted,
    RollingBack,
    RolledBack,
    Failed,
    /// A word this version does not know (a newer journal).
    #[serde(other)]
    Unknown,
}

impl PhaseKind {
    /// The word in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Pending => "pending",
            PhaseKind::Promoting => "promoting",
            PhaseKind::Holding => "holding",
            PhaseKind::AwaitingApproval => "awaiting_approval",
            PhaseKind::Paused => "paused",
            PhaseKind::Observing => "observing",
            PhaseKind::Promoted => "promoted",
            PhaseKind::RollingBack => "rolling_back",
            PhaseKind::RolledBack => "rolled_back",
            PhaseKind::Failed => "failed",
            PhaseKind::Unknown => "unknown",
        }
    }

    /// The rollout is over in this phase (failed may still be rolled back).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PhaseKind::Promoted | PhaseKind::RolledBack | PhaseKind::Failed
        )
    }
}

impl fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_word_and_reads_back() {
        let mut words = std::collections::HashSet::new();
        for k in DecisionKind::ALL {
            assert!(words.insert(k.as_str().to_string()), "{k} twice");
            assert_eq!(DecisionKind::from_word(k.as_str()), k);
            let json = serde_json::to_string(&k).expect("json");
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            let back: DecisionKind = serde_json::from_str(&json).expect("back");
            assert_eq!(back, k);
        }
        let other: DecisionKind = serde_json::from_str("\"from_the_future\"").expect("other");
        assert_eq!(other, DecisionKind::Other("from_the_future".into()));
        assert_eq!(
            serde_json::to_string(&other).expect("json"),
            "\"from_the_future\""
        );
    }

    #[test]
    fn the_lists_that_disagreed_agree() {
        // The summary ended no step on a no-data rollback; the log did not
        // style it as a breach, nor a trigger pause as a warning.
        assert!(DecisionKind::NoDataRollback.ends_step());
        assert_eq!(DecisionKind::NoDataRollback.severity(), Severity::Breach);
        assert_eq!(DecisionKind::TriggerPause.severity(), Severity::Warning);
        assert!(DecisionKind::NoDataRollback.notifies());
        assert!(!DecisionKind::HookStarted.notifies());
    }

    #[test]
    fn exit_criteria_kinds_neither_roll_back_nor_end_a_step() {
        for k in [K::ObservationStarted, K::ExitCheck, K::ExitConfirmed] {
            assert!(!k.is_rollback() && !k.ends_step() && !k.is_outcome(), "{k}");
        }
        assert_eq!(
            DecisionKind::from_word("observation_started"),
            K::ObservationStarted
        );
        assert!(K::ObservationStarted.notifies());
        assert!(!K::ExitCheck.notifies());
    }

    #[test]
    fn a_lapsed_or_dropped_approval_is_a_warning_people_hear_of() {
        for k in [
            DecisionKind::ApprovalExpired,
            DecisionKind::ApprovalsInvalidated,
        ] {
            assert_eq!(k.severity(), Severity::Warning, "{k}");
            assert!(k.notifies(), "{k}");
            assert!(!k.advances() && !k.ends_step(), "{k}");
        }
        assert_eq!(DecisionKind::ApprovalExpired.as_str(), "approval_expired");
    }

    #[test]
    fn phase_kinds_read_their_words() {
        let p: PhaseKind = serde_json::from_str("\"awaiting_approval\"").expect("json");
        assert_eq!(p, PhaseKind::AwaitingApproval);
        let p: PhaseKind = serde_json::from_str("\"someday\"").expect("json");
        assert_eq!(p, PhaseKind::Unknown);
    }
}

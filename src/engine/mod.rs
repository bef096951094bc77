//! The pure rollout engine: phases, gates, series and decisions.
//!
//! No tokio, ratatui, crossterm, reqwest or `std::fs` here, and no clock:
//! [`Engine::handle`]`(input, now)` is the only way time passes. The driver
//! runs the returned [`Effect`]s in order; a `Journal` effect always comes
//! before the `RunHook` it explains, and must be fsynced first.
//!
//! # Phases
//!
//! ```text
//! Pending ─Start─► Promoting{0} ─hooks ok─► Holding{k} ─hold over, gates Pass─► Promoting{k+1} ...
//!                                            │  (manual step) ─► AwaitingApproval{k} ─Approve─► Promoting{k+1}
//!   last step done ─► Promoting{last} (set_weight 100, promote) ─► Promoted ─► on_finish
//!   any started phase ─Rollback / trigger / no-data rollback─► RollingBack ─ok─► RolledBack ─► on_finish
//!                                                                        └─fail─► Failed("ROLLBACK FAILED ...")
//! ```
//!
//! * **Entering step k**: `set_weight` (weight = step weight), `promote`, then
//!   each `on_step_enter` check, one at a time, each only if configured; each
//!   is `hook_started` + `RunHook`, then `hook_result`. The confirmed weight
//!   changes when `set_weight` succeeds (at once when there is none). All ok
//!   → `Holding{k}` (`step_entered`), the hold starts, the step's gates start
//!   over ("waiting for samples in this step"). A failed traffic hook →
//!   `Failed` (a human must act; only Rollback is accepted). A failed check →
//!   `Paused` by rampdeck (`check_failed_pause`, then the pause hook); Resume
//!   overrides the check and starts the step's hold then. Every automatic
//!   pause (trigger, no-data policy, failed check) runs the pause hook too,
//!   so the deploy tool stops where rampdeck stopped.
//! * **Full promotion** (after the last step, or `PromoteFull`):
//!   `set_weight(100)` if the weight is below 100, `promote`, then `Promoted`
//!   and `on_finish`. A pause is refused while it runs (roll back instead).
//! * **Rollback**: the `rollback` hook, else `set_weight(0)`; ok →
//!   `RolledBack` (weight 0) then `on_finish`; failed (the driver already
//!   retried) → `Failed{"ROLLBACK FAILED: manual action needed (...)"}` and
//!   `EngineView::rollback_failed` until a later rollback succeeds. A
//!   rollback wins over a step or full promotion in flight: the phase is
//!   `RollingBack` at once; the late result of the superseded hook is
//!   journaled as `hook_result_ignored`. With no rollback and no set_weight
//!   hook, rampdeck moves no traffic and says so in the `rolled_back` record.
//!
//! # Gates
//!
//! See [`gates`] for the math. Per canary sample of metric m: too few
//! samples in the step (`min_samples`) or too little canary traffic
//! (`min_traffic`, read from the traffic metric's latest canary value) is
//! `NoData` with a detail saying why; such values are not judged, so they
//! neither extend nor break a breach streak, and they are not polls without
//! data. `Reading::NoData` / `ProviderError` are polls without data: they
//! count toward the no-data policy and leave the breach streak as it is (a
//! flapping source does not hide a breaching canary). A value resets the
//! no-data count; a passing value resets the breach count. Baseline samples
//! only update the baseline (the last value is kept through baseline gaps).
//! Samples for unknown metrics are dropped.
//!
//! # Automatic decisions (all journaled as by `Actor::system()`)
//!
//! * Triggers and no-data policies act in `Promoting`, `Holding`,
//!   `AwaitingApproval` and `Paused` (not before the start, not once rolling
//!   back or ended). A rollback trigger fires when its metric's streak
//!   reaches `consecutive` (`trigger_rollback`); it wins over a pause trigger
//!   (`trigger_pause`). A no-data policy acts once `after` polls in a row had
//!   no data: `hold` never advances (the gate is not Pass), `pause` →
//!   `no_data_pause`, `rollback` → `no_data_rollback`. Pause actions do
//!   nothing while already paused or while the final promotion runs; after
//!   a Resume, the next breach (or poll without data) past the count pauses
//!   again.
//! * Samples that arrive before `Start` are recorded and judged (a breach
//!   streak may begin before the start) but nothing acts on them.
//! * Advance is checked on `Tick` and `Sample`: in `Holding{k}` with the hold
//!   over and every gate `Pass`, an auto step advances (`auto_advance`), a
//!   manual one becomes `AwaitingApproval{k}` (`awaiting_approval`). Paused
//!   never advances. With the operator detached and `unattended = hold`,
//!   nothing advances (`NextAction::HoldingUnattended`); triggers stay armed.
//!
//! # Commands
//!
//! Every command is journaled with actor and reason; an illegal one as
//! `refused` with why (the operator's reason goes in `detail`). While
//! `Pending` every command but Rollback is refused; Rollback is the kill
//! switch and is accepted from every phase except `RollingBack`,
//! `RolledBack` and `Promoted` ("already promoted; roll back with your
//! deploy tool"). From `Failed` only Rollback is accepted.
//! * Pause: Promoting / Holding / AwaitingApproval → Paused, then the pause
//!   hook (its failure is journaled; the rollout stays paused). A pause
//!   while a step is being entered lets that step's hooks finish; its hold
//!   then runs while paused.
//! * Resume: Paused → Holding of the same step (Promoting if its hooks still
//!   run), then the resume hook; the hold keeps its start unless the pause
//!   came from a failed check.
//! * Promote: Holding / AwaitingApproval / Paused → next step (or full
//!   promotion from the last), overriding gates and hold; the record lists
//!   what was overridden. PromoteFull: same phases → full promotion.
//! * Approve: only AwaitingApproval with every gate passing; in Holding it
//!   is refused with the hold left ("hold not over yet: 01:20 left; use
//!   promote to skip") or the failing gates. A step with `approvals`
//!   (N of M, `approvals.rs`) records each eligible approval and advances
//!   only at `count` fresh ones; Promote and PromoteFull are refused
//!   while they would skip required approvals.
//!
//! # Records
//!
//! A record's `phase` is the phase once the decision took effect (for a
//! refusal: unchanged); command records name the phase they left in
//! `detail.from`. `weight` is the confirmed weight at that moment.
//! Hook results with an unknown id are journaled (`hook_result_ignored`)
//! and change nothing.

pub mod analysis;
pub mod approvals;
pub mod chain;
pub mod checklist;
mod commands;
pub mod decision;
pub mod exit;
pub mod gates;
pub mod kind;
mod moves;
mod next;
pub mod preflight;
pub mod reason;
pub mod resume;
pub mod rollout;
mod samples;
pub mod series;
pub mod strategy;
#[cfg(test)]
mod testing;
pub mod types;
mod view;
pub mod window;
pub mod windowed;
pub mod words;

pub use rollout::Engine;
pub use types::*;

//! Checklists (issue 13): the pre-flight before the ramp and the exit
//! criteria's items after it. Each item is manual (a person confirms it,
//! with a note) or automatic (a `check`: an argv command or an HTTP probe,
//! which the driver runs when the engine asks with
//! [`Effect::RunCheck`](super::Effect::RunCheck), answering with
//! [`Input::CheckResult`](super::Input::CheckResult)). Every result and
//! confirmation is journaled with who gave it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollout::Engine;
use super::types::{Actor, DecisionKind, Effect, Phase, Refusal};

/// Which checklist an item belongs to: the pre-flight before the ramp, or
/// the exit criteria after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Preflight,
    Exit,
}

impl Stage {
    /// How people name the list: "pre-flight", "exit".
    pub fn word(self) -> &'static str {
        match self {
            Stage::Preflight => "pre-flight",
            Stage::Exit => "exit",
        }
    }
}

/// Characters of a check's output kept in its record and view.
pub const SUMMARY_CHARS: usize = 500;

/// One checklist item: a manual one a person confirms, or an automatic one
/// whose `check` must pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The ramp cannot start (pre-flight), or the rollout cannot be
    /// promoted (exit), until it is done (default true).
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// An automatic check: an argv (no shell) or an HTTP GET, with a timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The argv to run; passes when it exits 0. Empty for a probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The HTTP probe, instead of a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    #[serde(with = "crate::plan::duration_ms")]
    pub timeout: Duration,
}

/// `check = { http = "https://…/healthz", status = 200 }`: a GET that
/// passes on `status` (any 2xx when none is given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpProbe {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl HttpProbe {
    /// Whether an answer with `status` passes.
    pub fn passes(&self, status: u16) -> bool {
        match self.status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        }
    }
}

impl Check {
    /// What the check runs, in words: `./check.sh --strict` or `GET https://…`.
    pub fn describe(&self) -> String {
        match &self.http {
            Some(p) => match p.status {
                Some(s) => format!("GET {} (expects {s})", p.url),
                None => format!("GET {}", p.url),
            },
            None => self.command.join(" "),
        }
    }
}

/// Where one item stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    /// The automatic check is running.
    Running,
    /// The automatic check passed; the start of its output.
    Passed {
        summary: String,
    },
    /// The automatic check failed; the start of its output.
    Failed {
        summary: String,
    },
    /// A person confirmed the manual item.
    Confirmed {
        by: String,
        note: String,
    },
}

/// One item as views show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub required: bool,
    pub automatic: bool,
    /// What the automatic check runs, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    pub state: ItemState,
}

impl ItemView {
    /// Passed or confirmed.
    pub fn done(&self) -> bool {
        matches!(
            self.state,
            ItemState::Passed { .. } | ItemState::Confirmed { .. }
        )
    }

    /// `"title" (why it is not done)`.
    pub fn missing_line(&self) -> String {
        let why = match (&self.state, self.automatic) {
            (ItemState::Failed { .. }, _) => "check failed",
            (ItemState::Running, _) => "check running",
            (_, true) => "check not run",
            (_, false) => "manual, not confirmed",
        };
        format!("\"{}\" ({why})", self.title)
    }

    /// The word for its state: "passed", "FAILED", "confirmed by bob", …
    pub fn state_word(&self) -> String {
        match &self.state {
            ItemState::Pending if self.automatic => "not run".into(),
            ItemState::Pending => "to confirm".into(),
            ItemState::Running => "running".into(),
            ItemState::Passed { .. } => "passed".into(),
            ItemState::Failed { .. } => "FAILED".into(),
            ItemState::Confirmed { by, .. } => format!("confirmed by {by}"),
        }
    }
}

/// One stage's items, in the plan's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Checklist {
    stage: Stage,
    items: Vec<ItemView>,
}

impl Checklist {
    pub fn of(stage: Stage, items: &[ChecklistItem]) -> Checklist {
        let items = items
            .iter()
            .map(|i| ItemView {
                automatic: i.check.is_some(),
                check: i.check.as_ref().map(Check::describe),
                title: i.title.clone(),
                owner: i.owner.clone(),
                required: i.required,
                state: ItemState::Pending,
            })
            .collect();
        Checklist { stage, items }
    }

    pub fn views(&self) -> &[ItemView] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The titles of the required items not done yet.
    pub fn missing_titles(&self) -> Vec<String> {
        self.missing().map(|i| i.title.clone()).collect()
    }

    /// The required items not done yet.
    pub fn missing(&self) -> impl Iterator<Item = &ItemView> {
        self.items.iter().filter(|i| i.required && !i.done())
    }

    /// No automatic check is running.
    pub fn settled(&self) -> bool {
        !self.items.iter().any(|i| i.state == ItemState::Running)
    }

    /// Restores an item's state (a resume reading its journal).
    pub(super) fn set(&mut self, item: usize, state: ItemState) {
        if let Some(i) = self.items.get_mut(item) {
            i.state = state;
        }
    }
}

/// The first [`SUMMARY_CHARS`] characters of `text`.
fn bounded(text: &str) -> String {
    let mut s: String = text.chars().take(SUMMARY_CHARS).collect();
    if text.chars().nth(SUMMARY_CHARS).is_some() {
        s.push('…');
    }
    s
}

impl Engine {
    pub(super) fn list(&self, stage: Stage) -> &Checklist {
        match stage {
            Stage::Preflight => &self.preflight,
            Stage::Exit => &self.exit_items,
        }
    }

    fn list_mut(&mut self, stage: Stage) -> &mut Checklist {
        match stage {
            Stage::Preflight => &mut self.preflight,
            Stage::Exit => &mut self.exit_items,
        }
    }

    /// The checklist people work on now: the pre-flight before the start,
    /// the exit items while observing at 100 % (none in between, or when
    /// the plan has no items).
    pub fn checklist_on_screen(&self) -> Option<Stage> {
        match self.phase {
            Phase::Pending if !self.preflight.is_empty() => Some(Stage::Preflight),
            Phase::Observing { .. } if !self.exit_items.is_empty() => Some(Stage::Exit),
            _ => None,
        }
    }

    /// Every item of `stage` and where it stands.
    pub fn checklist(&self, stage: Stage) -> &[ItemView] {
        self.list(stage).views()
    }

    /// Whether `stage`'s checks can run now: the pre-flight's before the
    /// start, the exit's while observing.
    fn checks_open(&self, stage: Stage) -> Result<(), String> {
        match (stage, &self.phase) {
            (Stage::Preflight, Phase::Pending) | (Stage::Exit, Phase::Observing { .. }) => Ok(()),
            (Stage::Preflight, _) => Err("the rollout has started: pre-flight is over".into()),
            (Stage::Exit, _) => {
                Err("exit checks run once the rollout is at 100 % and observing".into())
            }
        }
    }

    /// Whether `actor` may confirm item `item` of `stage` now (`None`: every
    /// manual item), or why not. Views ask before offering the key; the
    /// engine applies the same rule to `Input::Confirm`.
    pub fn confirmable(
        &self,
        stage: Stage,
        item: Option<usize>,
        actor: &Actor,
    ) -> Result<(), Refusal> {
        let refuse = |why: String| Err(Refusal(why));
        if actor.user.trim().is_empty() {
            return refuse("a confirmation needs a name".into());
        }
        let open = match (stage, &self.phase) {
            (Stage::Preflight, Phase::Pending) => true,
            // Hand-off items may be ticked as soon as they are done.
            (Stage::Exit, p) => {
                !matches!(p, Phase::Pending) && !p.is_terminal() && !matches!(p, Phase::RollingBack)
            }
            _ => false,
        };
        if !open {
            return refuse(format!(
                "{} items cannot be confirmed now (phase: {})",
                stage.word(),
                super::words::phase_in_text(&self.phase)
            ));
        }
        let items = self.list(stage).views();
        match item {
            None if items.iter().any(|i| !i.automatic) => Ok(()),
            None => refuse(format!("the plan has no manual {} items", stage.word())),
            Some(k) => match items.get(k) {
                None => refuse(format!("no {} item {}", stage.word(), k + 1)),
                Some(i) if i.automatic => refuse(format!(
                    "\"{}\" is an automatic check: it passes by running it (r), not by a tick",
                    i.title
                )),
                Some(i) if i.done() => {
                    refuse(format!("\"{}\" is already {}", i.title, i.state_word()))
                }
                Some(_) => Ok(()),
            },
        }
    }

    /// Mark `stage`'s automatic checks running (all not running, or the one
    /// at `item`) and ask the driver to run them.
    pub(super) fn on_run_checks(
        &mut self,
        stage: Stage,
        item: Option<usize>,
        out: &mut Vec<Effect>,
    ) {
        if self.checks_open(stage).is_err() {
            return;
        }
        let list = self.list_mut(stage);
        for (k, i) in list.items.iter_mut().enumerate() {
            let wanted = item.is_none_or(|want| want == k);
            if wanted && i.automatic && i.state != ItemState::Running {
                i.state = ItemState::Running;
                out.push(Effect::RunCheck { stage, item: k });
            }
        }
    }

    /// An automatic check's result.
    pub(super) fn on_check_result(
        &mut self,
        stage: Stage,
        item: usize,
        ok: bool,
        summary: &str,
        out: &mut Vec<Effect>,
    ) {
        let system = Actor::system();
        let summary = bounded(summary);
        let kind = match stage {
            Stage::Preflight => DecisionKind::PreflightCheck,
            Stage::Exit => DecisionKind::ExitCheck,
        };
        let list = self.list(stage);
        let title = list.items.get(item).map(|i| i.title.clone());
        let detail = json!({ "item": item, "title": title, "ok": ok, "output": summary });
        let automatic = list.items.get(item).is_some_and(|i| i.automatic);
        if let (false, _) | (_, Err(_)) = (automatic, self.checks_open(stage)) {
            let why = format!(
                "{} result for item {item} ignored: no automatic check is pending there",
                stage.word()
            );
            self.journal(out, DecisionKind::Refused, &system, why, detail);
            return;
        }
        let (state, word) = if ok {
            (ItemState::Passed { summary }, "passed")
        } else {
            (ItemState::Failed { summary }, "failed")
        };
        self.list_mut(stage).set(item, state);
        let reason = format!(
            "{} check {word}: {}",
            stage.word(),
            title.unwrap_or_default()
        );
        self.journal(out, kind, &system, reason, detail);
    }

    /// `actor` confirms item `item` of `stage` (every manual one when
    /// `None`), with `reason` as the note.
    pub(super) fn on_confirm(
        &mut self,
        stage: Stage,
        item: Option<usize>,
        actor: &Actor,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        let note = super::reason::clean_reason(reason);
        let picked: Vec<usize> = (0..self.list(stage).items.len())
            .filter(|&k| item.is_none_or(|want| want == k))
            .filter(|&k| !self.list(stage).items[k].automatic)
            .collect();
        let titles: Vec<String> = picked
            .iter()
            .map(|&k| self.list(stage).items[k].title.clone())
            .collect();
        let detail = json!({ "items": titles, "note": note });
        if let Err(why) = self.confirmable(stage, item, actor) {
            let why = format!("{} confirmation refused: {why}", stage.word());
            self.journal(out, DecisionKind::Refused, actor, why, detail);
            return;
        }
        for &k in &picked {
            self.list_mut(stage).set(
                k,
                ItemState::Confirmed {
                    by: actor.user.clone(),
                    note: note.clone(),
                },
            );
        }
        let kind = match stage {
            Stage::Preflight => DecisionKind::PreflightConfirmed,
            Stage::Exit => DecisionKind::ExitConfirmed,
        };
        let reason = format!(
            "{} confirmed by {}: {}",
            stage.word(),
            actor.user,
            titles.join(", ")
        );
        self.journal(out, kind, actor, reason, detail);
    }
}

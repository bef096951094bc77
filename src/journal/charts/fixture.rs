//! Recorded rollouts for the charts' tests and benchmark: the real engine
//! driven through inputs, its journal written by the real writer from the
//! decisions it returns, and every input kept as a recording (gzipped,
//! where a finished rollout's recording lies).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{
    Actor, Cohort, Command, Effect, Engine, HookCall, HookOutcome, Input, Reading,
};
use crate::journal::JournalWriter;
use crate::plan::Plan;
use crate::recording::{Entry, Header, Recording, finished_path, format};
use crate::tui::fixtures::{T0, at, readings};

/// A rollout being driven and recorded.
pub struct Rec {
    pub engine: Engine,
    journal: JournalWriter,
    pub path: PathBuf,
    hooks: Vec<HookCall>,
    rec: Recording,
}

impl Rec {
    /// Journal `<dir>/<id>.jsonl`, recording beside it; the rollout
    /// starts (by alice) at [`T0`].
    pub fn new(dir: &Path, id: &str, plan: Plan) -> Result<Rec, String> {
        let path = dir.join(format!("{id}.jsonl"));
        let journal = JournalWriter::create(&path, id).map_err(|e| e.to_string())?;
        let header = Header {
            recording: format::FORMAT,
            rollout_id: id.into(),
            plan_hash: crate::engine::decision::plan_hash(&plan),
            plan: plan.clone(),
            started: T0,
        };
        let mut r = Rec {
            engine: Engine::new(Arc::new(plan)),
            journal,
            path,
            hooks: Vec::new(),
            rec: Recording {
                header,
                entries: Vec::new(),
            },
        };
        r.input(
            0,
            Input::Start {
                actor: Actor::named("alice"),
            },
        );
        r.hooks_done(0);
        Ok(r)
    }

    /// `input` at second `t`: recorded, handed to the engine, its
    /// decisions journaled.
    pub fn input(&mut self, t: i64, input: Input) {
        let now = at(t);
        let metric = match &input {
            Input::Sample { metric, .. } => Some(metric.clone()),
            _ => None,
        };
        let entry = input.clone();
        for e in self.engine.handle(input, now) {
            match e {
                Effect::Journal(d) => {
                    // A fixture whose journal cannot be written is a bug
                    // of the test machine: say so loudly.
                    if let Err(e) = self.journal.append(now, &d) {
                        panic!("fixture journal: {e}");
                    }
                }
                Effect::RunHook(call) => self.hooks.push(call),
                Effect::Notify(_) | Effect::RunCheck { .. } => {}
            }
        }
        let verdict = metric.and_then(|m| {
            self.engine
                .gate_statuses()
                .into_iter()
                .find(|g| g.metric == m)
                .map(|g| g.verdict)
        });
        self.rec.entries.push(Entry {
            t: now,
            input: entry,
            verdict,
        });
    }

    pub fn command(&mut self, t: i64, command: Command, who: &str, reason: &str) {
        let input = Input::Command {
            command,
            actor: Actor::named(who),
            reason: reason.into(),
        };
        self.input(t, input);
        self.hooks_done(t);
    }

    /// Every hook asked for succeeds at second `t`.
    pub fn hooks_done(&mut self, t: i64) {
        while !self.hooks.is_empty() {
            for call in std::mem::take(&mut self.hooks) {
                let outcome = HookOutcome::succeeded("exit 0");
                self.input(
                    t,
                    Input::HookResult {
                        id: call.id,
                        outcome,
                    },
                );
            }
        }
    }

    /// One reading of `metric` for `cohort` at second `t`.
    pub fn sample(&mut self, t: i64, metric: &str, cohort: Cohort, reading: Reading) {
        let input = Input::Sample {
            metric: metric.into(),
            cohort,
            reading,
        };
        self.input(t, input);
    }

    /// Ends the recording: written gzipped where a finished rollout's
    /// recording lies. Returns the journal's path.
    pub fn finish(self) -> Result<PathBuf, String> {
        let out = finished_path(&self.path);
        let file = std::fs::File::create(&out).map_err(|e| e.to_string())?;
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        format::write(&self.rec, &mut gz).map_err(|e| e.to_string())?;
        gz.finish().map_err(|e| e.to_string())?;
        Ok(self.path)
    }
}

/// How [`checkout`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The error ratio breaches at 1120 s; the `errors` trigger rolls back.
    RolledBack,
    /// Every step passes; at 100 % the baseline is frozen; promoted.
    Promoted,
}

/// The cockpit fixtures' plan (`checkout`, 4 metrics, a 2-breach
/// rollback trigger on the error ratio), polled every second: a pause and
/// resume by alice at 200 s, Prometheus down for 4 s at 400 s (a gap in
/// three charts), bob's approval of the 25 % step at 961 s, then
/// `ending`.
pub fn checkout(dir: &Path, ending: Ending) -> Result<PathBuf, String> {
    let plan = crate::tui::fixtures::plan();
    let mut r = Rec::new(dir, "checkout-fx", plan)?;
    let (last, breach_from) = match ending {
        Ending::RolledBack => (1122, 1120),
        Ending::Promoted => (1900, i64::MAX),
    };
    for t in 0..last {
        if t == 200 {
            r.command(t, Command::Pause, "alice", "checking a latency blip");
        }
        if t == 215 {
            r.command(t, Command::Resume, "alice", "blip was a batch job");
        }
        if t == 961 {
            r.command(t, Command::Approve, "bob", "dashboards look clean");
        }
        poll(&mut r, t, t >= breach_from, (400..404).contains(&t));
        r.hooks_done(t);
    }
    r.hooks_done(last + 1);
    r.input(last + 2, Input::Tick);
    r.finish()
}

/// One poll of every metric of the fixtures' plan.
fn poll(r: &mut Rec, t: i64, breach: bool, prom_down: bool) {
    let weight = r.engine.view(at(t)).weight;
    for (metric, cohort, reading) in readings(t, weight, breach, prom_down) {
        r.sample(t, metric, cohort, reading);
    }
    r.input(t, Input::Tick);
}

//! Hook sequencing, as a value the engine owns. Moving the rollout
//! (entering a step, promoting to full, rolling back) is a chain of hooks
//! run one at a time; pause, resume and on_finish hooks are "side" hooks
//! whose result changes no phase. [`HookChain`] knows which hook runs, which
//! come next, and what a result that comes back belongs to; the engine
//! (`engine/moves.rs`) journals and changes the phase from its answers.

use std::collections::{BTreeMap, VecDeque};

use crate::plan::{HookKind, Hooks};

use super::types::{Actor, HookCall};

/// What a chain achieves when all its hooks succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Enter(usize),
    Full,
    Rollback,
}

/// One hook a chain will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub kind: HookKind,
    /// Which `on_step_enter` check (0 for the others).
    pub index: usize,
    pub weight: u8,
}

impl Planned {
    fn new(kind: HookKind, weight: u8) -> Planned {
        Planned {
            kind,
            index: 0,
            weight,
        }
    }

    /// Entering a step at `weight`: set_weight (the `switch` hook at 100 %
    /// when the plan has one: blue-green), promote, then each
    /// on_step_enter check (those configured).
    pub fn enter(hooks: &Hooks, weight: u8) -> VecDeque<Planned> {
        let mut queue = VecDeque::new();
        if weight == 100 && hooks.switch.is_some() {
            queue.push_back(Planned::new(HookKind::Switch, 100));
        } else if hooks.set_weight.is_some() {
            queue.push_back(Planned::new(HookKind::SetWeight, weight));
        }
        if hooks.promote.is_some() {
            queue.push_back(Planned::new(HookKind::Promote, weight));
        }
        for index in 0..hooks.on_step_enter.len() {
            queue.push_back(Planned {
                kind: HookKind::OnStepEnter,
                index,
                weight,
            });
        }
        queue
    }

    /// The full promotion from `weight`: set_weight(100) when below 100,
    /// then promote.
    pub fn full(hooks: &Hooks, weight: u8) -> VecDeque<Planned> {
        let mut queue = VecDeque::new();
        if weight < 100 && hooks.switch.is_some() {
            queue.push_back(Planned::new(HookKind::Switch, 100));
        } else if weight < 100 && hooks.set_weight.is_some() {
            queue.push_back(Planned::new(HookKind::SetWeight, 100));
        }
        if hooks.promote.is_some() {
            queue.push_back(Planned::new(HookKind::Promote, 100));
        }
        queue
    }

    /// A rollback: the rollback hook, else set_weight(0), else nothing
    /// (the deploy tool moves traffic on its own). Once a blue-green
    /// rollout's old stack is scaled down (`redeploy`), the redeploy hook.
    pub fn rollback(hooks: &Hooks, redeploy: bool) -> VecDeque<Planned> {
        let kind = if redeploy {
            match hooks.redeploy {
                Some(_) => HookKind::Redeploy,
                None => return VecDeque::new(),
            }
        } else if hooks.rollback.is_some() {
            HookKind::Rollback
        } else if hooks.set_weight.is_some() {
            HookKind::SetWeight
        } else {
            return VecDeque::new();
        };
        VecDeque::from([Planned::new(kind, 0)])
    }

    /// After a resume: the idempotent set_weight at the confirmed weight.
    pub fn reassert(weight: u8) -> VecDeque<Planned> {
        VecDeque::from([Planned::new(HookKind::SetWeight, weight)])
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Chain {
    goal: Goal,
    queue: VecDeque<Planned>,
    /// The id of the chain's hook now running.
    current: Option<u64>,
    actor: Actor,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Part of the current chain.
    Chain,
    /// pause / resume / on_finish.
    Side,
    /// Was part of a chain another replaced: its result is ignored.
    Superseded,
}

/// What comes next in the chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Run this hook (journal `hook_started` first).
    Run(HookCall),
    /// Every hook succeeded: the goal is reached.
    Done(Goal),
    /// The chain's current hook is still running, or there is no chain.
    Wait,
}

/// What a hook result that came back belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// No hook with this id is running.
    Unknown,
    /// A hook of a chain another one replaced: its result changes nothing.
    Superseded(HookCall),
    /// A pause, resume or on_finish hook.
    Side(HookCall),
    /// The running hook of the current chain toward `goal`; after a
    /// success, [`HookChain::next`] says what follows; after a failure the
    /// chain is over.
    Chain(HookCall, Goal),
}

/// The hook chain and every hook in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct HookChain {
    chain: Option<Chain>,
    in_flight: BTreeMap<u64, (HookCall, Role)>,
    next_id: u64,
}

impl Default for HookChain {
    fn default() -> Self {
        HookChain {
            chain: None,
            in_flight: BTreeMap::new(),
            next_id: 1,
        }
    }
}

impl HookChain {
    /// Start a chain toward `goal`. It replaces any chain in flight: that
    /// chain's running hook is superseded, its late result ignored.
    pub fn begin(&mut self, goal: Goal, queue: VecDeque<Planned>, actor: &Actor, reason: String) {
        if let Some(old) = self.chain.take()
            && let Some(id) = old.current
            && let Some(f) = self.in_flight.get_mut(&id)
        {
            f.1 = Role::Superseded;
        }
        self.chain = Some(Chain {
            goal,
            queue,
            current: None,
            actor: actor.clone(),
            reason,
        });
    }

    /// The chain's next hook at `step`, or its end.
    pub fn next(&mut self, step: usize) -> Next {
        let Some(chain) = self.chain.as_mut() else {
            return Next::Wait;
        };
        if chain.current.is_some() {
            return Next::Wait;
        }
        let Some(p) = chain.queue.pop_front() else {
            let goal = chain.goal;
            self.chain = None;
            return Next::Done(goal);
        };
        let (actor, reason) = (chain.actor.clone(), chain.reason.clone());
        let call = self.call(p, step, actor, reason, Role::Chain);
        if let Some(chain) = self.chain.as_mut() {
            chain.current = Some(call.id);
        }
        Next::Run(call)
    }

    /// A side hook (pause, resume, on_finish) to run now.
    pub fn side(
        &mut self,
        kind: HookKind,
        step: usize,
        weight: u8,
        actor: &Actor,
        reason: String,
    ) -> HookCall {
        let p = Planned::new(kind, weight);
        self.call(p, step, actor.clone(), reason, Role::Side)
    }

    fn call(
        &mut self,
        p: Planned,
        step: usize,
        actor: Actor,
        reason: String,
        role: Role,
    ) -> HookCall {
        let id = self.next_id;
        self.next_id += 1;
        let call = HookCall {
            id,
            kind: p.kind,
            index: p.index,
            step,
            weight: p.weight,
            actor,
            reason,
        };
        self.in_flight.insert(id, (call.clone(), role));
        call
    }

    /// Hook `id` came back (`ok` or not): whose it was. A failure of the
    /// current chain's hook ends the chain.
    pub fn answer(&mut self, id: u64, ok: bool) -> Answer {
        let Some((call, role)) = self.in_flight.remove(&id) else {
            return Answer::Unknown;
        };
        let current = self.chain.as_ref().and_then(|c| c.current);
        match role {
            Role::Side => Answer::Side(call),
            Role::Chain if current == Some(id) => {
                let Some(chain) = self.chain.as_mut() else {
                    return Answer::Superseded(call);
                };
                let goal = chain.goal;
                if ok {
                    chain.current = None;
                } else {
                    self.chain = None;
                }
                Answer::Chain(call, goal)
            }
            Role::Chain | Role::Superseded => Answer::Superseded(call),
        }
    }

    /// The goal of the chain in flight.
    pub fn goal(&self) -> Option<Goal> {
        self.chain.as_ref().map(|c| c.goal)
    }

    /// The kind of the chain hook now running, else any side hook's.
    pub fn running(&self) -> Option<HookKind> {
        self.chain_hook().or_else(|| {
            self.in_flight
                .values()
                .find(|(_, role)| *role == Role::Side)
                .map(|(call, _)| call.kind)
        })
    }

    /// The chain hook now running, if any.
    pub fn chain_hook(&self) -> Option<HookKind> {
        let id = self.chain.as_ref()?.current?;
        self.in_flight.get(&id).map(|(call, _)| call.kind)
    }

    /// Ids handed out continue after `max` (a resumed journal's last).
    pub fn continue_after(&mut self, max: u64) {
        self.next_id = self.next_id.max(max + 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::{Hook, HookAction};

    fn hook() -> Option<Hook> {
        Some(Hook {
            action: HookAction::Command(vec!["true".into()]),
            timeout: Duration::from_secs(1),
            retries: 0,
            idempotent: true,
        })
    }

    fn kinds(q: &VecDeque<Planned>) -> Vec<(HookKind, u8)> {
        q.iter().map(|p| (p.kind, p.weight)).collect()
    }

    fn run(next: Next) -> HookCall {
        match next {
            Next::Run(call) => call,
            other => panic!("expected a hook to run, got {other:?}"),
        }
    }

    #[test]
    fn plans_follow_the_configured_hooks() {
        let mut hooks = Hooks::default();
        assert!(Planned::enter(&hooks, 25).is_empty());
        assert!(Planned::rollback(&hooks, false).is_empty());
        hooks.set_weight = hook();
        hooks.promote = hook();
        hooks.on_step_enter = vec![hook().unwrap(), hook().unwrap()];
        let enter = Planned::enter(&hooks, 25);
        assert_eq!(
            kinds(&enter),
            vec![
                (HookKind::SetWeight, 25),
                (HookKind::Promote, 25),
                (HookKind::OnStepEnter, 25),
                (HookKind::OnStepEnter, 25)
            ]
        );
        assert_eq!(enter[3].index, 1);
        assert_eq!(
            kinds(&Planned::full(&hooks, 50)),
            vec![(HookKind::SetWeight, 100), (HookKind::Promote, 100)]
        );
        assert_eq!(
            kinds(&Planned::full(&hooks, 100)),
            vec![(HookKind::Promote, 100)]
        );
        assert_eq!(
            kinds(&Planned::rollback(&hooks, false)),
            vec![(HookKind::SetWeight, 0)]
        );
        hooks.rollback = hook();
        assert_eq!(
            kinds(&Planned::rollback(&hooks, false)),
            vec![(HookKind::Rollback, 0)]
        );
        assert_eq!(
            kinds(&Planned::reassert(25)),
            vec![(HookKind::SetWeight, 25)]
        );
    }

    #[test]
    fn a_chain_runs_its_hooks_one_at_a_time_then_reaches_its_goal() {
        let mut c = HookChain::default();
        assert_eq!(c.next(0), Next::Wait, "no chain, nothing to run");
        let queue = VecDeque::from([
            Planned::new(HookKind::SetWeight, 25),
            Planned::new(HookKind::Promote, 25),
        ]);
        c.begin(Goal::Enter(2), queue, &Actor::named("alice"), "go".into());
        let first = run(c.next(2));
        assert_eq!(
            (first.kind, first.step, first.weight),
            (HookKind::SetWeight, 2, 25)
        );
        assert_eq!(c.next(2), Next::Wait, "one at a time");
        assert_eq!(c.chain_hook(), Some(HookKind::SetWeight));
        assert_eq!(
            c.answer(first.id, true),
            Answer::Chain(first, Goal::Enter(2))
        );
        let second = run(c.next(2));
        assert_eq!(second.kind, HookKind::Promote);
        assert_eq!(
            c.answer(second.id, true),
            Answer::Chain(second, Goal::Enter(2))
        );
        assert_eq!(c.next(2), Next::Done(Goal::Enter(2)));
        assert_eq!(c.goal(), None);
        assert_eq!(c.answer(99, true), Answer::Unknown);
    }

    #[test]
    fn a_failure_ends_the_chain() {
        let mut c = HookChain::default();
        let queue = Planned::reassert(5);
        c.begin(Goal::Enter(1), queue, &Actor::system(), String::new());
        let call = run(c.next(1));
        assert_eq!(
            c.answer(call.id, false),
            Answer::Chain(call, Goal::Enter(1))
        );
        assert_eq!(c.goal(), None);
        assert_eq!(c.next(1), Next::Wait);
    }

    #[test]
    fn a_new_chain_supersedes_the_running_hook_and_side_hooks_stand_apart() {
        let mut c = HookChain::default();
        let promote = VecDeque::from([Planned::new(HookKind::Promote, 100)]);
        c.begin(Goal::Full, promote, &Actor::named("alice"), "ship".into());
        let running = run(c.next(3));
        let pause = c.side(HookKind::Pause, 3, 50, &Actor::named("bob"), "look".into());
        assert_ne!(pause.id, running.id);
        let back = VecDeque::from([Planned::new(HookKind::Rollback, 0)]);
        c.begin(Goal::Rollback, back, &Actor::system(), "breach".into());
        assert_eq!(
            c.running(),
            Some(HookKind::Pause),
            "the side hook still runs"
        );
        let rollback = run(c.next(3));
        assert_eq!(c.running(), Some(HookKind::Rollback));
        // The promote's late result belongs to no chain any more.
        assert_eq!(c.answer(running.id, true), Answer::Superseded(running));
        assert_eq!(c.answer(pause.id, true), Answer::Side(pause));
        assert_eq!(
            c.answer(rollback.id, true),
            Answer::Chain(rollback, Goal::Rollback)
        );
        assert_eq!(c.next(3), Next::Done(Goal::Rollback));
    }

    #[test]
    fn ids_continue_after_a_resumed_journal() {
        let mut c = HookChain::default();
        c.continue_after(41);
        let call = c.side(HookKind::Resume, 0, 5, &Actor::system(), String::new());
        assert_eq!(call.id, 42);
    }
}

//! The one list of placeholders, and which templates may use which.

use std::fmt;

/// A value rampdeck puts into a template. This is the only list: the
/// config's checks, expansion, the hook environment and the messages that
/// name the allowed placeholders all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{service}`: the service name, a DNS label.
    Service,
    /// `{cohort}`: `canary` or `baseline` (metric templates).
    Cohort,
    /// `{rollout_id}`: the rollout id (hooks).
    RolloutId,
    /// `{step}`: the step index, 0-based (hooks).
    Step,
    /// `{weight}`: the traffic weight in percent (hooks).
    Weight,
    /// `{actor}`: who caused the action (hooks).
    Actor,
    /// `{reason}`: the reason given, free text (hooks).
    Reason,
    /// `{batch}`: the step's number, 1-based: a rolling plan's batch (hooks).
    Batch,
    /// `{instances}`: a rolling plan's instances on the new version once
    /// the step's batch is done; 0 for other strategies (hooks).
    Instances,
    /// `{cohort_name}`: the cohort the current step targets (`beta`),
    /// empty when it names none (hooks, and metric templates: the pollers
    /// ask again when the step changes).
    CohortName,
}

impl Placeholder {
    /// Every placeholder, in the order messages and the hook environment
    /// list them.
    pub const ALL: [Placeholder; 10] = [
        Placeholder::Service,
        Placeholder::Cohort,
        Placeholder::RolloutId,
        Placeholder::Step,
        Placeholder::Weight,
        Placeholder::Actor,
        Placeholder::Reason,
        Placeholder::Batch,
        Placeholder::Instances,
        Placeholder::CohortName,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Service => "service",
            Placeholder::Cohort => "cohort",
            Placeholder::RolloutId => "rollout_id",
            Placeholder::Step => "step",
            Placeholder::Weight => "weight",
            Placeholder::Actor => "actor",
            Placeholder::Reason => "reason",
            Placeholder::Batch => "batch",
            Placeholder::Instances => "instances",
            Placeholder::CohortName => "cohort_name",
        }
    }

    /// The placeholder called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether templates of `context` may use this placeholder.
    pub fn allowed_in(self, context: Context) -> bool {
        match self {
            Placeholder::Service => true,
            Placeholder::Cohort => context == Context::Metric,
            Placeholder::RolloutId
            | Placeholder::Step
            | Placeholder::Weight
            | Placeholder::Actor
            | Placeholder::Reason
            | Placeholder::Batch
            | Placeholder::Instances => context == Context::Hook,
            Placeholder::CohortName => true,
        }
    }
}

impl fmt::Display for Placeholder {
    /// As written in a template: `{service}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// Where a template is used, which decides the placeholders it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A metric's PromQL query, JSON pointer or argv, and a baseline query:
    /// `{service}`, `{cohort}` and `{cohort_name}`.
    Metric,
    /// A hook's argv, webhook URL, body and headers: `{service}`,
    /// `{rollout_id}`, `{step}`, `{weight}`, `{actor}`, `{reason}`,
    /// `{batch}`, `{instances}`, `{cohort_name}`.
    Hook,
}

impl Context {
    /// The placeholders this context allows, in [`Placeholder::ALL`] order.
    pub fn placeholders(self) -> impl Iterator<Item = Placeholder> {
        Placeholder::ALL
            .into_iter()
            .filter(move |p| p.allowed_in(self))
    }

    /// Whether a `{name}` that is not an allowed placeholder is taken for a
    /// mistyped one (and refused) rather than for text. In hooks every
    /// name is, so `{weigth}` never reaches a deployment system. In metric
    /// templates names starting with a digit are text: `{2}` in a PromQL
    /// regex matcher is a repetition.
    pub fn claims(self, name: &str) -> bool {
        match self {
            Context::Hook => true,
            Context::Metric => name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
        }
    }

    /// The allowed placeholders as a sentence: `{service} or {cohort}`.
    pub fn alternatives(self) -> String {
        let all: Vec<String> = self.placeholders().map(|p| p.to_string()).collect();
        match all.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => String::new(),
        }
    }

    /// The allowed placeholders separated by spaces: `{service} {cohort}`.
    pub fn listing(self) -> String {
        let all: Vec<String> = self.placeholders().map(|p| p.to_string()).collect();
        all.join(" ")
    }
}

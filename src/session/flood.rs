//! Bounds on what attached views can make the driver journal. Pure: time
//! comes in as a value.
//!
//! A person's refused commands, and their views coming and going, are
//! journaled one by one up to [`PER_WINDOW`] of each kind in a window of
//! [`WINDOW`]; the rest of that window is counted, and when the window ends
//! one record says how many were held back ("refused 4,000 times in 10 s").
//! A person's commands from attached views past [`COMMANDS_PER_WINDOW`] in
//! a window are not carried out at all, except a rollback (the kill switch
//! always goes through). One person's flood never touches another's
//! allowance, and a human at a keyboard never reaches these numbers.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::Timestamp;

/// The length of a counting window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Records of one kind journaled one by one per person and window.
pub const PER_WINDOW: u32 = 5;
/// Commands from attached views carried out per person and window.
pub const COMMANDS_PER_WINDOW: u32 = 20;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A command refused (not a driver, not allowed in this phase).
    Refused,
    /// A view attached or detached.
    Presence,
    /// A command from an attached view, refused or not.
    Command,
}

impl Kind {
    /// The words of a held-back count: "refused 4,000 times".
    fn words(self, n: u64) -> String {
        let times = if n == 1 { "time" } else { "times" };
        match self {
            Kind::Refused => format!("refused {} more {times}", thousands(n)),
            Kind::Presence => format!("attached or detached {} more {times}", thousands(n)),
            Kind::Command => format!(
                "sent {} more {} over the limit of {COMMANDS_PER_WINDOW}; not carried out",
                thousands(n),
                if n == 1 { "command" } else { "commands" }
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Counter {
    since: Timestamp,
    passed: u32,
    held: u64,
}

/// A window that ended with records held back: journal one summary of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub person: String,
    pub kind: Kind,
    pub count: u64,
    pub since: Timestamp,
    /// "alice refused 3,995 more times in 10 s (the first 5 are journaled one by one)"
    pub text: String,
}

/// Per person and kind, the current window's counts.
#[derive(Debug, Clone, Default)]
pub struct Flood {
    counters: BTreeMap<(String, Kind), Counter>,
}

impl Flood {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one event of `kind` by `person`; true when it may go through
    /// (be journaled, or for [`Kind::Command`] be carried out).
    pub fn pass(&mut self, person: &str, kind: Kind, now: Timestamp) -> bool {
        let limit = match kind {
            Kind::Command => COMMANDS_PER_WINDOW,
            Kind::Refused | Kind::Presence => PER_WINDOW,
        };
        let c = self
            .counters
            .entry((person.to_string(), kind))
            .or_insert(Counter {
                since: now,
                passed: 0,
                held: 0,
            });
        if c.passed < limit {
            c.passed += 1;
            true
        } else {
            c.held += 1;
            false
        }
    }

    /// Windows that are over: those that held something back, to journal;
    /// every ended window is forgotten, so the next event starts a new one.
    pub fn ended(&mut self, now: Timestamp) -> Vec<Held> {
        self.take(now, false)
    }

    /// Every window that held something back, over or not: the driver is
    /// stopping and the counts must reach the journal.
    pub fn all(&mut self, now: Timestamp) -> Vec<Held> {
        self.take(now, true)
    }

    fn take(&mut self, now: Timestamp, all: bool) -> Vec<Held> {
        let mut out = Vec::new();
        self.counters.retain(|(person, kind), c| {
            if !all && now.since(c.since) < WINDOW {
                return true;
            }
            if c.held > 0 {
                let secs = now.since(c.since).as_secs().max(1);
                out.push(Held {
                    person: person.clone(),
                    kind: *kind,
                    count: c.held,
                    since: c.since,
                    text: format!(
                        "{person} {} in {secs} s (the first {} are journaled one by one)",
                        kind.words(c.held),
                        c.passed
                    ),
                });
            }
            false
        });
        out
    }
}

/// 4000 → "4,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp(s * 1000)
    }

    #[test]
    fn a_flood_is_cut_after_the_first_few_and_summed_up_once() {
        let mut f = Flood::new();
        let passed = (0..4000)
            .filter(|_| f.pass("bob", Kind::Refused, t(0)))
            .count();
        assert_eq!(passed, PER_WINDOW as usize);
        assert!(f.ended(t(5)).is_empty(), "the window is not over");
        let held = f.ended(t(10));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].count, 4000 - u64::from(PER_WINDOW));
        assert_eq!(
            held[0].text,
            "bob refused 3,995 more times in 10 s (the first 5 are journaled one by one)"
        );
        assert!(f.ended(t(30)).is_empty(), "said once");
        assert!(f.pass("bob", Kind::Refused, t(31)), "a new window");
    }

    #[test]
    fn people_and_kinds_are_counted_apart() {
        let mut f = Flood::new();
        for _ in 0..100 {
            f.pass("bob", Kind::Refused, t(0));
        }
        assert!(f.pass("alice", Kind::Refused, t(0)));
        assert!(f.pass("bob", Kind::Presence, t(0)));
        let commands = (0..30)
            .filter(|_| f.pass("bob", Kind::Command, t(0)))
            .count();
        assert_eq!(commands, COMMANDS_PER_WINDOW as usize);
    }

    #[test]
    fn stopping_says_what_is_held_back_at_once() {
        let mut f = Flood::new();
        for _ in 0..8 {
            f.pass("bob", Kind::Presence, t(0));
        }
        let held = f.all(t(2));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].count, 3);
        assert!(held[0].text.contains("in 2 s"), "{}", held[0].text);
    }

    #[test]
    fn a_quiet_window_says_nothing() {
        let mut f = Flood::new();
        assert!(f.pass("alice", Kind::Presence, t(0)));
        assert!(f.ended(t(11)).is_empty());
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}

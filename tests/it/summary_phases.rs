//! The summary's sections around the ramp (issue 13): pre-flight results,
//! change windows and exceptions, approvals counted toward N-of-M, and the
//! exit criteria of the observation.
//!
//! The first journal is written by the real engine (its decisions, in
//! order, through the real writer) from a day of inputs; the exit-criteria
//! records, which the engine does not write yet, are written by hand in
//! the format the observation journals.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampdeck::engine::{
    Actor, Command as EngineCommand, Decision, DecisionKind, Effect, Engine, HookCall, HookOutcome,
    Input, Stage, Timestamp,
};
use rampdeck::journal::phases::{ApprovalState, ItemResult, WindowEvent};
use rampdeck::journal::{
    JournalWriter, Summary, read_records, render_json, render_markdown, summarize, verify,
};
use serde_json::json;

/// Monday 2026-12-07 09:00 UTC.
const MON_0900: i64 = 1_796_634_000_000;

const PLAN: &str = r#"
[rollout]
service = "checkout"
strategy = "canary"
id = "checkout-around"
ticket = { id = "CHG-7", url = "https://tickets.example/CHG-7" }

[[windows]]
kind = "allow"
schedule = "0 9 * * 1-5"
duration = "8h"
description = "weekday hours"

[[preflight]]
title = "migrations are backward compatible"
owner = "dana"
check = { command = ["./check-migrations.sh"], timeout = "30s" }

[[preflight]]
title = "rollback tested in staging"
owner = "alice"

[[preflight]]
title = "on-call briefed"

[sources.health]
kind = "probe"
url = "http://127.0.0.1:9/healthz"

[[metrics]]
id = "up"
source = "health"
field = "up"
bad = "down"
threshold = { limit = 1.0 }

[[steps]]
name = "canary"
weight = 10
hold = "1m"
gates = []
approvals = { from = ["alice", "bob", "@deployers"], count = 2, expires = "30m" }

[[steps]]
name = "full"
weight = 100
hold = "1m"
gates = []
"#;

/// The engine on `PLAN`, every decision written to a real journal, every
/// hook answered at once with success.
struct Run {
    engine: Engine,
    journal: JournalWriter,
    path: PathBuf,
    hooks: Vec<HookCall>,
}

/// `h:m` on Monday (hours past 24 run into Tuesday), UTC.
fn at(h: i64, m: i64) -> Timestamp {
    Timestamp(MON_0900 + ((h - 9) * 60 + m) * 60_000)
}

impl Run {
    fn new(dir: &Path) -> Run {
        Run::of(dir, PLAN)
    }

    fn of(dir: &Path, text: &str) -> Run {
        let plan = rampdeck::config::parse(text, "plan.toml").unwrap();
        let path = dir.join("checkout-around.jsonl");
        let journal = JournalWriter::create(&path, "checkout-around").unwrap();
        Run {
            engine: Engine::new(Arc::new(plan)),
            journal,
            path,
            hooks: Vec::new(),
        }
    }

    fn input(&mut self, now: Timestamp, input: Input) {
        for e in self.engine.handle(input, now) {
            match e {
                Effect::Journal(d) => {
                    self.journal.append(now, &d).unwrap();
                }
                Effect::RunHook(call) => self.hooks.push(call),
                Effect::Notify(_) | Effect::RunCheck { .. } => {}
            }
        }
        while !self.hooks.is_empty() {
            for call in std::mem::take(&mut self.hooks) {
                let outcome = HookOutcome {
                    ok: true,
                    code: Some(0),
                    summary: "exit 0".into(),
                    stdout: String::new(),
                    stderr: String::new(),
                    attempts: 1,
                    duration_ms: 5,
                };
                self.input(
                    now,
                    Input::HookResult {
                        id: call.id,
                        outcome,
                    },
                );
            }
        }
    }

    fn approve(&mut self, now: Timestamp, who: &str, reason: &str) {
        let input = Input::Command {
            command: EngineCommand::Approve,
            actor: Actor::named(who),
            reason: reason.into(),
        };
        self.input(now, input);
    }
}

/// A day of the rollout: a failing then passing check, a start refused
/// outside the window, the driver's own freeze exception refused, the
/// manual items confirmed, the window closing on the first step and
/// opening the next morning (an approval expiring meanwhile), two
/// approvals, a duplicate and a stranger refused, a freeze exception
/// granted, and the promotion.
fn day(dir: &Path) -> PathBuf {
    let mut run = Run::new(dir);
    let dave = || Actor::named("dave");
    let check = |ok: bool, summary: &str| Input::CheckResult {
        stage: Stage::Preflight,
        item: 0,
        ok,
        summary: summary.into(),
    };
    run.input(
        at(8, 0),
        check(
            false,
            "migration 0042 drops column users.email\nsee the plan",
        ),
    );
    run.input(at(8, 5), check(true, "3 migrations checked, all additive"));
    run.input(at(8, 10), Input::Start { actor: dave() });
    let own = Input::FreezeException {
        approver: "dave".into(),
        actor: dave(),
        reason: "ship before lunch".into(),
    };
    run.input(at(8, 11), own);
    let confirm = Input::Confirm {
        stage: Stage::Preflight,
        item: None,
        actor: dave(),
        reason: "walked through with alice".into(),
    };
    run.input(at(8, 12), confirm);
    run.input(at(16, 50), Input::Start { actor: dave() });
    run.input(at(16, 52), Input::Tick);
    run.approve(at(16, 53), "alice", "dashboards look fine");
    run.approve(at(16, 54), "alice", "again");
    run.approve(at(16, 55), "zed", "lgtm");
    run.input(at(17, 0), Input::Tick);
    // Tuesday 09:00: the window opens; alice's approval (30m) has expired.
    run.input(at(33, 0), Input::Tick);
    run.approve(at(33, 1), "bob", "error rate flat overnight");
    run.approve(at(33, 2), "alice", "still fine");
    let carol = Input::FreezeException {
        approver: "carol".into(),
        actor: dave(),
        reason: "INC-12 hotfix may need the evening".into(),
    };
    run.input(at(33, 3), carol);
    run.input(at(33, 4), Input::Tick);
    run.input(at(33, 5), Input::Tick);
    run.path
}

/// With `on_close = "rollback"`, the window closing mid-step rolls back:
/// the summary lists it under the windows, with when it opens again.
#[test]
fn a_window_closing_under_on_close_rollback_is_listed_as_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{PLAN}\n[change_window]\non_close = \"rollback\"\n");
    let mut run = Run::of(dir.path(), &text);
    let confirm = Input::Confirm {
        stage: Stage::Preflight,
        item: None,
        actor: Actor::named("dave"),
        reason: "done".into(),
    };
    run.input(at(16, 40), check_passed());
    run.input(at(16, 41), confirm);
    run.input(
        at(16, 50),
        Input::Start {
            actor: Actor::named("dave"),
        },
    );
    run.input(at(17, 0), Input::Tick);
    let s = summary_of(&run.path);
    let events: Vec<WindowEvent> = s.around.windows.iter().map(|w| w.event).collect();
    assert_eq!(events, vec![WindowEvent::Rollback]);
    assert_eq!(
        s.around.windows[0].changes_at.as_deref(),
        Some("2026-12-08T09:00:00.000Z")
    );
    let md = render_markdown(&s);
    assert!(
        md.contains("window closed, rolled back (on_close = \"rollback\")"),
        "{md}"
    );
}

fn check_passed() -> Input {
    Input::CheckResult {
        stage: Stage::Preflight,
        item: 0,
        ok: true,
        summary: "ok".into(),
    }
}

fn summary_of(path: &Path) -> Summary {
    summarize(&read_records(path).unwrap(), &verify(path).unwrap())
}

/// The Markdown from `heading` to the next second-level heading.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in:\n{md}"));
    let rest = &md[start..];
    let end = rest[heading.len()..]
        .find("\n## ")
        .map_or(rest.len(), |e| e + heading.len());
    &rest[..end]
}

#[test]
fn preflight_lists_each_check_and_confirmation_with_who() {
    let dir = tempfile::tempdir().unwrap();
    let s = summary_of(&day(dir.path()));
    let p = &s.around.preflight;
    let results: Vec<(&str, ItemResult)> = p.iter().map(|i| (i.title.as_str(), i.result)).collect();
    assert_eq!(
        results,
        vec![
            ("migrations are backward compatible", ItemResult::Failed),
            ("migrations are backward compatible", ItemResult::Passed),
            ("rollback tested in staging", ItemResult::Confirmed),
            ("on-call briefed", ItemResult::Confirmed),
        ]
    );
    // The start of the output: its first line, marked as cut.
    assert_eq!(p[0].text, "migration 0042 drops column users.email…");
    assert_eq!(p[2].who, "dave");
    assert_eq!(p[2].text, "walked through with alice");
}

#[test]
fn windows_list_the_refused_start_the_close_the_opening_and_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let s = summary_of(&day(dir.path()));
    let events: Vec<WindowEvent> = s.around.windows.iter().map(|w| w.event).collect();
    assert_eq!(
        events,
        vec![
            WindowEvent::StartRefused,
            WindowEvent::ExceptionRefused,
            WindowEvent::Closed,
            WindowEvent::Opened,
            WindowEvent::Exception,
        ]
    );
    let closed = &s.around.windows[2];
    assert_eq!(
        closed.changes_at.as_deref(),
        Some("2026-12-08T09:00:00.000Z"),
        "the close says when the window opens again"
    );
    let granted = &s.around.windows[4];
    assert_eq!(granted.approver.as_deref(), Some("carol"));
    assert_eq!(granted.who, "dave");
}

#[test]
fn approvals_are_counted_toward_n_of_m_and_refusals_listed() {
    let dir = tempfile::tempdir().unwrap();
    let s = summary_of(&day(dir.path()));
    let rows: Vec<(String, ApprovalState, Option<&str>, Option<usize>)> = s
        .around
        .approvals
        .iter()
        .map(|a| (a.who.clone(), a.state, a.counted.as_deref(), a.step))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "alice".into(),
                ApprovalState::Counted,
                Some("1 of 2 approvals"),
                Some(0)
            ),
            ("alice".into(), ApprovalState::Refused, None, Some(0)),
            ("zed".into(), ApprovalState::Refused, None, Some(0)),
            // Alice's first approval expired overnight: bob's is the one.
            (
                "bob".into(),
                ApprovalState::Counted,
                Some("1 of 2 approvals"),
                Some(0)
            ),
            (
                "alice".into(),
                ApprovalState::Counted,
                Some("2 of 2 approvals"),
                Some(0)
            ),
            ("alice".into(), ApprovalState::Advanced, None, Some(0)),
        ]
    );
    assert_eq!(s.around.approvals[0].reason, "dashboards look fine");
    assert_eq!(s.around.approvals[0].expires_ms, Some(30 * 60_000));
    assert!(s.around.approvals[2].reason.contains("not an approver"));
    assert_eq!(s.outcome, "promoted");
    assert!(s.around.exit.is_none(), "no observation was journaled");
}

#[test]
fn markdown_of_the_sections_around_the_ramp() {
    let dir = tempfile::tempdir().unwrap();
    let md = render_markdown(&summary_of(&day(dir.path())));
    assert!(
        md.contains("- **Change ticket:** [CHG-7](https://tickets.example/CHG-7)"),
        "{md}"
    );
    let around = [
        section(&md, "## Pre-flight"),
        section(&md, "## Change windows and exceptions"),
        section(&md, "## Approvals"),
    ]
    .join("\n");
    insta::assert_snapshot!("summary_around_the_ramp", around);
}

fn record(action: &str, who: &str, reason: &str, detail: serde_json::Value) -> Decision {
    Decision {
        action: DecisionKind::from_word(action),
        actor: Actor::named(who),
        reason: reason.into(),
        step: Some(1),
        weight: 100,
        phase: serde_json::from_value(json!("holding")).unwrap(),
        gates: vec![],
        hook: None,
        detail,
        at: None,
    }
}

/// The observation after the last step, in the format the engine is to
/// journal it, and the criteria on the `promoted` record.
fn observed(dir: &Path) -> PathBuf {
    let path = dir.join("observed.jsonl");
    let mut j = JournalWriter::create(&path, "observed").unwrap();
    let items = json!(["runbook deltas captured", "support informed"]);
    let records = [
        record(
            "observation_started",
            "rampdeck",
            "observing for 10m",
            json!({ "observe_ms": 600_000, "items": items }),
        ),
        record(
            "exit_check",
            "rampdeck",
            "exit check passed: flags in their intended state",
            json!({ "item": 0, "title": "flags in their intended state", "ok": true,
                    "output": "new-checkout: off (default)" }),
        ),
        record(
            "exit_confirmed",
            "erin",
            "exit confirmed",
            json!({ "items": ["runbook deltas captured"], "note": "PR #88" }),
        ),
        record(
            "exit_confirmed",
            "erin",
            "exit confirmed",
            json!({ "items": ["support informed"], "note": "" }),
        ),
        record(
            "promoted",
            "rampdeck",
            "exit criteria hold",
            json!({ "criteria": [
                { "criterion": "every gate stable for 10m", "met": true,
                  "evidence": "up: 60 of 60 polls passed" },
                { "criterion": "on-finish smoke checks", "met": false,
                  "evidence": "smoke.sh exited 1" },
            ]}),
        ),
    ];
    for (k, d) in records.iter().enumerate() {
        j.append(Timestamp(MON_0900 + k as i64 * 60_000), d)
            .unwrap();
    }
    path
}

#[test]
fn exit_criteria_list_the_observation_its_items_and_each_criterion_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let s = summary_of(&observed(dir.path()));
    let exit = s.around.exit.as_ref().expect("exit section");
    let obs = exit.observation.as_ref().expect("observation");
    assert_eq!(obs.observe_ms, Some(600_000));
    assert_eq!(obs.items.len(), 2);
    let items: Vec<(&str, ItemResult, &str)> = exit
        .items
        .iter()
        .map(|i| (i.title.as_str(), i.result, i.who.as_str()))
        .collect();
    assert_eq!(
        items,
        vec![
            (
                "flags in their intended state",
                ItemResult::Passed,
                "rampdeck"
            ),
            ("runbook deltas captured", ItemResult::Confirmed, "erin"),
            ("support informed", ItemResult::Confirmed, "erin"),
        ]
    );
    let met: Vec<bool> = exit.criteria.iter().map(|c| c.met).collect();
    assert_eq!(met, vec![true, false]);
    let md = render_markdown(&s);
    let part = section(&md, "## Exit criteria");
    assert!(
        part.contains("Started at 2026-12-07T09:00:00.000Z for 10m"),
        "{part}"
    );
    assert!(
        part.contains("- [x] every gate stable for 10m — up: 60 of 60 polls passed"),
        "{part}"
    );
    assert!(
        part.contains("- [ ] **NOT MET** on-finish smoke checks — smoke.sh exited 1"),
        "{part}"
    );
    assert!(
        part.contains("- [x] runbook deltas captured — confirmed by erin at 2026-12-07T09:02:00.000Z: PR \\#88"),
        "{part}"
    );
    // Nothing journaled for them: no pre-flight, windows or approvals.
    for absent in ["## Pre-flight", "## Change windows", "## Approvals"] {
        assert!(!md.contains(absent), "{absent} in:\n{md}");
    }
    let json = render_json(&s);
    assert!(
        json.contains("\"criterion\": \"on-finish smoke checks\""),
        "{json}"
    );
    assert!(!json.contains("\"preflight\""), "{json}");
}

/// What a check printed, a note, a reason and a criterion's evidence come
/// from outside: they render as the characters they are and forge no
/// heading, list item or table row.
#[test]
fn text_from_the_journal_forges_no_structure_in_these_sections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.jsonl");
    let mut j = JournalWriter::create(&path, "hostile").unwrap();
    let forged = "ok``\n## Forged heading\n| a | b |";
    let records = [
        record(
            "preflight_check",
            "rampdeck",
            "pre-flight check passed",
            json!({ "item": 0, "title": "# t | x", "ok": true, "output": forged }),
        ),
        record(
            "preflight_confirmed",
            "mallory",
            "pre-flight confirmed",
            json!({ "items": ["a\n- [x] forged item"], "note": forged }),
        ),
        record(
            "approval",
            "mallory",
            "1 of 2 approvals: x | y\n## Forged",
            json!({ "step": 0, "approvals": 1, "need": 2 }),
        ),
        record(
            "freeze_exception",
            "mallory",
            "freeze exception",
            json!({ "approver": "eve\n## Forged", "window": "", "reason": forged }),
        ),
        record(
            "promoted",
            "rampdeck",
            "done",
            json!({ "criteria": [{ "criterion": "c\n# forged", "met": true, "evidence": forged }] }),
        ),
    ];
    for (k, d) in records.iter().enumerate() {
        j.append(Timestamp(MON_0900 + k as i64 * 1000), d).unwrap();
    }
    let md = render_markdown(&summary_of(&path));
    for line in md.lines() {
        assert!(!line.starts_with("## Forged"), "{line}\nin:\n{md}");
        assert!(!line.starts_with("# forged"), "{line}\nin:\n{md}");
        assert!(!line.starts_with("- [x] forged"), "{line}\nin:\n{md}");
        assert!(!line.starts_with("| a | b |"), "{line}\nin:\n{md}");
    }
    // One approval row, whatever its reason held.
    let approvals = section(&md, "## Approvals");
    assert_eq!(approvals.lines().filter(|l| l.starts_with("| ")).count(), 2);
}

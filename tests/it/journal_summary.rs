//! The post-deploy summary of a rolled-back run, built with the real
//! writer from hand-made decisions, checked section by section.

use rampdeck::engine::DecisionKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rampdeck::engine::{Actor, Decision, GateStatus, HookOutcome, HookRecord, Timestamp, Verdict};
use rampdeck::journal::summary::CheckState;
use rampdeck::journal::{
    JournalWriter, read_records, render_json, render_markdown, summarize, summary_cli, verify,
    write_summary_next_to,
};
use rampdeck::plan::*;

use crate::kit::plan as kit;
use rampdeck::engine::analysis::KindStatus;
use rampdeck::engine::analysis::gate::Kind;

fn plan() -> Plan {
    let step = |name: &str, weight: u8, gate: GateKind| Step {
        owner: Some("alice".into()),
        ..kit::step(name, weight, Duration::from_secs(60), gate)
    };
    let error_rate = Metric {
        name: "Error rate".into(),
        unit: "%".into(),
        display_scale: 100.0,
        threshold: Threshold {
            limit: Some(0.05),
            ..Threshold::default()
        },
        ..kit::promql(
            "error_rate",
            "prom",
            "sum(rate(errors[1m]))",
            Baseline::Cohort,
        )
    };
    let prom = kit::source(
        "prom",
        SourceKind::Prometheus(HttpTarget::default()),
        5000,
        2000,
    );
    let mut plan = kit::plan(vec![prom], vec![error_rate]);
    plan.rollout.id = Some("checkout-42".into());
    plan.rollout.ticket = Some(Ticket {
        id: "CHG-1234".into(),
        url: Some("https://tickets.example/CHG-1234".into()),
    });
    plan.rollout.owners = vec!["alice".into()];
    plan.steps = vec![
        step("canary-10", 10, GateKind::Auto),
        step("canary-50", 50, GateKind::Manual),
        step("full", 100, GateKind::Auto),
    ];
    plan.triggers = vec![Trigger {
        name: "errors".into(),
        metric: "error_rate".into(),
        consecutive: 3,
        action: TriggerAction::Rollback,
    }];
    plan
}

fn gate(verdict: Verdict, canary: f64, breaches: u32) -> GateStatus {
    // The judge speaks beside the thresholds; its line goes to the summary.
    let judge = KindStatus {
        kind: Kind::Judge,
        verdict,
        holds: true,
        short: String::new(),
        detail: format!("judge {}: shift +{canary}", verdict.as_str()),
        numbers: serde_json::Value::Null,
    };
    GateStatus {
        kinds: vec![judge],
        metric: "error_rate".into(),
        verdict,
        canary: Some(canary),
        baseline: Some(0.01),
        limit: Some(0.05),
        detail: format!("{canary} vs limit 0.05"),
        breaches,
        no_data_polls: 0,
        samples: 4,
        degraded: false,
        warnings: Vec::new(),
        gating: true,
        baseline_frozen_at: None,
    }
}

fn alice() -> Actor {
    Actor {
        uid: Some(1000),
        host: Some("deploy-1".into()),
        ssh_client: Some("10.0.0.5".into()),
        ..Actor::named("alice")
    }
}

struct D(Decision);

impl D {
    fn new(
        action: &str,
        actor: Actor,
        reason: &str,
        step: Option<usize>,
        weight: u8,
        phase: &str,
    ) -> Self {
        D(Decision {
            action: DecisionKind::from_word(action),
            actor,
            reason: reason.into(),
            step,
            weight,
            phase: serde_json::from_value(serde_json::json!(phase)).expect("phase"),
            gates: vec![],
            hook: None,
            at: None,
            detail: serde_json::Value::Null,
        })
    }
    fn gates(mut self, g: Vec<GateStatus>) -> Self {
        self.0.gates = g;
        self
    }
    fn hook(mut self, id: u64, kind: HookKind, outcome: Option<(bool, &str)>) -> Self {
        self.0.hook = Some(HookRecord {
            id,
            kind,
            weight: None,
            outcome: outcome.map(|(ok, summary)| HookOutcome {
                ok,
                code: Some(if ok { 0 } else { 1 }),
                summary: summary.into(),
                stdout: String::new(),
                stderr: String::new(),
                attempts: 1,
                duration_ms: 1500,
            }),
        });
        self
    }
}

const T0: i64 = 1_735_725_600_000; // 2025-01-01T10:00:00Z

/// A run that ramps to 50 %, sees errors climb, and is rolled back by the
/// trigger. Returns the journal path.
fn rolled_back_run(dir: &Path) -> PathBuf {
    use HookKind::*;
    let sys = Actor::system;
    let pass = || vec![gate(Verdict::Pass, 0.011, 0)];
    let events: Vec<(i64, D)> = vec![
        (0, {
            let mut d = D::new(
                "rollout_started",
                alice(),
                "CHG-1234 ship v2",
                None,
                0,
                "pending",
            );
            d.0.detail = serde_json::to_value(plan()).expect("plan json");
            d
        }),
        (
            0,
            D::new(
                "hook_started",
                sys(),
                "set weight 10",
                Some(0),
                0,
                "promoting",
            )
            .hook(1, SetWeight, None),
        ),
        (
            2_000,
            D::new(
                "hook_result",
                sys(),
                "set weight 10",
                Some(0),
                10,
                "promoting",
            )
            .hook(1, SetWeight, Some((true, "exit 0"))),
        ),
        (
            2_000,
            D::new(
                "step_entered",
                sys(),
                "entered canary-10",
                Some(0),
                10,
                "holding",
            ),
        ),
        (
            3_000,
            D::new("hook_started", sys(), "smoke test", Some(0), 10, "holding").hook(
                2,
                OnStepEnter,
                None,
            ),
        ),
        (
            5_000,
            D::new("hook_result", sys(), "smoke test", Some(0), 10, "holding").hook(
                2,
                OnStepEnter,
                Some((true, "exit 0")),
            ),
        ),
        (
            10_000,
            D::new(
                "operator_attached",
                Actor::named("bob"),
                "watching",
                Some(0),
                10,
                "holding",
            ),
        ),
        (
            62_000,
            D::new(
                "auto_advance",
                sys(),
                "hold over, all gates pass",
                Some(0),
                10,
                "holding",
            )
            .gates(pass()),
        ),
        (
            62_000,
            D::new(
                "hook_started",
                sys(),
                "set weight 50",
                Some(1),
                10,
                "promoting",
            )
            .hook(3, SetWeight, None),
        ),
        (
            64_000,
            D::new(
                "hook_result",
                sys(),
                "set weight 50",
                Some(1),
                50,
                "promoting",
            )
            .hook(3, SetWeight, Some((true, "exit 0"))),
        ),
        (
            64_000,
            D::new(
                "step_entered",
                sys(),
                "entered canary-50",
                Some(1),
                50,
                "holding",
            )
            .gates(pass()),
        ),
        (
            100_000,
            D::new(
                "pause",
                alice(),
                "checking the dashboards",
                Some(1),
                50,
                "paused",
            )
            .gates(pass()),
        ),
        (
            110_000,
            D::new(
                "resume",
                alice(),
                "dashboards look | fine",
                Some(1),
                50,
                "holding",
            )
            .gates(vec![gate(Verdict::Breach, 0.081, 1)]),
        ),
        (
            120_000,
            D::new(
                "trigger_rollback",
                sys(),
                "error_rate breached 3 times",
                Some(1),
                50,
                "rolling_back",
            )
            .gates(vec![gate(Verdict::Breach, 0.09, 3)]),
        ),
        (
            120_500,
            D::new(
                "hook_started",
                sys(),
                "rollback",
                Some(1),
                50,
                "rolling_back",
            )
            .hook(4, Rollback, None),
        ),
        (
            125_000,
            D::new("hook_result", sys(), "rollback", Some(1), 0, "rolling_back").hook(
                4,
                Rollback,
                Some((true, "exit 0")),
            ),
        ),
        (
            125_000,
            D::new(
                "rolled_back",
                sys(),
                "rollback hook succeeded",
                Some(1),
                0,
                "rolled_back",
            )
            .gates(vec![gate(Verdict::Breach, 0.09, 3)]),
        ),
    ];
    let path = dir.join("journals/checkout-42.jsonl");
    let mut w = JournalWriter::create(&path, "checkout-42").expect("create");
    for (at, d) in events {
        w.append(Timestamp(T0 + at), &d.0).expect("append");
    }
    path
}

fn summary_of(path: &Path) -> rampdeck::journal::Summary {
    summarize(
        &read_records(path).expect("read"),
        &verify(path).expect("verify"),
    )
}

#[test]
fn each_gate_kind_is_shown_under_its_gate_at_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = rolled_back_run(dir.path());
    let s = summary_of(&path);
    let md = render_markdown(&s);
    let section = md.split("## Gate results at each step").nth(1).unwrap();
    assert!(
        section.contains("    - judge Breach: judge Breach: shift +"),
        "{section}"
    );
    let json = render_json(&s);
    assert!(json.contains("\"kinds\""), "{json}");
}

#[test]
fn header_names_service_ticket_strategy_and_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    assert_eq!(s.service.as_deref(), Some("checkout"));
    assert_eq!(s.rollout.as_deref(), Some("checkout-42"));
    let t = s.ticket.as_ref().expect("ticket");
    assert_eq!(
        (t.id.as_str(), t.url.as_deref()),
        ("CHG-1234", Some("https://tickets.example/CHG-1234"))
    );
    assert_eq!(s.strategy.as_deref(), Some("canary"));
    assert_eq!(s.outcome, "rolled_back");
    assert_eq!(s.started_at.as_deref(), Some("2025-01-01T10:00:00.000Z"));
    assert_eq!(s.duration_ms, Some(125_000));
}

#[test]
fn people_separate_who_drove_from_who_watched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    assert_eq!(
        s.drove,
        vec!["alice (uid 1000, host deploy-1, ssh 10.0.0.5)"]
    );
    assert_eq!(s.watched, vec!["bob"]);
}

#[test]
fn timeline_has_each_step_with_weight_duration_and_how_it_ended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    assert_eq!(s.steps.len(), 2);
    let (a, b) = (&s.steps[0], &s.steps[1]);
    assert_eq!(
        (a.index, a.name.as_deref(), a.weight),
        (0, Some("canary-10"), 10)
    );
    assert_eq!(a.ended_by.as_deref(), Some("auto_advance"));
    assert_eq!(
        a.duration_ms,
        Some(62_000),
        "entered at 2 s, left when step 2 was entered at 64 s"
    );
    assert_eq!(
        (b.index, b.name.as_deref(), b.weight),
        (1, Some("canary-50"), 50)
    );
    assert_eq!(b.ended_by.as_deref(), Some("trigger_rollback"));
    assert_eq!(b.duration_ms, Some(56_000));
    // Gate results at each step: the last journaled numbers in it.
    assert_eq!(a.gates[0].verdict, Verdict::Pass);
    assert_eq!(b.gates[0].verdict, Verdict::Breach);
    assert_eq!(b.gates[0].canary, Some(0.09));
}

#[test]
fn every_decision_is_listed_with_who_why_and_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    assert_eq!(s.decisions.len(), 17);
    let pause = s
        .decisions
        .iter()
        .find(|d| d.action == "pause")
        .expect("pause");
    assert!(pause.who.starts_with("alice"));
    assert_eq!(pause.why, "checking the dashboards");
    let trig = s
        .decisions
        .iter()
        .find(|d| d.action == "trigger_rollback")
        .expect("trigger");
    assert_eq!(trig.who, "rampdeck");
    let g = &trig.gates[0];
    assert_eq!(
        (g.canary, g.baseline, g.limit, g.breaches),
        (Some(0.09), Some(0.01), Some(0.05), 3)
    );
}

#[test]
fn hooks_are_paired_with_their_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    let kinds: Vec<&str> = s.hooks.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["set_weight", "on_step_enter", "set_weight", "rollback"]
    );
    let rb = &s.hooks[3];
    assert_eq!(rb.ok, Some(true));
    assert_eq!(rb.started_at.as_deref(), Some("2025-01-01T10:02:00.500Z"));
    assert_eq!(rb.finished_at.as_deref(), Some("2025-01-01T10:02:05.000Z"));
    assert_eq!(rb.summary.as_deref(), Some("exit 0"));
}

#[test]
fn breach_to_rollback_runs_from_the_first_breach_to_the_rollback_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    let b = s.breach_to_rollback.expect("a breach led to the rollback");
    assert_eq!(b.cause, "trigger");
    assert_eq!(b.metric.as_deref(), Some("error_rate"));
    assert_eq!(
        b.first_breach_at.as_deref(),
        Some("2025-01-01T10:01:50.000Z")
    );
    assert_eq!(b.first_breach_basis.as_deref(), Some("journal"));
    assert_eq!(b.rollback_started_at, "2025-01-01T10:02:00.500Z");
    assert_eq!(b.ms, Some(10_500));
}

#[test]
fn checklist_and_chain_are_filled_in_from_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    assert!(s.chain.holds);
    assert_eq!(s.chain.records, 17);
    let state = |item: &str| {
        s.checklist
            .iter()
            .find(|c| c.item == item)
            .unwrap_or_else(|| panic!("{item} missing"))
            .state
    };
    assert_eq!(state("Promoted to 100 %"), CheckState::Fail);
    assert_eq!(
        state("Metrics stable vs baseline at the end"),
        CheckState::Fail
    );
    assert_eq!(state("Smoke checks passed"), CheckState::Pass);
    assert_eq!(state("No failed hooks"), CheckState::Pass);
    assert_eq!(state("No critical errors"), CheckState::Pass);
    assert_eq!(state("Journal chain verifies"), CheckState::Pass);
}

#[test]
fn markdown_has_every_section_and_escapes_table_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    let md = render_markdown(&s);
    for heading in [
        "# Post-deploy summary: checkout",
        "## People",
        "## Exit criteria",
        "## Timeline",
        "## Gate results at each step",
        "## Breach to rollback",
        "## Hooks",
        "## Decisions",
        "## Journal integrity",
    ] {
        assert!(md.contains(heading), "missing {heading}:\n{md}");
    }
    assert!(md.contains("[CHG-1234](https://tickets.example/CHG-1234)"));
    assert!(md.contains("| 2 | canary-50 | 50 % |"), "{md}");
    assert!(
        md.contains("**10.5s** from the first breach of `error_rate`"),
        "{md}"
    );
    // In the plan's display units (display_scale 100, unit %).
    assert!(md.contains(
        "error_rate Breach: canary 9 % vs baseline 1 % (limit 5 %, 3 consecutive breaches)"
    ));
    assert!(
        md.contains("dashboards look \\| fine"),
        "a pipe in a reason must not split the table"
    );
    assert!(md.contains("- [ ] **FAIL** Metrics stable vs baseline at the end"));
    assert!(md.contains("- [x] Smoke checks passed"));
}

#[test]
fn json_carries_the_same_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = summary_of(&rolled_back_run(dir.path()));
    let v: serde_json::Value = serde_json::from_str(&render_json(&s)).expect("valid json");
    assert_eq!(v["outcome"], "rolled_back");
    assert_eq!(v["breach_to_rollback"]["ms"], 10_500);
    assert_eq!(v["steps"][1]["ended_by"], "trigger_rollback");
    assert_eq!(v["checklist"][1]["state"], "fail");
}

#[test]
fn the_summary_file_is_written_next_to_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = rolled_back_run(dir.path());
    let out = write_summary_next_to(&path).expect("write");
    assert_eq!(out, dir.path().join("journals/checkout-42.summary.md"));
    let text = std::fs::read_to_string(&out).expect("read");
    assert_eq!(text, render_markdown(&summary_of(&path)));
    assert_eq!(summary_cli(&path, true), 0);
}

#[test]
fn a_tampered_journal_says_so_in_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = rolled_back_run(dir.path());
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        text.replace("checking the dashboards", "approved by the CAB"),
    )
    .expect("w");
    let s = summary_of(&path);
    assert!(!s.chain.holds);
    assert!(render_markdown(&s).contains("CHAIN DOES NOT VERIFY"));
    let c = s
        .checklist
        .iter()
        .find(|c| c.item == "Journal chain verifies")
        .expect("item");
    assert_eq!(c.state, CheckState::Fail);
    assert!(
        c.evidence.contains("line 12 (seq 12): edited"),
        "{}",
        c.evidence
    );
    assert_eq!(summary_cli(&path, false), 1);
}

#[test]
#[ignore = "prints the summary for a human to look at"]
fn print_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "{}",
        render_markdown(&summary_of(&rolled_back_run(dir.path())))
    );
}

#[test]
fn breach_time_is_estimated_from_the_plan_when_no_earlier_record_saw_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.jsonl");
    let mut w = JournalWriter::create(&path, "short").expect("create");
    let mut start = D::new("rollout_started", alice(), "go", None, 0, "pending");
    start.0.detail = serde_json::to_value(plan()).expect("plan json");
    let events = [
        (0, start),
        (
            1_000,
            D::new(
                "step_entered",
                Actor::system(),
                "in",
                Some(0),
                10,
                "holding",
            ),
        ),
        (
            100_000,
            D::new(
                "trigger_rollback",
                Actor::system(),
                "3 breaches",
                Some(0),
                10,
                "rolling_back",
            )
            .gates(vec![gate(Verdict::Breach, 0.2, 3)]),
        ),
        (
            100_200,
            D::new(
                "hook_started",
                Actor::system(),
                "rollback",
                Some(0),
                10,
                "rolling_back",
            )
            .hook(9, HookKind::Rollback, None),
        ),
    ];
    for (at, d) in events {
        w.append(Timestamp(T0 + at), &d.0).expect("append");
    }
    let s = summary_of(&path);
    let b = s.breach_to_rollback.expect("breach");
    // 3 consecutive breaches at a 5 s interval: the first was 10 s earlier.
    assert_eq!(b.first_breach_basis.as_deref(), Some("estimated"));
    assert_eq!(b.ms, Some(10_200));
    assert_eq!(s.outcome, "in progress (rolling_back)");
    let rb = s.hooks.iter().find(|h| h.kind == "rollback").expect("hook");
    assert_eq!(rb.ok, None, "no result journaled yet");
    let state = |item: &str| s.checklist.iter().find(|c| c.item == item).map(|c| c.state);
    assert_eq!(state("Smoke checks passed"), Some(CheckState::Unknown));
    assert_eq!(state("Promoted to 100 %"), Some(CheckState::Unknown));
}

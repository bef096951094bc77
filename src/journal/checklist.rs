//! The exit-criteria checklist of the post-deploy summary, filled in from
//! the journal: each item is pass, fail or unknown, with its evidence.

use super::record::Record;
use super::summary::{CheckItem, CheckState, GateLine, HookLine, MetricUnits, hooks, outcome};
use super::verify::VerifyReport;
use crate::engine::{DecisionKind, Verdict};
use CheckState::{Fail, Pass, Unknown};

fn check(item: &str, state: CheckState, evidence: String) -> CheckItem {
    CheckItem {
        item: item.into(),
        state,
        evidence,
    }
}

pub(crate) fn checklist(
    records: &[Record],
    verify: &VerifyReport,
    units: &MetricUnits,
) -> Vec<CheckItem> {
    let hooks = hooks(records);
    vec![
        promoted(records),
        metrics_stable(records, units),
        smoke_checks(&hooks, records),
        no_failed_hooks(&hooks),
        no_critical_errors(records),
        check(
            "Journal chain verifies",
            if verify.holds() { Pass } else { Fail },
            verify.one_line(),
        ),
    ]
}

/// The rollout reached 100 %.
fn promoted(records: &[Record]) -> CheckItem {
    let outcome = outcome(records);
    check(
        "Promoted to 100 %",
        if outcome == "promoted" {
            Pass
        } else if outcome.starts_with("in progress") {
            Unknown
        } else {
            Fail
        },
        format!("outcome: {outcome}"),
    )
}

/// Every gate of the last record that journaled gates passed.
fn metrics_stable(records: &[Record], units: &MetricUnits) -> CheckItem {
    let last_gates = records.iter().rev().find(|r| !r.decision.gates.is_empty());
    match last_gates {
        None => check(
            "Metrics stable vs baseline at the end",
            Unknown,
            "no gate was journaled".into(),
        ),
        Some(r) => {
            let gates = &r.decision.gates;
            let state = if gates.iter().any(|g| g.verdict == Verdict::Breach) {
                Fail
            } else if gates.iter().all(|g| g.verdict == Verdict::Pass) {
                Pass
            } else {
                Unknown
            };
            let numbers: Vec<String> = gates
                .iter()
                .map(|g| GateLine::new(g, units).numbers())
                .collect();
            check(
                "Metrics stable vs baseline at the end",
                state,
                format!("at seq {}: {}", r.seq, numbers.join("; ")),
            )
        }
    }
}

/// Every `on_step_enter` check and every exit check (`[exit]`, its last
/// result per item) finished and passed.
fn smoke_checks(hooks: &[HookLine], records: &[Record]) -> CheckItem {
    let mut results: Vec<bool> = hooks
        .iter()
        .filter(|h| h.kind == "on_step_enter")
        .map(|h| h.ok == Some(true))
        .collect();
    let mut exit: Vec<(u64, bool)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.decision.action == DecisionKind::ExitCheck)
    {
        let item = r.decision.detail["item"].as_u64().unwrap_or(u64::MAX);
        let ok = r.decision.detail["ok"].as_bool() == Some(true);
        exit.retain(|(k, _)| *k != item);
        exit.push((item, ok));
    }
    results.extend(exit.iter().map(|(_, ok)| *ok));
    let failed = results.iter().filter(|ok| !**ok).count();
    match (results.len(), failed) {
        (0, _) => check(
            "Smoke checks passed",
            Unknown,
            "no on_step_enter or exit check was run".into(),
        ),
        (n, 0) => check("Smoke checks passed", Pass, format!("{n} of {n} passed")),
        (n, f) => check(
            "Smoke checks passed",
            Fail,
            format!("{f} of {n} failed or never finished"),
        ),
    }
}

/// No hook reported a failure.
fn no_failed_hooks(hooks: &[HookLine]) -> CheckItem {
    let failed: Vec<String> = hooks
        .iter()
        .filter(|h| h.ok == Some(false))
        .map(|h| {
            format!(
                "{} #{}: {}",
                h.kind,
                h.id,
                h.summary.as_deref().unwrap_or("")
            )
        })
        .collect();
    if failed.is_empty() {
        check(
            "No failed hooks",
            Pass,
            format!("{} hooks run", hooks.len()),
        )
    } else {
        check("No failed hooks", Fail, failed.join("; "))
    }
}

/// No `failed` or `recovered` record.
fn no_critical_errors(records: &[Record]) -> CheckItem {
    let critical: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.decision.action.as_str(), "failed" | "recovered"))
        .map(|r| format!("seq {} {}: {}", r.seq, r.decision.action, r.decision.reason))
        .collect();
    if critical.is_empty() {
        check(
            "No critical errors",
            Pass,
            "no `failed` or `recovered` record".into(),
        )
    } else {
        check("No critical errors", Fail, critical.join("; "))
    }
}

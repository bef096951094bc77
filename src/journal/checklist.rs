//! The exit-criteria checklist of the post-deploy summary, filled in from
//! the journal: each item is pass, fail or unknown, with its evidence.

use super::record::Record;
use super::summary::{CheckItem, CheckState, GateLine, HookLine, MetricUnits, hooks, outcome};
use super::verify::VerifyReport;
use crate::engine::Verdict;

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
    use CheckState::{Fail, Pass, Unknown};
    let mut out = Vec::new();
    let outcome = outcome(records);
    out.push(check(
        "Promoted to 100 %",
        if outcome == "promoted" {
            Pass
        } else if outcome.starts_with("in progress") {
            Unknown
        } else {
            Fail
        },
        format!("outcome: {outcome}"),
    ));
    let last_gates = records.iter().rev().find(|r| !r.decision.gates.is_empty());
    out.push(match last_gates {
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
    });
    let hooks = hooks(records);
    let smoke: Vec<&HookLine> = hooks.iter().filter(|h| h.kind == "on_step_enter").collect();
    let smoke_failed = smoke.iter().filter(|h| h.ok != Some(true)).count();
    out.push(match (smoke.len(), smoke_failed) {
        (0, _) => check(
            "Smoke checks passed",
            Unknown,
            "no on_step_enter check was run".into(),
        ),
        (n, 0) => check("Smoke checks passed", Pass, format!("{n} of {n} passed")),
        (n, f) => check(
            "Smoke checks passed",
            Fail,
            format!("{f} of {n} failed or never finished"),
        ),
    });
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
    out.push(if failed.is_empty() {
        check(
            "No failed hooks",
            Pass,
            format!("{} hooks run", hooks.len()),
        )
    } else {
        check("No failed hooks", Fail, failed.join("; "))
    });
    let critical: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.decision.action.as_str(), "failed" | "recovered"))
        .map(|r| format!("seq {} {}: {}", r.seq, r.decision.action, r.decision.reason))
        .collect();
    out.push(if critical.is_empty() {
        check(
            "No critical errors",
            Pass,
            "no `failed` or `recovered` record".into(),
        )
    } else {
        check("No critical errors", Fail, critical.join("; "))
    });
    out.push(check(
        "Journal chain verifies",
        if verify.holds() { Pass } else { Fail },
        verify.one_line(),
    ));
    out
}

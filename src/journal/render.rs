//! The summary as Markdown (to paste into a change ticket) or JSON, the
//! `rampdeck summary` command, and the file written next to a journal when
//! a rollout ends.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::JournalError;
use super::damaged::{AfterBreak, after_break, collect};
use super::escape::{code, keep_lines, md, md_link};
use super::render_phases;
use super::summary::{
    BreachToRollback, CheckState, DecisionLine, GateLine, LISTED_PER_PERSON, MetricUnits, Repeated,
    Summary, plan_of, summarize_kept,
};
use crate::engine::words::elapsed;

/// A measured duration in a table cell, "–" when unknown.
fn dur(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "–".into(),
        |ms| elapsed(std::time::Duration::from_millis(ms)),
    )
}

fn gate(g: &GateLine) -> String {
    md(&g.numbers())
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "–".to_string(), md)
}

/// The summary as a Markdown document. Every string that came from the
/// journal (reasons, identities, hook output, names, even actions, which an
/// edited journal can hold anything in) goes through [`md`] or [`code`]:
/// it renders as the characters it is and forges no structure.
pub fn render_markdown(s: &Summary) -> String {
    let mut o = String::new();
    // `write!` to a String cannot fail; the results are ignored on purpose
    // here and in every section.
    overview(&mut o, s);
    people_section(&mut o, s);
    render_phases::preflight_section(&mut o, s);
    render_phases::windows_section(&mut o, s);
    render_phases::approvals_section(&mut o, s);
    exit_criteria_section(&mut o, s);
    timeline_section(&mut o, s);
    gates_section(&mut o, s);
    let _ = writeln!(o, "\n## Breach to rollback\n");
    match &s.breach_to_rollback {
        None => {
            let _ = writeln!(o, "No rollback.");
        }
        Some(b) => rollback_cause(&mut o, b),
    }
    hooks_section(&mut o, s);
    let _ = writeln!(o, "\n## Decisions\n");
    decisions_table(&mut o, &s.decisions);
    repeated_table(&mut o, &s.repeated);
    if let Some(a) = &s.after_break {
        after_break_section(&mut o, a);
    }
    integrity_section(&mut o, s);
    // Every field was escaped; this only makes sure no control byte of a
    // field somebody forgets to escape ever reaches a terminal.
    keep_lines(&o).into_owned()
}

/// The title, the warning of a broken chain, and the rollout at a glance.
fn overview(o: &mut String, s: &Summary) {
    let title = s
        .service
        .as_deref()
        .or(s.rollout.as_deref())
        .unwrap_or("unknown service");
    let _ = writeln!(o, "# Post-deploy summary: {}\n", md(title));
    if let Some(a) = &s.after_break {
        let _ = writeln!(
            o,
            "> **WARNING: THE JOURNAL'S HASH CHAIN BREAKS AT LINE {} (SEQ {}).** This summary \
             is built from the {} records before the break, which verify. Everything after \
             it is listed under \"After the break\" and proves nothing: it may have been \
             edited, inserted or forged.\n",
            a.line,
            a.seq,
            s.chain.records.min(a.line.saturating_sub(1))
        );
    }
    let claimed = match &s.after_break {
        Some(a) => format!(
            " (from the verified records; the unverified part claims: {})",
            md(&a.claimed_outcome)
        ),
        None => String::new(),
    };
    let _ = writeln!(o, "- **Outcome:** {}{claimed}", md(&s.outcome));
    let _ = writeln!(o, "- **Service:** {}", opt(&s.service));
    let _ = writeln!(o, "- **Rollout:** {}", opt(&s.rollout));
    let ticket = match &s.ticket {
        None => "–".to_string(),
        Some(t) => match &t.url {
            Some(u) => md_link(&t.id, u),
            None => md(&t.id),
        },
    };
    let _ = writeln!(o, "- **Change ticket:** {ticket}");
    let _ = writeln!(o, "- **Strategy:** {}", opt(&s.strategy));
    let _ = writeln!(
        o,
        "- **Started:** {} · **Ended:** {} · **Duration:** {}",
        opt(&s.started_at),
        opt(&s.ended_at),
        dur(s.duration_ms)
    );
    let _ = writeln!(
        o,
        "- **Journal:** {} ({})",
        code(&s.journal),
        if s.chain.holds {
            "chain verifies"
        } else {
            "CHAIN DOES NOT VERIFY"
        }
    );
}

/// Who drove and who watched.
fn people_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## People\n");
    let list = |v: &[String]| {
        if v.is_empty() {
            "nobody".to_string()
        } else {
            v.iter().map(|p| md(p)).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(o, "- **Drove:** {}", list(&s.drove));
    let _ = writeln!(o, "- **Watched:** {}", list(&s.watched));
}

/// The checklist, ticked from the journal's evidence, then what the
/// observation after the last step journaled.
fn exit_criteria_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Exit criteria\n");
    for c in &s.checklist {
        let mark = match c.state {
            CheckState::Pass => "[x]",
            CheckState::Fail => "[ ] **FAIL**",
            CheckState::Unknown => "[ ] unknown:",
        };
        let _ = writeln!(o, "- {mark} {} — {}", md(&c.item), md(&c.evidence));
    }
    if let Some(e) = &s.around.exit {
        render_phases::exit_part(o, e);
    }
}

/// One row per step: when it was entered and left, and what ended it.
fn timeline_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Timeline\n");
    let _ = writeln!(
        o,
        "| Step | Name | Weight | Entered | Left | Duration | Ended by |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for st in &s.steps {
        let _ = writeln!(
            o,
            "| {} | {} | {} % | {} | {} | {} | {} |",
            st.index + 1,
            opt(&st.name),
            st.weight,
            md(&st.entered_at),
            opt(&st.left_at),
            dur(st.duration_ms),
            opt(&st.ended_by)
        );
    }
}

/// The gates journaled at each step, and the data events beside them.
fn gates_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Gate results at each step\n");
    for st in &s.steps {
        let name = st
            .name
            .as_deref()
            .map(|n| format!(" ({})", md(n)))
            .unwrap_or_default();
        let _ = writeln!(o, "- Step {}{name}, {} %:", st.index + 1, st.weight);
        if st.gates.is_empty() {
            let _ = writeln!(o, "  - no gate journaled");
        }
        for g in &st.gates {
            let _ = writeln!(o, "  - {}", gate(g));
            for k in &g.kinds {
                let _ = writeln!(
                    o,
                    "    - {} {}: {}",
                    k.kind,
                    k.verdict.as_str(),
                    md(&k.detail)
                );
            }
        }
        for e in &st.data_events {
            let _ = writeln!(o, "  - {}: {}", e.at, md(&e.text));
        }
        for e in &st.strategy_events {
            let _ = writeln!(o, "  - {}: {}: {}", e.at, e.action, md(&e.text));
        }
    }
}

/// Every hook run, with its result.
fn hooks_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Hooks\n");
    if s.hooks.is_empty() {
        let _ = writeln!(o, "No hook was run.");
        return;
    }
    let _ = writeln!(
        o,
        "| # | Hook | Step | Weight | Started | Result | Code | Attempts | Took |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for h in &s.hooks {
        let result = match h.ok {
            Some(true) => format!("ok: {}", opt(&h.summary)),
            Some(false) => format!("**FAILED**: {}", opt(&h.summary)),
            None => "no result journaled".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} % | {} | {} | {} | {} | {} |",
            h.id,
            md(&h.kind),
            h.step.map(|x| (x + 1).to_string()).unwrap_or("–".into()),
            h.weight,
            opt(&h.started_at),
            result,
            h.code.map(|c| c.to_string()).unwrap_or("–".into()),
            h.attempts.map(|c| c.to_string()).unwrap_or("–".into()),
            dur(h.duration_ms)
        );
    }
}

/// What `rampdeck verify` says of the journal, and the head to keep.
fn integrity_section(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Journal integrity\n");
    let _ = writeln!(
        o,
        "{} (`rampdeck verify` exit code {})\n",
        md(&s.chain.message),
        s.chain.exit_code
    );
    let _ = writeln!(o, "- **Records:** {}", s.chain.records);
    if let Some(head) = &s.chain.head {
        let _ = writeln!(
            o,
            "- **Head:** {} — keep it with the change; `rampdeck verify --expect-head <head>` shows later whether anything was removed, added or rewritten",
            code(head)
        );
    }
    for d in s.chain.details.iter().filter(|d| !d.starts_with("head: ")) {
        let _ = writeln!(o, "- {}", md(d));
    }
}

/// Records counted rather than listed.
fn repeated_table(o: &mut String, repeated: &[Repeated]) {
    if repeated.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\nRepeated records past the first {LISTED_PER_PERSON} of each person, counted here \
         rather than listed (the journal has each one):\n"
    );
    let _ = writeln!(o, "| Action | Who | Count | From | To |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    for r in repeated {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            md(&r.action),
            md(&r.who),
            r.count,
            md(&r.first_at),
            md(&r.last_at)
        );
    }
}

/// Everything after the break of the chain, labelled as unverified.
fn after_break_section(o: &mut String, a: &AfterBreak) {
    let _ = writeln!(
        o,
        "\n## After the break (line {}, seq {}): NOT VERIFIED\n",
        a.line, a.seq
    );
    let _ = writeln!(
        o,
        "**NOT VERIFIED.** The hash chain breaks here ({}: {}). What follows is shown as the \
         file holds it and proves nothing: any of it may have been edited, inserted or forged. \
         The unverified records claim the outcome: {}.\n",
        md(&a.kind),
        md(&a.detail),
        md(&a.claimed_outcome)
    );
    if a.decisions.is_empty() {
        let _ = writeln!(o, "No record after the break.");
    } else {
        decisions_table(o, &a.decisions);
    }
    repeated_table(o, &a.repeated);
    if a.not_records_total > 0 {
        let _ = writeln!(
            o,
            "\n{} line(s) after the break are not records:\n",
            a.not_records_total
        );
        for n in &a.not_records {
            let _ = writeln!(o, "- line {}: not a record ({})", n.line, md(&n.why));
        }
        let more = a.not_records_total.saturating_sub(a.not_records.len());
        if more > 0 {
            let _ = writeln!(o, "- and {more} more");
        }
    }
}

/// What caused the rollback, in words.
fn rollback_cause(o: &mut String, b: &BreachToRollback) {
    let metric = b.metric.as_deref().map(code).unwrap_or_default();
    let first = format!(
        "{}, {}",
        opt(&b.first_breach_at),
        opt(&b.first_breach_basis)
    );
    match b.cause.as_str() {
        "trigger" => {
            let trigger = match (&b.trigger, b.streak) {
                (Some(t), Some(n)) => format!("trigger {}, {n} breaches in a row; ", code(t)),
                (Some(t), None) => format!("trigger {}; ", code(t)),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                o,
                "**{}** from the first breach of {metric} ({trigger}first breach {first}) to the rollback starting ({}); decided by {} at {}: {}.",
                dur(b.ms),
                md(&b.rollback_started_at),
                md(&b.decided_by),
                md(&b.decided_at),
                md(&b.reason)
            );
        }
        "no_data" => {
            let _ = writeln!(
                o,
                "**{}** from the first poll of {metric} without data ({first}) to the rollback starting ({}); decided by {} at {} under the metric's no-data policy: {}.",
                dur(b.ms),
                md(&b.rollback_started_at),
                md(&b.decided_by),
                md(&b.decided_at),
                md(&b.reason)
            );
        }
        _ => {
            let who = b
                .decided_by
                .split_once(" (")
                .map_or(b.decided_by.as_str(), |(_, who)| {
                    who.strip_suffix(')').unwrap_or(who)
                });
            let whose = if b.cause == "person" {
                "a person's decision, "
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "Rolled back by {} at {}: {} — {whose}no trigger fired; the rollback started at {}.",
                md(who),
                md(&b.decided_at),
                md(&b.reason),
                md(&b.rollback_started_at)
            );
        }
    }
    if let Some(n) = &b.numbers {
        let _ = writeln!(o, "\nAt the decision: {}.", md(n));
    }
    if !b.not_passing.is_empty() {
        let gates: Vec<String> = b.not_passing.iter().map(|g| md(g)).collect();
        let _ = writeln!(o, "\nGates not passing then: {}.", gates.join("; "));
    }
}

/// The decisions as a Markdown table, one row per record.
fn decisions_table(o: &mut String, decisions: &[DecisionLine]) {
    let _ = writeln!(
        o,
        "| Seq | Time | Action | Who | Why | Step | Weight | Phase | Numbers |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for d in decisions {
        let numbers: Vec<String> = d.gates.iter().map(gate).collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} % | {} | {} |",
            d.seq,
            md(&d.at),
            md(&d.action),
            md(&d.who),
            md(&d.why),
            d.step.map(|x| (x + 1).to_string()).unwrap_or("–".into()),
            d.weight,
            md(&d.phase),
            numbers.join("; ")
        );
    }
}

/// The summary as pretty-printed JSON.
pub fn render_json(s: &Summary) -> String {
    serde_json::to_string_pretty(s).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("could not encode the summary: {e}") }).to_string()
    })
}

/// Streams the journal twice (the chain check, then every line), keeping
/// only what the summary shows. A broken chain still gives a summary: of
/// the verified records, with the rest apart as unverified.
pub(crate) fn build(journal: &Path) -> Result<Summary, JournalError> {
    let collected = collect(journal)?;
    let (records, repeated) = collected.verified.finish();
    let mut s = summarize_kept(&records, repeated, &collected.report);
    if let Some((kept, not_records, total)) = collected.after {
        let units = MetricUnits::from_plan(plan_of(&records));
        s.after_break = after_break(&collected.report, kept, not_records, total, &units);
    }
    Ok(s)
}

/// `rampdeck summary JOURNAL [--format markdown|json]`: prints the summary.
///
/// Exit codes: 0 printed and the chain holds (or only the last line is
/// torn); 1 printed, but the chain does NOT verify (the summary says so in
/// its first lines); 2 the journal could not be read.
pub fn summary_cli(path: &Path, format_markdown: bool) -> i32 {
    match build(path) {
        Ok(s) => {
            if format_markdown {
                print!("{}", render_markdown(&s));
            } else {
                println!("{}", render_json(&s));
            }
            if s.chain.exit_code == 1 { 1 } else { 0 }
        }
        Err(e) => {
            eprintln!("rampdeck summary: {}", super::escape::line(&e.to_string()));
            2
        }
    }
}

/// Writes `<journal stem>.summary.md` beside the journal (through a
/// temporary file and a rename, so a reader never sees half of it) and
/// returns its path.
pub fn write_summary_next_to(journal_path: &Path) -> Result<PathBuf, JournalError> {
    let s = build(journal_path)?;
    let stem = journal_path
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    let dir = journal_path.parent().unwrap_or(Path::new("."));
    let out = dir.join(format!("{stem}.summary.md"));
    let tmp = dir.join(format!(".{stem}.summary.md.tmp"));
    std::fs::write(&tmp, render_markdown(&s))
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| JournalError::io(&out, "write the summary next to", e))?;
    Ok(out)
}

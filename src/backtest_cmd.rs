//! `rampdeck backtest --config PLAN RECORDING... [--json]`: what a plan
//! would have done with past rollouts' recorded series (see
//! [`crate::recording::backtest`]), one report per recording: a table and
//! the reasons, or JSON.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::engine::words::elapsed;
use crate::headless::{EXIT_CONFIG, EXIT_PROMOTED};
use crate::recording::backtest::{self, Ending, Outcome, Report};

/// One recording's report, with the file it came from.
#[derive(Debug, Serialize)]
struct FileReport {
    file: PathBuf,
    #[serde(flatten)]
    report: Report,
}

/// Runs `rampdeck backtest`: 0 when every recording was backtested, 2
/// when the plan or a recording cannot be read (nothing is printed then
/// but the error, so a script never takes half an answer for a whole one).
pub fn backtest_cli(config: &Path, recordings: &[PathBuf], json: bool) -> i32 {
    let plan = match crate::config::load(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rampdeck backtest: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut reports = Vec::new();
    for file in recordings {
        match crate::recording::open(file) {
            Ok(rec) => reports.push(FileReport {
                file: file.clone(),
                report: backtest::report(&rec, &plan),
            }),
            Err(e) => {
                eprintln!(
                    "rampdeck backtest: {}: {e}\n  help: give a recording rampdeck wrote beside a journal (`<rollout>.rec.jsonl.gz`, or `.rec.jsonl.live` while it runs)",
                    file.display()
                );
                return EXIT_CONFIG;
            }
        }
    }
    if json {
        match serde_json::to_string_pretty(&reports) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("rampdeck backtest: {e}");
                return crate::headless::EXIT_INTERNAL;
            }
        }
    } else {
        print!("{}", table(&reports, &config.display().to_string()));
    }
    EXIT_PROMOTED
}

fn secs(s: f64) -> String {
    elapsed(Duration::from_millis((s.max(0.0) * 1000.0) as u64))
}

/// An ending in a few words, for the table.
fn short(e: &Ending) -> String {
    match e {
        Ending::RolledBack(r) => format!(
            "ROLLED BACK at step {} ({} %), {} in, by {}",
            r.step.map_or("-".to_string(), |s| s.to_string()),
            r.weight,
            secs(r.at_secs),
            r.by
        ),
        Ending::Promoted { at_secs } => format!("promoted, {} in", secs(*at_secs)),
        Ending::Running {
            step,
            weight,
            phase,
        } => format!(
            "still running at step {} ({} %, {phase}) when the recording ends",
            step.map_or("-".to_string(), |s| s.to_string()),
            weight
        ),
        Ending::Failed { reason } => format!("failed: {reason}"),
    }
}

/// The table `rampdeck backtest` prints, then each recording's reasons.
fn table(reports: &[FileReport], plan: &str) -> String {
    let mut out = format!("backtest of {plan} on {} recording(s)\n\n", reports.len());
    for r in reports {
        let rep = &r.report;
        out.push_str(&format!(
            "{} (rollout {}, {} recorded)\n",
            r.file.display(),
            rep.rollout_id,
            secs(rep.span_secs)
        ));
        out.push_str(&format!("  this plan:    {}\n", short(&rep.plan.ending)));
        out.push_str(&format!(
            "  its own plan: {}\n",
            short(&rep.original.ending)
        ));
        out.push_str(&format!("  really:       {}\n", short(&rep.real)));
        if rep.false_alarm {
            out.push_str(
                "  FALSE ALARM: its own plan promoted this rollout; this plan rolls it back\n",
            );
        }
        if let Ending::RolledBack(rb) = &rep.plan.ending {
            out.push_str(&format!("  why: {}\n", rb.reason));
        }
        if let Ending::RolledBack(real) = &rep.real {
            out.push_str(&format!(
                "  note: the real rollout rolled back {} in: after that the canary took no traffic, so later samples are the old version's and prove nothing\n",
                secs(real.at_secs)
            ));
            let decided = match &rep.plan.ending {
                Ending::RolledBack(r) => Some(r.at_secs),
                Ending::Promoted { at_secs } => Some(*at_secs),
                _ => None,
            };
            let after = decided.unwrap_or(rep.span_secs) > real.at_secs;
            if after && rep.samples_after_real_rollback > 0 {
                out.push_str("  so this plan's result rests on samples taken after the real rollback: not evidence either way\n");
            }
        }
        out.push_str(&assisted_line(&rep.plan));
        out.push('\n');
    }
    out
}

fn assisted_line(o: &Outcome) -> String {
    let mut did = o.assisted.clone();
    if o.skipped > 0 {
        did.push(format!(
            "skipped {} recorded inputs of people, hooks and checks",
            o.skipped
        ));
    }
    if did.is_empty() {
        return String::new();
    }
    format!(
        "  in people's and hooks' place, the backtest {}\n",
        did.join("; ")
    )
}

//! `rampdeck history`: the table (80 columns) and `--json`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{Chain, Entry, Fired, History, ReadOptions, read_dirs};
use crate::engine::Timestamp;
use crate::engine::words::{date_time, elapsed};
use crate::journal::escape::line;
use crate::tui::view::{fit, truncate};

/// The table's width.
pub const WIDTH: usize = 80;

/// "2026-10-02 14:03" (UTC), from the engine's date and time.
fn started(e: &Entry) -> String {
    e.started_ms.map_or_else(
        || "-".into(),
        |ms| date_time(Timestamp(ms)).chars().take(16).collect(),
    )
}

fn chain_cell(c: &Chain) -> &'static str {
    match c {
        Chain::Verified => "ok",
        Chain::Open => "open",
        Chain::Torn { .. } => "torn",
        Chain::Tampered { .. } => "TAMPERED",
    }
}

/// "trigger_rollback `latency` at step 2, 25 %: p95 9 % vs limit 5 % (3 in a row)".
pub fn fired_words(f: &Fired) -> String {
    let mut s = f.kind.clone();
    if let Some(t) = &f.trigger {
        let _ = write!(s, " `{t}`");
    } else if f.by != "rampdeck" {
        let _ = write!(s, " by {}", f.by);
    }
    match f.step {
        Some(k) => {
            let _ = write!(s, " at step {}, {} %", k + 1, f.weight);
        }
        None => {
            let _ = write!(s, " at {} %", f.weight);
        }
    }
    match (&f.metric, &f.numbers) {
        (Some(m), Some(n)) => {
            let _ = write!(s, ": {m} {n}");
        }
        (Some(m), None) => {
            let _ = write!(s, ": {m}");
        }
        _ => {}
    }
    if let Some(n) = f.streak {
        let _ = write!(s, " ({n} in a row)");
    }
    s
}

/// `text` indented by two, on at most two lines of [`WIDTH`] (the second
/// indented by four, cut at the edge).
fn wrap(out: &mut String, text: &str) {
    let room = WIDTH - 2;
    if text.chars().count() <= room {
        let _ = writeln!(out, "  {text}");
        return;
    }
    let head: String = text.chars().take(room).collect();
    let cut = head
        .rfind(' ')
        .filter(|&i| i > room / 2)
        .unwrap_or(head.len());
    let (first, rest) = text.split_at(cut);
    let _ = writeln!(out, "  {}", first.trim_end());
    let _ = writeln!(
        out,
        "{}",
        truncate(&format!("    {}", rest.trim_start()), WIDTH)
    );
}

/// The table: one line per rollout, then what fired, the time from the
/// first breach to the rollback, and what is wrong with its chain.
pub fn table(h: &History) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        fit(
            "STARTED (UTC)    ROLLOUT                  RESULT      TOOK     BY      CHAIN",
            WIDTH - 1
        )
        .trim_end()
    );
    for e in &h.entries {
        let took = e
            .duration_ms
            .map_or_else(|| "-".into(), |ms| elapsed(Duration::from_millis(ms)));
        let by = e.drove.first().map_or("-", String::as_str);
        let row = format!(
            "{} {} {} {} {} {}",
            fit(&started(e), 16),
            fit(&line(&e.rollout), 24),
            fit(e.outcome.words(), 11),
            fit(&took, 8),
            fit(&line(by), 7),
            chain_cell(&e.chain)
        );
        let _ = writeln!(out, "{}", row.trim_end());
        let mut more = Vec::new();
        for f in &e.fired {
            more.push(fired_words(f));
        }
        if let Some(ms) = e.breach_to_rollback_ms {
            more.push(format!(
                "breach to rollback: {}",
                elapsed(Duration::from_millis(ms))
            ));
        }
        if e.drove.len() > 1 {
            more.push(format!("drove: {}", e.drove.join(", ")));
        }
        match &e.chain {
            Chain::Tampered { line, kind, detail } => {
                more.push(format!("TAMPERED at line {line} ({kind}): {detail}"));
            }
            Chain::Torn { line } => more.push(format!(
                "torn last line {line}: a crash mid-write, not tampering"
            )),
            Chain::Verified | Chain::Open => {}
        }
        for m in more {
            wrap(&mut out, &line(&m));
        }
    }
    if h.entries.is_empty() {
        out.push_str("no rollouts\n");
    }
    for u in &h.unreadable {
        let text = format!("unreadable: {}: {}", u.journal, u.why);
        let _ = writeln!(out, "{}", truncate(&line(&text), WIDTH));
    }
    if let Some(c) = &h.cut_short {
        let _ = writeln!(out, "{}", truncate(&format!("(cut short: {c})"), WIDTH));
    }
    out
}

/// `rampdeck history [SERVICE] [--dir DIR ...] [--json]`. Exit 0 when every
/// journal read verifies or is open; 1 when one is tampered or unreadable.
pub fn history_cli(service: Option<String>, dirs: Vec<PathBuf>, json: bool) -> i32 {
    let dirs = if dirs.is_empty() {
        let d = crate::config::default_journal_dir();
        vec![d.join("demo"), d]
    } else {
        for d in dirs.iter().filter(|d| !d.is_dir()) {
            eprintln!(
                "rampdeck history: {} is not a directory; name the journal_dir of the plans",
                line(&d.display().to_string())
            );
        }
        dirs
    };
    let opts = ReadOptions {
        service,
        ..ReadOptions::default()
    };
    let h = read_dirs(&dirs, &opts);
    if json {
        match serde_json::to_string_pretty(&h) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("rampdeck history: {e}");
                return 2;
            }
        }
    } else {
        print!("{}", table(&h));
    }
    let bad = h
        .entries
        .iter()
        .any(|e| matches!(e.chain, Chain::Tampered { .. }))
        || !h.unreadable.is_empty();
    i32::from(bad)
}

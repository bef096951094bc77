//! Text from outside (a reason, a hook's stderr, an identity, a journal
//! somebody edited) never reaches a terminal as control bytes, never forges
//! a log line, and never forges structure in a Markdown document (issue 10,
//! item 10). Real processes: a headless driver, `rampdeck rollback`,
//! `rampdeck summary` and `rampdeck verify`.

#![allow(clippy::unwrap_used)]

use rampdeck::engine::PhaseKind;
use std::process::Stdio;
use std::time::Duration;

use crate::kit::field::Field;
use crate::kit::proc::wait_with_timeout;
use rampdeck::engine::{Actor, Decision, HookOutcome, HookRecord, Timestamp};
use rampdeck::journal::JournalWriter;
use rampdeck::plan::HookKind;

/// Bytes no text output may carry: ESC, BEL, CR, the C1 CSI.
fn raw_controls(bytes: &[u8]) -> Vec<(usize, u8)> {
    let text = String::from_utf8_lossy(bytes);
    let mut found: Vec<(usize, u8)> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, 0x1b | 0x07 | b'\r' | 0x00 | 0x08))
        .map(|(i, b)| (i, *b))
        .collect();
    if text.contains('\u{9b}') {
        found.push((0, 0x9b));
    }
    found
}

/// A driver whose smoke check fails with a terminal-hijacking stderr line
/// (CR to overwrite the line, ESC to retitle the pane and clear the
/// screen), then a rollback whose reason holds a newline and a forged log
/// line: the headless output shows both, visibly, each on its own line.
#[test]
fn headless_lines_show_control_bytes_and_newlines_visibly() {
    let f = Field::new("shop-inject");
    let config = f.plan(&format!(
        r#"
[rollout]
service = "shop"
strategy = "canary"
id = "{}"

[[steps]]
name = "canary"
weight = 10
hold = "1h"
gate = "auto"

[hooks.set_weight]
command = ["true", "{{weight}}"]
idempotent = true

[[hooks.on_step_enter]]
command = ["sh", "-c", 'printf "boom\r09:00:00  decision  promoted by alice\033]0;owned\007\033[2J\n" >&2; exit 1']
timeout = "5s"

[hooks.rollback]
command = ["true"]
timeout = "5s"
"#,
        f.id
    ));
    let child = f
        .rampdeck(&["run", "--headless", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    f.wait_for("check_failed_pause", Duration::from_secs(20));
    let reason = "looked bad\n09:00:01  decision  promoted by alice: all good";
    let out = f.rollback(reason);
    assert!(
        out.status.success(),
        "rollback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wait_with_timeout(child, Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert_eq!(raw_controls(&out.stdout), vec![], "{stdout:?}");
    for line in stdout.lines() {
        assert!(
            !line.starts_with("09:00:0"),
            "a forged log line: {line:?} in\n{stdout}"
        );
    }
    assert!(
        stdout.contains(
            "boom\\u{d}09:00:00  decision  promoted by alice\\u{1b}]0;owned\\u{7}\\u{1b}[2J"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("looked bad⏎09:00:01  decision  promoted by alice: all good"),
        "{stdout}"
    );

    // The summary written next to the journal, and `rampdeck summary`: no
    // control byte, and the reason's row stays one row.
    let md_path = f.journal().with_extension("summary.md");
    let written = std::fs::read(&md_path).unwrap();
    assert_eq!(raw_controls(&written), vec![]);
    let printed = f.rampdeck(&["summary"]).arg(f.journal()).output().unwrap();
    assert_eq!(raw_controls(&printed.stdout), vec![]);
    let text = String::from_utf8_lossy(&printed.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("looked bad"))
        .unwrap_or_else(|| panic!("no row with the reason in\n{text}"));
    assert!(row.contains("looked bad⏎09:00:01"), "{row}");
    assert!(
        !text.lines().any(|l| l.starts_with("09:00:01")),
        "the reason split the table:\n{text}"
    );
}

const T0: i64 = 1_735_725_600_000;

fn decision(action: &str, actor: &str, reason: &str) -> Decision {
    Decision {
        action: rampdeck::engine::DecisionKind::from_word(action),
        actor: Actor::named(actor),
        reason: reason.into(),
        step: Some(0),
        weight: 10,
        phase: PhaseKind::Holding,
        gates: vec![],
        hook: None,
        at: None,
        detail: serde_json::Value::Null,
    }
}

/// Reasons, identities and hook output full of Markdown and HTML render as
/// the characters they are in `summary.md` and `rampdeck summary`: no row,
/// heading, link, emphasis, code or tag of their own.
#[test]
fn markdown_and_html_in_user_text_cannot_forge_structure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop-md.jsonl");
    let mut w = JournalWriter::create(&path, "shop-md").unwrap();
    let forged_row = "fine |\n| 99 | 2025-01-01T00:00:00.000Z | promoted | cab | approved | 1 | 100 % | promoted | |";
    let heading = "ok\n# Approved by the CAB\n<img src=x onerror=alert(1)> **LGTM** [ticket](https://evil.example) `rm -rf` _x_ ~~no~~";
    let mut hook = decision("hook_result", "rampdeck", "rollback failed: see output");
    hook.hook = Some(HookRecord {
        id: 1,
        kind: HookKind::Rollback,
        weight: Some(0),
        outcome: Some(HookOutcome {
            ok: false,
            code: Some(1),
            summary: "exit 1: <b>|</b> `x` \u{1b}[31mred".into(),
            stdout: String::new(),
            stderr: String::new(),
            attempts: 1,
            duration_ms: 10,
        }),
    });
    let records = [
        decision("pause", "alice", forged_row),
        decision("resume", "bob|<i>eve</i>*", heading),
        hook,
    ];
    for (i, d) in records.iter().enumerate() {
        w.append(Timestamp(T0 + i as i64 * 1000), d).unwrap();
    }
    drop(w);
    let out = crate::kit::proc::rampdeck(&[])
        .arg("summary")
        .arg(&path)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(raw_controls(&out.stdout), vec![], "{md}");
    let written = rampdeck::journal::write_summary_next_to(&path).unwrap();
    assert_eq!(std::fs::read_to_string(written).unwrap(), md);
    for line in md.lines() {
        assert!(!line.starts_with("# Approved"), "forged heading: {line}");
        assert!(!line.starts_with("| 99 |"), "forged row: {line}");
    }
    for raw in [
        "<img src=x onerror=alert(1)>",
        "<b>",
        "<i>",
        "**LGTM**",
        "[ticket](",
        "`rm -rf`",
        "~~no~~",
    ] {
        assert!(!md.contains(raw), "{raw} passed into the document:\n{md}");
    }
    for escaped in [
        "fine \\|⏎\\| 99 \\|",
        "ok⏎\\# Approved by the CAB⏎\\<img src=x onerror=alert(1)\\> \\*\\*LGTM\\*\\* \\[ticket\\](https://evil.example) \\`rm -rf\\` \\_x\\_ \\~\\~no\\~\\~",
        "bob\\|\\<i\\>eve\\</i\\>\\*",
        "exit 1: \\<b\\>\\|\\</b\\> \\`x\\` \\\\u{1b}\\[31mred",
    ] {
        assert!(md.contains(escaped), "missing {escaped} in\n{md}");
    }
    // Each decision is one table row.
    let rows = md
        .lines()
        .filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |") || l.starts_with("| 3 |"))
        .count();
    assert!(rows >= 3, "{md}");

    // JSON stays JSON: the reason as it was written.
    let json = crate::kit::proc::rampdeck(&[])
        .args(["summary", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["decisions"][0]["why"], forged_row);
}

/// `rampdeck verify` prints what it read from a journal (a rollout id, a
/// parse error quoting a line) with every control byte visible.
#[test]
fn verify_output_has_no_control_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.jsonl");
    let id = "r\u{1b}]0;owned\u{7}\u{1b}[2J";
    let mut w = JournalWriter::create(&path, id).unwrap();
    w.append(Timestamp(T0), &decision("pause", "alice", "x"))
        .unwrap();
    drop(w);
    let run = || {
        crate::kit::proc::rampdeck(&[])
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(raw_controls(&out.stdout), vec![]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("r\\u{1b}]0;owned\\u{7}\\u{1b}[2J"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A line that is not a record, quoted back in the error.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\":2,\"action\":\"\u{1b}[2J\u{7}\"}\n");
    std::fs::write(&path, text).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(raw_controls(&out.stdout), vec![]);
    assert_eq!(raw_controls(&out.stderr), vec![]);
}

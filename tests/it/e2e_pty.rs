//! End to end in a real pseudo-terminal: `rampdeck demo` on screen, keys
//! typed as an operator would, the screen read back through a terminal
//! emulator, decisions checked in the journal, and the terminal's modes
//! checked after every way out (quit, SIGTERM, panic).
//!
//! Every test has its own HOME and XDG_DATA_HOME, so journals land in a
//! temporary directory (`<tmp>/data/rampdeck/demo/<rollout>.jsonl`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::kit::{journal, pty};

use std::path::PathBuf;
use std::time::Duration;

use pty::{Term, last_index};
use serde_json::Value;

const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";
const ENTER_ALT_SCREEN: &[u8] = b"\x1b[?1049h";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";
const HIDE_CURSOR: &[u8] = b"\x1b[?25l";

/// Generous: the debug binary on a loaded 2-core machine.
const SCREEN: Duration = Duration::from_secs(15);

struct Demo {
    term: Term,
    dir: tempfile::TempDir,
}

fn demo(args: &[&str], cols: u16, rows: u16, extra_env: &[(&str, &str)]) -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_string();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap().to_string();
    let mut env = vec![("HOME", home.as_str()), ("XDG_DATA_HOME", data.as_str())];
    env.extend_from_slice(extra_env);
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let term = Term::start(&all, cols, rows, &env, dir.path());
    Demo { term, dir }
}

impl Demo {
    fn journal_path(&self) -> PathBuf {
        let dir = self.dir.path().join("data/rampdeck/demo");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no journal directory {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        assert_eq!(found.len(), 1, "one journal expected in {}", dir.display());
        found.remove(0)
    }

    fn journal(&self) -> Vec<Value> {
        journal::strict_records(&self.journal_path())
    }

    /// The journal once it has a record of `action`; panics after SCREEN.
    fn wait_journal(&self, action: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + SCREEN;
        loop {
            let j = self.journal();
            if !records(&j, action).is_empty() {
                return j;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {action:?} record in the journal; screen:\n{}",
                self.term.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn records<'a>(journal: &'a [Value], action: &str) -> Vec<&'a Value> {
    journal.iter().filter(|r| r["action"] == action).collect()
}

fn me() -> String {
    rampdeck::identity::user_name(nix::unistd::getuid().as_raw())
}

/// The program left the alternate screen and showed the cursor after the
/// last time it entered / hid them, and the line discipline is back.
fn assert_terminal_restored(term: &Term) {
    let raw = term.raw();
    let entered = last_index(&raw, ENTER_ALT_SCREEN).expect("the cockpit used the alt screen");
    let left = last_index(&raw, LEAVE_ALT_SCREEN).expect("left the alternate screen");
    assert!(left > entered, "the alternate screen was left last");
    let hidden = last_index(&raw, HIDE_CURSOR).expect("the cockpit hid the cursor");
    let shown = last_index(&raw, SHOW_CURSOR).expect("showed the cursor again");
    assert!(shown > hidden, "the cursor was shown last");
    assert!(
        term.termios_restored(),
        "ICANON and ECHO are back on the terminal"
    );
}

#[test]
fn an_operator_pauses_resumes_and_rolls_back_by_keyboard_and_the_journal_has_it() {
    let mut d = demo(&["--scenario", "healthy", "--speed", "2"], 200, 50, &[]);
    let t = &mut d.term;
    let s = t.wait_for("PROGRESSING", SCREEN);
    assert!(s.contains("checkout"), "service on screen:\n{s}");
    assert!(s.contains("step 1/4"), "step k of n on screen:\n{s}");
    for chart in ["Error ratio", "p95 latency", "Request rate", "Saturation"] {
        assert!(s.contains(chart), "chart {chart} on screen:\n{s}");
    }

    // Pause: a confirm dialog with a reason field.
    t.send(" ");
    t.wait_for("Confirm pause", SCREEN);
    t.send("checking dashboards");
    t.wait_for("checking dashboards", SCREEN);
    t.send("\r");
    let s = t.wait_for("PAUSED", SCREEN);
    let who = me();
    t.wait_for(&format!("paused by {who}: checking dashboards"), SCREEN);
    assert!(!s.contains("Confirm pause"), "the dialog closed:\n{s}");
    let journal = d.journal();
    let pause = records(&journal, "pause");
    assert_eq!(pause.len(), 1, "one pause record");
    assert_eq!(pause[0]["reason"], "checking dashboards");
    assert_eq!(pause[0]["actor"]["user"], who.as_str());
    assert_eq!(
        pause[0]["actor"]["uid"],
        u64::from(nix::unistd::getuid().as_raw())
    );

    // Resume needs no reason by default: one key.
    let t = &mut d.term;
    t.send(" ");
    t.wait_until("the pause to end", SCREEN, |s| !s.contains("PAUSED"));
    assert_eq!(records(&d.journal(), "resume").len(), 1);

    // Promote to the next step with a reason.
    let t = &mut d.term;
    t.send("p");
    t.wait_for("Confirm promote", SCREEN);
    t.send("dashboards clean");
    t.send("\r");
    // The step may also have advanced on its own meanwhile (hold 10 s at
    // speed 2): the journal, not the step number, says the promote landed.
    let journal = d.wait_journal("promote");
    d.term.wait_until("a later step", SCREEN, |s| {
        s.contains("step 2/4") || s.contains("step 3/4")
    });
    let promote = records(&journal, "promote");
    assert_eq!(promote.len(), 1, "one promote record");
    assert_eq!(promote[0]["reason"], "dashboards clean");
    assert_eq!(promote[0]["actor"]["user"], who.as_str());

    // Rollback: the reason is required; an empty one is refused inline.
    let t = &mut d.term;
    t.send("r");
    t.wait_for("Confirm rollback", SCREEN);
    t.send("\r");
    let s = t.wait_for("a reason is required for rollback", SCREEN);
    assert!(
        s.contains("Confirm rollback"),
        "the dialog stays open:\n{s}"
    );
    assert!(records(&d.journal(), "rollback").is_empty(), "nothing sent");
    let t = &mut d.term;
    t.send("latency looks off");
    t.send("\r");
    let s = t.wait_for("ROLLED BACK", SCREEN);
    assert!(
        s.contains("latency looks off"),
        "decision log shows the reason:\n{s}"
    );
    let journal = d.journal();
    let rb = records(&journal, "rollback");
    assert_eq!(rb.len(), 1, "one rollback record");
    assert_eq!(rb[0]["reason"], "latency looks off");
    assert_eq!(rb[0]["actor"]["user"], who.as_str());
    // The decision is journaled before the rollback hook runs.
    let pos = |a: &str| journal.iter().position(|r| r["action"] == a);
    assert!(pos("rollback") < pos("rolled_back"));

    // Ended: q quits at once and the terminal is restored.
    let t = &mut d.term;
    t.send("q");
    let code = t.wait_exit(SCREEN);
    assert_ne!(code, 0, "a rolled-back rollout exits non-zero");
    assert_terminal_restored(t);
}

#[test]
fn a_bad_canary_rolls_back_on_its_own_in_the_compact_layout() {
    let mut d = demo(&["--scenario", "bad-canary", "--speed", "4"], 80, 24, &[]);
    let t = &mut d.term;
    let s = t.wait_for("PROGRESSING", SCREEN);
    assert!(s.contains("checkout"), "{s}");
    // The compact layout has no chart panels, yet every gate is listed.
    assert!(!s.contains("Ramp "), "compact layout at 80x24:\n{s}");
    for gate in ["Error ratio", "p95 latency", "Request rate", "Saturation"] {
        assert!(s.contains(gate), "gate {gate} on screen:\n{s}");
    }
    let s = t.wait_for("ROLLED BACK", Duration::from_secs(45));
    assert!(
        s.contains("rolled_back") || s.contains("trigger_rollback"),
        "the last decision says why:\n{s}"
    );
    let journal = d.journal();
    let trigger = records(&journal, "trigger_rollback");
    assert_eq!(trigger.len(), 1, "the engine rolled back by itself");
    assert_eq!(trigger[0]["actor"]["user"], "rampdeck");
    assert!(
        records(&journal, "rollback").is_empty(),
        "no human rollback"
    );
    let t = &mut d.term;
    t.send("q");
    t.wait_exit(SCREEN);
    assert_terminal_restored(t);
}

/// The terminal's size is asked again only when it changes: a resize
/// must still reach the screen, both ways, with nothing left over.
#[test]
fn a_resized_terminal_is_redrawn_at_its_new_size() {
    let mut d = demo(&["--scenario", "healthy"], 200, 50, &[]);
    let t = &mut d.term;
    t.wait_until("the full layout", SCREEN, |s| s.contains("Ramp "));
    t.resize(80, 24);
    // Until the redraw arrives the terminal shows the old frame cut to
    // 80x24 (its header box, cut mid-word): only the compact header on
    // the first row says the new frame is on screen.
    t.wait_until("the compact layout", SCREEN, |s| {
        s.starts_with("checkout") && !s.contains("Ramp ") && !s.contains("╭ rampdeck")
    });
    t.resize(200, 50);
    let s = t.wait_until("the full layout again", SCREEN, |s| s.contains("Ramp "));
    assert!(
        !s.contains("\nramp "),
        "nothing of the compact layout left:\n{s}"
    );
    t.send("q");
    t.wait_for("Quit the cockpit?", SCREEN);
    t.send("y");
    t.wait_exit(SCREEN);
    assert_terminal_restored(t);
}

#[test]
fn quitting_while_in_progress_asks_first_and_restores_the_terminal() {
    let mut d = demo(&["--scenario", "healthy"], 120, 35, &[]);
    let t = &mut d.term;
    t.wait_for("PROGRESSING", SCREEN);
    t.send("q");
    let s = t.wait_for("Quit the cockpit?", SCREEN);
    assert!(s.contains("never promotes or rolls back"), "{s}");
    // "no" keeps the cockpit; "yes" closes it.
    t.send("n");
    t.wait_until("the dialog to close", SCREEN, |s| {
        !s.contains("Quit the cockpit?")
    });
    t.send("q");
    t.wait_for("Quit the cockpit?", SCREEN);
    t.send("y");
    let code = t.wait_exit(SCREEN);
    assert_terminal_restored(t);
    let s = t.screen();
    assert!(s.contains("journal:"), "the journal path is printed:\n{s}");
    assert_ne!(code, 0, "an unfinished rollout does not exit 0");
    let journal = d.journal();
    assert!(records(&journal, "promote").is_empty());
    assert!(records(&journal, "rollback").is_empty());
    assert!(records(&journal, "trigger_rollback").is_empty());
}

#[test]
fn sigterm_restores_the_terminal() {
    a_signal_restores_the_terminal(nix::sys::signal::Signal::SIGTERM);
}

/// An external SIGINT (not the Ctrl-C key, which raw mode turns into a
/// key press) and SIGQUIT end like SIGTERM: terminal restored, one
/// `driver_stopped` record naming the signal (issue 9, item 8).
#[test]
fn sigint_and_sigquit_restore_the_terminal_and_are_journaled() {
    a_signal_restores_the_terminal(nix::sys::signal::Signal::SIGINT);
    a_signal_restores_the_terminal(nix::sys::signal::Signal::SIGQUIT);
}

/// A hang-up (the SSH link dropped) restores what it can of the terminal
/// and leaves the driver running with its triggers armed (issue 6): the
/// journal says the operator went away, and SIGTERM still stops it.
#[test]
fn sighup_restores_the_terminal_and_the_driver_goes_on() {
    use nix::sys::signal::{Signal, kill};
    let mut d = demo(&["--scenario", "healthy"], 100, 30, &[]);
    let t = &mut d.term;
    t.wait_for("PROGRESSING", SCREEN);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(t.pid().expect("child pid")).unwrap());
    kill(pid, Signal::SIGHUP).unwrap();
    let journal = d.wait_journal("operator_detached");
    assert!(kill(pid, None).is_ok(), "the driver died with the terminal");
    assert!(records(&journal, "driver_stopped").is_empty());
    kill(pid, Signal::SIGTERM).unwrap();
    let t = &mut d.term;
    t.wait_exit(SCREEN);
    assert_terminal_restored(t);
    let journal = d.journal();
    let stop = records(&journal, "driver_stopped");
    assert_eq!(stop.len(), 1, "one stop record");
    assert!(
        stop[0]["reason"].as_str().unwrap().contains("SIGTERM"),
        "{}",
        stop[0]
    );
    assert!(records(&journal, "rollback").is_empty());
}

fn a_signal_restores_the_terminal(sig: nix::sys::signal::Signal) {
    let mut d = demo(&["--scenario", "healthy"], 100, 30, &[]);
    let t = &mut d.term;
    t.wait_for("PROGRESSING", SCREEN);
    let pid = t.pid().expect("child pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()), sig).unwrap();
    t.wait_exit(SCREEN);
    assert_terminal_restored(t);
    // The driver journaled why the cockpit closed, and did nothing else.
    let journal = d.journal();
    let stop = records(&journal, "driver_stopped");
    assert_eq!(stop.len(), 1, "one stop record");
    assert!(
        stop[0]["reason"].as_str().unwrap().contains(sig.as_str()),
        "the stop record names {sig}: {}",
        stop[0]
    );
    assert!(records(&journal, "rollback").is_empty());
}

#[test]
fn a_panic_restores_the_terminal_and_the_report_is_readable() {
    let mut d = demo(
        &["--scenario", "healthy"],
        120,
        40,
        // As most users run it: no backtrace, so the report fits the screen.
        &[
            ("RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME", "1"),
            ("RUST_BACKTRACE", "0"),
            ("RUST_LIB_BACKTRACE", "0"),
        ],
    );
    let t = &mut d.term;
    let code = t.wait_exit(SCREEN);
    assert_ne!(code, 0, "a panic exits non-zero");
    assert_terminal_restored(t);
    let s = t.screen();
    assert!(
        s.contains("panicked") && s.contains("RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME"),
        "the color-eyre report is on the restored screen:\n{s}"
    );
    // Drawn on the main screen, so it stays in the scrollback.
    let raw = t.raw();
    let report = last_index(&raw, b"panicked").unwrap();
    assert!(report > last_index(&raw, LEAVE_ALT_SCREEN).unwrap());
}

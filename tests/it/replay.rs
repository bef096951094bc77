//! Replay (issue 15): a flight recording fed again to a fresh engine shows
//! what the live cockpit showed at that moment; the real binary replays
//! headless and in a pseudo-terminal.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use rampdeck::recording::player::{Player, ReplayView};
use rampdeck::recording::{Recording, format};
use rampdeck::snapshot::Snapshot;
use rampdeck::tui::fixtures::{Scenario, snapshot_and_recording};
use rampdeck::tui::{Keymap, Theme, UiState, render};

use crate::kit::pty::Term;

fn screen(snap: &Snapshot, w: u16, h: u16) -> Vec<String> {
    let ui = UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice");
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.buffer_mut(), snap, &ui)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

fn replayed(rec: Recording, live: &Snapshot) -> Snapshot {
    let at = live.now;
    let mut p = Player::new(rec);
    p.seek(at);
    let (from, to) = p.span();
    let view = ReplayView {
        from,
        to,
        playing: false,
        speed: 1.0,
        decisions_seen: p.decisions().len(),
    };
    p.snapshot(1, &live.journal_path, live.summary_path.clone(), view)
}

/// Between the header (who watches and the sources' latencies are the
/// live driver's, not the recording's) and the footer, the replayed screen
/// is the live one.
fn assert_same_below_header(scenario: Scenario) -> Vec<String> {
    let (live, rec) = snapshot_and_recording(scenario);
    let again = replayed(rec, &live);
    let (a, b) = (screen(&live, 200, 50), screen(&again, 200, 50));
    // The footer offers the replay's keys instead of the operator's.
    for (y, (l, r)) in a.iter().zip(&b).enumerate().skip(4).take(45) {
        assert_eq!(
            l,
            r,
            "row {y} differs:\nlive:\n{}\nreplay:\n{}",
            a.join("\n"),
            b.join("\n")
        );
    }
    assert!(b[1].contains("REPLAY paused ×1"), "{}", b[1]);
    b
}

#[test]
fn the_replay_at_the_triggers_moment_is_the_live_screen() {
    let s = assert_same_below_header(Scenario::BreachCountdown).join("\n");
    // The breach and the trigger's count, where they happened.
    assert!(s.contains("Breach"), "{s}");
    assert!(s.contains("1/2"), "the trigger's countdown:\n{s}");
}

#[test]
fn the_replay_of_a_rolled_back_rollout_shows_the_rollback() {
    let s = assert_same_below_header(Scenario::RolledBack).join("\n");
    assert!(
        s.contains("ROLLED BACK") && s.contains("rolled_back"),
        "{s}"
    );
}

#[test]
fn seeking_back_and_stepping_by_decision_reach_the_same_screens() {
    let (live, rec) = snapshot_and_recording(Scenario::RolledBack);
    let mut p = Player::new(rec.clone());
    p.seek(live.now);
    let all = p.decisions().to_vec();
    assert!(all.len() > 5);
    // Back to the start, then decision by decision: the same decisions.
    let (from, _) = p.span();
    p.seek(from);
    let mut seen = p.decisions().len();
    while let Some(t) = p.next_decision() {
        assert!(p.decisions().len() > seen, "n moved to a decision at {t:?}");
        seen = p.decisions().len();
    }
    assert_eq!(p.decisions(), &all[..]);
    // N steps back to an earlier decision's moment.
    let before = p.at();
    let back = p.previous_decision().expect("an earlier decision");
    assert!(back < before);
    assert_eq!(p.at(), back);
}

fn write_recording(dir: &std::path::Path, scenario: Scenario) -> std::path::PathBuf {
    let (_, rec) = snapshot_and_recording(scenario);
    let path = dir.join("checkout-1.rec.jsonl");
    format::write(&rec, std::fs::File::create(&path).unwrap()).unwrap();
    path
}

#[test]
fn headless_replay_prints_the_decisions_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), Scenario::RolledBack);
    let out = crate::kit::proc::rampdeck(&["replay", "--headless"])
        .arg(&rec)
        .output()
        .unwrap();
    let said = crate::kit::proc::said(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let text = String::from_utf8_lossy(&out.stdout);
    let order: Vec<usize> = [
        "rollout_started",
        "approve by bob",
        "trigger_rollback",
        "rolled_back",
    ]
    .iter()
    .map(|k| text.find(k).unwrap_or_else(|| panic!("no {k}:\n{text}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.lines().last().unwrap().starts_with("replayed "),
        "{text}"
    );

    // A journal without a recording beside it: what is missing, and why.
    let journal = dir.path().join("old.jsonl");
    std::fs::write(&journal, "").unwrap();
    let out = crate::kit::proc::rampdeck(&["replay", "--headless"])
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no flight recording") && err.contains("old.rec.jsonl.gz"),
        "{err}"
    );
}

#[test]
fn the_replay_cockpit_plays_steps_and_quits_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), Scenario::RolledBack);
    let rec = rec.display().to_string();
    let mut term = Term::start(&["replay", &rec, "--at", "+15m"], 200, 50, &[], dir.path());
    let wait = Duration::from_secs(20);
    term.wait_for("REPLAY playing", wait);
    // Read-only: a rollback key sends nothing and says so.
    term.send("r");
    term.wait_for("a replay is read-only", wait);
    // Pause, then step to the next decisions up to the rollback.
    term.send(" ");
    term.wait_for("REPLAY paused", wait);
    for _ in 0..12 {
        term.send("n");
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = term.wait_for("ROLLED BACK", wait);
    assert!(s.contains("rolled_back"), "{s}");
    term.send("q");
    assert_eq!(term.wait_exit(wait), 0);
    assert!(term.termios_restored());
}

/// The actions of a journal's records, in order.
fn actions(journal: &std::path::Path) -> Vec<String> {
    crate::kit::journal::records(journal)
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_demo_rollouts_recording_replays_to_its_own_journal() {
    let home = tempfile::tempdir().unwrap();
    let out = crate::kit::proc::rampdeck(&[])
        .args([
            "demo",
            "--headless",
            "--scenario",
            "bad-canary",
            "--speed",
            "8",
        ])
        .env("XDG_DATA_HOME", home.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    let said = crate::kit::proc::said(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let journal = std::path::PathBuf::from(
        stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("journal: "))
            .unwrap_or_else(|| panic!("{said}")),
    );
    let replay = crate::kit::proc::rampdeck(&["replay", "--headless"])
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        crate::kit::proc::said(&replay)
    );
    let text = String::from_utf8_lossy(&replay.stdout);
    // Every decision the engine journaled comes back, in the same order,
    // from the recorded inputs alone.
    let replayed: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("replayed "))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    // The driver's own records are not the engine's: the sources' state
    // (from the pollers' health) and the closing record, which carries the
    // sealed recording's hash and so cannot be in it.
    let journaled: Vec<String> = actions(&journal)
        .into_iter()
        .filter(|a| a != "source_state" && a != "rollout_ended")
        .collect();
    assert_eq!(replayed, journaled, "{text}");
    assert!(
        text.contains("trigger_rollback") && text.contains("rolled_back"),
        "{text}"
    );
}

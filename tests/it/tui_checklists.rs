//! The cockpit's checklists (issue 13): the pre-flight screen before the
//! start and the exit criteria while observing at 100 %, at 200x50 and
//! 80x24, and what their keys send.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use rampdeck::engine::Stage;
use rampdeck::snapshot::Snapshot;
use rampdeck::tui::fixtures_checklist::{snapshot_exit, snapshot_preflight};
use rampdeck::tui::state::Dialog;
use rampdeck::tui::{Action, Keymap, Theme, UiCommand, UiState, render};

fn ui() -> UiState {
    UiState::new(Theme::default(), Keymap::defaults().unwrap(), "alice")
}

fn screen(snap: &Snapshot, ui: &UiState, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.buffer_mut(), snap, ui)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn preflight_200x50() {
    let snap = snapshot_preflight();
    let s = screen(&snap, &ui(), 200, 50);
    assert!(s.contains("Pre-flight 2/5"), "{s}");
    assert!(
        s.contains("the ramp starts when every required item is done"),
        "{s}"
    );
    assert!(s.contains("FAILED"), "{s}");
    assert!(s.contains("confirmed by carol"), "{s}");
    assert!(s.contains("waiting for pre-flight"), "NEXT line: {s}");
    assert!(s.contains("t tick item"), "{s}");
    assert!(s.contains("x re-run"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn preflight_80x24() {
    let snap = snapshot_preflight();
    let s = screen(&snap, &ui(), 80, 24);
    assert!(s.contains("Pre-flight 2/5"), "{s}");
    assert!(s.contains("rollback tested in staging"), "{s}");
    assert!(s.contains("on-call briefed"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn exit_200x50() {
    let snap = snapshot_exit();
    let s = screen(&snap, &ui(), 200, 50);
    assert!(s.contains("OBSERVING"), "{s}");
    assert!(s.contains("Exit criteria 2/4"), "{s}");
    assert!(s.contains("promoted in"), "NEXT line: {s}");
    assert!(s.contains("confirmed by bob"), "{s}");
    assert!(s.contains("r rollback"), "rollback stays offered: {s}");
    insta::assert_snapshot!(s);
}

#[test]
fn exit_80x24() {
    let snap = snapshot_exit();
    let s = screen(&snap, &ui(), 80, 24);
    assert!(s.contains("Exit criteria 2/4"), "{s}");
    assert!(s.contains("OBSERVING"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn ticking_the_selected_manual_item_sends_its_note() {
    let snap = snapshot_preflight();
    let mut ui = ui();
    // Item 1 is the first check: a tick is refused with why.
    assert_eq!(ui.on_key(key('t'), &snap), None);
    assert!(
        ui.flash
            .as_deref()
            .unwrap_or("")
            .contains("automatic check"),
        "{:?}",
        ui.flash
    );
    // x on a check runs it again.
    assert_eq!(
        ui.on_key(key('x'), &snap),
        Some(UiCommand::RunChecks {
            stage: Stage::Preflight,
            item: Some(0)
        })
    );
    // j j j: "on-call briefed" (item 4), t opens the note dialog.
    for _ in 0..3 {
        ui.apply(Action::ItemNext, &snap);
    }
    assert_eq!(ui.on_key(key('t'), &snap), None);
    assert!(matches!(ui.dialog, Some(Dialog::Tick(_))));
    let s = screen(&snap, &ui, 200, 50);
    assert!(
        s.contains("\"on-call briefed\" is done: you confirm it, as alice."),
        "{s}"
    );
    for c in "paged bob".chars() {
        ui.on_key(key(c), &snap);
    }
    let sent = ui.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    assert_eq!(
        sent,
        Some(UiCommand::Confirm {
            stage: Stage::Preflight,
            item: 3,
            note: "paged bob".into()
        })
    );
    // An item already ticked says so.
    ui.apply(Action::ItemPrev, &snap);
    assert_eq!(ui.on_key(key('t'), &snap), None);
    assert!(
        ui.flash
            .as_deref()
            .unwrap_or("")
            .contains("already confirmed by carol"),
        "{:?}",
        ui.flash
    );
}

/// No terminal size makes the checklists panic (a split pane, a phone).
#[test]
fn checklists_draw_at_every_small_size() {
    for snap in [snapshot_preflight(), snapshot_exit()] {
        let mut with_dialog = ui();
        with_dialog.item = 3;
        with_dialog.apply(Action::Tick, &snap);
        for ui in [ui(), with_dialog] {
            for w in [0, 1, 5, 13, 30, 45, 60, 79, 80, 119, 120, 200] {
                for h in [0, 1, 3, 6, 10, 12, 15, 24, 34, 35, 50] {
                    screen(&snap, &ui, w, h);
                }
            }
        }
    }
}

/// A 5,000-character note typed into the tick dialog stops at the
/// engine's limit, says so, and the tick still goes with what was kept.
#[test]
fn a_note_typed_past_the_limit_is_held_there_and_said() {
    let snap = snapshot_preflight();
    let mut ui = ui();
    for _ in 0..3 {
        ui.apply(Action::ItemNext, &snap);
    }
    ui.on_key(key('t'), &snap);
    for _ in 0..5000 {
        ui.on_key(key('n'), &snap);
    }
    let Some(Dialog::Tick(d)) = &ui.dialog else {
        panic!("the dialog closed")
    };
    let typed: usize = d.note.lines().iter().map(String::len).sum();
    assert_eq!(typed, rampdeck::engine::reason::MAX_REASON_BYTES);
    assert!(
        d.error
            .as_deref()
            .unwrap_or("")
            .contains("at most 4096 bytes"),
        "{:?}",
        d.error
    );
    let s = screen(&snap, &ui, 200, 50);
    assert!(s.contains("at most 4096 bytes"), "{s}");
    let sent = ui.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    let Some(UiCommand::Confirm { note, .. }) = sent else {
        panic!("{sent:?}")
    };
    assert_eq!(note.len(), rampdeck::engine::reason::MAX_REASON_BYTES);
}

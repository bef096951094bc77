#![allow(clippy::unwrap_used)]
//! Whole-screen snapshots of the cockpit on ratatui's TestBackend, one per
//! state and screen, plus behaviour checks on the text (what must be
//! readable without color, what must appear on every screen).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use rampdeck::engine::Command;
use rampdeck::snapshot::Snapshot;
use rampdeck::tui::fixtures::{Scenario, snapshot, snapshot_with_kinds};
use rampdeck::tui::state::{Dialog, Screen};
use rampdeck::tui::{Action, Keymap, Theme, UiCommand, UiState, render};

fn ui_with(theme: Theme) -> UiState {
    UiState::new(theme, Keymap::defaults().unwrap(), "alice")
}

fn ui() -> UiState {
    ui_with(Theme::default())
}

fn draw(snap: &Snapshot, ui: &UiState, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(f.buffer_mut(), snap, ui)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(snap: &Snapshot, ui: &UiState, w: u16, h: u16) -> String {
    text(&draw(snap, ui, w, h))
}

const W: u16 = 160;
const H: u16 = 42;

#[test]
fn progressing_200x50() {
    let s = screen(&snapshot(Scenario::Progressing), &ui(), 200, 50);
    assert!(s.contains("PROGRESSING"));
    assert!(s.contains("advance to 25 % in 02:00"));
    assert!(s.contains("step 2/5 canary"));
    insta::assert_snapshot!(s);
}

/// A metric with gate kinds shows one line per kind under its gate row,
/// in the engine's words; the compact view keeps one line per metric.
#[test]
fn gate_kinds_under_their_metric() {
    let snap = snapshot_with_kinds();
    let s = screen(&snap, &ui(), W, H);
    assert!(s.contains("Gates (step 2)"), "{s}");
    for kind in ["burn ", "judge ", "sequential "] {
        assert!(s.contains(kind), "{kind} line missing:\n{s}");
    }
    let compact = screen(&snap, &ui(), 80, 24);
    assert!(!compact.contains("sequential"), "{compact}");
    insta::assert_snapshot!(s);
}

/// A change window that closed mid-rollout: the header says so and when it
/// opens, the NEXT line says the ramp holds for it, rollback stays offered.
#[test]
fn a_closed_change_window_holds_the_ramp_and_says_when_it_opens() {
    let snap = rampdeck::tui::fixtures::snapshot_with_window();
    let s = screen(&snap, &ui(), W, H);
    assert!(
        s.contains("window closed: outside every allow window"),
        "{s}"
    );
    assert!(s.contains("opens in"), "{s}");
    assert!(s.contains("change window"), "NEXT line: {s}");
    assert!(s.contains("r rollback"), "{s}");
    assert!(s.contains("window_closed"), "the log shows it: {s}");
    insta::assert_snapshot!(s);
}

#[test]
fn paused() {
    let s = screen(&snapshot(Scenario::Paused), &ui(), W, H);
    assert!(s.contains("PAUSED"));
    assert!(s.contains("paused by alice: latency blip in eu-west"));
    // Footer offers resume, and rollback stays available while paused.
    assert!(s.contains("space resume"));
    assert!(s.contains("r rollback"));
    insta::assert_snapshot!(s);
}

#[test]
fn awaiting_approval() {
    let s = screen(&snapshot(Scenario::AwaitingApproval), &ui(), W, H);
    assert!(s.contains("AWAITING APPROVAL"));
    assert!(s.contains("waiting for approval to advance to 50 %"));
    assert!(s.contains("a approve"));
    insta::assert_snapshot!(s);
}

#[test]
fn awaiting_one_of_two_approvals() {
    let snap = rampdeck::tui::fixtures::snapshot_with_approvals();
    let s = screen(&snap, &ui(), W, H);
    assert!(s.contains("approved by bob (14:16:02)"), "{s}");
    assert!(s.contains("1 more from carol, @deployers"), "{s}");
    assert!(s.contains("waiting for 1 more approval (of 2) from carol, @deployers"));
    // alice drives and may not approve (allow_self = false): the engine
    // would refuse it, so the cockpit does not offer it.
    assert!(!s.contains("a approve"), "{s}");
    assert!(!s.contains("press a to approve"), "{s}");
    insta::assert_snapshot!(s);
    // A small terminal draws too (the ramp may not show at all).
    screen(&snap, &ui(), 80, 24);
}

#[test]
fn approve_is_offered_to_the_people_the_engine_counts_and_not_to_the_driver() {
    let snap = rampdeck::tui::fixtures::snapshot_with_approvals();
    let as_who = |user: &str, groups: &[&str]| {
        let mut ui = UiState::new(Theme::default(), Keymap::defaults().unwrap(), user);
        ui.groups = groups.iter().map(|g| g.to_string()).collect();
        ui
    };
    // carol is named; erin is in @deployers (as an attached viewer's peer
    // credentials would say).
    for ui in [as_who("carol", &[]), as_who("erin", &["deployers"])] {
        let s = screen(&snap, &ui, W, H);
        assert!(s.contains("a approve"), "{}:\n{s}", ui.actor);
        assert!(s.contains("(press a to approve)"), "{}:\n{s}", ui.actor);
    }
    // bob already approved (counts once), zed is not named, alice drives.
    for ui in [as_who("bob", &[]), as_who("zed", &["staff"]), ui()] {
        let s = screen(&snap, &ui, W, H);
        assert!(!s.contains("a approve"), "{}:\n{s}", ui.actor);
    }
    // The key itself says the engine's words instead of sending anything.
    let mut alice = ui();
    let sent = alice.apply(Action::Approve, &snap);
    assert!(sent.is_none());
    let flash = alice.flash.clone().unwrap_or_default();
    assert!(flash.contains("alice is not an approver"), "{flash}");
    let mut carol = as_who("carol", &[]);
    assert!(matches!(
        carol.apply(Action::Approve, &snap),
        Some(UiCommand::Engine {
            command: Command::Approve,
            ..
        })
    ));
}

#[test]
fn breach_with_countdown() {
    let s = screen(&snapshot(Scenario::BreachCountdown), &ui(), W, H);
    assert!(s.contains("rollback in 1 more breach of error_rate (~5 s)"));
    assert!(s.contains("Breach"));
    assert!(s.contains("8.1 % > 5 %"), "numbers against the limit");
    insta::assert_snapshot!(s);
}

#[test]
fn rolling_back() {
    let s = screen(&snapshot(Scenario::RollingBack), &ui(), W, H);
    assert!(s.contains("ROLLING BACK"));
    assert!(s.contains("hook running: rollback"));
    assert!(
        !s.contains(" r rollback"),
        "no second rollback while one runs:\n{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn rolled_back_shows_the_summary_path() {
    let s = screen(&snapshot(Scenario::RolledBack), &ui(), W, H);
    assert!(s.contains("ROLLED BACK"));
    assert!(s.contains("Summary: /var/lib/rampdeck/checkout-20261129-140000.summary.md"));
    insta::assert_snapshot!(s);
}

#[test]
fn promoted() {
    let s = screen(&snapshot(Scenario::Promoted), &ui(), W, H);
    assert!(s.contains("PROMOTED"));
    assert!(s.contains("weight 100 %"));
    insta::assert_snapshot!(s);
}

#[test]
fn a_source_down_is_its_own_lane() {
    let s = screen(&snapshot(Scenario::SourceDown), &ui(), W, H);
    assert!(s.contains("prom ERROR: connection refused"));
    assert!(s.contains("ProviderError"));
    assert!(s.contains("pause in 3 polls without data (error_rate)"));
    assert!(s.contains("warning: source prom: insecure_skip_verify"));
    insta::assert_snapshot!(s);
}

#[test]
fn rollback_failed_shows_on_every_screen() {
    let snap = snapshot(Scenario::RollbackFailed);
    let mut ui = ui();
    let full = screen(&snap, &ui, W, H);
    insta::assert_snapshot!(full.clone());
    let mut seen = vec![full, screen(&snap, &ui, 80, 24)];
    for a in [
        Action::Zoom,
        Action::Back,
        Action::Log,
        Action::Back,
        Action::Help,
    ] {
        ui.apply(a, &snap);
        seen.push(screen(&snap, &ui, W, H));
    }
    for s in seen {
        assert!(s.contains("ROLLBACK FAILED: manual action needed"), "{s}");
    }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn confirm_dialog_requires_a_reason_for_rollback() {
    let snap = snapshot(Scenario::BreachCountdown);
    let mut ui = ui();
    assert_eq!(ui.on_key(key('r'), &snap), None);
    assert!(matches!(ui.dialog, Some(Dialog::Confirm(_))));
    // Enter with an empty reason: nothing is sent, an inline error shows.
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(ui.on_key(enter, &snap), None);
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("a reason is required for rollback"));
    insta::assert_snapshot!(s);
    // Typing goes to the reason field ('r' and 'q' are text here).
    for c in "error spike".chars() {
        assert_eq!(ui.on_key(key(c), &snap), None);
    }
    assert_eq!(
        ui.on_key(enter, &snap),
        Some(UiCommand::Engine {
            command: Command::Rollback,
            reason: "error spike".into()
        })
    );
    assert!(ui.dialog.is_none());
}

/// A person typing (or pasting, key by key) 5,000 characters: the dialog
/// stops at the engine's limit and says so; the rollback is still sent
/// with what fits.
#[test]
fn a_5000_character_reason_stops_at_the_limit_and_the_rollback_still_goes() {
    let snap = snapshot(Scenario::BreachCountdown);
    let mut ui = ui();
    ui.on_key(key('r'), &snap);
    for _ in 0..5000 {
        ui.on_key(key('x'), &snap);
    }
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("a reason is at most 4096 bytes"), "{s}");
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    match ui.on_key(enter, &snap) {
        Some(UiCommand::Engine { command, reason }) => {
            assert_eq!(command, Command::Rollback);
            assert_eq!(reason.len(), rampdeck::engine::reason::MAX_REASON_BYTES);
        }
        other => panic!("no rollback sent: {other:?}"),
    }
}

#[test]
fn esc_cancels_and_promote_needs_no_reason_by_default() {
    let snap = snapshot(Scenario::Progressing);
    let mut ui = ui();
    ui.on_key(key('p'), &snap);
    let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(ui.on_key(esc, &snap), None);
    assert!(ui.dialog.is_none());
    ui.on_key(key('p'), &snap);
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        ui.on_key(enter, &snap),
        Some(UiCommand::Engine {
            command: Command::Promote,
            reason: String::new()
        })
    );
}

#[test]
fn quit_asks_while_in_progress_and_never_acts_on_the_rollout() {
    let snap = snapshot(Scenario::Progressing);
    let mut ui = ui();
    assert_eq!(ui.on_key(key('q'), &snap), None);
    assert!(matches!(ui.dialog, Some(Dialog::Quit)));
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("never promotes or rolls back"));
    assert!(s.contains("The driver goes on"), "an attached view: {s}");
    insta::assert_snapshot!(s);
    // The cockpit that runs the driver says plainly what closing does.
    ui.hosts_driver = true;
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("Closing stops the driver here"), "{s}");
    assert!(s.contains("--detach"), "{s}");
    ui.hosts_driver = false;
    assert_eq!(ui.on_key(key('n'), &snap), None);
    assert!(ui.dialog.is_none());
    ui.on_key(key('q'), &snap);
    assert_eq!(ui.on_key(key('y'), &snap), Some(UiCommand::Quit));
    // Once the rollout has ended, q quits at once.
    let mut ui2 = self::ui();
    let done = snapshot(Scenario::RolledBack);
    assert_eq!(ui2.on_key(key('q'), &done), Some(UiCommand::Quit));
}

#[test]
fn help_is_generated_from_the_keymap() {
    let snap = snapshot(Scenario::Progressing);
    let mut ui = ui();
    ui.apply(Action::Help, &snap);
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("roll back (works in every state"));
    insta::assert_snapshot!(s);
}

#[test]
fn full_log_scrolls() {
    let snap = snapshot(Scenario::Promoted);
    let mut ui = ui();
    ui.on_key(key('l'), &snap);
    assert_eq!(ui.screen, Screen::Log);
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("promote_full") && s.contains("all green for 5 min"));
    insta::assert_snapshot!(s);
    ui.on_key(key('j'), &snap);
    let scrolled = screen(&snap, &ui, W, H);
    assert!(
        !scrolled.contains("promoted    "),
        "newest row scrolled away"
    );
}

#[test]
fn zoomed_chart() {
    let snap = snapshot(Scenario::BreachCountdown);
    let mut ui = ui();
    let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
    ui.on_key(tab, &snap);
    ui.on_key(tab, &snap);
    ui.on_key(tab, &snap);
    ui.on_key(tab, &snap); // wraps around to the first chart
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    ui.on_key(enter, &snap);
    assert_eq!(ui.screen, Screen::Zoom);
    let s = screen(&snap, &ui, W, H);
    assert!(s.contains("Error ratio"));
    insta::assert_snapshot!(s);
}

#[test]
fn compact_80x24_keeps_the_essentials() {
    for scenario in [Scenario::BreachCountdown, Scenario::SourceDown] {
        let s = screen(&snapshot(scenario), &ui(), 80, 24);
        for m in ["Error ratio", "p95 latency", "Request rate", "Health probe"] {
            assert!(s.contains(m), "{m} missing:\n{s}");
        }
        assert!(s.contains("NEXT"));
        assert!(s.contains("last:"));
        assert!(s.contains("r rollback"));
        insta::assert_snapshot!(format!("{scenario:?}"), s);
    }
}

#[test]
fn no_color_reads_from_words_alone() {
    let theme = Theme {
        mono: true,
        ascii: false,
    };
    for scenario in [Scenario::BreachCountdown, Scenario::RollbackFailed] {
        let snap = snapshot(scenario);
        let buf = draw(&snap, &ui_with(theme), W, H);
        for cell in buf.content.iter() {
            assert!(
                matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                "colored cell {cell:?}"
            );
        }
        let s = text(&buf);
        assert!(s.contains("Breach") || s.contains("ROLLBACK FAILED"));
    }
    let s = text(&draw(
        &snapshot(Scenario::BreachCountdown),
        &ui_with(theme),
        W,
        H,
    ));
    insta::assert_snapshot!(s);
}

#[test]
fn ascii_mode_draws_only_ascii() {
    let theme = Theme {
        mono: true,
        ascii: true,
    };
    for scenario in [Scenario::BreachCountdown, Scenario::AwaitingApproval] {
        let snap = snapshot(scenario);
        for (w, h) in [(W, H), (80, 24)] {
            let s = screen(&snap, &ui_with(theme), w, h);
            let bad: Vec<char> = s.chars().filter(|c| !c.is_ascii()).collect();
            assert!(bad.is_empty(), "non-ASCII {bad:?} in\n{s}");
        }
    }
    let s = screen(&snapshot(Scenario::BreachCountdown), &ui_with(theme), W, H);
    insta::assert_snapshot!(s);
}

/// Any terminal size draws without a panic: a pseudo-terminal can start at
/// 0x0, and people shrink windows. Below the compact layout the screen
/// still says the phase and asks for room.
#[test]
fn every_size_draws_without_panic() {
    let all = [
        Scenario::Progressing,
        Scenario::Paused,
        Scenario::AwaitingApproval,
        Scenario::BreachCountdown,
        Scenario::RollingBack,
        Scenario::RolledBack,
        Scenario::Promoted,
        Scenario::SourceDown,
        Scenario::RollbackFailed,
    ];
    for sc in all {
        let snap = snapshot(sc);
        for w in [0u16, 1, 2, 10, 39, 40, 41, 60, 79, 80, 119, 120, 121, 200] {
            for h in [0u16, 1, 2, 5, 11, 12, 13, 20, 24, 34, 35, 50] {
                let _ = draw(&snap, &ui(), w, h);
            }
        }
    }
    let s = screen(&snapshot(Scenario::BreachCountdown), &ui(), 30, 8);
    assert!(s.contains("rampdeck needs 40x12"), "{s}");
    assert!(s.contains("checkout"), "{s}");
}

/// The footer offers a command exactly when the engine allows it: a real
/// engine is walked through every phase (with a traffic hook so Promoting
/// lasts), and at each one every command is compared.
#[test]
fn the_footer_offers_exactly_what_the_engine_allows_in_every_phase() {
    use rampdeck::engine::kind::PhaseKind;
    use rampdeck::plan::{Hook, HookAction};
    use rampdeck::tui::fixtures::{Drive, at, of_engine, plan};
    use rampdeck::tui::view::footer::entries;
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Duration;

    let mut p = plan();
    p.hooks.set_weight = Some(Hook {
        action: HookAction::Command(vec!["./deploy/weight.sh".into(), "{weight}".into()]),
        timeout: Duration::from_secs(30),
        retries: 0,
        idempotent: true,
    });
    let p = Arc::new(p);
    let never = i64::MAX;
    let ui = ui();
    let mut phases = BTreeSet::new();
    let mut check = |d: &Drive, t: i64| {
        let snap = of_engine(&d.engine, p.clone(), at(t), false);
        let offered: BTreeSet<&str> = entries(&snap, &ui).into_iter().map(|(_, l)| l).collect();
        let phase = snap.engine.phase.kind();
        phases.insert(format!("{phase:?}"));
        for c in Command::ALL {
            let label = match c {
                Command::Pause => "pause",
                Command::Resume => "resume",
                Command::Promote => "promote",
                Command::PromoteFull => Action::PromoteFull.label(),
                Command::Rollback => "rollback",
                Command::Approve => "approve",
            };
            let allowed = d.engine.allowed(c, at(t)).is_ok();
            assert_eq!(
                offered.contains(label),
                allowed,
                "{phase:?}: the engine says {c:?} is {}, the footer {} '{label}' ({offered:?})",
                if allowed { "allowed" } else { "refused" },
                if offered.contains(label) {
                    "offers"
                } else {
                    "hides"
                },
            );
        }
        phase
    };
    let settle = |d: &mut Drive, from: i64, to: i64| {
        for t in from..to {
            d.run(t, t + 1, never, never);
            d.hooks_done(t, true);
        }
    };

    // Pending, Promoting (traffic hook running), Holding, Paused.
    let mut d = Drive::new(p.clone());
    assert_eq!(check(&d, 0), PhaseKind::Pending);
    d.input(
        0,
        rampdeck::engine::Input::Start {
            actor: rampdeck::engine::Actor::named("alice"),
        },
    );
    assert_eq!(check(&d, 0), PhaseKind::Promoting);
    d.hooks_done(0, true);
    assert_eq!(check(&d, 0), PhaseKind::Holding);
    d.command(1, Command::Pause, "alice", "look");
    assert_eq!(check(&d, 1), PhaseKind::Paused);
    d.command(2, Command::Resume, "alice", "fine");
    d.hooks_done(2, true);
    // Through the automatic steps to the manual gate of step 3.
    settle(&mut d, 2, 1000);
    assert_eq!(check(&d, 1000), PhaseKind::AwaitingApproval);
    d.command(1000, Command::Approve, "bob", "clean");
    d.hooks_done(1000, true);
    assert_eq!(check(&d, 1001), PhaseKind::Holding);
    // A breach rolls back; the rollback hook fails.
    d.run(1001, 1020, 1001, never);
    assert_eq!(check(&d, 1020), PhaseKind::RollingBack);
    d.hooks_done(1020, false);
    assert_eq!(check(&d, 1021), PhaseKind::Failed);

    // A full promotion.
    let mut d = Drive::new(p.clone());
    d.input(
        0,
        rampdeck::engine::Input::Start {
            actor: rampdeck::engine::Actor::named("alice"),
        },
    );
    d.hooks_done(0, true);
    d.command(5, Command::PromoteFull, "alice", "all green");
    assert_eq!(check(&d, 5), PhaseKind::Promoting);
    d.hooks_done(5, true);
    settle(&mut d, 5, 10);
    assert_eq!(check(&d, 10), PhaseKind::Promoted);

    // A rollback by hand that works.
    let mut d = Drive::new(p.clone());
    d.input(
        0,
        rampdeck::engine::Input::Start {
            actor: rampdeck::engine::Actor::named("alice"),
        },
    );
    d.hooks_done(0, true);
    d.command(5, Command::Rollback, "alice", "bad");
    d.hooks_done(5, true);
    assert_eq!(check(&d, 6), PhaseKind::RolledBack);

    assert_eq!(phases.len(), 9, "every phase was walked: {phases:?}");
}

/// A healthy source's latency is noise and stays off the header (it would
/// rewrite it every second over SSH); a slow one is shown.
#[test]
fn only_a_slow_source_shows_its_latency() {
    let mut snap = snapshot(Scenario::Progressing);
    let s = screen(&snap, &ui(), W, H);
    assert!(s.contains("prom up ") && !s.contains("12ms"), "{s}");
    snap.sources[0].latency_ms = Some(400);
    let s = screen(&snap, &ui(), W, H);
    assert!(s.contains("prom up slow 400ms"), "{s}");
}

//! Unit tests of key parsing, defaults, overrides and their checks.
#![allow(clippy::unwrap_used)]

use super::*;

fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, mods)
}

#[test]
fn defaults_bind_the_documented_keys() {
    let km = Keymap::defaults().unwrap();
    let n = KeyModifiers::NONE;
    let cases = [
        (KeyCode::Char(' '), n, Action::PauseResume),
        (KeyCode::Char('p'), n, Action::Promote),
        (KeyCode::Char('P'), KeyModifiers::SHIFT, Action::PromoteFull),
        (KeyCode::Char('r'), n, Action::Rollback),
        (KeyCode::Char('a'), n, Action::Approve),
        (KeyCode::Char('?'), n, Action::Help),
        (KeyCode::Tab, n, Action::FocusNext),
        (KeyCode::Enter, n, Action::Zoom),
        (KeyCode::Char('l'), n, Action::Log),
        (KeyCode::Char('q'), n, Action::Quit),
        (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
    ];
    for (code, mods, want) in cases {
        assert_eq!(
            km.action(Mode::Normal, &ev(code, mods)),
            Some(want),
            "{code:?}"
        );
    }
}

#[test]
fn rollback_reaches_every_screen_but_not_dialogs() {
    let km = Keymap::defaults().unwrap();
    let r = ev(KeyCode::Char('r'), KeyModifiers::NONE);
    for mode in [Mode::Normal, Mode::Zoom, Mode::Log, Mode::Help] {
        assert_eq!(km.action(mode, &r), Some(Action::Rollback), "{mode:?}");
    }
    assert_eq!(km.action(Mode::Dialog, &r), None);
    // Navigation keys do not leak from the main screen into the log.
    let tab = ev(KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(km.action(Mode::Log, &tab), None);
}

#[test]
fn overrides_merge_over_defaults() {
    let mut o = BTreeMap::new();
    o.insert("ctrl-r".to_string(), "rollback".to_string());
    o.insert("r".to_string(), "none".to_string());
    o.insert("log:g".to_string(), "top".to_string());
    let km = Keymap::with_overrides(&o).unwrap();
    let ctrl_r = ev(KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(km.action(Mode::Normal, &ctrl_r), Some(Action::Rollback));
    let r = ev(KeyCode::Char('r'), KeyModifiers::NONE);
    assert_eq!(km.action(Mode::Normal, &r), None);
    let g = ev(KeyCode::Char('g'), KeyModifiers::NONE);
    assert_eq!(km.action(Mode::Log, &g), Some(Action::Top));
    // Untouched defaults survive.
    let p = ev(KeyCode::Char('p'), KeyModifiers::NONE);
    assert_eq!(km.action(Mode::Normal, &p), Some(Action::Promote));
    let keys: Vec<String> = km
        .keys_for(Mode::Normal, Action::Rollback)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(keys, vec!["ctrl-r"]);
}

#[test]
fn bad_overrides_say_what_to_fix() {
    let mut o = BTreeMap::new();
    o.insert("x".to_string(), "explode".to_string());
    let err = Keymap::with_overrides(&o).unwrap_err().to_string();
    assert!(err.contains("explode") && err.contains("rollback"), "{err}");
    let mut o = BTreeMap::new();
    o.insert("ctrl-banana".to_string(), "quit".to_string());
    let err = Keymap::with_overrides(&o).unwrap_err().to_string();
    assert!(err.contains("ctrl-banana"), "{err}");
}

#[test]
fn keys_parse_and_print_round_trip() {
    for s in [
        "p",
        "P",
        "space",
        "ctrl-r",
        "alt-enter",
        "f5",
        "backtab",
        "?",
        "-",
    ] {
        assert_eq!(Key::parse(s).unwrap().to_string(), s);
    }
    assert_eq!(Key::parse("shift-p").unwrap(), Key::parse("P").unwrap());
    assert_eq!(
        Key::parse("shift-tab").unwrap(),
        Key::parse("backtab").unwrap()
    );
}

#[test]
fn override_checks_name_the_entry_to_fix() {
    let check = |entries: &[(&str, &str)]| Keymap::check_overrides(entries).map(|_| ());
    // "P" and "shift-p" are one key.
    let (i, e) = check(&[("P", "promote_full"), ("shift-p", "rollback")]).unwrap_err();
    assert_eq!(i, 1);
    assert!(matches!(e, KeymapError::Conflict { .. }), "{e}");
    // The same binding twice is no conflict.
    assert!(check(&[("P", "promote_full"), ("shift-p", "promote_full")]).is_ok());
    // The kill switch keeps a key: blamed on the entry that took the last one.
    let (i, e) = check(&[
        ("ctrl-r", "rollback"),
        ("log:x", "top"),
        ("r", "none"),
        ("ctrl-r", "none"),
    ])
    .unwrap_err();
    assert!(matches!(e, KeymapError::Conflict { .. }), "{e}");
    assert_eq!(i, 3);
    let (i, e) = check(&[("x", "top"), ("r", "log")]).unwrap_err();
    assert_eq!(i, 1);
    assert!(
        e.to_string().contains("leave rollback without a key"),
        "{e}"
    );
    // Dialog keys: only confirm and back, never a typed character.
    assert!(matches!(
        check(&[("dialog:y", "confirm")]).unwrap_err().1,
        KeymapError::DialogTyping(_)
    ));
    assert!(matches!(
        check(&[("dialog:f2", "log")]).unwrap_err().1,
        KeymapError::DialogAction(_)
    ));
    assert!(check(&[("dialog:ctrl-s", "confirm"), ("quit:Y", "confirm")]).is_ok());
    assert!(matches!(
        check(&[("lgo:j", "scroll_down")]).unwrap_err().1,
        KeymapError::BadMode { .. }
    ));
}

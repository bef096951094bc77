use std::time::Duration;

use super::*;
use crate::plan::ChangeWindow;

const BERLIN: &str = "Europe/Berlin";

fn window(kind: WindowKind, schedule: &str, hours: u64, zone: &str, name: &str) -> WindowSpec {
    WindowSpec {
        kind,
        schedule: schedule.into(),
        duration: Duration::from_secs(hours * 3600),
        time_zone: zone.into(),
        description: (!name.is_empty()).then(|| name.to_string()),
    }
}

fn weekdays() -> WindowSpec {
    window(WindowKind::Allow, "0 9 * * 1-5", 8, BERLIN, "weekday hours")
}

fn freeze(from: &str, to: &str, name: &str) -> FreezeSpec {
    FreezeSpec {
        from: from.into(),
        to: to.into(),
        time_zone: BERLIN.into(),
        description: Some(name.into()),
    }
}

/// A local time in `zone`.
fn at(zone: &str, local: &str) -> Timestamp {
    local_instant(local, parse_zone(zone).expect("zone"), false).expect("local time")
}

fn berlin(local: &str) -> Timestamp {
    at(BERLIN, local)
}

fn of(windows: &[WindowSpec], freezes: &[FreezeSpec]) -> Windows {
    Windows::new(windows, freezes).expect("compiles")
}

#[test]
fn with_nothing_configured_a_change_is_always_allowed() {
    let s = of(&[], &[]).state(berlin("2026-06-06 03:00"));
    assert!(s.allowed);
    assert_eq!((s.active, s.changes_at), (vec![], None));
    assert_eq!(s.why, "no change windows or freezes: always allowed");
}

#[test]
fn inside_an_allow_window_it_says_when_it_closes() {
    let s = of(&[weekdays()], &[]).state(berlin("2026-06-01 10:00"));
    assert!(s.allowed);
    assert_eq!(s.active, vec![Rule::Window(0)]);
    assert_eq!(s.changes_at, Some(berlin("2026-06-01 17:00")));
    assert_eq!(
        s.why,
        "inside window 'weekday hours' (closes 17:00 Europe/Berlin)"
    );
}

#[test]
fn outside_every_allow_window_it_says_when_the_next_opens() {
    let w = of(&[weekdays()], &[]);
    let s = w.state(berlin("2026-06-06 12:00"));
    assert!(!s.allowed);
    assert!(s.active.is_empty());
    assert_eq!(s.changes_at, Some(berlin("2026-06-08 09:00")));
    assert_eq!(
        s.why,
        "outside every allow window; next opens Mon 09:00 Europe/Berlin"
    );
    // The end is exclusive, the start inclusive.
    assert!(!w.state(berlin("2026-06-01 17:00")).allowed);
    assert!(w.state(berlin("2026-06-01 09:00")).allowed);
    assert_eq!(
        w.describe(berlin("2026-06-01 08:00")),
        "outside every allow window; next opens 09:00 Europe/Berlin"
    );
}

#[test]
fn a_deny_window_inside_an_allow_window_wins() {
    let lunch = window(WindowKind::Deny, "0 12 * * *", 1, BERLIN, "lunch");
    let w = of(&[weekdays(), lunch], &[]);
    let s = w.state(berlin("2026-06-01 12:30"));
    assert!(!s.allowed);
    assert_eq!(s.active, vec![Rule::Window(0), Rule::Window(1)]);
    assert_eq!(s.changes_at, Some(berlin("2026-06-01 13:00")));
    assert_eq!(s.why, "denied by window 'lunch' until 13:00 Europe/Berlin");
    let before = w.state(berlin("2026-06-01 11:00"));
    assert!(before.allowed);
    assert_eq!(before.changes_at, Some(berlin("2026-06-01 12:00")));
    assert_eq!(
        before.why,
        "inside window 'weekday hours' (closes 12:00 Europe/Berlin)"
    );
}

#[test]
fn deny_windows_alone_allow_everything_else() {
    let w = of(
        &[window(
            WindowKind::Deny,
            "0 16 * * 5",
            64,
            BERLIN,
            "weekend",
        )],
        &[],
    );
    let s = w.state(berlin("2026-06-04 10:00"));
    assert!(s.allowed);
    assert_eq!(s.changes_at, Some(berlin("2026-06-05 16:00")));
    assert_eq!(
        s.why,
        "allowed: no allow windows and no deny open; 'weekend' starts Fri 16:00 Europe/Berlin"
    );
    let s = w.state(berlin("2026-06-06 10:00"));
    assert!(!s.allowed);
    assert_eq!(s.changes_at, Some(berlin("2026-06-08 08:00")));
}

#[test]
fn a_freeze_wins_over_an_open_allow_window() {
    let w = of(
        &[weekdays()],
        &[freeze(
            "2026-05-29 18:00",
            "2026-06-03 09:00",
            "release freeze",
        )],
    );
    let s = w.state(berlin("2026-06-01 10:00"));
    assert!(!s.allowed);
    assert_eq!(s.active, vec![Rule::Window(0), Rule::Freeze(0)]);
    // The freeze ends as Wednesday's window opens.
    assert_eq!(s.changes_at, Some(berlin("2026-06-03 09:00")));
    assert_eq!(
        s.why,
        "frozen: 'release freeze' until Wed 09:00 Europe/Berlin"
    );
}

#[test]
fn a_freeze_that_ends_outside_every_window_says_when_changes_are_allowed_again() {
    let w = of(
        &[weekdays()],
        &[freeze(
            "2026-05-29 18:00",
            "2026-06-02 20:00",
            "release freeze",
        )],
    );
    let s = w.state(berlin("2026-06-01 10:00"));
    assert_eq!(s.changes_at, Some(berlin("2026-06-03 09:00")));
    assert_eq!(
        s.why,
        "frozen: 'release freeze' until Tue 20:00 Europe/Berlin; allowed again Wed 09:00 Europe/Berlin"
    );
}

#[test]
fn a_long_freeze_is_named_with_its_date_and_the_search_is_bounded() {
    let w = of(
        &[weekdays()],
        &[freeze(
            "2026-12-18 18:00",
            "2027-01-04 09:00",
            "year-end freeze",
        )],
    );
    let s = w.state(berlin("2026-12-21 10:00"));
    assert!(!s.allowed);
    assert_eq!(s.changes_at, None);
    assert_eq!(
        s.why,
        "frozen: 'year-end freeze' until 2027-01-04 09:00 Europe/Berlin; not allowed again within 8 days"
    );
    let before = w.state(berlin("2026-12-18 10:00"));
    assert!(before.allowed);
    assert_eq!(before.changes_at, Some(berlin("2026-12-18 17:00")));
    let only = of(
        &[],
        &[freeze(
            "2026-12-18 18:00",
            "2027-01-04 09:00",
            "year-end freeze",
        )],
    );
    let s = only.state(berlin("2026-12-17 10:00"));
    assert!(s.allowed);
    assert_eq!(s.changes_at, Some(berlin("2026-12-18 18:00")));
}

#[test]
fn a_window_opens_at_nine_local_on_both_sides_of_each_dst_change() {
    let w = of(
        &[window(WindowKind::Allow, "0 9 * * *", 8, BERLIN, "daily")],
        &[],
    );
    for (before, after) in [("2026-03-28", "2026-03-29"), ("2026-10-24", "2026-10-25")] {
        for day in [before, after] {
            let opens = w.state(berlin(&format!("{day} 08:59")));
            assert!(!opens.allowed, "{day}");
            assert_eq!(
                opens.changes_at,
                Some(berlin(&format!("{day} 09:00"))),
                "{day}"
            );
            let inside = w.state(berlin(&format!("{day} 09:00")));
            assert!(inside.allowed, "{day}");
            assert_eq!(
                inside.changes_at,
                Some(berlin(&format!("{day} 17:00"))),
                "{day}: 8 hours of elapsed time"
            );
        }
    }
    // In UTC the opening moves by an hour across the change.
    assert_eq!(berlin("2026-03-28 09:00"), at("UTC", "2026-03-28 08:00"));
    assert_eq!(berlin("2026-03-29 09:00"), at("UTC", "2026-03-29 07:00"));
    assert_eq!(berlin("2026-10-24 09:00"), at("UTC", "2026-10-24 07:00"));
    assert_eq!(berlin("2026-10-25 09:00"), at("UTC", "2026-10-25 08:00"));
    // Saturday evening before the spring change: next opens Sunday 09:00 CEST.
    let s = w.state(berlin("2026-03-28 20:00"));
    assert_eq!(s.changes_at, Some(at("UTC", "2026-03-29 07:00")));
    assert_eq!(
        s.why,
        "outside every allow window; next opens Sun 09:00 Europe/Berlin"
    );
}

#[test]
fn overlapping_occurrences_are_one_open_span() {
    let w = of(&[window(WindowKind::Allow, "0 * * * *", 2, "UTC", "")], &[]);
    let s = w.state(at("UTC", "2026-06-01 10:30"));
    assert!(s.allowed);
    assert_eq!(s.changes_at, None);
    assert_eq!(
        s.why,
        "inside window 'allow 0 * * * * for 2h' (does not close within 8 days)"
    );
}

#[test]
fn a_schedule_that_rarely_fires_is_not_searched_past_the_bound() {
    let w = of(
        &[window(
            WindowKind::Allow,
            "0 9 29 2 *",
            8,
            "UTC",
            "leap day",
        )],
        &[],
    );
    let s = w.state(at("UTC", "2026-06-01 10:00"));
    assert!(!s.allowed);
    assert_eq!(s.changes_at, None);
    assert_eq!(
        s.why,
        "outside every allow window; none opens within 8 days"
    );
}

#[test]
fn the_old_rollout_window_is_a_daily_allow_window_in_utc() {
    let night = ChangeWindow {
        start_min: 22 * 60,
        end_min: 2 * 60,
        days: vec!["mon".into()],
    };
    let spec = WindowSpec::from_legacy(&night);
    assert_eq!(
        (
            spec.schedule.as_str(),
            spec.duration,
            spec.time_zone.as_str()
        ),
        ("0 22 * * mon", Duration::from_secs(4 * 3600), "UTC")
    );
    let w = of(&[spec], &[]);
    let utc = |t| at("UTC", t);
    assert!(w.state(utc("2026-06-01 23:00")).allowed, "Monday night");
    assert!(w.state(utc("2026-06-02 01:59")).allowed, "into Tuesday");
    assert!(!w.state(utc("2026-06-01 01:00")).allowed, "Sunday's night");
    let every_day = ChangeWindow {
        start_min: 9 * 60 + 30,
        end_min: 16 * 60,
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .map(String::from)
            .to_vec(),
    };
    let spec = WindowSpec::from_legacy(&every_day);
    assert_eq!(spec.schedule, "30 9 * * *");
    assert_eq!(
        spec.description.as_deref(),
        Some("rollout.window 09:30-16:00 UTC")
    );
}

#[test]
fn what_does_not_compile_is_refused() {
    let bad = window(WindowKind::Allow, "0 25 * * *", 8, "UTC", "");
    assert!(matches!(
        Windows::new(&[bad], &[]),
        Err(WindowError::Schedule { index: 0, .. })
    ));
    let six = parse_schedule("0 0 9 * * *").expect_err("six fields");
    assert!(six.contains("has 6 fields"), "{six}");
    let zone = window(WindowKind::Allow, "0 9 * * *", 8, "Europe/Berln", "");
    assert_eq!(
        Windows::new(&[zone], &[]).err(),
        Some(WindowError::Zone("Europe/Berln".into()))
    );
    let short = window(WindowKind::Allow, "0 9 * * *", 0, "UTC", "");
    assert_eq!(
        Windows::new(&[short], &[]).err(),
        Some(WindowError::TooShort(0))
    );
    let reversed = freeze("2026-06-02 09:00", "2026-06-01 09:00", "x");
    assert_eq!(
        Windows::new(&[], &[reversed]).err(),
        Some(WindowError::Reversed(0))
    );
    let skipped = local_instant("2026-03-29 02:30", chrono_tz::Tz::Europe__Berlin, false);
    assert!(matches!(skipped, Err(LocalTimeError::Skipped(..))));
}

#[test]
fn a_repeated_hour_is_wholly_inside_a_freeze() {
    let tz = chrono_tz::Tz::Europe__Berlin;
    let from = local_instant("2026-10-25 02:30", tz, false).expect("from");
    let to = local_instant("2026-10-25 02:30", tz, true).expect("to");
    assert_eq!(
        to.0 - from.0,
        3_600_000,
        "the second 02:30 is an hour later"
    );
}

#[test]
fn an_empty_window_plan_is_not_written_to_journals() {
    let empty = WindowPlan::default();
    assert!(empty.is_empty());
    let plan = WindowPlan {
        windows: vec![weekdays()],
        freezes: vec![],
        on_close: OnClose::Rollback,
    };
    let json = serde_json::to_string(&plan).expect("json");
    assert!(json.contains("\"on_close\":\"rollback\""), "{json}");
    assert!(!json.contains("freezes"), "{json}");
    let back: WindowPlan = serde_json::from_str(&json).expect("read");
    assert_eq!(back, plan);
}

#[test]
fn a_schedule_that_never_fires_is_never_open() {
    let never = window(WindowKind::Allow, "0 9 30 2 *", 8, "UTC", "feb 30");
    let Ok(w) = Windows::new(&[never], &[]) else {
        return;
    };
    let s = w.state(at("UTC", "2026-06-01 10:00"));
    assert!(!s.allowed);
    assert_eq!(s.changes_at, None);
}

#[test]
fn next_open_gives_one_rules_next_span_in_its_own_zone() {
    let w = of(&[weekdays()], &[]);
    let rule = Rule::Window(0);
    // Friday evening: the next span is Monday's, 09:00 to 17:00 Berlin.
    let (opens, closes) = w
        .next_open(rule, berlin("2026-12-04 18:00"))
        .expect("opens");
    assert_eq!(opens, berlin("2026-12-07 09:00"));
    assert_eq!(closes, berlin("2026-12-07 17:00"));
    assert_eq!(w.dated(rule, opens), "Mon 2026-12-07 09:00 Europe/Berlin");
    // Inside it: the span it is in, opened before now.
    let now = berlin("2026-12-07 10:00");
    let (opens, closes) = w.next_open(rule, now).expect("open now");
    assert!(opens <= now && closes == berlin("2026-12-07 17:00"));
    // A schedule that never fires within the look-ahead: none.
    let feb30 = window(WindowKind::Allow, "0 9 30 2 *", 1, "UTC", "");
    assert_eq!(of(&[feb30], &[]).next_open(rule, now), None);
}

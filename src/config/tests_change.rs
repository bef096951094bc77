//! Unit tests of the issue 12 and 13 tables: gate kinds (`[metrics.burn]`,
//! `[metrics.judge]`, `[metrics.sequential]`, `[judge]`), change windows
//! and freezes, and `require_ticket`.

use std::time::Duration;

use super::tests::{HEAD, PROM, STEPS, plan, refused};
use super::*;

/// Two Prometheus metrics, `e` (errors) and `r` (requests, both cohorts),
/// and whatever gate-kind tables `kinds` adds to `e`.
fn with_kinds(kinds: &str) -> String {
    format!(
        "{PROM}[[metrics]]\nid = \"r\"\nsource = \"p\"\nquery = \"r\"\nbad = \"down\"\n\
         [[metrics]]\nid = \"e\"\nsource = \"p\"\nquery = \"q\"\nbad = \"up\"\n\
         threshold = {{ limit = 0.05 }}\n{kinds}"
    )
}

#[test]
fn gate_kinds_parse_with_their_defaults_and_the_metrics_direction() {
    let p = plan(&with_kinds(
        "[metrics.burn]\ntarget = 0.999\n[metrics.judge]\n[metrics.sequential]\nrequests = \"r\"\n",
    ));
    let k = &p.metrics[1].kinds;
    let j = k.judge.as_ref().unwrap();
    assert_eq!(j.settings.confidence, 0.98);
    assert_eq!(j.settings.tolerance, 0.25);
    // bad = "up": the judge looks for increases.
    assert_eq!(
        j.settings.direction,
        crate::engine::analysis::classifier::Direction::Up
    );
    assert_eq!((j.min_samples, j.every.as_secs()), (10, 10));
    assert_eq!(k.burn.as_ref().unwrap().rules.len(), 3);
    assert_eq!(k.sequential.as_ref().unwrap().requests, "r");
    assert_eq!(p.judge.pass, 95.0);
    let p = plan(&with_kinds(
        "[metrics.judge]\n[judge]\npass = 90\nmarginal = 60\non_marginal = \"pause\"\n",
    ));
    assert_eq!(
        (p.judge.pass, p.judge.marginal, p.judge.on_marginal),
        (
            90.0,
            60.0,
            crate::engine::analysis::classifier::OnMarginal::Pause
        )
    );
}

#[test]
fn gate_kind_mistakes_name_the_metric_and_the_fix() {
    for (kinds, phrase) in [
        (
            "[metrics.judge]\nconfidense = 0.9\n",
            "[metrics.judge] of metric \"e\": unknown field `confidense`",
        ),
        ("[metrics.judge]\nconfidence = 1.5\n", "confidence = 1.5"),
        ("[metrics.judge]\nmin_samples = 1\n", "`min_samples` = 1"),
        ("[metrics.sequential]\nalpha = 0.05\n", "needs `requests`"),
        (
            "[metrics.sequential]\nrequests = \"nope\"\n",
            "`requests` = \"nope\" is not another metric",
        ),
        (
            "[metrics.burn]\nrules = [{ long = \"1h\", factor = 14.4, budget = 0.02 }]\n",
            "[metrics.burn] of metric \"e\"",
        ),
        (
            "[metrics.burn]\ntarget = 1.5\n",
            "[metrics.burn] of metric \"e\"",
        ),
        ("[judge]\npass = 50\nmarginal = 75\n", "[judge]: marginal"),
    ] {
        let msg = refused(&with_kinds(kinds));
        assert!(msg.contains(phrase), "{kinds}: {msg}");
        assert!(msg.contains("t.toml:"), "{kinds}: no location: {msg}");
    }
    // The requests metric must read both cohorts.
    let src = with_kinds("[metrics.sequential]\nrequests = \"r\"\n").replacen(
        "bad = \"down\"\n",
        "bad = \"down\"\nbaseline = \"none\"\n",
        1,
    );
    let msg = refused(&src);
    assert!(msg.contains("reads only the canary"), "{msg}");
    assert!(
        msg.contains("baseline = \\\"cohort\\\"") || msg.contains("baseline = \"cohort\""),
        "{msg}"
    );
}

// Issue 13: change windows and freezes.

const WINDOW: &str = "[[windows]]\nkind = \"allow\"\nschedule = \"0 9 * * 1-5\"\nduration = \"8h\"\n\
                      time_zone = \"Europe/Berlin\"\ndescription = \"weekday hours\"\n";

#[test]
fn windows_freezes_and_on_close_are_read_into_the_plan() {
    use crate::plan::{OnClose, WindowKind};
    let p = plan(&format!(
        "{WINDOW}[[windows]]\nkind = \"deny\"\nschedule = \"0 12 * * *\"\nduration = \"1h\"\n\
         [[freezes]]\nfrom = \"2026-12-20 18:00\"\nto = \"2027-01-04 09:00\"\ntime_zone = \"Europe/Berlin\"\n\
         description = \"year-end freeze\"\n[change_window]\non_close = \"rollback\"\n"
    ));
    let w = &p.change_windows;
    assert_eq!(w.on_close, OnClose::Rollback);
    assert_eq!(
        (
            w.windows[0].kind,
            w.windows[0].duration,
            w.windows[0].time_zone.as_str()
        ),
        (
            WindowKind::Allow,
            Duration::from_secs(8 * 3600),
            "Europe/Berlin"
        )
    );
    assert_eq!(
        (
            w.windows[1].kind,
            w.windows[1].time_zone.as_str(),
            w.windows[1].description.as_deref()
        ),
        (WindowKind::Deny, "UTC", None)
    );
    assert_eq!(w.freezes[0].description.as_deref(), Some("year-end freeze"));
    let compiled = crate::engine::window::Windows::of(&p).expect("compiles");
    assert_eq!((compiled.windows.len(), compiled.freezes.len()), (2, 1));
    assert_eq!(plan("").change_windows, Default::default());
}

#[test]
fn the_old_rollout_window_still_reads_and_becomes_an_allow_window() {
    let p = plan("[rollout.window]\nstart = \"09:00\"\nend = \"16:00\"\ndays = [\"mon\"]\n");
    assert!(
        p.change_windows.windows.is_empty(),
        "kept where it was written"
    );
    let w = crate::engine::window::Windows::of(&p).expect("compiles");
    assert_eq!(w.windows.len(), 1);
    assert_eq!(w.windows[0].spec.schedule, "0 9 * * mon");
    // 10:00 UTC on Monday 2026-01-05.
    let monday = crate::engine::types::Timestamp(1_767_607_200_000);
    assert!(w.state(monday).allowed, "{}", w.describe(monday));
}

#[test]
fn a_bad_cron_schedule_is_quoted_with_the_parsers_words() {
    let msg = refused(&WINDOW.replace("0 9 * * 1-5", "0 25 * * 1-5"));
    assert!(
        msg.contains("bad cron schedule \"0 25 * * 1-5\": "),
        "{msg}"
    );
    assert!(msg.contains("help: write 5 fields"), "{msg}");
    let six = refused(&WINDOW.replace("0 9 * * 1-5", "0 0 9 * * 1-5"));
    assert!(six.contains("it has 6 fields"), "{six}");
}

#[test]
fn an_unknown_time_zone_suggests_the_closest_names() {
    let msg = refused(&WINDOW.replace("Europe/Berlin", "Europe/Berln"));
    assert!(msg.contains("unknown time zone \"Europe/Berln\""), "{msg}");
    assert!(msg.contains("did you mean \"Europe/Berlin\""), "{msg}");
    let city = refused(&WINDOW.replace("Europe/Berlin", "berlin"));
    assert!(city.contains("\"Europe/Berlin\""), "{city}");
    let none = refused(&WINDOW.replace("Europe/Berlin", "Mars/Olympus_Mons_Base"));
    assert!(none.contains("use an IANA time zone name"), "{none}");
}

#[test]
fn a_zero_duration_a_reversed_freeze_and_a_skipped_hour_are_refused() {
    let zero = refused(&WINDOW.replace("\"8h\"", "\"0s\""));
    assert!(zero.contains("duration is zero"), "{zero}");
    let freeze = |from: &str, to: &str| {
        refused(&format!(
            "[[freezes]]\nfrom = \"{from}\"\nto = \"{to}\"\ntime_zone = \"Europe/Berlin\"\n"
        ))
    };
    let reversed = freeze("2027-01-04 09:00", "2026-12-20 18:00");
    assert!(reversed.contains("before it starts"), "{reversed}");
    assert!(reversed.contains("`to` must be after `from`"), "{reversed}");
    let form = freeze("2026-12-20T18:00", "2027-01-04 09:00");
    assert!(form.contains("\"YYYY-MM-DD HH:MM\""), "{form}");
    let gap = freeze("2026-03-29 02:30", "2026-03-30 09:00");
    assert!(gap.contains("does not exist in Europe/Berlin"), "{gap}");
    let kind = refused(&WINDOW.replace("\"allow\"", "\"permit\""));
    assert!(kind.contains("unknown kind \"permit\""), "{kind}");
    let on_close = refused("[change_window]\non_close = \"pause\"\n");
    assert!(on_close.contains("\"hold\", \"rollback\""), "{on_close}");
}

#[test]
fn a_plan_that_requires_a_ticket_must_name_one() {
    let src =
        format!("{HEAD}{STEPS}").replacen("[rollout]\n", "[rollout]\nrequire_ticket = true\n", 1);
    let msg = match parse(&src, "t.toml") {
        Ok(_) => panic!("accepted without a ticket"),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains("requires a change ticket"), "{msg}");
    assert!(msg.contains("[rollout.ticket]"), "{msg}");
    let with = src.replacen(
        "require_ticket = true\n",
        "require_ticket = true\nticket = { id = \"CHG-1\" }\n",
        1,
    );
    parse(&with, "t.toml").unwrap_or_else(|e| panic!("{e}"));
}

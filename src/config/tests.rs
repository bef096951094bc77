//! Unit tests of defaults, durations, discovery, warnings and the
//! worst-case timing; the refusal fixtures live in tests/it/config_fixtures.rs.

use std::time::Duration;

use super::*;
use crate::plan::{Baseline, HookAction, NoDataAction, TriggerAction};

pub(super) const HEAD: &str = "[rollout]\nservice = \"shop\"\nstrategy = \"canary\"\n";
pub(super) const STEPS: &str = "\n[[steps]]\nname = \"all\"\nweight = 100\nhold = \"1m\"\n";

pub(super) fn plan(extra: &str) -> Plan {
    parse(&format!("{HEAD}{extra}{STEPS}"), "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn refused(extra: &str) -> String {
    match parse(&format!("{HEAD}{extra}{STEPS}"), "t.toml") {
        Ok(_) => panic!("accepted: {extra}"),
        Err(e) => e.to_string(),
    }
}

pub(super) const PROM: &str =
    "[sources.p]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\n";

#[test]
fn defaults_are_filled_as_documented() {
    let p = plan(&format!(
        "{PROM}[sources.h]\nkind = \"probe\"\nurl = \"http://127.0.0.1/h\"\n\
         [[metrics]]\nid = \"e\"\nsource = \"p\"\nquery = \"q\"\nbad = \"up\"\nthreshold = {{ limit = 1 }}\n\
         [[metrics]]\nid = \"u\"\nsource = \"h\"\nfield = \"up\"\nbad = \"down\"\n\
         [[triggers]]\nname = \"t\"\nmetric = \"e\"\n\
         [hooks.rollback]\ncommand = [\"./rb\"]\n[hooks.pause]\nwebhook = {{ url = \"https://x.example/p\" }}\n"
    ));
    let s = &p.sources[0];
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(5), Duration::from_secs(3))
    );
    let e = p.metric("e").expect("e");
    assert_eq!(e.baseline, Baseline::Cohort);
    assert_eq!(
        (e.unit.as_str(), e.display_scale, e.min_samples),
        ("", 1.0, 1)
    );
    assert_eq!((e.no_data.action, e.no_data.after), (NoDataAction::Hold, 3));
    assert_eq!(p.metric("u").expect("u").baseline, Baseline::None);
    assert_eq!(p.metric("u").expect("u").name, "u");
    assert_eq!(
        (p.triggers[0].consecutive, p.triggers[0].action),
        (3, TriggerAction::Rollback)
    );
    let rb = p.hooks.rollback.as_ref().expect("rollback");
    assert_eq!(
        (rb.timeout, rb.retries, rb.idempotent),
        (Duration::from_secs(30), 5, true)
    );
    let pause = p.hooks.pause.as_ref().expect("pause");
    assert_eq!((pause.retries, pause.idempotent), (0, false));
    match &pause.action {
        HookAction::Webhook(w) => {
            assert_eq!(w.method, "POST");
            assert_eq!(w.expect_status, vec![200, 201, 202, 204]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.ui, crate::plan::UiSettings::default());
}

#[test]
fn durations_accept_strings_and_integer_seconds() {
    let p = plan(&format!("{PROM}interval = 10\ntimeout = \"1m\"\n").replace("1m\"", "2500ms\""));
    assert_eq!(p.sources[0].interval, Duration::from_secs(10));
    assert_eq!(p.sources[0].timeout, Duration::from_millis(2500));
    let long = parse(
        &format!("{HEAD}[[steps]]\nname = \"a\"\nweight = 1\nhold = \"1h30m\"\n"),
        "t",
    )
    .expect("1h30m");
    assert_eq!(long.steps[0].hold, Duration::from_secs(5400));
}

#[test]
fn short_interval_gets_a_timeout_that_fits() {
    let p = plan(&format!("{PROM}interval = \"2s\"\n"));
    assert_eq!(p.sources[0].timeout, Duration::from_secs(1));
}

#[test]
fn first_error_names_line_and_column() {
    let msg = refused("[ui]\nretention = true\n");
    assert!(
        msg.starts_with("t.toml:5:13: `retention` must be a duration"),
        "{msg}"
    );
    assert!(msg.contains("\n  help: "), "{msg}");
}

#[test]
fn negative_weight_and_bad_url_are_refused() {
    assert!(refused("[[steps]]\nname = \"a\"\nweight = -1\nhold = \"1m\"\n").contains("weight -1"));
    assert!(
        refused("[sources.p]\nkind = \"prometheus\"\nurl = \"localhost:9090\"\n")
            .contains("not an http(s) URL")
    );
}

#[test]
fn env_names_must_not_be_the_secret_itself() {
    let msg = refused(
        "[sources.p]\nkind = \"prometheus\"\nurl = \"http://x.example\"\nauth = { bearer = { token_env = \"eyJhb.GciOi\" } }\n",
    );
    assert!(msg.contains("must name an environment variable"), "{msg}");
    assert!(!msg.contains("GciOi"), "the value is redacted: {msg}");
}

#[test]
fn placeholders_in_json_bodies_are_told_apart_from_braces() {
    use crate::template::{Context, Placeholder, Template};
    let body = Template::parse(r#"{"a":"{service}","w":{weight}}"#, Context::Hook);
    assert_eq!(
        body.placeholders().collect::<Vec<_>>(),
        vec![Placeholder::Service, Placeholder::Weight]
    );
    assert!(body.check().is_ok());
    let query = Template::parse("rate(x{job=\"a\"}[1m])", Context::Metric);
    assert_eq!(query.placeholders().count(), 0);
    assert!(query.check().is_ok());
}

#[test]
fn worst_case_is_interval_times_consecutive_plus_timeout() {
    let p = plan(&format!(
        "{PROM}interval = \"10s\"\ntimeout = \"4s\"\n[[metrics]]\nid = \"e\"\nsource = \"p\"\nquery = \"q\"\nbad = \"up\"\nthreshold = {{ limit = 1 }}\n[[triggers]]\nname = \"t\"\nmetric = \"e\"\nconsecutive = 2\n"
    ));
    assert_eq!(
        worst_case_to_rollback(&p, &p.triggers[0]),
        Duration::from_secs(24)
    );
    assert!(
        explain(&p, ExplainFormat::Text, crate::engine::Timestamp(0))
            .contains("24s = 10s x 2 + 4s")
    );
}

#[test]
fn warnings_name_risky_but_legal_plans() {
    let p = plan(&format!("{PROM}insecure_skip_verify = true\n"));
    let w = warnings(&p).join("\n");
    assert!(w.contains("skips TLS certificate checks"), "{w}");
    assert!(w.contains("no [[triggers]]"), "{w}");
    assert!(w.contains("no metric has a limit, ratio or delta"), "{w}");
    assert!(w.contains("not used by any metric"), "{w}");
    assert!(
        explain(&p, ExplainFormat::Markdown, crate::engine::Timestamp(0))
            .contains("skips TLS certificate checks")
    );
}

#[test]
fn discover_prefers_explicit_then_lists_where_it_looked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, "").expect("write");
    assert_eq!(discover(Some(&file)).expect("found"), file);
    let missing = dir.path().join("nope.toml");
    let err = discover(Some(&missing)).expect_err("missing");
    assert!(err.to_string().contains("nope.toml"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn journal_dir_comes_from_the_plan_or_the_data_dir() {
    let mut p = plan("");
    assert_eq!(journal_dir(&p), default_journal_dir());
    p.rollout.journal_dir = Some("/var/log/rampdeck".into());
    assert_eq!(
        journal_dir(&p),
        std::path::PathBuf::from("/var/log/rampdeck")
    );
}

#[test]
fn load_reports_unreadable_files() {
    let err = load(std::path::Path::new("/nonexistent/rampdeck.toml")).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}

#[test]
fn change_window_is_checked_in_utc_and_may_cross_midnight() {
    use chrono::TimeZone;
    let at = |d: u32, h: u32, m: u32| {
        chrono::Utc
            .with_ymd_and_hms(2026, 1, d, h, m, 0)
            .single()
            .expect("time")
    };
    // 2026-01-05 is a Monday.
    let day = plan("[rollout.window]\nstart = \"09:00\"\nend = \"16:00\"\ndays = [\"mon\"]\n");
    assert_eq!(outside_window(&day, at(5, 9, 0)), None);
    assert!(outside_window(&day, at(5, 16, 0)).is_some());
    assert!(
        outside_window(&day, at(6, 10, 0))
            .expect("tuesday")
            .contains("tue 10:00")
    );
    let night = plan("[rollout.window]\nstart = \"22:00\"\nend = \"02:00\"\ndays = [\"mon\"]\n");
    assert_eq!(outside_window(&night, at(5, 23, 0)), None);
    assert_eq!(
        outside_window(&night, at(6, 1, 59)),
        None,
        "Monday's window runs into Tuesday"
    );
    assert!(
        outside_window(&night, at(5, 1, 0)).is_some(),
        "Sunday's night is not in the window"
    );
    assert_eq!(outside_window(&plan(""), at(5, 3, 0)), None);
}

// Issue 10, item 12: credentials in URLs.

#[test]
fn credentials_in_urls_are_refused_and_never_echoed() {
    for (extra, key) in [
        (
            "[sources.p]\nkind = \"prometheus\"\nurl = \"http://admin:s3cret@prom.example\"\n",
            "auth = { basic = { user_env",
        ),
        (
            "[sources.p]\nkind = \"prometheus\"\nurl = \"https://s3cret@prom.example\"\n",
            "auth = { basic = { user_env",
        ),
        (
            "[hooks.rollback]\nwebhook = { url = \"https://ci:s3cret@ci.example/rb\" }\n",
            "headers_env",
        ),
        (
            "[rollout.ticket]\nid = \"CHG-1\"\nurl = \"https://me:s3cret@tickets.example/CHG-1\"\n",
            "without them",
        ),
    ] {
        let msg = refused(extra);
        assert!(msg.contains("before the host"), "{msg}");
        assert!(msg.contains(key), "{key}: {msg}");
        assert!(!msg.contains("s3cret"), "the secret is echoed: {msg}");
    }
    // Without credentials the same URLs are fine.
    plan("[sources.p]\nkind = \"prometheus\"\nurl = \"http://prom.example:9090/x?a=b@c\"\n");
}

// Item 13: hooks, keys and the journal dir are checked at plan time.

#[test]
fn hook_bodies_and_urls_are_tried_with_hostile_values() {
    let hook = |body: &str| {
        format!(
            "[hooks.rollback]\nwebhook = {{ url = \"https://d.example/rb\", body = '{body}' }}\n"
        )
    };
    plan(&hook(
        r#"{"r":"{reason}","a":"{actor}","w":{weight},"s":{step},"id":"{rollout_id}"}"#,
    ));
    for bare in [
        r#"{"r": {reason}}"#,
        r#"{"a": {actor}}"#,
        r#"{"s": {service}}"#,
        r#"{"r": "{reason}" "#,
    ] {
        let msg = refused(&hook(bare));
        assert!(
            msg.contains("is not valid JSON once filled in"),
            "{bare}: {msg}"
        );
    }
    let msg = refused("[hooks.pause]\nwebhook = { url = \"https://{actor}.deploy.example/p\" }\n");
    assert!(msg.contains("is not a URL once filled in"), "{msg}");
}

#[test]
fn ui_keys_are_checked_as_the_cockpit_merges_them() {
    let p = plan("[ui.keys]\n\"ctrl-r\" = \"rollback\"\n\"r\" = \"none\"\n\"log:g\" = \"top\"\n");
    assert_eq!(p.ui.keys.len(), 3);
    for (keys, phrase) in [
        ("\"lgo:g\" = \"top\"", "unknown mode \"lgo\""),
        (
            "\"q\" = \"none\"\n\"ctrl-c\" = \"none\"",
            "leave quit without a key",
        ),
        (
            "\"dialog:esc\" = \"none\"\n\"dialog:ctrl-c\" = \"none\"",
            "leave back without a key in the dialog mode",
        ),
        (
            "\"dialog:f2\" = \"rollback\"",
            "does nothing in the reason dialog",
        ),
    ] {
        let msg = refused(&format!("[ui.keys]\n{keys}\n"));
        assert!(msg.contains(phrase), "{keys}: {msg}");
    }
}

#[test]
fn journal_dir_is_absolute_or_in_home_and_is_probed_without_leaving_traces() {
    let p = plan("journal_dir = \"~/rampdeck/journals\"\n");
    let dir = journal_dir(&p);
    assert!(
        dir.is_absolute() && dir.ends_with("rampdeck/journals"),
        "{dir:?}"
    );
    assert!(refused("journal_dir = \"./journals\"\n").contains("is a relative path"));
    assert!(refused("journal_dir = \"\"\n").contains("`journal_dir` is empty"));

    let tmp = tempfile::tempdir().expect("tempdir");
    let deep = tmp.path().join("a/b/c");
    assert_eq!(journal_dir_usable(&deep), Ok(()));
    assert!(
        !tmp.path().join("a").exists(),
        "the probe left its directories"
    );
    assert_eq!(journal_dir_usable(tmp.path()), Ok(()));
    assert_eq!(std::fs::read_dir(tmp.path()).expect("read").count(), 0);
    let file = tmp.path().join("file");
    std::fs::write(&file, "").expect("write");
    assert!(journal_dir_usable(&file.join("j")).is_err());
    assert!(session_group_usable("no-such-group-rampdeck").is_err());
}

// Item 14: placeholders in queries, and ranges.

#[test]
fn metric_placeholders_are_only_service_and_cohort() {
    let metric = |source: &str, field: &str| {
        format!("{source}[[metrics]]\nid = \"e\"\nsource = \"p\"\n{field}\nbad = \"up\"\n")
    };
    let json = "[sources.p]\nkind = \"http_json\"\nurl = \"http://127.0.0.1/s\"\n";
    let cmd = "[sources.p]\nkind = \"command\"\n";
    // A PromQL regex repetition is not a placeholder.
    plan(&metric(
        PROM,
        "query = 'sum(rate(x{code=~\"5[0-9]{2}\",service=\"{service}\",v=\"{cohort}\"}[1m]))'",
    ));
    plan(&metric(json, "pointer = \"/data/{service}/{cohort}\""));
    plan(&metric(
        cmd,
        "command = [\"./m.sh\", \"{service}\", \"{cohort}\"]",
    ));
    for (source, field, name) in [
        (PROM, "query = 'x{service=\"{Service}\"}'", "{Service}"),
        (json, "pointer = \"/data/{env}\"", "{env}"),
        (
            cmd,
            "command = [\"./m.sh\", \"--weight={weight}\"]",
            "{weight}",
        ),
        (
            PROM,
            "query = 'x'\nbaseline = { query = 'x{job=\"{svc}\"}' }",
            "{svc}",
        ),
    ] {
        let msg = refused(&metric(source, field));
        assert!(
            msg.contains(&format!("unknown placeholder {name}")),
            "{msg}"
        );
        assert!(msg.contains("{service} {cohort}"), "{msg}");
    }
}

#[test]
fn durations_and_counts_are_bounded_with_the_range_in_the_help() {
    plan("[[steps]]\nname = \"bake\"\nweight = 50\nhold = \"7d\"\n");
    let step = |hold: &str| format!("[[steps]]\nname = \"s\"\nweight = 5\nhold = {hold}\n");
    let msg = refused(&step("999999999999"));
    assert!(msg.contains("out of range (from 0s to 7d)"), "{msg}");
    let m = "[[metrics]]\nid = \"e\"\nsource = \"p\"\nquery = \"q\"\nbad = \"up\"\nthreshold = { limit = 1 }\n";
    for (extra, phrase) in [
        (format!("{PROM}interval = \"61m\"\n"), "from 1s to 1h"),
        (format!("{PROM}timeout = \"5ms\"\n"), "from 10ms to 1h"),
        ("[ui]\nretention = \"8d\"\n".to_string(), "from 1m to 7d"),
        (
            "[hooks.pause]\ncommand = [\"p\"]\ntimeout = \"2h\"\n".to_string(),
            "from 100ms to 1h",
        ),
        (
            "[hooks.pause]\ncommand = [\"p\"]\ntimeout = 0\n".to_string(),
            "from 100ms to 1h",
        ),
        (format!("{PROM}{m}min_samples = 1001\n"), "from 1 to 1000"),
        (
            format!("{PROM}{m}no_data = {{ after = 1001 }}\n"),
            "from 1 to 1000",
        ),
        (
            format!("{PROM}{m}baseline = {{ pre_deploy = \"2d\" }}\n"),
            "from 1m to 1d",
        ),
        (
            "[hooks.rollback]\ncommand = [\"rb\"]\nretries = 21\n".to_string(),
            "from 0 to 20",
        ),
    ] {
        let msg = refused(&extra);
        assert!(msg.contains(phrase), "{extra}: {msg}");
    }
}

#[test]
fn a_journal_key_is_named_by_its_variable_never_written() {
    let p = plan("[journal]\nkey_env = \"SHOP_JOURNAL_KEY\"\n");
    assert_eq!(p.journal.key_env.as_deref(), Some("SHOP_JOURNAL_KEY"));
    assert_eq!(plan("").journal.key_env, None);
    let msg = refused("[journal]\nkey = \"hunter2hunter2hunter2\"\n");
    assert!(msg.contains("key_env"), "{msg}");
    assert!(!msg.contains("hunter2"), "the value is redacted: {msg}");
    let msg = refused("[journal]\nkey_env = \"not a name\"\n");
    assert!(msg.contains("must name an environment variable"), "{msg}");
    let msg = refused("[journal]\nkeyenv = \"X\"\n");
    assert!(msg.contains("keyenv"), "{msg}");
}

//! Config fixtures: every valid plan parses, every invalid one is refused
//! with the expected `FILE:LINE:COL: message` and a help line, and `explain`
//! of config.example.toml is snapshot in both formats.
//!
//! Adding `tests/configs/invalid/NAME.toml` with `NAME.expected` adds a case.
//! `NAME.expected` is one line: `invalid/NAME.toml:LINE:COL: key phrase`; the
//! first line of the error must start with the location and contain the phrase.

use std::path::{Path, PathBuf};

use rampdeck::config::{self, ExplainFormat};
use rampdeck::plan::{Baseline, Strategy};

/// The `now` of the explain snapshots: Thursday 2026-12-10 08:00 UTC, an
/// hour before `[rollout.window]` opens and three before the Thursday deny
/// window (12:00 Berlin).
const NOW: rampdeck::engine::Timestamp = rampdeck::engine::Timestamp(1_796_889_600_000);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/configs").join(sub))
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn example() -> rampdeck::plan::Plan {
    config::load(&root().join("config.example.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn invalid_configs_are_refused_with_location_and_help() {
    let cases = fixtures("invalid");
    assert!(cases.len() >= 20, "only {} invalid fixtures", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let origin = format!("invalid/{name}");
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no .expected file", path.display()));
        let expected = expected.trim();
        let (loc, phrase) = expected
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}: want `FILE:LINE:COL: phrase`", expected_path.display()));
        let src = std::fs::read_to_string(path).expect("read fixture");
        // With the host checks `plan` and `run` make (journal_dir, session_group).
        match config::parse_on_host(&src, &origin) {
            Ok(_) => failures.push(format!("{origin}: accepted, expected `{expected}`")),
            Err(e) => {
                assert_eq!(e.exit_code(), 2);
                let msg = e.to_string();
                let mut lines = msg.lines();
                let first = lines.next().unwrap_or_default();
                let help = lines.next().unwrap_or_default();
                if !first.starts_with(&format!("{loc}: ")) || !first.contains(phrase) {
                    failures.push(format!("{origin}:\n  want: {expected}\n  got:  {msg}"));
                } else if !help.starts_with("  help: ") || help.len() < 16 {
                    failures.push(format!("{origin}: no useful help line in:\n{msg}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_configs_parse_without_errors() {
    let cases = fixtures("valid");
    assert!(cases.len() >= 3);
    for path in cases {
        let plan = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plan.steps.is_empty(), "{}", path.display());
        // Both formats render every step by name.
        for format in [ExplainFormat::Text, ExplainFormat::Markdown] {
            let text = config::explain(&plan, format, NOW);
            for s in &plan.steps {
                assert!(
                    text.contains(&s.name),
                    "{}: step {} missing",
                    path.display(),
                    s.name
                );
            }
        }
    }
}

#[test]
fn blue_green_and_rolling_fixtures_fill_defaults() {
    let bg = config::load(&root().join("tests/configs/valid/blue_green.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bg.rollout.strategy, Strategy::BlueGreen);
    assert_eq!(
        bg.steps.iter().map(|s| s.weight).collect::<Vec<_>>(),
        vec![0, 100]
    );
    let rolling = config::load(&root().join("tests/configs/valid/rolling.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rolling.rollout.strategy, Strategy::Rolling);
    // The http_json metric gets no baseline by default; prometheus gets the cohort.
    for plan in [&bg, &rolling] {
        for m in &plan.metrics {
            let prom = matches!(
                plan.source(&m.source).map(|s| &s.kind),
                Some(rampdeck::plan::SourceKind::Prometheus(_))
            );
            if prom {
                assert!(!matches!(m.baseline, Baseline::None) || m.threshold.ratio.is_none());
            }
        }
    }
}

#[test]
fn example_config_parses_with_its_documented_values() {
    let plan = example();
    assert_eq!(plan.rollout.service, "checkout");
    assert_eq!(plan.steps.len(), 5);
    assert_eq!(plan.triggers.len(), 3);
    let windows = rampdeck::engine::window::Windows::of(&plan).expect("windows compile");
    assert_eq!(
        (windows.windows.len(), windows.freezes.len()),
        (2, 1),
        "the deny window and [rollout.window] as an allow window; the freeze"
    );
    let p95 = plan.metric("p95_latency").expect("p95");
    assert_eq!(
        p95.baseline,
        Baseline::Cohort,
        "prometheus metrics default to the cohort baseline"
    );
    assert!(
        config::warnings(&plan).is_empty(),
        "{:?}",
        config::warnings(&plan)
    );
}

#[test]
fn explain_text_snapshot() {
    insta::assert_snapshot!(
        "explain_text",
        config::explain(&example(), ExplainFormat::Text, NOW)
    );
}

#[test]
fn explain_markdown_snapshot() {
    insta::assert_snapshot!(
        "explain_markdown",
        config::explain(&example(), ExplainFormat::Markdown, NOW)
    );
}

/// The commented-out alternatives in the example must be valid too, since
/// people uncomment them: uncomment every `# key = ...` / `# [table]` line
/// (a line that is TOML by itself; the first of the two `auth` forms) and parse the result.
#[test]
fn example_config_commented_options_parse_when_uncommented() {
    let src = std::fs::read_to_string(root().join("config.example.toml")).expect("example");
    let mut seen_auth = false;
    let mut uncommented = 0;
    let text: Vec<String> = src
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return line.to_string();
            };
            let is_table = rest.starts_with('[');
            let key = rest.split_once(" = ").map(|(k, _)| k);
            // Prose such as `# bad = "up" when higher is worse` is not TOML on its own.
            let is_key = key.is_some_and(|k| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            }) && rest.parse::<toml::Table>().is_ok();
            if key == Some("auth") {
                if seen_auth {
                    return line.to_string();
                }
                seen_auth = true;
            }
            if is_table || is_key {
                uncommented += 1;
                rest.to_string()
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(uncommented >= 20, "only {uncommented} lines uncommented");
    let plan =
        config::parse(&text.join("\n"), "uncommented.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        plan.hooks.resume.is_some()
            && plan.hooks.promote.is_some()
            && !plan.hooks.on_step_enter.is_empty()
    );
    assert_eq!(
        plan.rollout.require_second,
        vec![rampdeck::engine::Command::PromoteFull]
    );
    assert_eq!(plan.rollout.risky_areas, ["payments", "card vault"]);
    assert_eq!(plan.incidents.len(), 2);
    assert_eq!(plan.incidents[0].metric.as_deref(), Some("p95_latency"));
    assert_eq!(plan.incidents[1].area.as_deref(), Some("payments"));
    assert_eq!(
        plan.notify.slack_webhook_env.as_deref(),
        Some("SLACK_WEBHOOK_URL")
    );
    assert_eq!(plan.preflight.len(), 9);
    assert!(plan.preflight.iter().filter(|p| p.check.is_some()).count() == 3);
    let exit = plan.exit.expect("[exit] uncommented");
    assert_eq!(exit.items.len(), 6);
    let probes = exit
        .items
        .iter()
        .filter_map(|i| i.check.as_ref()?.http.as_ref());
    assert_eq!(probes.count(), 1);
}

/// The plan as a change-ticket attachment: windows with their next active
/// times (from a fixed now, Thursday 2026-12-10 08:00 UTC: the Berlin
/// weekday window is open, the New York deny comes on Friday), pre-flight
/// with owners and checks, approvals per step, the ticket as a link.
#[test]
fn change_control_markdown_snapshot() {
    let plan = config::load(&root().join("tests/configs/valid/change_control.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let md = config::explain(&plan, ExplainFormat::Markdown, NOW);
    assert!(
        md.contains("| **Change ticket** | [CHG-9001](https://tickets.example.com/CHG-9001) |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| allow: weekday hours | each \"0 9 * * 1-5\" for 8h | Europe/Berlin | active now | \
             Thu 2026-12-10 17:00 Europe/Berlin |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 3 | full | 100 % | alice, bob, @payments-leads | 2 | no | 30m |"),
        "{md}"
    );
    // The text says the same, the ticket as id and URL.
    let text = config::explain(&plan, ExplainFormat::Text, NOW);
    assert!(
        text.contains("CHG-9001 https://tickets.example.com/CHG-9001"),
        "{text}"
    );
    assert!(
        text.contains("Fri 2026-12-11 16:00 America/New_York"),
        "{text}"
    );
    insta::assert_snapshot!("explain_change_control_markdown", md);
}

//! `rampdeck summary JOURNAL --charts DIR` (issue 15): over a recorded
//! rollout (the real engine's journal and recording), one SVG per metric
//! in DIR, linked from the Markdown as DIR was written; over a journal
//! without a recording, one line that says so, and exit 0.

use std::path::Path;

use rampdeck::journal::charts::fixture::{Ending, checkout};

use crate::kit::proc::{rampdeck, said};

fn summary(cwd: &Path, journal: &Path, format: &str) -> std::process::Output {
    rampdeck(&["summary", "--format", format, "--charts", "charts"])
        .arg(journal)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn a_recorded_rollout_gets_a_chart_per_metric_linked_from_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let journal = checkout(dir.path(), Ending::RolledBack).unwrap();
    let out = summary(dir.path(), &journal, "markdown");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("\n## Charts\n"), "{md}");
    for (name, file) in [
        ("Error ratio", "error_rate"),
        ("p95 latency", "p95_latency"),
        ("Request rate", "rps"),
        ("Health probe", "health"),
    ] {
        assert!(
            md.contains(&format!("![{name}](charts/{file}.svg)")),
            "no link to {file}: {md}"
        );
        let svg = std::fs::read_to_string(dir.path().join("charts").join(format!("{file}.svg")))
            .unwrap_or_else(|e| panic!("{file}.svg: {e}"));
        assert!(svg.starts_with("<svg"), "{file}");
        assert!(svg.contains(&format!("{name} ")), "{file}: no title");
        assert!(
            svg.contains("trigger_rollback (errors)"),
            "{file}: no rollback marker"
        );
    }
    let err = std::fs::read_to_string(dir.path().join("charts/error_rate.svg")).unwrap();
    assert!(err.contains("breach → rollback"));
    assert!(err.contains("limit 5 %"));

    let json = summary(dir.path(), &journal, "json");
    assert_eq!(json.status.code(), Some(0), "{}", said(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["charts"]["files"].as_array().map(Vec::len),
        Some(4),
        "{v}"
    );
    assert_eq!(v["outcome"], "rolled_back");
}

#[test]
fn a_journal_without_a_recording_says_no_charts_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let journal = checkout(dir.path(), Ending::Promoted).unwrap();
    std::fs::remove_file(rampdeck::recording::finished_path(&journal)).unwrap();
    let out = summary(dir.path(), &journal, "markdown");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("no recording: no charts"), "{md}");
    assert!(
        md.contains("# Post-deploy summary: checkout"),
        "the summary is all there"
    );
    assert!(
        !dir.path().join("charts").exists(),
        "no empty charts directory"
    );
}

#[test]
fn a_damaged_recording_is_an_error_line_and_exit_3_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let journal = checkout(dir.path(), Ending::RolledBack).unwrap();
    std::fs::write(rampdeck::recording::finished_path(&journal), b"not gzip").unwrap();
    let out = summary(dir.path(), &journal, "markdown");
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("\n## Charts\n\nrecording "), "{md}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("charts: recording"));
}

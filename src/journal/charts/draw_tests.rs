use std::collections::HashMap;

use super::*;
use crate::journal::charts::fixture::{Ending, checkout};
use crate::journal::charts::model::build;

/// Every element of an SVG document: its tag, its attributes, its text.
fn elements(svg: &str) -> Vec<(String, HashMap<String, String>, String)> {
    let mut out = Vec::new();
    for part in svg.split('<').skip(1) {
        if part.starts_with('/') || part.starts_with('?') {
            continue;
        }
        let (tag_and_attrs, text) = part.split_once('>').unwrap_or((part, ""));
        let tag_and_attrs = tag_and_attrs.trim_end_matches('/');
        let (tag, mut rest) = tag_and_attrs.split_once(' ').unwrap_or((tag_and_attrs, ""));
        let mut attrs = HashMap::new();
        while let Some((k, after)) = rest.split_once("=\"") {
            let (v, tail) = after.split_once('"').unwrap_or((after, ""));
            attrs.insert(k.trim().to_string(), v.to_string());
            rest = tail;
        }
        out.push((tag.to_string(), attrs, text.trim().to_string()));
    }
    out
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

fn count(
    els: &[(String, HashMap<String, String>, String)],
    tag: &str,
    attr: &str,
    value: &str,
) -> usize {
    els.iter()
        .filter(|(t, a, _)| t == tag && a.get(attr).map(String::as_str) == Some(value))
        .count()
}

#[test]
fn the_rolled_back_error_ratio_chart_shows_series_lines_markers_and_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), Ending::RolledBack).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, rec) = crate::recording::open_for_journal(&journal).expect("recording");
    let set = build(&rec, &records);
    let c = &set.charts[0];
    assert_eq!(c.metric, "error_rate");
    let svg = svg(&set, c).expect("svg");
    let els = elements(&svg);

    // One polyline per segment of each series (the gap splits the canary).
    let canary = count(&els, "polyline", "stroke", &hex(CANARY));
    assert_eq!(canary, c.canary.segments.len());
    assert_eq!(canary, 2);
    let base = c.baseline.as_ref().expect("baseline");
    assert_eq!(
        count(&els, "polyline", "stroke", &hex(BASELINE)),
        base.segments.len()
    );
    // The limit and the SLO: one line each.
    assert_eq!(count(&els, "polyline", "stroke", &hex(LIMIT)), 1);
    assert_eq!(count(&els, "polyline", "stroke", &hex(SLO)), 1);
    // A step line per step entered.
    assert_eq!(
        count(&els, "polyline", "stroke", &hex(STEP)),
        set.steps.len()
    );
    // A dot per decision, a dot per breaching sample.
    assert_eq!(
        count(&els, "circle", "r", &DECISION_DOT.to_string()),
        set.decisions.len()
    );
    let b = c.breach.as_ref().expect("breach");
    assert_eq!(count(&els, "circle", "r", "4"), b.points.len());
    assert!(
        count(&els, "rect", "fill", &hex(BREACH)) >= 1,
        "the breach's band"
    );

    let texts: Vec<&str> = els
        .iter()
        .filter(|(t, _, _)| t == "text")
        .map(|(_, _, x)| x.as_str())
        .collect();
    for want in [
        "Error ratio (%)",
        "canary",
        "baseline",
        "limit 5 %",
        "SLO 1 %",
        "0 %",
        "5 %",
        "25 %",
        "50 %",
        "pause by alice",
        "approve by bob",
        "trigger_rollback (errors)",
    ] {
        assert!(texts.contains(&want), "no text {want:?} in {texts:?}");
    }
    assert!(
        texts.iter().any(|t| t.starts_with("breach → rollback")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Error ratio (%) · checkout"))
    );
    // The time axis reads in the engine's clock words.
    assert!(texts.contains(&"00:00"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.len() == 5 && t.as_bytes()[2] == b':' && *t != "00:00")
    );
}

#[test]
fn labels_that_would_overlap_take_the_next_row_and_none_past_the_last() {
    let rows = lanes(
        &[(0.0, 100.0), (50.0, 120.0), (110.0, 200.0), (130.0, 150.0)],
        2,
    );
    assert_eq!(rows, [Some(0), Some(1), Some(0), Some(1)]);
    let full = lanes(&[(0.0, 100.0), (10.0, 100.0), (20.0, 100.0)], 2);
    assert_eq!(full, [Some(0), Some(1), None]);
}

#[test]
fn a_chart_with_no_values_says_so_instead_of_drawing_an_empty_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), Ending::RolledBack).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, mut rec) = crate::recording::open_for_journal(&journal).expect("recording");
    rec.entries.retain(|e| e.sample().is_none());
    let set = build(&rec, &records);
    let svg = svg(&set, &set.charts[1]).expect("svg");
    assert!(svg.contains("no values recorded"));
    assert_eq!(
        count(&elements(&svg), "polyline", "stroke", &hex(CANARY)),
        0
    );
}

#[test]
fn the_time_axis_ticks_at_round_steps() {
    let ticks = time_ticks(1_122_000);
    assert_eq!(ticks.len(), 10, "{ticks:?}");
    assert_eq!(ticks[1], 120_000.0, "every 2 minutes over 18 minutes");
    let six_h = time_ticks(6 * 3_600_000);
    assert_eq!(six_h[1], 3_600_000.0, "every hour over six hours");
    assert!(time_ticks(3_000).len() <= 11);
}

#[test]
fn the_frozen_baseline_is_in_the_legend_and_the_100_percent_step_on_the_axis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = checkout(dir.path(), Ending::Promoted).expect("fixture");
    let records = crate::journal::read_records(&journal).expect("records");
    let (_, rec) = crate::recording::open_for_journal(&journal).expect("recording");
    let set = build(&rec, &records);
    let svg = svg(&set, &set.charts[0]).expect("svg");
    let els = elements(&svg);
    let texts: Vec<&str> = els
        .iter()
        .filter(|(t, _, _)| t == "text")
        .map(|(_, _, x)| x.as_str())
        .collect();
    assert!(texts.contains(&"baseline (frozen at 100 %)"), "{texts:?}");
    assert!(texts.contains(&"100 %"), "{texts:?}");
    assert!(
        !texts.contains(&"breach that rolled back"),
        "no rollback, no breach"
    );
    // The held baseline is dashed: more baseline-grey strokes than the live
    // baseline has segments.
    let base = set.charts[0].baseline.as_ref().expect("baseline");
    assert!(count(&els, "polyline", "stroke", &hex(BASELINE)) > base.segments.len() + 5);
}

//! Charts in the summary (issue 15): one SVG per metric from a rollout's
//! recording and journal: canary and baseline over the whole rollout, the
//! limit and SLO lines, step boundaries with their weights, the decisions
//! people and triggers made, and the breach that rolled it back.
//!
//! [`model`] builds what each chart shows (pure, tested without drawing),
//! [`draw`] draws it with plotters' SVG backend. This module reads the
//! files: the journal's records (only what charts need is kept) and the
//! recording, streamed line by line and downsampled as it goes, under a
//! time budget, so a chart never holds up the end of a rollout.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::JournalError;
use super::escape::md;
use crate::recording::recording_of;
use crate::recording::{FormatError, finished_path, format};

pub mod downsample;
pub mod draw;
#[doc(hidden)]
#[cfg(any(test, feature = "demo"))]
pub mod fixture;
pub mod model;

pub use model::{Builder, Chart, Charts};

/// How long the charts of one rollout may take: past it they are given
/// up, and the summary says so.
pub const BUDGET: Duration = Duration::from_secs(20);

/// Why no chart was drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("no recording: no charts ({} does not exist)", .0.display())]
    NoRecording(PathBuf),
    #[error("recording {}: {source}", path.display())]
    Recording {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    #[error(
        "recording {}: it is rollout {found}'s, not {expected}'s: charts would draw one rollout's series under another's decisions. Put the recording of {expected} beside its journal (`rampdeck verify` says which file the journal sealed)",
        path.display()
    )]
    OtherRollout {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error(
        "gave up after {}s reading the recording (it is kept; `rampdeck summary JOURNAL --charts DIR` draws them later)",
        .0.as_secs()
    )]
    TooSlow(Duration),
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{metric}: {why}")]
    Draw { metric: String, why: String },
}

/// One chart written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The metric's name, for the link's text.
    pub name: String,
    /// The file's name in the charts' directory.
    pub file: String,
}

/// Draws one SVG per metric of the rollout journaled at `journal` into
/// `dir` (created if need be), within `budget`.
pub fn write_charts(
    journal: &Path,
    dir: &Path,
    budget: Duration,
) -> Result<Vec<Written>, ChartError> {
    let deadline = Instant::now() + budget;
    let rec =
        recording_of(journal).ok_or_else(|| ChartError::NoRecording(finished_path(journal)))?;
    let records = kept_records(journal)?;
    let charts = read_recording(&rec, &records, budget, deadline)?;
    std::fs::create_dir_all(dir).map_err(|source| ChartError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for c in &charts.charts {
        if Instant::now() > deadline {
            return Err(ChartError::TooSlow(budget));
        }
        let svg = draw::svg(&charts, c).map_err(|why| ChartError::Draw {
            metric: c.metric.clone(),
            why,
        })?;
        let path = dir.join(format!("{}.svg", c.file));
        let tmp = dir.join(format!(".{}.svg.tmp", c.file));
        std::fs::write(&tmp, svg)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| ChartError::Write { path, source })?;
        written.push(Written {
            name: c.name.clone(),
            file: format!("{}.svg", c.file),
        });
    }
    Ok(written)
}

/// The journal's records a chart needs: the first and last (the time
/// axis), the steps, the marked decisions (with the rollback that names
/// its cause), and the first record of each metric's frozen baseline.
/// Floods of views and refusals are not kept.
fn kept_records(journal: &Path) -> Result<Vec<super::Record>, ChartError> {
    let mut kept = Vec::new();
    let mut frozen: Vec<String> = Vec::new();
    let mut last = None;
    for r in super::records(journal)? {
        let r = r?;
        let d = &r.decision;
        let new_frozen: Vec<String> = d
            .gates
            .iter()
            .filter(|g| g.baseline_frozen_at.is_some() && !frozen.contains(&g.metric))
            .map(|g| g.metric.clone())
            .collect();
        let keep = kept.is_empty()
            || d.action == crate::engine::DecisionKind::StepEntered
            || model::marked(&d.action)
            || !new_frozen.is_empty();
        frozen.extend(new_frozen);
        if keep {
            kept.push(r);
            last = None;
        } else {
            last = Some(r);
        }
    }
    kept.extend(last);
    Ok(kept)
}

/// Streams the recording at `path` into the charts' model.
fn read_recording(
    path: &Path,
    records: &[super::Record],
    budget: Duration,
    deadline: Instant,
) -> Result<Charts, ChartError> {
    let bad = |source: FormatError| ChartError::Recording {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.into()))?;
    let mut reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::GzDecoder::new(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let mut buf = Vec::new();
    if format::next_line(&mut reader, &mut buf, 1)
        .map_err(bad)?
        .is_none()
    {
        return Err(bad(FormatError::Empty));
    }
    let header = format::parse_header(&String::from_utf8_lossy(&buf)).map_err(bad)?;
    if let Some(first) = records.first()
        && first.rollout != header.rollout_id
    {
        return Err(ChartError::OtherRollout {
            path: path.to_path_buf(),
            found: header.rollout_id,
            expected: first.rollout.clone(),
        });
    }
    let mut b = Builder::new(&header, records);
    let mut line = 1;
    loop {
        line += 1;
        let Some(whole) = format::next_line(&mut reader, &mut buf, line).map_err(bad)? else {
            break;
        };
        if line % 4096 == 0 && Instant::now() > deadline {
            return Err(ChartError::TooSlow(budget));
        }
        if buf.is_empty() {
            continue;
        }
        match format::parse_entry(&String::from_utf8_lossy(&buf), line) {
            Ok(e) => b.push(&e),
            // A last line cut short by a crash: the recording ends there.
            Err(_) if !whole => break,
            Err(e) => return Err(bad(e)),
        }
    }
    Ok(b.finish())
}

/// Characters a Markdown link's path must not hold as they are.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'(')
    .add(b')')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'`');

/// The summary's "Charts" section: an image link per chart, relative to
/// where the summary is read (`link_dir` is the charts' directory as seen
/// from there), or the one line that says why there is none.
pub fn section(result: &Result<Vec<Written>, ChartError>, link_dir: &str) -> String {
    let mut o = String::from("\n## Charts\n\n");
    let dir = utf8_percent_encode(link_dir.trim_end_matches('/'), PATH).to_string();
    match result {
        Ok(written) if written.is_empty() => o.push_str("The plan has no metric to chart.\n"),
        Ok(written) => {
            for w in written {
                let file = utf8_percent_encode(&w.file, PATH);
                let _ = writeln!(o, "![{}]({dir}/{file})\n", md(&w.name));
            }
        }
        Err(e) => {
            let _ = writeln!(o, "{}", md(&e.to_string()));
        }
    }
    o
}

/// When a rollout ends, after its summary was written: the charts into
/// `<journal stem>.charts/` beside the journal, and their section at the
/// end of the summary. Only when there is a recording; never fails: an
/// error becomes the section's one line.
pub fn beside_summary(journal: &Path, summary: &Path) {
    if recording_of(journal).is_none() {
        return;
    }
    let stem = journal
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    let name = format!("{stem}.charts");
    let dir = journal.parent().unwrap_or(Path::new(".")).join(&name);
    let result = write_charts(journal, &dir, BUDGET);
    let add = section(&result, &name);
    let tmp = summary.with_extension("md.charts.tmp");
    let mut text = String::new();
    let read =
        std::fs::File::open(summary).and_then(|f| f.take(64 << 20).read_to_string(&mut text));
    if read.is_ok() {
        text.push_str(&add);
        let _ = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, summary));
    }
}

/// `rampdeck summary JOURNAL --charts DIR`: the summary, and the charts
/// drawn into DIR and linked from it (as DIR is written, relative to
/// where the summary is read). Exit codes as `summary`, and 3 when the
/// charts could not be drawn from a recording that exists.
pub fn summary_cli(journal: &Path, markdown: bool, dir: &Path) -> i32 {
    let s = match super::render::build(journal) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck summary: {}", super::escape::line(&e.to_string()));
            return 2;
        }
    };
    let result = write_charts(journal, dir, BUDGET);
    let link = dir.to_string_lossy();
    if markdown {
        print!("{}{}", super::render_markdown(&s), section(&result, &link));
    } else {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        let charts = match &result {
            Ok(w) => serde_json::json!({
                "dir": link,
                "files": w.iter().map(|w| &w.file).collect::<Vec<_>>(),
            }),
            Err(e) => serde_json::json!({ "dir": link, "error": e.to_string() }),
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("charts".into(), charts);
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    match result {
        Err(ChartError::NoRecording(_)) | Ok(_) => i32::from(s.chain.exit_code == 1),
        Err(e) => {
            eprintln!(
                "rampdeck summary: charts: {}",
                super::escape::line(&e.to_string())
            );
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{Ending, checkout};
    use super::*;

    #[test]
    fn at_the_end_the_charts_go_beside_the_journal_and_the_summary_links_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = checkout(dir.path(), Ending::RolledBack).expect("fixture");
        let summary = crate::journal::write_summary_next_to(&journal).expect("summary");
        beside_summary(&journal, &summary);
        let text = std::fs::read_to_string(&summary).expect("read");
        assert!(text.starts_with("# Post-deploy summary: checkout"));
        assert!(
            text.ends_with(
                "## Charts\n\n![Error ratio](checkout-fx.charts/error_rate.svg)\n\n\
                 ![p95 latency](checkout-fx.charts/p95_latency.svg)\n\n\
                 ![Request rate](checkout-fx.charts/rps.svg)\n\n\
                 ![Health probe](checkout-fx.charts/health.svg)\n\n"
            ),
            "{text}"
        );
        assert!(dir.path().join("checkout-fx.charts/rps.svg").is_file());
    }

    #[test]
    fn another_rollout_s_recording_beside_the_journal_draws_no_charts() {
        use std::io::{Read as _, Write as _};
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = checkout(dir.path(), Ending::RolledBack).expect("fixture");
        let gz = finished_path(&journal);
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("open"))
            .read_to_string(&mut text)
            .expect("gunzip");
        let text = text.replacen(
            "\"rollout_id\":\"checkout-fx\"",
            "\"rollout_id\":\"other-1\"",
            1,
        );
        assert!(text.contains("other-1"));
        let mut out = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("create"),
            flate2::Compression::default(),
        );
        out.write_all(text.as_bytes()).expect("write");
        out.finish().expect("finish");
        let err = write_charts(&journal, &dir.path().join("c"), BUDGET).expect_err("other rollout");
        assert!(matches!(err, ChartError::OtherRollout { .. }), "{err}");
        assert!(err.to_string().contains("other-1"), "{err}");
        assert!(!dir.path().join("c").exists());
    }

    #[test]
    fn without_a_recording_the_summary_is_left_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = checkout(dir.path(), Ending::Promoted).expect("fixture");
        std::fs::remove_file(finished_path(&journal)).expect("rm");
        let summary = crate::journal::write_summary_next_to(&journal).expect("summary");
        let before = std::fs::read_to_string(&summary).expect("read");
        beside_summary(&journal, &summary);
        assert_eq!(std::fs::read_to_string(&summary).expect("read"), before);
        assert!(!dir.path().join("checkout-fx.charts").exists());
    }

    #[test]
    fn a_chart_that_cannot_be_drawn_is_one_line_and_links_are_escaped() {
        let written = Ok(vec![Written {
            name: "p95 [ms]".into(),
            file: "p95.svg".into(),
        }]);
        assert_eq!(
            section(&written, "my charts/"),
            "\n## Charts\n\n![p95 \\[ms\\]](my%20charts/p95.svg)\n\n"
        );
        let failed = Err(ChartError::TooSlow(BUDGET));
        let s = section(&failed, "x");
        assert_eq!(s.lines().filter(|l| !l.is_empty()).count(), 2, "{s}");
        assert!(s.contains("gave up after 20s"), "{s}");
    }
}

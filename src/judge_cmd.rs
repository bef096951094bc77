//! `rampdeck judge`: one metric's canary samples against its baseline
//! samples, judged by the engine's Mann-Whitney classifier exactly as a
//! gate judges them, from files. For trying settings on real numbers
//! before they go into a plan, and for scripts.
//!
//! Everything read is bounded and checked: a sample file holds at most
//! 16 MiB, a bad line is reported as `file:line` with what is wrong, and
//! nothing a file holds can make it panic.

use std::io::Read;
use std::path::Path;

use crate::engine::analysis::classifier::{
    Classification, JudgeSettings, MetricJudgement, classify,
};
use crate::engine::words::{MISSING, number, ratio};

/// The most a sample file may hold.
pub const MAX_SAMPLE_FILE: u64 = 16 * 1024 * 1024;

/// The most a `--metric-config` file may hold.
const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Exit status: the canary passed.
pub const EXIT_PASS: i32 = 0;
/// Exit status: High or Low, or no data where the metric must have data.
pub const EXIT_FAIL: i32 = 1;
/// Exit status: nothing was judged (a file or the settings unreadable).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit status: no data on one side (after NaN handling).
pub const EXIT_NO_DATA: i32 = 3;

/// Runs `rampdeck judge` and returns its exit status.
pub fn judge_cli(canary: &Path, baseline: &Path, metric_config: Option<&Path>, json: bool) -> i32 {
    let inputs = (|| -> Result<_, String> {
        let settings = match metric_config {
            Some(p) => load_settings(p)?,
            None => JudgeSettings::default(),
        };
        Ok((read_samples(canary)?, read_samples(baseline)?, settings))
    })();
    let (x, y, settings) = match inputs {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rampdeck judge: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let j = classify(&x, &y, &settings);
    if json {
        match serde_json::to_string(&j) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("rampdeck judge: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    } else {
        print!("{}", render(&j));
    }
    exit_code(&j)
}

/// 0 Pass, 1 a failure, 3 NoData that does not fail.
pub fn exit_code(j: &MetricJudgement) -> i32 {
    match j.classification {
        _ if j.fails() => EXIT_FAIL,
        Classification::NoData => EXIT_NO_DATA,
        _ => EXIT_PASS,
    }
}

/// The judgement as aligned lines for a terminal.
pub fn render(j: &MetricJudgement) -> String {
    let opt = |v: Option<f64>| v.map_or(MISSING.to_string(), number);
    let signed = |v: f64| {
        if v > 0.0 {
            format!("+{}", number(v))
        } else {
            number(v)
        }
    };
    let class = if j.critical {
        format!("{} (critical)", j.classification.as_str())
    } else if j.no_data_fails {
        format!("{} (the metric must have data)", j.classification.as_str())
    } else {
        j.classification.as_str().to_string()
    };
    let interval = j.interval.map_or(MISSING.to_string(), |i| {
        format!("[{}, {}]", signed(i.lower), signed(i.upper))
    });
    let estimate = j.estimate.map_or(MISSING.to_string(), |e| {
        format!("{} (shift canary - baseline)", signed(e))
    });
    let effect = j.effect_size.map_or(
        format!("{MISSING} (a mean is 0 or there is no data)"),
        |r| format!("{} (mean canary / mean baseline)", ratio(r)),
    );
    let mut dropped = String::new();
    if j.dropped_canary + j.dropped_baseline > 0 {
        dropped = format!(
            " ({} canary and {} baseline values dropped)",
            j.dropped_canary, j.dropped_baseline
        );
    }
    let conf = format!("{} % interval", number(j.confidence * 100.0));
    let rows = [
        ("classification", class),
        ("estimate", estimate),
        (conf.as_str(), interval),
        ("effect size", effect),
        ("p-value", opt(j.p_value)),
        (
            "n",
            format!("canary {}, baseline {}{dropped}", j.n_canary, j.n_baseline),
        ),
        ("reason", j.reason.clone()),
    ];
    rows.iter().map(|(k, v)| format!("{k:<15} {v}\n")).collect()
}

/// A file's text, refused beyond `limit` bytes or when not UTF-8.
fn read_bounded(path: &Path, limit: u64) -> Result<String, String> {
    let shown = path.display();
    let too_big = || {
        format!(
            "{shown}: more than the {} a file here may hold",
            bytes(limit)
        )
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    if file.metadata().is_ok_and(|m| m.len() > limit) {
        return Err(too_big());
    }
    let mut raw = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{shown}: {e}"))?;
    if raw.len() as u64 > limit {
        return Err(too_big());
    }
    String::from_utf8(raw).map_err(|e| {
        format!(
            "{shown}: not UTF-8 text (byte {}); write numbers as text",
            e.utf8_error().valid_up_to()
        )
    })
}

fn bytes(n: u64) -> String {
    format!("{} MiB", n / (1024 * 1024))
}

/// The settings of `--metric-config`: TOML, checked.
fn load_settings(path: &Path) -> Result<JudgeSettings, String> {
    let text = read_bounded(path, MAX_CONFIG_FILE)?;
    let s: JudgeSettings = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    s.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(s)
}

/// A sample file: see [`parse_samples`].
pub fn read_samples(path: &Path) -> Result<Vec<f64>, String> {
    let text = read_bounded(path, MAX_SAMPLE_FILE)?;
    parse_samples(&path.display().to_string(), &text)
}

/// Samples from text: a JSON array of numbers (`null` for a missing value,
/// judged as NaN) when it starts with `[`, otherwise one number per line
/// with blank lines and `#` comments ignored (`NaN` and `inf` are numbers:
/// the metric's NaN strategy decides). Errors name `name:line`.
pub fn parse_samples(name: &str, text: &str) -> Result<Vec<f64>, String> {
    if text.trim_start().starts_with('[') {
        let v: Vec<Option<f64>> = serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            format!(
                "{name}:{}:{}: {msg}; a JSON array holds numbers or null",
                e.line(),
                e.column()
            )
        })?;
        return Ok(v.into_iter().map(|o| o.unwrap_or(f64::NAN)).collect());
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split_once('#').map_or(line, |(c, _)| c).trim();
        if code.is_empty() {
            continue;
        }
        match code.parse::<f64>() {
            Ok(v) => out.push(v),
            Err(_) => {
                let shown: String = code.chars().take(40).collect();
                let more = if code.chars().count() > 40 { "..." } else { "" };
                return Err(format!(
                    "{name}:{}: {shown:?}{more} is not a number; write one number per line \
                     (e.g. 12.5, 1e-3, NaN), or a JSON array",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_blanks() {
        let text = "# latency, ms\n12.5\n\n  13 # slow one\n1e-3\nNaN\n-inf\n";
        let v = parse_samples("c.txt", text).unwrap();
        assert_eq!(&v[..3], &[12.5, 13.0, 1e-3]);
        assert!(v[3].is_nan() && v[4] == f64::NEG_INFINITY);
        assert_eq!(parse_samples("c.txt", "").unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn a_bad_line_is_named_with_its_number() {
        let e = parse_samples("c.txt", "1\n2\n12,5\n").unwrap_err();
        assert!(e.starts_with("c.txt:3: \"12,5\" is not a number"), "{e}");
        let e = parse_samples("c.txt", "1 2").unwrap_err();
        assert!(e.starts_with("c.txt:1: \"1 2\""), "{e}");
        let long = "x".repeat(500);
        let e = parse_samples("c.txt", &long).unwrap_err();
        assert!(e.len() < 200, "{e}");
        let e = parse_samples("c.txt", "\u{1b}[2J").unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn json_arrays_with_null() {
        let v = parse_samples("c.json", " [1, 2.5, null]").unwrap();
        assert_eq!(&v[..2], &[1.0, 2.5]);
        assert!(v[2].is_nan());
        let e = parse_samples("c.json", "[1,\n \"x\"]").unwrap_err();
        assert!(e.starts_with("c.json:2:"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
        assert!(parse_samples("c.json", "[1, 2").is_err());
    }

    #[test]
    fn exit_codes_follow_the_classification() {
        let s = JudgeSettings::default();
        assert_eq!(exit_code(&classify(&[1.0], &[1.0], &s)), EXIT_PASS);
        assert_eq!(exit_code(&classify(&[9.0], &[1.0], &s)), EXIT_FAIL);
        assert_eq!(exit_code(&classify(&[], &[1.0], &s)), EXIT_NO_DATA);
        let must = JudgeSettings {
            must_have_data: true,
            ..s
        };
        assert_eq!(exit_code(&classify(&[], &[1.0], &must)), EXIT_FAIL);
    }
}

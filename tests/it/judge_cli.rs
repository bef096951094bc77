//! `rampdeck judge` as a person or a script runs it: the real binary on
//! files, its output, its exit status (0 pass, 1 high/low, 3 no data, 2
//! bad input), and bad input that is named instead of a panic.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::kit::proc::rampdeck;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn put(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn lines(values: impl IntoIterator<Item = f64>) -> String {
    values.into_iter().map(|v| format!("{v}\n")).collect()
}

fn baseline() -> String {
    format!(
        "# baseline latency, ms\n\n{}",
        lines((0..30).map(|i| 100.0 + f64::from((i * 7) % 30) / 3.0))
    )
}

fn canary_shifted(by: f64) -> String {
    lines((0..30).map(|i| 100.0 + by + f64::from((i * 11) % 30) / 3.0))
}

fn judge(canary: &Path, baseline: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "judge",
        "--canary",
        canary.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rampdeck(&args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_shifted_canary_is_high_and_exits_1() {
    let f = Files::new();
    let (c, b) = (
        f.put("c.txt", &canary_shifted(25.0)),
        f.put("b.txt", &baseline()),
    );
    let out = judge(&c, &b, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("classification  high\n"), "{stdout}");
    assert!(
        stdout.contains("\nestimate        +25 (shift canary - baseline)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\n98 % interval   [+"), "{stdout}");
    assert!(
        stdout.contains("\nn               canary 30, baseline 30\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nreason          canary higher than baseline: shift +25"),
        "{stdout}"
    );
}

#[test]
fn json_prints_one_object_and_a_pass_exits_0() {
    let f = Files::new();
    let b = f.put("b.txt", &baseline());
    let c = f.put(
        "c.json",
        "[100, 101.5, null, 104, 102.2, 107, 109.1, 100.3, 108]",
    );
    let out = judge(&c, &b, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["classification"], "pass");
    assert_eq!(
        (v["n_canary"].as_u64(), v["dropped_canary"].as_u64()),
        (Some(8), Some(1))
    );
    for k in ["estimate", "p_value", "effect_size"] {
        assert!(v[k].is_f64(), "{k}: {v}");
    }
    assert!(v["interval"]["lower"].as_f64() <= v["interval"]["upper"].as_f64());
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("no shift beyond the tolerance")
    );
}

#[test]
fn no_data_exits_3_unless_the_metric_must_have_data() {
    let f = Files::new();
    let b = f.put("b.txt", &baseline());
    let c = f.put("c.txt", "# the canary took no traffic\nNaN\nNaN\n");
    let out = judge(&c, &b, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("classification  no data\n"));
    let must = f.put("m.toml", "must_have_data = true\n");
    let out = judge(&c, &b, &["--metric-config", must.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("the metric must have data"));
    // Replaced by 0 (Kayenta's `replace`): a canary at 0 is far lower.
    let replace = f.put("r.toml", "nan_strategy = \"replace\"\n");
    let out = judge(&c, &b, &["--metric-config", replace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("classification  low\n"));
}

#[test]
fn the_metric_config_sets_the_direction_and_allowance() {
    let f = Files::new();
    let (c, b) = (
        f.put("c.txt", &canary_shifted(25.0)),
        f.put("b.txt", &baseline()),
    );
    let down = f.put(
        "d.toml",
        "# throughput\ndirection = \"down\"\nconfidence = 0.95\n",
    );
    let out = judge(&c, &b, &["--metric-config", down.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\n95 % interval"), "{stdout}");
    assert!(stdout.contains("but only decreases are judged"), "{stdout}");
    let allow = f.put("a.toml", "allowed_increase = 1.5\noutliers = true\n");
    let out = judge(&c, &b, &["--metric-config", allow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_is_named_and_exits_2_without_a_panic() {
    let f = Files::new();
    let b = f.put("b.txt", &baseline());
    let bad = f.put("c.txt", "12.5\n13\n13,5\n");
    let unknown = f.put("m.toml", "direction = \"up\"\nconfidance = 0.9\n");
    let range = f.put("r.toml", "tolerance = -1\n");
    let big = f.dir.path().join("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let json = f.put("c.json", "[1, 2, \"three\"]");
    let missing = f.dir.path().join("nope.txt");
    let cases: [(&Path, &[&str], &str); 6] = [
        (&bad, &[], "c.txt:3: \"13,5\" is not a number"),
        (
            &b,
            &["--metric-config", unknown.to_str().unwrap()],
            "unknown field `confidance`",
        ),
        (
            &b,
            &["--metric-config", range.to_str().unwrap()],
            "tolerance = -1: must be 0 or more",
        ),
        (
            &big,
            &[],
            "big.txt: more than the 16 MiB a file here may hold",
        ),
        (&json, &[], "c.json:1:"),
        (&missing, &[], "nope.txt: No such file"),
    ];
    for (canary, extra, says) in cases {
        let out = judge(canary, &b, extra);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {stderr}");
        assert!(stderr.starts_with("rampdeck judge: "), "{stderr}");
        assert!(stderr.contains(says), "wanted {says:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_says_the_exit_codes_and_formats() {
    let out = rampdeck(&["judge", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "Exit status: 0 pass; 1 high or low",
        "3 no data; 2 nothing judged",
        "JSON array",
        "--metric-config <TOML>",
        "allowed_increase (1.0)",
    ] {
        assert!(help.contains(needle), "{needle:?} not in:\n{help}");
    }
}

//! The Mann-Whitney judge against expected values computed independently
//! with SciPy/NumPy (`tests/judge_golden/make.py`; the JSON is checked in
//! because CI has no SciPy): estimate, interval and p-value to 1e-6
//! relative, the classification and its flags exactly.

use rampdeck::engine::analysis::classifier::{JudgeSettings, MetricJudgement, classify};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Doc {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    canary: Vec<Value>,
    baseline: Vec<Value>,
    settings: Value,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    classification: String,
    critical: bool,
    no_data_fails: bool,
    n_canary: usize,
    n_baseline: usize,
    lower: Option<f64>,
    upper: Option<f64>,
    estimate: Option<f64>,
    p_value: Option<f64>,
    effect_size: Option<f64>,
}

/// JSON has no NaN or infinities: the script writes them as strings.
fn samples(values: &[Value]) -> Vec<f64> {
    values
        .iter()
        .map(|v| match v {
            Value::Number(n) => n.as_f64().unwrap(),
            Value::String(s) => s.parse::<f64>().unwrap(),
            other => panic!("not a sample: {other}"),
        })
        .collect()
}

/// Equal to 1e-6 relative, or 1e-9 of the data's scale near 0.
fn near(got: Option<f64>, want: Option<f64>, scale: f64) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) + 1e-9 * scale,
        _ => false,
    }
}

fn check(case: &Case) -> Result<(), String> {
    let settings: JudgeSettings =
        serde_json::from_value(case.settings.clone()).map_err(|e| e.to_string())?;
    settings.validate().map_err(|e| e.to_string())?;
    let (x, y) = (samples(&case.canary), samples(&case.baseline));
    let j: MetricJudgement = classify(&x, &y, &settings);
    let e = &case.expected;
    let scale = x
        .iter()
        .chain(&y)
        .filter(|v| v.is_finite())
        .fold(1.0f64, |m, v| m.max(v.abs()));
    let class = serde_json::to_value(j.classification).map_err(|e| e.to_string())?;
    let mut wrong = Vec::new();
    if class != Value::String(e.classification.clone()) {
        wrong.push(format!("classification {class} != {}", e.classification));
    }
    if (j.critical, j.no_data_fails) != (e.critical, e.no_data_fails) {
        wrong.push(format!(
            "critical/no_data_fails {:?} != {:?}",
            (j.critical, j.no_data_fails),
            (e.critical, e.no_data_fails)
        ));
    }
    if (j.n_canary, j.n_baseline) != (e.n_canary, e.n_baseline) {
        wrong.push(format!(
            "n {:?} != {:?}",
            (j.n_canary, j.n_baseline),
            (e.n_canary, e.n_baseline)
        ));
    }
    let numbers = [
        ("lower", j.interval.map(|i| i.lower), e.lower, scale),
        ("upper", j.interval.map(|i| i.upper), e.upper, scale),
        ("estimate", j.estimate, e.estimate, scale),
        ("p_value", j.p_value, e.p_value, 1e-3),
        ("effect_size", j.effect_size, e.effect_size, 1e-3),
    ];
    for (what, got, want, scale) in numbers {
        if !near(got, want, scale) {
            wrong.push(format!("{what} {got:?} != {want:?}"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n  reason: {}",
            case.name,
            wrong.join("; "),
            j.reason
        ))
    }
}

#[test]
fn the_judge_matches_the_scipy_golden_values() {
    let path = crate::kit::data("judge_golden/cases.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: Doc = serde_json::from_str(&text).unwrap();
    assert!(doc.cases.len() >= 60, "{} cases", doc.cases.len());
    let failures: Vec<String> = doc.cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        doc.cases.len(),
        failures.join("\n")
    );
}

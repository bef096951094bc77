//! The Prometheus HTTP API's data shapes for the demo service: parameter
//! parsing (times, steps), the series the service knows, and the
//! `{"status": ..., "data": ...}` envelope for vectors, matrices and errors.
//!
//! Pure functions of the model and the request, so the HTTP layer stays thin.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::selector::Selector;
use super::sim::{CohortSample, Sim};
use crate::engine::types::Cohort;
use crate::template::cohort_label;

/// The service label every demo series carries.
pub const SERVICE: &str = "checkout";

/// The series the demo service records, per cohort (label `version`).
pub const METRIC_NAMES: [&str; 6] = [
    "demo:requests_per_second",
    "demo:error_ratio",
    "demo:latency_p50_seconds",
    "demo:latency_p95_seconds",
    "demo:latency_p99_seconds",
    "demo:saturation",
];

/// Prometheus refuses range queries with more points than this per series.
const MAX_POINTS: f64 = 11_000.0;

/// `None` for an unknown name; `Some(None)` when the series has no sample.
pub(crate) fn series_value(name: &str, s: &CohortSample) -> Option<Option<f64>> {
    Some(match name {
        "demo:requests_per_second" => Some(s.requests_per_second),
        "demo:error_ratio" => s.error_ratio,
        "demo:latency_p50_seconds" => s.latency_p50,
        "demo:latency_p95_seconds" => s.latency_p95,
        "demo:latency_p99_seconds" => s.latency_p99,
        "demo:saturation" => Some(s.saturation),
        _ => return None,
    })
}

/// The cohorts whose series `sel` selects (in a stable order).
fn selected(sel: &Selector) -> Vec<Cohort> {
    if !METRIC_NAMES.contains(&sel.name.as_str()) {
        return Vec::new();
    }
    [Cohort::Baseline, Cohort::Canary]
        .into_iter()
        .filter(|&c| {
            sel.matches(
                &sel.name,
                &[("service", SERVICE), ("version", cohort_label(c))],
            )
        })
        .collect()
}

fn labels(sel: &Selector, c: Cohort) -> Value {
    json!({"__name__": sel.name, "service": SERVICE, "version": cohort_label(c)})
}

/// A sample value as Prometheus writes it: a string, `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// Unix seconds with millisecond precision, as Prometheus writes them.
fn ts(unix: f64) -> Value {
    json!((unix * 1000.0).round() / 1000.0)
}

/// The instant-query answer at `unix` (simulated time `t`).
pub fn instant(sim: &Sim, sel: &Selector, unix: f64, t: f64) -> Value {
    let result: Vec<Value> = selected(sel)
        .into_iter()
        .filter_map(|c| {
            let v = series_value(&sel.name, &sim.sample(c, t)).flatten()?;
            Some(json!({"metric": labels(sel, c), "value": [ts(unix), format_value(v)]}))
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}})
}

/// The range-query answer; `to_sim` maps a Unix time to simulated time.
pub fn range(sim: &Sim, sel: &Selector, r: &RangeSpec, to_sim: impl Fn(f64) -> f64) -> Value {
    let points = r.points();
    let result: Vec<Value> = selected(sel)
        .into_iter()
        .filter_map(|c| {
            let values: Vec<Value> = (0..points)
                .filter_map(|i| {
                    let unix = r.start + r.step * i as f64;
                    let v = series_value(&sel.name, &sim.sample(c, to_sim(unix))).flatten()?;
                    Some(json!([ts(unix), format_value(v)]))
                })
                .collect();
            // Prometheus leaves out series without a point in the range.
            (!values.is_empty()).then(|| json!({"metric": labels(sel, c), "values": values}))
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
}

/// Query parameters of `/api/v1/query` and `/api/v1/query_range`, from the
/// URL or a form body. Unknown ones are ignored, as Prometheus does.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiParams {
    pub query: Option<String>,
    pub time: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub step: Option<String>,
}

impl ApiParams {
    /// Form values take precedence over URL values, as in Prometheus.
    pub fn merged_over(self, url: ApiParams) -> ApiParams {
        ApiParams {
            query: self.query.or(url.query),
            time: self.time.or(url.time),
            start: self.start.or(url.start),
            end: self.end.or(url.end),
            step: self.step.or(url.step),
        }
    }
}

/// A validated range: Unix start and end, step in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeSpec {
    pub start: f64,
    pub end: f64,
    pub step: f64,
}

impl RangeSpec {
    pub fn parse(p: &ApiParams) -> Result<RangeSpec, ApiError> {
        let need = |name: &str, v: &Option<String>| {
            v.clone()
                .ok_or_else(|| ApiError::bad_data(format!("invalid parameter \"{name}\": missing")))
        };
        let start = parse_time("start", &need("start", &p.start)?)?;
        let end = parse_time("end", &need("end", &p.end)?)?;
        let step = parse_step(&need("step", &p.step)?)?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start time".into(),
            ));
        }
        let spec = RangeSpec { start, end, step };
        if ((end - start) / step).floor() + 1.0 > MAX_POINTS {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing \
                 the query resolution (?step=XX)"
                    .into(),
            ));
        }
        Ok(spec)
    }

    fn points(&self) -> usize {
        ((self.end - self.start) / self.step).floor() as usize + 1
    }
}

/// A Unix timestamp (float seconds) or an RFC 3339 time.
pub fn parse_time(name: &str, s: &str) -> Result<f64, ApiError> {
    if let Ok(v) = s.trim().parse::<f64>()
        && v.is_finite()
    {
        return Ok(v);
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
            ))
        })
}

/// A step: float seconds or a Prometheus duration such as `15s`, `1m30s`.
pub fn parse_step(s: &str) -> Result<f64, ApiError> {
    let bad = || {
        ApiError::bad_data(format!(
            "invalid parameter \"step\": cannot parse \"{s}\" to a valid duration"
        ))
    };
    let secs = match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        Ok(_) => return Err(bad()),
        Err(_) => parse_prom_duration(s.trim()).ok_or_else(bad)?,
    };
    if secs <= 0.0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive \
             integer"
                .into(),
        ));
    }
    Ok(secs)
}

/// `1h30m`, `500ms`, `2d`: digits followed by a unit, repeated.
fn parse_prom_duration(s: &str) -> Option<f64> {
    const UNITS: [(&str, f64); 7] = [
        ("ms", 0.001),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
        ("d", 86_400.0),
        ("w", 604_800.0),
        ("y", 31_536_000.0),
    ];
    let mut rest = s;
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        total += n * scale;
        rest = &rest[unit.len()..];
    }
    (!s.is_empty()).then_some(total)
}

/// A Prometheus API error: HTTP status, `errorType` and message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "bad_data",
            message,
        }
    }
    pub fn unavailable(message: String) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error_type: "unavailable",
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.error_type, "error": self.message});
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::demo::scenario::Scenario;
    use crate::demo::selector::parse;

    #[test]
    fn values_are_written_like_prometheus() {
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn steps_and_times_parse() {
        assert_eq!(parse_step("15").unwrap(), 15.0);
        assert_eq!(parse_step("0.5").unwrap(), 0.5);
        assert_eq!(parse_step("1m30s").unwrap(), 90.0);
        assert_eq!(parse_step("250ms").unwrap(), 0.25);
        for bad in ["0", "-1", "1x", "", "m", "NaN"] {
            assert!(parse_step(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_time("t", "1700000000.5").unwrap(), 1_700_000_000.5);
        assert_eq!(
            parse_time("t", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000.0
        );
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn range_spec_validates() {
        let p = |s: &str, e: &str, st: &str| ApiParams {
            start: Some(s.into()),
            end: Some(e.into()),
            step: Some(st.into()),
            ..ApiParams::default()
        };
        let r = RangeSpec::parse(&p("100", "110", "5s")).unwrap();
        assert_eq!(r.points(), 3);
        assert!(RangeSpec::parse(&p("110", "100", "1")).is_err());
        assert!(RangeSpec::parse(&p("0", "100000", "1")).is_err());
        assert!(RangeSpec::parse(&ApiParams::default()).is_err());
    }

    #[test]
    fn both_cohorts_without_a_version_matcher() {
        let mut sim = Sim::new(Scenario::Healthy, 3);
        sim.set_weight(0.0, 50);
        let v = instant(&sim, &parse("demo:error_ratio").unwrap(), 1000.0, 10.0);
        let result = v["data"]["result"].as_array().unwrap();
        assert_eq!(result.len(), 2);
        assert_eq!(result[0]["metric"]["version"], "baseline");
        assert_eq!(result[1]["metric"]["version"], "canary");
        assert_eq!(result[1]["value"][0], 1000.0);
    }
}

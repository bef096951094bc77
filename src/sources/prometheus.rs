//! The Prometheus HTTP API: instant queries (`/api/v1/query`) for polling and
//! range queries (`/api/v1/query_range`) for backfilling charts and the
//! pre-deploy baseline. The whole envelope is parsed and mapped to a
//! [`Reading`]; the pure mapping ([`reading_from_response`]) is separate
//! from the I/O so it can be tested on any bytes.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;

use super::http::{HttpEndpoint, parse_off_path, read_body, snippet, timeout_reading};
use crate::engine::{Reading, Timestamp};

const WHAT: &str = "Prometheus";

/// The response envelope of every Prometheus API call.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// "success" or "error".
    pub status: String,
    #[serde(default)]
    pub data: Option<QueryData>,
    #[serde(default, rename = "errorType")]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A query result by type. Values are strings in the API ("NaN", "+Inf").
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    Vector(Vec<VectorSample>),
    Scalar((f64, String)),
    Matrix(Vec<MatrixSeries>),
    String((f64, String)),
}

/// One series of an instant vector.
#[derive(Debug, Clone, Deserialize)]
pub struct VectorSample {
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// Absent for native-histogram samples, which carry `histogram` instead.
    #[serde(default)]
    pub value: Option<(f64, String)>,
}

/// One series of a range vector.
#[derive(Debug, Clone, Deserialize)]
pub struct MatrixSeries {
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    #[serde(default)]
    pub values: Vec<(f64, String)>,
}

/// Parses a Prometheus sample value. `None` for NaN (no data: e.g. 0/0 when
/// there is no traffic) and for anything that is not a number.
pub fn parse_value(s: &str) -> Result<Option<f64>, String> {
    match s {
        "NaN" => Ok(None),
        "+Inf" | "Inf" => Ok(Some(f64::INFINITY)),
        "-Inf" => Ok(Some(f64::NEG_INFINITY)),
        other => match other.parse::<f64>() {
            Ok(v) if v.is_nan() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(format!("sample value {other:?} is not a number")),
        },
    }
}

/// `{a="1", b="2"}` for messages.
fn labels(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// The reading for an envelope whose `status` is "error" (or a non-2xx reply
/// with an envelope). `code` keeps the errorType, else the HTTP status.
fn error_reading(http: u16, env: &Envelope) -> Reading {
    let code = env.error_type.clone().unwrap_or_else(|| http.to_string());
    let detail = env.error.as_deref().unwrap_or("no error message");
    let kind = env.error_type.as_deref().unwrap_or("error");
    Reading::ProviderError {
        message: format!("{WHAT} refused the query (HTTP {http}, {kind}): {detail}"),
        code: Some(code),
    }
}

/// Maps an instant-query reply (HTTP status and body) to a reading.
///
/// - non-2xx, `status:"error"`, or a body that is not the API's JSON →
///   `ProviderError` (code: errorType, else the HTTP status, else
///   `bad_response`);
/// - empty vector or NaN → `NoData`;
/// - one series or a scalar → `Value` (`+Inf` included), `degraded` when the
///   reply carried warnings;
/// - several series → `ProviderError` naming their labels: the query must
///   aggregate.
pub fn reading_from_response(http: u16, body: &[u8]) -> Reading {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(env) => env,
        Err(e) if (200..300).contains(&http) => {
            return Reading::ProviderError {
                message: format!(
                    "{WHAT} sent a reply that is not Prometheus API JSON ({e}): {}",
                    snippet(body, 120)
                ),
                code: Some("bad_response".into()),
            };
        }
        Err(_) => {
            return Reading::ProviderError {
                message: format!("{WHAT} answered HTTP {http}: {}", snippet(body, 160)),
                code: Some(http.to_string()),
            };
        }
    };
    if env.status != "success" || !(200..300).contains(&http) {
        return error_reading(http, &env);
    }
    let warnings = &env.warnings;
    match env.data {
        None => Reading::ProviderError {
            message: format!("{WHAT} replied success without a `data` field"),
            code: Some("bad_response".into()),
        },
        Some(QueryData::Scalar((_, v))) => value_reading(&v, warnings, "scalar"),
        Some(QueryData::String((_, s))) => Reading::ProviderError {
            message: format!("the query returned the string {s:?}, not a number"),
            code: Some("bad_query".into()),
        },
        Some(QueryData::Matrix(series)) => Reading::ProviderError {
            message: format!(
                "the query returned a range vector ({} series); an instant query must \
                 return one number: apply rate(...) or avg_over_time(...) to the [range]",
                series.len()
            ),
            code: Some("bad_query".into()),
        },
        Some(QueryData::Vector(samples)) => match samples.as_slice() {
            [] => Reading::NoData {
                why: "empty result: no series matched (no traffic yet, or the labels are wrong)"
                    .into(),
            },
            [one] => match &one.value {
                Some((_, v)) => value_reading(v, warnings, "sample"),
                None => Reading::ProviderError {
                    message: format!(
                        "series {} has no float value (native histogram?): use histogram_quantile(...)",
                        labels(&one.metric)
                    ),
                    code: Some("bad_query".into()),
                },
            },
            many => {
                let shown: Vec<String> = many.iter().take(3).map(|s| labels(&s.metric)).collect();
                let more = if many.len() > 3 {
                    format!(" and {} more", many.len() - 3)
                } else {
                    String::new()
                };
                Reading::ProviderError {
                    message: format!(
                        "the query returned {} series ({}{more}); it must return one: \
                         aggregate it, e.g. wrap it in sum(...)",
                        many.len(),
                        shown.join(", ")
                    ),
                    code: Some("not_aggregated".into()),
                }
            }
        },
    }
}

/// At most this many warnings, each at most this many characters, are
/// kept of an answer (a hostile server may send thousands).
const WARNINGS_KEPT: usize = 3;
const WARNING_CHARS: usize = 200;

fn value_reading(v: &str, warnings: &[String], what: &str) -> Reading {
    match parse_value(v) {
        Ok(Some(value)) => Reading::Value {
            value,
            degraded: !warnings.is_empty(),
            warnings: warnings
                .iter()
                .take(WARNINGS_KEPT)
                .map(|w| snippet(w.as_bytes(), WARNING_CHARS))
                .collect(),
        },
        Ok(None) => Reading::NoData {
            why: format!("the {what} is NaN (e.g. 0/0: no requests in the window)"),
        },
        Err(message) => Reading::ProviderError {
            message,
            code: Some("bad_response".into()),
        },
    }
}

/// Maps a range-query reply to one series of points (NaN → `None`), or the
/// reading that explains why there is none. An empty matrix is an empty
/// series; several series are an error as for instant queries.
pub fn range_from_response(
    http: u16,
    body: &[u8],
) -> Result<Vec<(Timestamp, Option<f64>)>, Reading> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(env) => env,
        // Reuse the instant mapping for the error message.
        Err(_) => return Err(reading_from_response(http, body)),
    };
    if env.status != "success" || !(200..300).contains(&http) {
        return Err(error_reading(http, &env));
    }
    match env.data {
        Some(QueryData::Matrix(series)) => match series.as_slice() {
            [] => Ok(Vec::new()),
            [one] => Ok(one
                .values
                .iter()
                .map(|(t, v)| {
                    let at = Timestamp((t * 1000.0).round() as i64);
                    (at, parse_value(v).ok().flatten())
                })
                .collect()),
            many => Err(Reading::ProviderError {
                message: format!(
                    "the range query returned {} series ({}); it must return one: \
                     aggregate it, e.g. wrap it in sum(...)",
                    many.len(),
                    many.iter()
                        .take(3)
                        .map(|s| labels(&s.metric))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                code: Some("not_aggregated".into()),
            }),
        },
        _ => Err(Reading::ProviderError {
            message: format!("{WHAT} answered a range query without a matrix"),
            code: Some("bad_response".into()),
        }),
    }
}

/// A Prometheus server (or anything that speaks its HTTP API).
#[derive(Debug, Clone)]
pub struct Prometheus {
    endpoint: HttpEndpoint,
    /// `/api/v1/query` at the endpoint, parsed once: parsing it again for
    /// every poll was 3 % of the cockpit's CPU (issue 11). `None` when it
    /// does not parse; each query then reports reqwest's error, as before.
    query_url: Option<reqwest::Url>,
}

impl Prometheus {
    /// A client for the Prometheus at `endpoint`'s URL.
    pub fn new(endpoint: HttpEndpoint) -> Self {
        let query_url = reqwest::Url::parse(&format!("{}/api/v1/query", endpoint.url)).ok();
        Prometheus {
            endpoint,
            query_url,
        }
    }

    /// Runs an instant query now; returns the reading and how long it took.
    pub async fn query(&self, promql: &str) -> (Reading, u64) {
        let started = Instant::now();
        let max = self.endpoint.max_response;
        let form = [("query", promql)];
        let reading = match &self.query_url {
            Some(url) => self.post(url.clone(), &form, max).await,
            None => {
                let url = format!("{}/api/v1/query", self.endpoint.url);
                self.post(url, &form, max).await
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        let reading = match reading {
            Ok((http, body)) => parse_off_path(body, move |b| reading_from_response(http, b))
                .await
                .unwrap_or_else(|r| r),
            Err(r) => r,
        };
        (reading, ms)
    }

    /// Runs a range query from `start` to `end` (inclusive) every `step_s`
    /// seconds.
    pub async fn query_range(
        &self,
        promql: &str,
        start: Timestamp,
        end: Timestamp,
        step_s: u64,
    ) -> Result<Vec<(Timestamp, Option<f64>)>, Reading> {
        let url = format!("{}/api/v1/query_range", self.endpoint.url);
        let secs = |t: Timestamp| format!("{:.3}", t.0 as f64 / 1000.0);
        let (start, end, step) = (secs(start), secs(end), step_s.max(1).to_string());
        let form = [
            ("query", promql),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("step", step.as_str()),
        ];
        let max = self
            .endpoint
            .max_response
            .saturating_mul(crate::plan::RANGE_ANSWER_FACTOR);
        let (http, body) = self.post(url, &form, max).await?;
        parse_off_path(body, move |b| range_from_response(http, b))
            .await
            .and_then(|r| r)
    }

    /// POSTs a form and reads the whole body, bounded by the source timeout
    /// (reqwest's timeout covers the body too; the outer one is a backstop)
    /// and by `max` bytes.
    async fn post(
        &self,
        url: impl reqwest::IntoUrl,
        form: &[(&str, &str)],
        max: usize,
    ) -> Result<(u16, Vec<u8>), Reading> {
        let ep = &self.endpoint;
        let fut = async {
            let resp = ep
                .request(reqwest::Method::POST, url)
                .form(form)
                .send()
                .await
                .map_err(|e| ep.transport_error(WHAT, &e))?;
            let status = resp.status().as_u16();
            let body = read_body(ep, WHAT, resp, max).await?;
            Ok((status, body))
        };
        match tokio::time::timeout(ep.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(timeout_reading(WHAT, &ep.url, ep.timeout)),
        }
    }
}

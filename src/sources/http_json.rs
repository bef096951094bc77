//! HTTP JSON sources: GET a URL, check for 2xx, take numbers at JSON
//! pointers (`/data/error_rate`). One request per poll serves every metric
//! of the source.

use std::time::Instant;

use super::http::{HttpEndpoint, parse_off_path, read_body, snippet, timeout_reading};
use crate::engine::Reading;

const WHAT: &str = "HTTP JSON source";

/// A fetched document, or the reading that says why there is none.
pub type Document = Result<serde_json::Value, Reading>;

/// Maps a reply to a JSON document: non-2xx and invalid JSON are provider
/// errors.
pub fn document_from_response(http: u16, body: &[u8]) -> Document {
    if !(200..300).contains(&http) {
        return Err(Reading::ProviderError {
            message: format!("{WHAT} answered HTTP {http}: {}", snippet(body, 160)),
            code: Some(http.to_string()),
        });
    }
    serde_json::from_slice(body).map_err(|e| Reading::ProviderError {
        message: format!(
            "{WHAT} did not send valid JSON ({e}): {}",
            snippet(body, 120)
        ),
        code: Some("bad_response".into()),
    })
}

/// The reading at `pointer`: a number or a numeric string is a value; a
/// missing pointer, `null` or NaN is no data; anything else is an error.
pub fn reading_at(doc: &serde_json::Value, pointer: &str) -> Reading {
    let Some(v) = doc.pointer(pointer) else {
        return Reading::NoData {
            why: format!("no value at {pointer} in the response"),
        };
    };
    let parsed = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match super::prometheus::parse_value(s.trim()) {
            Ok(None) => {
                return Reading::NoData {
                    why: format!("value at {pointer} is NaN"),
                };
            }
            Ok(Some(x)) => Some(x),
            Err(_) => None,
        },
        serde_json::Value::Null => {
            return Reading::NoData {
                why: format!("value at {pointer} is null"),
            };
        }
        _ => None,
    };
    match parsed {
        Some(value) => Reading::value(value),
        None => Reading::ProviderError {
            message: format!(
                "value at {pointer} is not a number: {}",
                snippet(v.to_string().as_bytes(), 80)
            ),
            code: Some("bad_value".into()),
        },
    }
}

/// Fetches the source's document once; returns it and the request time.
pub async fn fetch(ep: &HttpEndpoint) -> (Document, u64) {
    let started = Instant::now();
    let fut = async {
        let resp = ep
            .request(reqwest::Method::GET, &ep.url)
            .send()
            .await
            .map_err(|e| ep.transport_error(WHAT, &e))?;
        let status = resp.status().as_u16();
        let body = read_body(ep, WHAT, resp, ep.max_response).await?;
        parse_off_path(body, move |b| document_from_response(status, b))
            .await
            .and_then(|d| d)
    };
    let doc = match tokio::time::timeout(ep.timeout, fut).await {
        Ok(d) => d,
        Err(_) => Err(timeout_reading(WHAT, &ep.url, ep.timeout)),
    };
    (doc, started.elapsed().as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_numeric_strings_are_values() {
        let doc = json!({"data": {"a": 0.5, "b": "1.5", "c": "NaN", "d": null, "e": {"x": 1}}});
        assert_eq!(reading_at(&doc, "/data/a"), Reading::value(0.5));
        assert_eq!(reading_at(&doc, "/data/b"), Reading::value(1.5));
        assert!(matches!(
            reading_at(&doc, "/data/c"),
            Reading::NoData { .. }
        ));
        assert!(matches!(
            reading_at(&doc, "/data/d"),
            Reading::NoData { .. }
        ));
        assert!(matches!(
            reading_at(&doc, "/data/missing"),
            Reading::NoData { .. }
        ));
        assert!(matches!(
            reading_at(&doc, "/data/e"),
            Reading::ProviderError { .. }
        ));
    }

    #[test]
    fn non_2xx_and_bad_json_are_provider_errors() {
        let r = document_from_response(502, b"bad gateway");
        assert!(matches!(r, Err(Reading::ProviderError { code: Some(c), .. }) if c == "502"));
        let r = document_from_response(200, b"{\"a\":");
        assert!(
            matches!(r, Err(Reading::ProviderError { code: Some(c), .. }) if c == "bad_response")
        );
    }
}

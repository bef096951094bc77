//! Health probes: request a URL, expect a status and optionally a body
//! substring. A failed probe is data (the service is down: `Up` = 0), not a
//! provider error.

use std::time::Instant;

use super::http::{HttpEndpoint, read_body};
use crate::engine::Reading;
use crate::plan::ProbeField;

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub up: bool,
    /// Time to the full response; `None` when no response came.
    pub latency_ms: Option<f64>,
    /// Why the probe failed, for the data-health lane.
    pub why: Option<String>,
}

impl ProbeOutcome {
    /// The reading for one probe field.
    pub fn reading(&self, field: ProbeField) -> Reading {
        match field {
            ProbeField::Up => Reading::value(if self.up { 1.0 } else { 0.0 }),
            ProbeField::LatencyMs => match self.latency_ms {
                Some(ms) => Reading::value(ms),
                None => Reading::NoData {
                    why: self
                        .why
                        .clone()
                        .unwrap_or_else(|| "probe got no response".into()),
                },
            },
        }
    }
}

/// Judges a response: the expected status and, if set, the body substring.
pub fn judge(
    status: u16,
    body: &[u8],
    expect_status: u16,
    body_contains: Option<&str>,
) -> Option<String> {
    if status != expect_status {
        return Some(format!("HTTP {status}, expected {expect_status}"));
    }
    if let Some(needle) = body_contains
        && !String::from_utf8_lossy(body).contains(needle)
    {
        return Some(format!("body does not contain {needle:?}"));
    }
    None
}

/// Probes the endpoint once.
pub async fn probe(
    ep: &HttpEndpoint,
    expect_status: u16,
    body_contains: Option<&str>,
) -> ProbeOutcome {
    let started = Instant::now();
    let fut = async {
        let resp = ep
            .request(reqwest::Method::GET, &ep.url)
            .send()
            .await
            .map_err(|e| ep.transport_error("probe", &e))?;
        let status = resp.status().as_u16();
        let body = read_body(ep, "probe", resp, ep.max_response).await?;
        Ok::<_, Reading>((status, body))
    };
    match tokio::time::timeout(ep.timeout, fut).await {
        Ok(Ok((status, body))) => {
            let latency = started.elapsed().as_secs_f64() * 1000.0;
            let why = judge(status, &body, expect_status, body_contains);
            ProbeOutcome {
                up: why.is_none(),
                latency_ms: Some(latency),
                why,
            }
        }
        Ok(Err(reading)) => {
            let why = match reading {
                Reading::ProviderError { message, .. } => message,
                Reading::NoData { why } => why,
                Reading::Value { .. } => "probe failed".into(),
            };
            ProbeOutcome {
                up: false,
                latency_ms: None,
                why: Some(why),
            }
        }
        Err(_) => ProbeOutcome {
            up: false,
            latency_ms: None,
            why: Some(format!("no answer within {} ms", ep.timeout.as_millis())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_checks_status_and_body() {
        assert_eq!(judge(200, b"ok", 200, Some("ok")), None);
        assert!(judge(500, b"ok", 200, None).is_some());
        assert!(judge(200, b"degraded", 200, Some("ok")).is_some());
    }

    #[test]
    fn failed_probe_is_up_zero_not_error() {
        let o = ProbeOutcome {
            up: false,
            latency_ms: None,
            why: Some("refused".into()),
        };
        assert_eq!(o.reading(ProbeField::Up), Reading::value(0.0));
        assert!(matches!(
            o.reading(ProbeField::LatencyMs),
            Reading::NoData { .. }
        ));
    }
}

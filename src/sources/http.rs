//! Building an HTTP client for one source from its `plan::HttpTarget`:
//! auth and header secrets read from the environment when the source starts,
//! a custom CA, and the mapping of transport failures to readings.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::SourceError;
use crate::engine::Reading;
use crate::plan::{Auth, HttpTarget};

/// Credentials resolved from the environment at start.
#[derive(Clone)]
enum ResolvedAuth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl std::fmt::Debug for ResolvedAuth {
    // Never print secrets, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolvedAuth::None => f.write_str("None"),
            ResolvedAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            ResolvedAuth::Basic(u, _) => write!(f, "Basic({u}, <redacted>)"),
        }
    }
}

/// A ready HTTP endpoint: a pooled client with headers, TLS settings and
/// credentials applied to every request.
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// Name of the source, for messages.
    pub source: String,
    /// Base URL as configured, without a trailing slash.
    pub url: String,
    pub timeout: Duration,
    /// The largest body read; a larger one is refused (see [`read_body`]).
    pub max_response: usize,
    client: reqwest::Client,
    auth: ResolvedAuth,
}

fn env_var(source: &str, var: &str, what: &str) -> Result<String, SourceError> {
    std::env::var(var).map_err(|_| SourceError::MissingEnv {
        source_name: source.to_string(),
        var: var.to_string(),
        what: what.to_string(),
    })
}

impl HttpEndpoint {
    /// Resolves secrets and builds the client. Fails with a message naming
    /// the missing variable, unreadable CA file or bad header.
    pub fn new(source: &str, target: &HttpTarget, timeout: Duration) -> Result<Self, SourceError> {
        let auth = match &target.auth {
            Auth::None => ResolvedAuth::None,
            Auth::Bearer { token_env } => {
                ResolvedAuth::Bearer(env_var(source, token_env, "the bearer token")?)
            }
            Auth::Basic {
                user_env,
                password_env,
            } => ResolvedAuth::Basic(
                env_var(source, user_env, "the basic-auth user")?,
                env_var(source, password_env, "the basic-auth password")?,
            ),
        };
        let mut headers = HeaderMap::new();
        let bad_header = |name: &str, why: String| SourceError::BadHeader {
            source_name: source.to_string(),
            name: name.to_string(),
            why,
        };
        let literal = target.headers.iter().map(|(k, v)| (k, v.clone(), false));
        let mut from_env = Vec::new();
        for (k, var) in &target.headers_env {
            from_env.push((k, env_var(source, var, &format!("header {k}"))?, true));
        }
        for (name, value, secret) in literal.chain(from_env) {
            let hn = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad_header(name, e.to_string()))?;
            let mut hv =
                HeaderValue::from_str(&value).map_err(|e| bad_header(name, e.to_string()))?;
            hv.set_sensitive(secret);
            headers.insert(hn, hv);
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("rampdeck/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32);
        if let Some(path) = &target.ca_file {
            let pem = std::fs::read(path).map_err(|e| SourceError::CaFile {
                source_name: source.to_string(),
                path: path.clone(),
                why: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| SourceError::CaFile {
                source_name: source.to_string(),
                path: path.clone(),
                why: format!("not a PEM certificate: {e}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if target.insecure_skip_verify {
            // The config layer shows the warning; here we only honour it.
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder.build().map_err(|e| SourceError::Client {
            source_name: source.to_string(),
            why: e.to_string(),
        })?;
        Ok(HttpEndpoint {
            source: source.to_string(),
            url: target.url.trim_end_matches('/').to_string(),
            timeout,
            max_response: crate::plan::DEFAULT_MAX_RESPONSE,
            client,
            auth,
        })
    }

    /// The same endpoint with another cap on the bodies it reads.
    pub fn with_max_response(mut self, max: usize) -> Self {
        self.max_response = max;
        self
    }

    /// A request to `url` with the source's credentials.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, url);
        match &self.auth {
            ResolvedAuth::None => rb,
            ResolvedAuth::Bearer(t) => rb.bearer_auth(t),
            ResolvedAuth::Basic(u, p) => rb.basic_auth(u, Some(p)),
        }
    }

    /// Maps a transport failure (no HTTP status) to a reading a human can act
    /// on: timeout, unreachable, or another error.
    pub fn transport_error(&self, what: &str, err: &reqwest::Error) -> Reading {
        if err.is_timeout() {
            return timeout_reading(what, &self.url, self.timeout);
        }
        if err.is_connect() {
            return Reading::ProviderError {
                message: format!(
                    "{what} at {} is unreachable ({}): is it running and is the URL right?",
                    self.url,
                    root_cause(err)
                ),
                code: Some("unreachable".into()),
            };
        }
        Reading::ProviderError {
            message: format!("{what} at {}: {}", self.url, root_cause(err)),
            code: Some("transport".into()),
        }
    }
}

/// Reads a response's body, refusing one over `max` bytes as soon as it
/// is known to be too big (from its Content-Length, else while reading), so
/// a huge or endless answer costs at most `max` bytes of memory.
pub async fn read_body(
    ep: &HttpEndpoint,
    what: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Reading> {
    let cap = u64::try_from(max).unwrap_or(u64::MAX);
    if resp.content_length().is_some_and(|len| len > cap) {
        return Err(too_large_reading(what, &ep.url, max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ep.transport_error(what, &e))?
    {
        if body.len().saturating_add(chunk.len()) > max {
            // Dropping the response closes the connection: the rest of the
            // answer is never read.
            return Err(too_large_reading(what, &ep.url, max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The reading for an answer larger than the source's `max_response`.
pub fn too_large_reading(what: &str, url: &str, max: usize) -> Reading {
    Reading::ProviderError {
        message: format!(
            "{what} at {url} sent more than {} (the source's max_response cap); the answer was refused: aggregate the query, or raise `max_response`",
            size_words(max)
        ),
        code: Some("too_large".into()),
    }
}

/// A byte count as people read it: "1 MiB", "512 KiB", "1.5 MiB".
pub fn size_words(bytes: usize) -> String {
    let n = u64::try_from(bytes).unwrap_or(u64::MAX);
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    bytesize::ByteSize::b(n).display().iec().to_string()
}

/// Answers bigger than this are parsed on the blocking pool.
const PARSE_INLINE_MAX: usize = 64 * 1024;

/// Parses an answer off the runtime's worker threads when it is big, so
/// that parsing a large (or hostile) answer never holds up the workers the
/// driver, the socket server and the signal handlers share.
pub async fn parse_off_path<T, F>(body: Vec<u8>, parse: F) -> Result<T, Reading>
where
    T: Send + 'static,
    F: FnOnce(&[u8]) -> T + Send + 'static,
{
    if body.len() <= PARSE_INLINE_MAX {
        return Ok(parse(&body));
    }
    tokio::task::spawn_blocking(move || parse(&body))
        .await
        .map_err(|e| Reading::ProviderError {
            message: format!("parsing the answer failed: {e}"),
            code: Some("bad_response".into()),
        })
}

/// The reading for a request that did not finish within the timeout.
pub fn timeout_reading(what: &str, url: &str, timeout: Duration) -> Reading {
    Reading::ProviderError {
        message: format!(
            "{what} at {url} did not answer within {} ms (timeout)",
            timeout.as_millis()
        ),
        code: Some("timeout".into()),
    }
}

/// The innermost error message, which is the one that says what happened
/// ("Connection refused") rather than "error sending request".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The first `max` characters of a body, on one line, for error messages.
pub fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    let trimmed = one_line.trim();
    if text.chars().count() > max {
        format!("{trimmed}…")
    } else {
        trimmed.to_string()
    }
}

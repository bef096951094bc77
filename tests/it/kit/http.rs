//! Loopback HTTP servers: an axum router on a free port, a recorder that
//! keeps every request, a chat webhook, and sources that turn hostile
//! (endless answers) or silent (never answer).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// Serves `router` on 127.0.0.1 at a free port until the runtime ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// A Prometheus API instant-vector reply with one series per value.
pub fn vector_json(values: &[&str]) -> String {
    let result: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!(r#"{{"metric":{{"pod":"p{i}"}},"value":[1700000000.0,"{v}"]}}"#))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    )
}

/// One request a [`recorder`] saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the recorder saw, in order.
pub type SeenLog = Arc<Mutex<Vec<Seen>>>;

#[derive(Clone)]
struct Recorder {
    status: StatusCode,
    reply: &'static str,
    seen: SeenLog,
}

async fn record(
    State(s): State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    s.seen.lock().expect("lock").push(Seen {
        method,
        uri: uri.to_string(),
        headers,
        body,
    });
    (s.status, s.reply)
}

/// A loopback HTTP server (in the current runtime) answering every
/// request with `status` and `reply`, keeping each request. Returns its
/// base URL (`http://127.0.0.1:PORT`).
pub async fn recorder(status: u16, reply: &'static str) -> (String, SeenLog) {
    let seen = SeenLog::default();
    let state = Recorder {
        status: StatusCode::from_u16(status).expect("status"),
        reply,
        seen: seen.clone(),
    };
    let addr = serve(Router::new().fallback(record).with_state(state)).await;
    (format!("http://{addr}"), seen)
}

/// Reads one HTTP/1.1 request (head and a `content-length` body).
fn read_request(conn: &std::net::TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut len = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// A chat (Slack-compatible) incoming webhook on loopback, on a thread of
/// its own (for tests without a runtime): keeps every message's body and
/// answers 200. Returns its URL (`http://ADDR{path}`).
pub fn chat(path: &str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let Some(body) = read_request(&conn) else {
                continue;
            };
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, got)
}

/// The `text` of each chat message a [`chat`] webhook kept.
pub fn chat_texts(got: &Mutex<Vec<String>>) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap_or_default();
            v["text"].as_str().unwrap_or("").to_string()
        })
        .collect()
}

/// Serves HTTP on loopback as a hostile source does: every request gets
/// `head`, then `chunk` written again and again (with `pause` between)
/// until the client goes away. Returns the URL.
pub fn hostile_http(head: &'static str, chunk: &'static [u8], pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                // The request's head ends with an empty line.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while conn.write_all(chunk).is_ok() {
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
            });
        }
    });
    format!("http://{addr}/metrics")
}

/// Serves HTTP on loopback as a hung source does: it accepts, reads the
/// request, and never answers. Returns the URL.
pub fn silent_http() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("http://{addr}/api")
}

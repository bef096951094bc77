//! The demo service over HTTP (axum) on an ephemeral loopback port.
//!
//! Endpoints:
//! - `GET|POST /api/v1/query` and `/api/v1/query_range`: the Prometheus HTTP
//!   API for the demo's series (see [`super::api`]).
//! - `GET /healthz`: `ok`, for a probe source.
//! - `POST /admin/weight` with `{"weight": N}`: the canary weight, 0..=100;
//!   what the demo's `set_weight` and `rollback` webhooks call (and a
//!   blue-green demo's `switch`: 100, and switch back: 0, refused with 409
//!   once the old stack is scaled down).
//! - `POST /admin/scale_down`: a blue-green demo's old stack is scaled down.
//! - `POST /admin/redeploy`: the old version is redeployed and takes all
//!   traffic again (a blue-green rollback after the scale-down).
//! - `POST /admin/instances` with `{"updated": N, "of": M}`: a rolling
//!   demo's instances on the new version; the canary's share is theirs.
//! - `GET /admin/state`: scenario, weight and simulated time as JSON.
//!
//! Time is read from a [`Clock`] so tests can set it instead of sleeping.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api::{self, ApiError, ApiParams, RangeSpec};
use super::scenario::Scenario;
use super::selector;
use super::sim::{RATE_WINDOW_SECS, Sim, SourceFault};

/// Where the service reads the time. Production uses [`SystemClock`]; tests
/// use [`ManualClock`] and move time by hand.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now, as Unix seconds.
    fn now_unix(&self) -> f64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    bits: AtomicU64,
}

impl ManualClock {
    pub fn new(unix: f64) -> Self {
        ManualClock {
            bits: AtomicU64::new(unix.to_bits()),
        }
    }
    pub fn set(&self, unix: f64) {
        self.bits.store(unix.to_bits(), Ordering::SeqCst);
    }
    pub fn advance(&self, secs: f64) {
        self.set(self.now_unix() + secs);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::SeqCst))
    }
}

/// Why the demo service could not start.
#[derive(Debug, Error)]
pub enum DemoError {
    #[error("--speed must be a positive number such as 0.5 or 2; got {0}")]
    InvalidSpeed(f64),
    #[error("could not open the demo service on 127.0.0.1 (is the loopback interface up?): {0}")]
    Bind(#[source] std::io::Error),
}

/// How to run the demo service. [`DemoOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scenario: Scenario,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// Noise seed; the same seed gives the same run.
    pub seed: u64,
    pub clock: Arc<dyn Clock>,
    /// How long a reply takes in flaky-source's slow stretches. Longer than
    /// the demo config's source timeout (800 ms), so the poller times out.
    pub slow_reply: Duration,
    /// Blue-green: the new version runs as a preview stack with smoke
    /// traffic before the switch.
    pub preview: bool,
}

/// The seed the demo uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x5EED_DE30;

impl DemoOptions {
    pub fn new(scenario: Scenario, speed: f64) -> Self {
        DemoOptions {
            scenario,
            speed,
            seed: DEFAULT_SEED,
            clock: Arc::new(SystemClock),
            slow_reply: Duration::from_millis(1500),
            preview: false,
        }
    }
}

struct App {
    sim: Mutex<Sim>,
    clock: Arc<dyn Clock>,
    start_unix: f64,
    speed: f64,
    slow_reply: Duration,
    shutdown: watch::Receiver<bool>,
}

impl App {
    /// Simulated seconds at a Unix time.
    fn sim_secs(&self, unix: f64) -> f64 {
        (unix - self.start_unix) * self.speed
    }
    fn sim(&self) -> MutexGuard<'_, Sim> {
        // The model cannot be left half-updated (set_weight is one insert),
        // so a poisoned lock still holds a usable model.
        self.sim.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running demo service. It stops on [`DemoService::shutdown`] or drop.
#[derive(Debug)]
pub struct DemoService {
    addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("start_unix", &self.start_unix)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

/// Start the demo service with default options on 127.0.0.1 and an
/// ephemeral port. Must be called inside a tokio runtime.
pub async fn start(scenario: Scenario, speed: f64) -> Result<DemoService, DemoError> {
    start_with(DemoOptions::new(scenario, speed)).await
}

/// Start the demo service with explicit options (clock, seed, slow reply).
pub async fn start_with(opts: DemoOptions) -> Result<DemoService, DemoError> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        return Err(DemoError::InvalidSpeed(opts.speed));
    }
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(DemoError::Bind)?;
    let addr = listener.local_addr().map_err(DemoError::Bind)?;
    let (stop, shutdown) = watch::channel(false);
    let app = Arc::new(App {
        sim: Mutex::new({
            let sim = Sim::new(opts.scenario, opts.seed)
                .with_series_window(RATE_WINDOW_SECS * opts.speed.max(1.0));
            if opts.preview {
                sim.with_preview()
            } else {
                sim
            }
        }),
        start_unix: opts.clock.now_unix(),
        clock: opts.clock,
        speed: opts.speed,
        slow_reply: opts.slow_reply,
        shutdown: shutdown.clone(),
    });
    let router = Router::new()
        .route("/api/v1/query", get(query_get).post(query_post))
        .route("/api/v1/query_range", get(range_get).post(range_post))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/admin/weight", post(set_weight))
        .route("/admin/scale_down", post(scale_down))
        .route("/admin/redeploy", post(redeploy))
        .route("/admin/instances", post(set_instances))
        .route("/admin/state", get(state))
        .with_state(app.clone());
    let mut stopped = shutdown;
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            // Ends when told to stop or when the handle is gone.
            let _ = stopped.wait_for(|&s| s).await;
        });
        // An accept loop error after start has no caller to report to; the
        // pollers will see connection errors, which is what they should see.
        let _ = serve.await;
    });
    Ok(DemoService {
        addr,
        app,
        stop,
        task: Some(task),
    })
}

impl DemoService {
    /// The bound address (127.0.0.1 and the ephemeral port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn scenario(&self) -> Scenario {
        self.app.sim().scenario()
    }
    /// Simulated seconds since the service started.
    pub fn sim_secs(&self) -> f64 {
        self.app.sim_secs(self.app.clock.now_unix())
    }
    /// The canary weight now.
    pub fn weight(&self) -> u8 {
        let t = self.sim_secs();
        self.app.sim().weight_at(t)
    }
    /// Stop serving and wait until the server task has ended.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            // A panicked task has nothing left to clean up.
            let _ = task.await;
        }
    }
}

impl Drop for DemoService {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

type AppState = State<Arc<App>>;

fn url_params(q: Result<Query<ApiParams>, QueryRejection>) -> Result<ApiParams, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_data(format!("invalid query string: {e}")))
}

fn form_params(
    q: Result<Query<ApiParams>, QueryRejection>,
    f: Result<Form<ApiParams>, FormRejection>,
) -> Result<ApiParams, ApiError> {
    let url = url_params(q)?;
    let form = f
        .map(|Form(p)| p)
        .map_err(|e| ApiError::bad_data(format!("invalid form body: {e}")))?;
    Ok(form.merged_over(url))
}

async fn query_get(State(app): AppState, q: Result<Query<ApiParams>, QueryRejection>) -> Response {
    answer(&app, url_params(q), false).await
}

async fn query_post(
    State(app): AppState,
    q: Result<Query<ApiParams>, QueryRejection>,
    f: Result<Form<ApiParams>, FormRejection>,
) -> Response {
    answer(&app, form_params(q, f), false).await
}

async fn range_get(State(app): AppState, q: Result<Query<ApiParams>, QueryRejection>) -> Response {
    answer(&app, url_params(q), true).await
}

async fn range_post(
    State(app): AppState,
    q: Result<Query<ApiParams>, QueryRejection>,
    f: Result<Form<ApiParams>, FormRejection>,
) -> Response {
    answer(&app, form_params(q, f), true).await
}

/// Play the scenario's source faults, then evaluate the query.
async fn answer(app: &App, params: Result<ApiParams, ApiError>, is_range: bool) -> Response {
    let now = app.clock.now_unix();
    let fault = app.sim().source_fault(app.sim_secs(now));
    match fault {
        Some(SourceFault::Unavailable) => {
            return ApiError::unavailable(
                "demo flaky-source: the query engine is unavailable (simulated outage)".into(),
            )
            .into_response();
        }
        Some(SourceFault::Slow) => {
            let mut stopping = app.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(app.slow_reply) => {}
                _ = stopping.wait_for(|&s| s) => {
                    return ApiError::unavailable("the demo service is shutting down".into())
                        .into_response();
                }
            }
        }
        None => {}
    }
    match evaluate(app, params, is_range, now) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn evaluate(
    app: &App,
    params: Result<ApiParams, ApiError>,
    is_range: bool,
    now: f64,
) -> Result<Value, ApiError> {
    let params = params?;
    let query = params.query.as_deref().unwrap_or_default();
    let sel = selector::parse(query)
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
    let sim = app.sim();
    if is_range {
        let spec = RangeSpec::parse(&params)?;
        Ok(api::range(&sim, &sel, &spec, |u| app.sim_secs(u)))
    } else {
        let unix = match &params.time {
            Some(t) => api::parse_time("time", t)?,
            None => now,
        };
        Ok(api::instant(&sim, &sel, unix, app.sim_secs(unix)))
    }
}

fn admin_error(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// `POST /admin/weight`. The body is read as JSON whatever its content type,
/// and the weight may be a number or a numeric string (`{"weight": "25"}`),
/// so webhook templates that quote their placeholders work too.
async fn set_weight(State(app): AppState, body: Bytes) -> Response {
    let usage = "send a JSON body such as {\"weight\": 25}; the weight is an integer from 0 to 100";
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(format!("the body is not JSON ({e}); {usage}")),
    };
    let weight = match v.get("weight") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
        None => return admin_error(format!("no \"weight\" field; {usage}")),
    };
    let weight = match weight
        .and_then(|w| u8::try_from(w).ok())
        .filter(|&w| w <= 100)
    {
        Some(w) => w,
        None => return admin_error(format!("bad weight {}; {usage}", v["weight"])),
    };
    let t = app.sim_secs(app.clock.now_unix());
    let mut sim = app.sim();
    if weight < 100 && sim.old_stack_down().is_some() {
        let message = "the old stack is scaled down: no traffic can move back to it; redeploy it first (POST /admin/redeploy)";
        return (StatusCode::CONFLICT, Json(json!({"error": message}))).into_response();
    }
    let previous = sim.weight_at(t);
    sim.set_weight(t, weight);
    Json(json!({"weight": weight, "previous": previous, "scenario": sim.scenario().as_str()}))
        .into_response()
}

/// `POST /admin/scale_down`.
async fn scale_down(State(app): AppState) -> Response {
    let t = app.sim_secs(app.clock.now_unix());
    let mut sim = app.sim();
    sim.scale_down_old(t);
    Json(json!({"old_stack": "scaled_down", "since": sim.old_stack_down()})).into_response()
}

/// `POST /admin/redeploy`.
async fn redeploy(State(app): AppState) -> Response {
    let t = app.sim_secs(app.clock.now_unix());
    let mut sim = app.sim();
    sim.redeploy_old(t);
    Json(json!({"old_stack": "redeployed", "weight": 0})).into_response()
}

/// `POST /admin/instances` with `{"updated": N, "of": M}`, numbers or
/// numeric strings.
async fn set_instances(State(app): AppState, body: Bytes) -> Response {
    let usage = "send a JSON body such as {\"updated\": 2, \"of\": 8}: instances on the new version, of how many (1 to 10000)";
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(format!("the body is not JSON ({e}); {usage}")),
    };
    let int = |k: &str| match v.get(k) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let (updated, of) = match (int("updated"), int("of")) {
        (Some(u), Some(o)) if (1..=10_000).contains(&o) && u <= o => (u as u32, o as u32),
        _ => return admin_error(format!("bad instances {v}; {usage}")),
    };
    let t = app.sim_secs(app.clock.now_unix());
    let mut sim = app.sim();
    sim.set_instances(t, updated, of);
    Json(json!({"updated": updated, "of": of, "weight": sim.weight_at(t)})).into_response()
}

/// `GET /admin/state`.
async fn state(State(app): AppState) -> Response {
    let t = app.sim_secs(app.clock.now_unix());
    let sim = app.sim();
    Json(json!({
        "scenario": sim.scenario().as_str(),
        "weight": sim.weight_at(t),
        "sim_seconds": t,
        "speed": app.speed,
        "source_fault": sim.source_fault(t).map(SourceFault::as_str),
        "old_stack_down": sim.old_stack_down(),
        "instances": sim.instances().map(|(u, o)| json!({"updated": u, "of": o})),
    }))
    .into_response()
}

//! The driver's side of attach: a Unix socket that streams snapshots to
//! every view and passes their commands to the driver, tagged with the
//! identity the kernel vouches for.
//!
//! Tasks: one accept loop; one hub that owns the list of views, turns each
//! published snapshot into one encoded line (full or delta) and offers it to
//! every view's bounded queue without ever waiting; and per connection a
//! reader and a writer. A view whose queue is full is dropped ("too slow"),
//! so the hub, and the driver behind it, never wait for any view.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::SessionError;
use super::hub::{Hub, HubCmd, Line, close};
use super::paths;
use super::protocol::{self, ClientMsg, MAX_CLIENT_LINE, ServerMsg};
use crate::engine::Actor;
use crate::snapshot::Snapshot;

/// Messages a view may have waiting before it counts as too slow.
pub const DEFAULT_QUEUE: usize = 64;
/// How long a closing connection may take to send its `Bye`.
const BYE_TIMEOUT: Duration = Duration::from_millis(250);

/// A message from a view to the driver, with the view's identity from the
/// socket's peer credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub actor: Actor,
    pub client_id: u64,
    pub msg: ClientMsg,
}

/// Connections at once from one person.
pub const PER_PERSON_CONNECTIONS: usize = 16;
/// Connections over the total that people who may drive can still open, so
/// that a flood of viewers never locks them (and their kill switch) out.
pub const DRIVER_RESERVE: usize = 8;
/// Messages a connection may send in a burst, and per second after it; a
/// view past that is not a person at a keyboard and is closed.
const MESSAGE_BURST: f64 = 100.0;
const MESSAGES_PER_SECOND: f64 = 50.0;

/// Options for [`serve_with`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A group whose members may attach (dir 0750, socket 0660).
    pub group: Option<String>,
    /// Per-view queue length.
    pub queue_len: usize,
    /// Connections at once (see [`PER_PERSON_CONNECTIONS`] and
    /// [`DRIVER_RESERVE`]).
    pub max_connections: usize,
    /// People who may drive (`session::access::person` names): they get
    /// the reserve.
    pub drivers: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            group: None,
            queue_len: DEFAULT_QUEUE,
            max_connections: crate::plan::DEFAULT_MAX_CONNECTIONS,
            drivers: Vec::new(),
        }
    }
}

/// Who is connected, to enforce the caps.
#[derive(Debug, Default)]
struct Seats {
    total: usize,
    by_person: BTreeMap<String, usize>,
}

/// Limits on connections; shared by the accept loop and every connection.
#[derive(Debug)]
struct Admission {
    seats: Mutex<Seats>,
    max: usize,
    drivers: Vec<String>,
    refused: AtomicU64,
}

/// A connection's place; given back when dropped.
struct Seat {
    admission: Arc<Admission>,
    person: String,
}

impl Admission {
    fn take(self: &Arc<Self>, person: &str) -> Result<Seat, String> {
        let mut seats = self.seats.lock().unwrap_or_else(|e| e.into_inner());
        let mine = seats.by_person.get(person).copied().unwrap_or(0);
        let cap = if self.drivers.iter().any(|d| d == person) {
            self.max + DRIVER_RESERVE
        } else {
            self.max
        };
        let refusal = if mine >= PER_PERSON_CONNECTIONS {
            Some(format!(
                "too many connections from {person} ({PER_PERSON_CONNECTIONS}); close one and try again"
            ))
        } else if seats.total >= cap {
            Some(format!(
                "too many connections to this rollout ({}); close a view and try again",
                seats.total
            ))
        } else {
            None
        };
        if let Some(why) = refusal {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(why);
        }
        seats.total += 1;
        *seats.by_person.entry(person.to_string()).or_insert(0) += 1;
        Ok(Seat {
            admission: self.clone(),
            person: person.to_string(),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut seats = self
            .admission
            .seats
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        seats.total = seats.total.saturating_sub(1);
        if let Some(n) = seats.by_person.get_mut(&self.person) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                seats.by_person.remove(&self.person);
            }
        }
    }
}

/// One attached view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewInfo {
    pub client_id: u64,
    pub actor: Actor,
}

/// The running server. Dropping it does not stop it: set the `shutdown`
/// watch to `true` (or drop the snapshot sender), then `closed().await`.
pub struct ServerHandle {
    hub: mpsc::UnboundedSender<HubCmd>,
    views: Arc<Mutex<BTreeMap<u64, Actor>>>,
    count: Arc<AtomicUsize>,
    admission: Arc<Admission>,
    tasks: Vec<JoinHandle<()>>,
    path: PathBuf,
}

impl ServerHandle {
    /// Connections refused over the caps since the server started.
    pub fn refused_connections(&self) -> u64 {
        self.admission.refused.load(Ordering::Relaxed)
    }
    /// How many views are attached (the snapshot's `watchers`).
    pub fn clients(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
    /// The attached views and who they are.
    pub fn views(&self) -> Vec<ViewInfo> {
        let map = self.views.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(id, a)| ViewInfo {
                client_id: *id,
                actor: a.clone(),
            })
            .collect()
    }
    /// Send a `Notice` to every view.
    pub fn notice_all(&self, text: impl Into<String>) {
        let _ = self.hub.send(HubCmd::Notice {
            to: None,
            text: text.into(),
        });
    }
    /// Send a `Notice` to one view.
    pub fn notice(&self, client_id: u64, text: impl Into<String>) {
        let _ = self.hub.send(HubCmd::Notice {
            to: Some(client_id),
            text: text.into(),
        });
    }
    /// Close one view's connection with a `Bye { reason }`.
    pub fn disconnect(&self, client_id: u64, reason: impl Into<String>) {
        let _ = self.hub.send(HubCmd::Kick {
            id: client_id,
            reason: reason.into(),
        });
    }
    pub fn socket_path(&self) -> &Path {
        &self.path
    }
    /// Wait until the server has stopped (after shutdown), every view has
    /// been sent its `Bye` and the socket file is gone.
    pub async fn closed(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Listen on `listener_path` with default options. See [`serve_with`].
pub async fn serve(
    listener_path: &Path,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    requests: mpsc::Sender<Request>,
    shutdown: watch::Receiver<bool>,
) -> Result<ServerHandle, SessionError> {
    serve_with(
        listener_path,
        snapshots,
        requests,
        shutdown,
        ServerConfig::default(),
    )
    .await
}

/// Listen on `listener_path`: check its directory, remove a stale socket
/// left by a dead driver, bind, restrict the socket's mode, and start
/// serving. Returns once the socket accepts connections.
pub async fn serve_with(
    listener_path: &Path,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    requests: mpsc::Sender<Request>,
    shutdown: watch::Receiver<bool>,
    config: ServerConfig,
) -> Result<ServerHandle, SessionError> {
    let path = listener_path.to_path_buf();
    let gid = config.group.as_deref().map(paths::group_id).transpose()?;
    if let Some(dir) = path.parent() {
        paths::ensure_dir(dir, config.group.as_deref())?;
    }
    remove_stale(&path)?;
    let listener = UnixListener::bind(&path).map_err(|source| SessionError::Bind {
        path: path.clone(),
        source,
    })?;
    // The directory already keeps others out; the mode is a second wall.
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    let perm = std::os::unix::fs::chown(&path, None, gid)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)));
    if let Err(source) = perm {
        let _ = std::fs::remove_file(&path);
        return Err(SessionError::Bind { path, source });
    }

    let (hub_tx, hub_rx) = mpsc::unbounded_channel();
    let views = Arc::new(Mutex::new(BTreeMap::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let hub = Hub::new(
        snapshots,
        hub_rx,
        shutdown.clone(),
        views.clone(),
        count.clone(),
    );
    let hub_task = tokio::spawn(hub.run());
    let admission = Arc::new(Admission {
        seats: Mutex::new(Seats::default()),
        max: config.max_connections.max(1),
        drivers: config.drivers.clone(),
        refused: AtomicU64::new(0),
    });
    let accept_task = tokio::spawn(accept_loop(
        listener,
        path.clone(),
        Shared {
            hub: hub_tx.clone(),
            requests,
            queue_len: config.queue_len.max(4),
            admission: admission.clone(),
        },
        shutdown,
    ));
    Ok(ServerHandle {
        hub: hub_tx,
        views,
        count,
        admission,
        tasks: vec![accept_task, hub_task],
        path,
    })
}

/// A socket file whose driver is gone refuses connections: remove it. One
/// that answers belongs to a live driver: refuse to steal it.
fn remove_stale(path: &Path) -> Result<(), SessionError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SessionError::Bind {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(SessionError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(SessionError::AlreadyServing {
            path: path.to_path_buf(),
        }),
        Err(_) => std::fs::remove_file(path).or_else(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(SessionError::Bind {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }),
    }
}

pub(crate) async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    // A dropped sender means the driver is gone: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// What every connection task needs from the server.
#[derive(Clone)]
struct Shared {
    hub: mpsc::UnboundedSender<HubCmd>,
    requests: mpsc::Sender<Request>,
    queue_len: usize,
    admission: Arc<Admission>,
}

async fn accept_loop(
    listener: UnixListener,
    path: PathBuf,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let next_id = AtomicU64::new(1);
    loop {
        tokio::select! {
            _ = shutdown_requested(&mut shutdown) => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(stream, id, shared.clone()));
                }
                // Out of file descriptors and the like: back off instead of
                // spinning; the views already attached carry on.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
}

async fn connection(mut stream: UnixStream, id: u64, shared: Shared) {
    let Shared {
        hub,
        requests,
        queue_len,
        admission,
    } = shared;
    // Identity comes from the kernel, never from what the view sends.
    let Ok(cred) = stream.peer_cred() else {
        return;
    };
    let login_uid = cred
        .pid()
        .and_then(|p| crate::identity::read_login_uid(&p.to_string()));
    let actor = crate::identity::actor_for_uid(cred.uid(), login_uid, None);
    // Over the caps: a Bye that says why, and nothing reaches the driver
    // (it journals the count, not each connection).
    let _seat = match admission.take(&crate::session::access::person(&actor)) {
        Ok(seat) => seat,
        Err(reason) => {
            if let Ok(bye) = protocol::encode(&ServerMsg::Bye { reason }) {
                let _ = tokio::time::timeout(BYE_TIMEOUT, stream.write_all(&bye)).await;
            }
            let _ = tokio::time::timeout(BYE_TIMEOUT, stream.shutdown()).await;
            return;
        }
    };
    let (rd, wr) = stream.into_split();
    let (q_tx, q_rx) = mpsc::channel::<Line>(queue_len);
    let (close_tx, close_rx) = watch::channel::<Option<String>>(None);
    let request = |msg| Request {
        actor: actor.clone(),
        client_id: id,
        msg,
    };
    if requests.send(request(ClientMsg::Connected)).await.is_err() {
        return;
    }
    let registered = hub.send(HubCmd::Register {
        id,
        actor: actor.clone(),
        queue: q_tx.clone(),
        close: close_tx.clone(),
    });
    if registered.is_err() {
        close(&close_tx, "the driver is shutting down");
    }
    // The writer's receiver is made here, before anything can close the
    // connection, so it cannot miss the close.
    let writer = tokio::spawn(write_loop(wr, q_rx, close_tx.clone(), close_rx.clone()));
    let reason = read_loop(rd, &q_tx, close_rx, &hub, &requests, &request).await;
    close(&close_tx, &reason);
    let _ = hub.send(HubCmd::Unregister { id });
    let _ = writer.await;
    let reason = close_tx.borrow().clone().unwrap_or(reason);
    let _ = requests
        .send(request(ClientMsg::Disconnected { reason }))
        .await;
}

/// Read lines until the view leaves, sends something bad, or the
/// connection is closed from elsewhere. Returns why it ended.
async fn read_loop(
    rd: OwnedReadHalf,
    queue: &mpsc::Sender<Line>,
    mut close_rx: watch::Receiver<Option<String>>,
    hub: &mpsc::UnboundedSender<HubCmd>,
    requests: &mpsc::Sender<Request>,
    request: &impl Fn(ClientMsg) -> Request,
) -> String {
    let mut reader = BufReader::new(rd);
    let mut buf = Vec::new();
    let mut bucket = TokenBucket::new(MESSAGE_BURST, MESSAGES_PER_SECOND);
    loop {
        buf.clear();
        let read = tokio::select! {
            biased;
            _ = close_rx.changed() => return "closed by the driver".into(),
            // The hub is gone (shutdown) before it could register us.
            _ = hub.closed() => return "the driver is shutting down".into(),
            r = read_line(&mut reader, &mut buf, MAX_CLIENT_LINE) => r,
        };
        match read {
            Ok(0) => return "the view closed the connection".into(),
            Ok(_) if buf.trim_ascii().is_empty() => continue,
            Ok(_) if !bucket.take(std::time::Instant::now()) => {
                return format!(
                    "protocol error: more than {MESSAGES_PER_SECOND} messages a second"
                );
            }
            Ok(_) => match protocol::decode_client(&buf) {
                Ok(ClientMsg::Ping) => {
                    if let Ok(pong) = protocol::encode(&ServerMsg::Pong) {
                        let _ = queue.try_send(pong.into());
                    }
                }
                Ok(msg) => {
                    if requests.send(request(msg)).await.is_err() {
                        return "the driver stopped".into();
                    }
                }
                Err(e) => return format!("protocol error: {e}"),
            },
            Err(e) => return e,
        }
    }
}

/// A token bucket: `burst` messages at once, then `rate` a second.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    at: std::time::Instant,
}

impl TokenBucket {
    fn new(burst: f64, rate: f64) -> Self {
        TokenBucket {
            tokens: burst,
            burst,
            rate,
            at: std::time::Instant::now(),
        }
    }

    fn take(&mut self, now: std::time::Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Read one line of at most `max` bytes (newline included) into `buf`.
/// Ok(0) at end of stream; Err(reason) when too long or on an I/O error.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<usize, String> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = r
        .take(limit)
        .read_until(b'\n', buf)
        .await
        .map_err(|e| format!("read failed: {e}"))?;
    if buf.len() > max {
        return Err(format!(
            "protocol error: message longer than the {max}-byte limit"
        ));
    }
    Ok(n)
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Line>,
    close_tx: watch::Sender<Option<String>>,
    mut close_rx: watch::Receiver<Option<String>>,
) {
    let mut healthy = true;
    loop {
        if close_rx.borrow_and_update().is_some() {
            break;
        }
        let line = tokio::select! {
            biased;
            _ = close_rx.changed() => break,
            l = queue.recv() => match l { Some(l) => l, None => break },
        };
        let written = tokio::select! {
            biased;
            _ = close_rx.changed() => break,
            w = wr.write_all(&line) => w,
        };
        if let Err(e) = written {
            close(&close_tx, &format!("write failed: {e}"));
            healthy = false;
            break;
        }
    }
    if healthy {
        let reason = close_rx.borrow().clone().unwrap_or_else(|| "closed".into());
        if let Ok(bye) = protocol::encode(&ServerMsg::Bye { reason }) {
            // The leading newline ends any line cut short by the close, so
            // the Bye arrives as a line of its own.
            let mut msg = vec![b'\n'];
            msg.extend_from_slice(&bye);
            let _ = tokio::time::timeout(BYE_TIMEOUT, wr.write_all(&msg)).await;
        }
    }
    let _ = tokio::time::timeout(BYE_TIMEOUT, wr.shutdown()).await;
}

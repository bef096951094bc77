//! The view's side of attach: connect to a rollout's socket, rebuild the
//! driver's snapshots from the full snapshot and the updates, send
//! commands; and `rampdeck ls`, which asks every socket in the runtime dir.

use std::io::{BufRead, BufReader as StdBufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::SessionError;
use super::paths;
use super::protocol::{self, ClientMsg, Hello, MAX_SERVER_LINE, PROTOCOL_VERSION, ServerMsg};
use super::server::read_line;
use crate::snapshot::Snapshot;

/// How long the driver has to send its `Hello` and first snapshot.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `ls` waits for each socket.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// An attached view.
///
/// `snapshots` always holds the driver's latest state; `closed` turns
/// `Some(reason)` when the connection ends (the driver's `Bye`, or why it
/// broke). Dropping the client closes the connection.
pub struct Client {
    pub hello: Hello,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Notices from the driver ("bob took control"); the oldest are lost
    /// when more than 256 are unread.
    pub notices: mpsc::Receiver<String>,
    pub closed: watch::Receiver<Option<String>>,
    out: mpsc::Sender<ClientMsg>,
    tasks: [JoinHandle<()>; 2],
}

impl Client {
    /// Send a command, `TakeControl` or `Ping`. Server-made messages
    /// (`Connected`, `Disconnected`) are refused here.
    pub async fn send(&self, msg: ClientMsg) -> Result<(), SessionError> {
        if matches!(msg, ClientMsg::Connected | ClientMsg::Disconnected { .. }) {
            return Err(SessionError::Closed(
                "Connected/Disconnected are made by the driver, not sent".into(),
            ));
        }
        self.out
            .send(msg)
            .await
            .map_err(|_| SessionError::Closed(self.close_reason()))
    }

    /// Why the connection ended, or "still connected".
    pub fn close_reason(&self) -> String {
        self.closed
            .borrow()
            .clone()
            .unwrap_or_else(|| "still connected".into())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Attach to the driver listening on `socket`: read its `Hello` and full
/// snapshot, then follow its updates in the background.
pub async fn connect(socket: &Path) -> Result<Client, SessionError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| SessionError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
    let (rd, mut wr) = stream.into_split();
    let mut reader = BufReader::new(rd);
    let mut buf = Vec::new();
    let (hello, first) = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let hello = match next_msg(&mut reader, &mut buf).await? {
            ServerMsg::Hello(h) => h,
            ServerMsg::Bye { reason } => return Err(SessionError::Closed(reason)),
            other => return Err(unexpected("Hello", &other)),
        };
        if hello.version != PROTOCOL_VERSION {
            return Err(SessionError::VersionMismatch {
                theirs: hello.version,
                ours: PROTOCOL_VERSION,
            });
        }
        match next_msg(&mut reader, &mut buf).await? {
            ServerMsg::Snapshot(s) => Ok((hello, s)),
            ServerMsg::Bye { reason } => Err(SessionError::Closed(reason)),
            other => Err(unexpected("Snapshot", &other)),
        }
    })
    .await
    .map_err(|_| SessionError::Timeout("the driver's greeting"))??;

    let (snap_tx, snapshots) = watch::channel(Arc::new(*first));
    let (notice_tx, notices) = mpsc::channel(256);
    let (closed_tx, closed) = watch::channel(None);
    let (out, mut out_rx) = mpsc::channel::<ClientMsg>(64);

    let closed_w = closed_tx.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let line = match protocol::encode(&msg) {
                Ok(l) => l,
                Err(e) => {
                    closed_w.send_replace(Some(format!("could not encode a message: {e}")));
                    break;
                }
            };
            if let Err(e) = wr.write_all(&line).await {
                closed_w.send_if_modified(|v| {
                    let first = v.is_none();
                    if first {
                        *v = Some(format!("the connection broke: {e}"));
                    }
                    first
                });
                break;
            }
        }
    });
    let reader = tokio::spawn(follow(reader, snap_tx, notice_tx, closed_tx));
    Ok(Client {
        hello,
        snapshots,
        notices,
        closed,
        out,
        tasks: [reader, writer],
    })
}

/// [`connect`], retrying while the socket is missing or refuses, for up to
/// `within`: for `rampdeck run --detach`, which starts the driver in the
/// background and attaches at once.
pub async fn connect_when_ready(socket: &Path, within: Duration) -> Result<Client, SessionError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match connect(socket).await {
            Err(SessionError::Connect { source, .. })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            other => return other,
        }
    }
}

fn unexpected(wanted: &str, got: &ServerMsg) -> SessionError {
    let kind = match got {
        ServerMsg::Hello(_) => "Hello",
        ServerMsg::Snapshot(_) => "Snapshot",
        ServerMsg::Update(_) => "Update",
        ServerMsg::Notice { .. } => "Notice",
        ServerMsg::Pong => "Pong",
        ServerMsg::Bye { .. } => "Bye",
    };
    SessionError::Handshake(format!("expected {wanted}, got {kind}"))
}

async fn next_msg(
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> Result<ServerMsg, SessionError> {
    loop {
        buf.clear();
        match read_line(reader, buf, MAX_SERVER_LINE).await {
            Ok(0) => {
                return Err(SessionError::Closed(
                    "the driver closed the connection".into(),
                ));
            }
            Ok(_) if buf.trim_ascii().is_empty() => continue,
            Ok(_) => return protocol::decode_server(buf).map_err(SessionError::Protocol),
            Err(e) => return Err(SessionError::Closed(e)),
        }
    }
}

/// Apply the driver's messages until the connection ends.
async fn follow(
    mut reader: BufReader<OwnedReadHalf>,
    snaps: watch::Sender<Arc<Snapshot>>,
    notices: mpsc::Sender<String>,
    closed: watch::Sender<Option<String>>,
) {
    let mut buf = Vec::new();
    let reason = loop {
        match next_msg(&mut reader, &mut buf).await {
            Ok(ServerMsg::Snapshot(s)) => {
                snaps.send_replace(Arc::new(*s));
            }
            Ok(ServerMsg::Update(u)) => {
                let mut next = (**snaps.borrow()).clone();
                if !protocol::apply_update(&mut next, &u) {
                    break "the driver sent an update for a series this view does not have"
                        .to_string();
                }
                snaps.send_replace(Arc::new(next));
            }
            Ok(ServerMsg::Notice { text }) => {
                let _ = notices.try_send(text);
            }
            Ok(ServerMsg::Pong | ServerMsg::Hello(_)) => {}
            Ok(ServerMsg::Bye { reason }) => break reason,
            Err(SessionError::Protocol(e)) => break format!("the driver sent a bad message: {e}"),
            Err(SessionError::Closed(r)) => break r,
            Err(e) => break e.to_string(),
        }
    };
    closed.send_if_modified(|v| {
        let first = v.is_none();
        if first {
            *v = Some(reason);
        }
        first
    });
}

/// One running rollout, for `rampdeck ls`.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutListing {
    pub rollout_id: String,
    pub service: String,
    pub socket: PathBuf,
    /// `Phase::name()`: "holding", "paused", ...
    pub phase: String,
    pub weight: u8,
    pub driver: Option<String>,
    pub watchers: usize,
}

/// The rollouts whose drivers answer in [`paths::runtime_dir`], sorted by
/// id. Sockets that do not answer (dead drivers) are skipped. Blocking; a
/// probe appears to the driver as a view that attaches and leaves.
pub fn list() -> Vec<RolloutListing> {
    list_in(&paths::runtime_dir())
}

/// [`list`] for an explicit directory.
pub fn list_in(dir: &Path) -> Vec<RolloutListing> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<RolloutListing> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter_map(|p| probe(&p).ok())
        .collect();
    out.sort_by(|a, b| a.rollout_id.cmp(&b.rollout_id));
    out
}

/// Connect, read `Hello` and the snapshot, hang up.
pub fn probe(socket: &Path) -> Result<RolloutListing, SessionError> {
    let connect_err = |source| SessionError::Connect {
        path: socket.to_path_buf(),
        source,
    };
    let stream = std::os::unix::net::UnixStream::connect(socket).map_err(connect_err)?;
    stream
        .set_read_timeout(Some(LIST_TIMEOUT))
        .map_err(connect_err)?;
    let mut reader = StdBufReader::new(stream);
    let mut next = || -> Result<ServerMsg, SessionError> {
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_SERVER_LINE).unwrap_or(u64::MAX) + 1;
        (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(connect_err)?;
        if buf.is_empty() {
            return Err(SessionError::Closed("no answer".into()));
        }
        protocol::decode_server(&buf).map_err(SessionError::Protocol)
    };
    let ServerMsg::Hello(hello) = next()? else {
        return Err(SessionError::Handshake("expected Hello".into()));
    };
    if hello.version != PROTOCOL_VERSION {
        return Err(SessionError::VersionMismatch {
            theirs: hello.version,
            ours: PROTOCOL_VERSION,
        });
    }
    let ServerMsg::Snapshot(s) = next()? else {
        return Err(SessionError::Handshake("expected Snapshot".into()));
    };
    Ok(RolloutListing {
        rollout_id: s.rollout_id.clone(),
        service: s.plan.rollout.service.clone(),
        socket: socket.to_path_buf(),
        phase: s.engine.phase.name().to_string(),
        weight: s.engine.weight,
        driver: s.driver.clone(),
        watchers: s.watchers,
    })
}

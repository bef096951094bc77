//! Attach over real Unix sockets in a temporary runtime dir.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kit::snapshot::{next_poll, plan, snapshot};
use rampdeck::engine::Command;
use rampdeck::session::client::{self, Client};
use rampdeck::session::protocol::{self, ServerMsg};
use rampdeck::session::{ClientMsg, Request, ServerHandle, SessionError, serve};
use rampdeck::snapshot::Snapshot;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

/// Generous bound so a broken server fails the test instead of hanging it.
const HANG: Duration = Duration::from_secs(10);

struct Driver {
    _dir: tempfile::TempDir,
    path: PathBuf,
    publish: watch::Sender<Arc<Snapshot>>,
    requests: mpsc::Receiver<Request>,
    stop: watch::Sender<bool>,
    server: ServerHandle,
}

async fn start(rollout: &str) -> Driver {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run").join(format!("{rollout}.sock"));
    start_at(dir, path, rollout).await
}

async fn start_at(dir: tempfile::TempDir, path: PathBuf, rollout: &str) -> Driver {
    let p = Arc::new(plan(rollout, 4));
    let (publish, snaps) = watch::channel(Arc::new(snapshot(&p, 30, 3600)));
    let (req_tx, requests) = mpsc::channel(4096);
    let (stop, stop_rx) = watch::channel(false);
    let server = serve(&path, snaps, req_tx, stop_rx).await.unwrap();
    Driver {
        _dir: dir,
        path,
        publish,
        requests,
        stop,
        server,
    }
}

impl Driver {
    fn publish_next(&self) -> Arc<Snapshot> {
        let next = Arc::new(next_poll(&self.publish.borrow()));
        self.publish.send_replace(next.clone());
        next
    }
    /// The next request that is not a `Connected`.
    async fn next_request(&mut self) -> Request {
        loop {
            let r = tokio::time::timeout(HANG, self.requests.recv())
                .await
                .expect("a request in time")
                .expect("server alive");
            if r.msg != ClientMsg::Connected {
                return r;
            }
        }
    }
}

async fn wait_version(c: &mut Client, v: u64) -> Arc<Snapshot> {
    let s = tokio::time::timeout(HANG, c.snapshots.wait_for(|s| s.version >= v))
        .await
        .expect("update in time")
        .expect("connection alive");
    s.clone()
}

/// Read until the server closes: EOF, or a reset when the server closed
/// with our unread bytes still in its buffer (Linux resets then).
async fn read_to_end(mut s: UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    match tokio::time::timeout(HANG, s.read_to_end(&mut out))
        .await
        .expect("closed in time")
    {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    out
}

fn last_bye(bytes: &[u8]) -> Option<String> {
    bytes
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|l| match protocol::decode_server(l) {
            Ok(ServerMsg::Bye { reason }) => Some(reason),
            _ => None,
        })
}

#[tokio::test]
async fn two_views_see_the_same_backfilled_state_and_updates() {
    let d = start("r-same").await;
    let mode = std::fs::metadata(&d.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket is private");
    let dir_mode = std::fs::metadata(d.path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);

    let mut a = client::connect(&d.path).await.unwrap();
    assert_eq!(a.hello.version, rampdeck::session::PROTOCOL_VERSION);
    assert_eq!(a.hello.you.uid, Some(nix::unistd::getuid().as_raw()));
    let first = d.publish.borrow().clone();
    assert_eq!(**a.snapshots.borrow(), *first, "full snapshot on connect");

    for _ in 0..5 {
        let next = d.publish_next();
        let got = wait_version(&mut a, next.version).await;
        assert_eq!(*got, *next, "rebuilt from the update");
    }
    // A late view is backfilled with every point since the start.
    let mut b = client::connect(&d.path).await.unwrap();
    assert_eq!(**b.snapshots.borrow(), **d.publish.borrow());
    assert_eq!(b.snapshots.borrow().series[0].canary.len(), 35);
    assert_ne!(a.hello.client_id, b.hello.client_id);
    for _ in 0..5 {
        let next = d.publish_next();
        let sa = wait_version(&mut a, next.version).await;
        let sb = wait_version(&mut b, next.version).await;
        assert_eq!(*sa, *next);
        assert_eq!(*sb, *next);
    }
    assert_eq!(d.server.clients(), 2);
    assert_eq!(d.server.views().len(), 2);
}

#[tokio::test]
async fn commands_arrive_with_the_peer_identity_and_ping_stays_in_the_server() {
    let mut d = start("r-cmd").await;
    let c = client::connect(&d.path).await.unwrap();
    c.send(ClientMsg::Ping).await.unwrap();
    c.send(ClientMsg::Command {
        command: Command::Rollback,
        reason: "5xx on canary".into(),
    })
    .await
    .unwrap();
    c.send(ClientMsg::TakeControl).await.unwrap();
    let r = d.next_request().await;
    assert_eq!(r.client_id, c.hello.client_id);
    assert_eq!(r.actor.uid, Some(nix::unistd::getuid().as_raw()));
    assert_eq!(
        r.actor.user,
        rampdeck::identity::user_name(nix::unistd::getuid().as_raw())
    );
    assert_eq!(
        r.msg,
        ClientMsg::Command {
            command: Command::Rollback,
            reason: "5xx on canary".into()
        }
    );
    assert_eq!(d.next_request().await.msg, ClientMsg::TakeControl);
    assert!(
        c.send(ClientMsg::Connected).await.is_err(),
        "pseudo messages are not sent"
    );

    // Notices reach one view or all.
    let mut c = c;
    d.server.notice(c.hello.client_id, "you have control");
    let n = tokio::time::timeout(HANG, c.notices.recv()).await.unwrap();
    assert_eq!(n.as_deref(), Some("you have control"));

    drop(c);
    let r = d.next_request().await;
    assert!(matches!(r.msg, ClientMsg::Disconnected { .. }), "{r:?}");
}

#[tokio::test]
async fn malformed_and_oversized_messages_close_only_that_connection() {
    let mut d = start("r-bad").await;
    let mut good = client::connect(&d.path).await.unwrap();

    let mut bad = UnixStream::connect(&d.path).await.unwrap();
    bad.write_all(b"{\"type\":\"command\",\"command\":\"nuke\"}\n")
        .await
        .unwrap();
    let bytes = read_to_end(bad).await;
    let bye = last_bye(&bytes).expect("a Bye before closing");
    assert!(bye.contains("protocol error"), "{bye}");
    let r = d.next_request().await;
    match r.msg {
        ClientMsg::Disconnected { reason } => assert!(reason.contains("malformed"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let mut huge = UnixStream::connect(&d.path).await.unwrap();
    // No newline: the server must stop reading at the limit, not buffer it all.
    let blob = vec![b'a'; protocol::MAX_CLIENT_LINE * 4];
    let _ = huge.write_all(&blob).await;
    // Closed; the Bye is sent but may be lost to the reset the kernel
    // reports when unread bytes are discarded.
    let bytes = read_to_end(huge).await;
    if let Some(bye) = last_bye(&bytes) {
        assert!(bye.contains("limit"), "{bye}");
    }
    match d.next_request().await.msg {
        ClientMsg::Disconnected { reason } => assert!(reason.contains("limit"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // The well-behaved view is untouched.
    let next = d.publish_next();
    assert_eq!(*wait_version(&mut good, next.version).await, *next);
    assert_eq!(d.server.clients(), 1);
    assert!(good.closed.borrow().is_none());
}

#[tokio::test]
async fn a_view_that_never_reads_is_dropped_and_the_others_keep_up() {
    let mut d = start("r-slow").await;
    let mut good = client::connect(&d.path).await.unwrap();
    let slow = UnixStream::connect(&d.path).await.unwrap();
    // Make each update large so the slow view's socket buffer fills fast.
    let pad = "x".repeat(16 * 1024);
    let mut slow_id = None;
    let mut dropped = None;
    let mut worst = Duration::ZERO;
    for i in 0..5000 {
        let mut next = next_poll(&d.publish.borrow());
        next.warnings = vec![format!("{i}{pad}")];
        let next = Arc::new(next);
        let sent = Instant::now();
        d.publish.send_replace(next.clone());
        // The good view gets every update while the slow one reads nothing:
        // the hub never waits for the slow one.
        assert_eq!(*wait_version(&mut good, next.version).await, *next);
        worst = worst.max(sent.elapsed());
        while let Ok(r) = d.requests.try_recv() {
            match r.msg {
                ClientMsg::Connected if r.client_id != good.hello.client_id => {
                    slow_id = Some(r.client_id)
                }
                ClientMsg::Disconnected { reason } => dropped = Some((r.client_id, reason)),
                _ => {}
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let (id, reason) = dropped.expect("the slow view was dropped");
    assert_eq!(Some(id), slow_id);
    assert!(reason.contains("too slow"), "{reason}");
    assert_eq!(d.server.clients(), 1);
    // Its connection is closed (reading now drains the buffer, then EOF).
    read_to_end(slow).await;
    let next = d.publish_next();
    assert_eq!(*wait_version(&mut good, next.version).await, *next);
    eprintln!("slowest update to the good view while the slow one clogged: {worst:?}");
}

#[tokio::test]
async fn ls_lists_live_rollouts_and_skips_dead_sockets() {
    let a = start("r-ls-a").await;
    let dir = a.path.parent().unwrap().to_path_buf();
    let b = start_at(
        tempfile::tempdir().unwrap(),
        dir.join("r-ls-b.sock"),
        "r-ls-b",
    )
    .await;
    // A socket left by a driver that died.
    let dead = dir.join("r-dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    assert!(dead.exists());

    let list = tokio::task::spawn_blocking(move || client::list_in(&dir))
        .await
        .unwrap();
    let ids: Vec<_> = list.iter().map(|l| l.rollout_id.as_str()).collect();
    assert_eq!(ids, ["r-ls-a", "r-ls-b"]);
    assert_eq!(list[0].phase, "holding");
    assert_eq!(list[0].weight, 25);
    assert_eq!(list[0].driver.as_deref(), Some("alice"));
    assert_eq!(list[0].service, "checkout");
    drop((a, b));
}

#[tokio::test]
async fn stale_socket_is_replaced_but_a_live_one_is_not_stolen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/r-stale.sock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let d = start_at(dir, path.clone(), "r-stale").await;
    client::connect(&path)
        .await
        .expect("the new driver answers");

    let p = Arc::new(plan("r-stale", 1));
    let (_tx, snaps) = watch::channel(Arc::new(snapshot(&p, 1, 10)));
    let (req_tx, _rx) = mpsc::channel(8);
    let (_stop, stop_rx) = watch::channel(false);
    let e = serve(&path, snaps, req_tx, stop_rx).await.err().unwrap();
    assert!(matches!(e, SessionError::AlreadyServing { .. }), "{e}");
    assert!(e.to_string().contains("rampdeck attach"));
    drop(d);
}

#[tokio::test]
async fn shutdown_says_bye_to_every_view_and_removes_the_socket() {
    let d = start("r-bye").await;
    let mut a = client::connect(&d.path).await.unwrap();
    let path: &Path = &d.path;
    assert!(path.exists());
    d.stop.send_replace(true);
    let reason = tokio::time::timeout(HANG, a.closed.wait_for(|c| c.is_some()))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(reason.as_deref(), Some("the driver is shutting down"));
    let path = d.path.clone();
    tokio::time::timeout(HANG, d.server.closed()).await.unwrap();
    assert!(!path.exists());
    assert!(matches!(
        client::connect(&path).await,
        Err(SessionError::Connect { .. })
    ));
}

#[tokio::test]
async fn detach_style_attach_waits_for_the_driver_to_listen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/r-late.sock");
    let waiting = {
        let path = path.clone();
        tokio::spawn(async move { client::connect_when_ready(&path, HANG).await })
    };
    let d = start_at(dir, path.clone(), "r-late").await;
    let c = waiting
        .await
        .unwrap()
        .expect("attached once the driver listened");
    assert_eq!(c.hello.rollout_id, "r-late");
    drop(d);

    let missing = path.with_file_name("r-never.sock");
    let e = client::connect_when_ready(&missing, Duration::from_millis(50))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SessionError::Connect { .. }), "{e}");
    assert!(e.to_string().contains("rampdeck ls"));
}

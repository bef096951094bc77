//! Tests that need other processes: a view running as another user, and a
//! driver lock held by a process that is then killed.
//!
//! The children are this test binary run again with `--ignored --exact
//! <helper>` and an environment variable naming the job; the helpers do
//! nothing when run without it.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command as Proc, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::kit::snapshot::{plan, snapshot};
use rampdeck::engine::Command;
use rampdeck::session::lock::{self, LockError};
use rampdeck::session::{ClientMsg, ServerConfig, client, paths, serve_with};
use tokio::sync::{mpsc, watch};

const HANG: Duration = Duration::from_secs(20);
const CHILD_SOCKET: &str = "RAMPDECK_TEST_CHILD_SOCKET";
const CHILD_LOCK: &str = "RAMPDECK_TEST_CHILD_LOCK";

fn child(helper: &str, env: &[(&str, &str)], as_nobody: bool) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if as_nobody {
        crate::kit::proc::as_nobody(&exe)
    } else {
        Proc::new(&exe)
    };
    cmd.args([
        "--ignored",
        "--exact",
        &crate::kit::proc::test_name(module_path!(), helper),
        "--nocapture",
        "--test-threads=1",
    ])
    .envs(env.iter().copied())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    cmd.spawn().unwrap()
}

/// Read the child's stdout until a line starting with `tag`.
fn wait_line(child: &mut Child, tag: &str) -> String {
    let out = child.stdout.as_mut().unwrap();
    let mut r = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "child ended before {tag}"
        );
        // libtest prints "test NAME ... " without a newline before the
        // helper runs, so the tag may be mid-line.
        if let Some(i) = line.find(tag) {
            return line[i + tag.len()..].trim().to_string();
        }
    }
}

#[test]
#[ignore = "child process helper, run by view_as_another_user"]
fn helper_view() {
    let Ok(socket) = std::env::var(CHILD_SOCKET) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = client::connect(Path::new(&socket)).await.unwrap();
        println!("YOU {} {:?}", c.hello.you.user, c.hello.you.uid);
        c.send(ClientMsg::Command {
            command: Command::Pause,
            reason: "as nobody".into(),
        })
        .await
        .unwrap();
        // Stay until the driver confirms, so the command is surely out.
        let n = c.notices.recv().await;
        println!("NOTICE {}", n.unwrap_or_default());
    });
}

#[tokio::test]
async fn view_as_another_user_is_identified_by_its_uid() {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: needs root to run a view as uid 65534");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // nobody must be able to traverse the tempdir to reach the group dir.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let path = dir.path().join("run/r-pair.sock");
    let p = Arc::new(plan("r-pair", 2));
    let (_pub, snaps) = watch::channel(Arc::new(snapshot(&p, 5, 100)));
    let (req_tx, mut requests) = mpsc::channel(64);
    let (_stop, stop_rx) = watch::channel(false);
    let config = ServerConfig {
        group: Some("nogroup".into()),
        ..ServerConfig::default()
    };
    let server = serve_with(&path, snaps, req_tx, stop_rx, config)
        .await
        .unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&meta),
        paths::group_id("nogroup").unwrap()
    );

    // One view as root (this process), one as nobody (a child).
    let mine = client::connect(&path).await.unwrap();
    mine.send(ClientMsg::Command {
        command: Command::Rollback,
        reason: "as root".into(),
    })
    .await
    .unwrap();
    let socket = path.to_str().unwrap().to_string();
    let mut kid = child("helper_view", &[(CHILD_SOCKET, &socket)], true);

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let r = tokio::time::timeout(HANG, requests.recv())
            .await
            .unwrap()
            .unwrap();
        if let ClientMsg::Command { command, reason } = &r.msg {
            seen.push((r.actor.user.clone(), r.actor.uid, *command, reason.clone()));
            if r.actor.uid == Some(65534) {
                server.notice(r.client_id, "pause received");
            }
        }
    }
    seen.sort_by_key(|s| s.1);
    assert_eq!(
        seen,
        vec![
            (
                "root".to_string(),
                Some(0),
                Command::Rollback,
                "as root".to_string()
            ),
            (
                "nobody".to_string(),
                Some(65534),
                Command::Pause,
                "as nobody".to_string()
            ),
        ]
    );
    // The child ends once it has the notice; read all it printed.
    let out = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        kid.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(kid.wait().unwrap().success(), "{out}");
        out
    })
    .await
    .unwrap();
    let after = |tag: &str| {
        let i = out.find(tag).unwrap_or_else(|| panic!("no {tag} in {out}"));
        out[i + tag.len()..]
            .lines()
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    let kid_out = (after("YOU"), after("NOTICE"));
    assert_eq!(kid_out.0, "nobody Some(65534)");
    assert_eq!(kid_out.1, "pause received");
}

#[test]
#[ignore = "child process helper, run by lock tests"]
fn helper_lock_holder() {
    let Ok(rollout) = std::env::var(CHILD_LOCK) else {
        return;
    };
    // Uses the runtime dir from RAMPDECK_RUNTIME_DIR, set by the parent.
    let guard = lock::acquire(&rollout).unwrap();
    println!("LOCKED {} {}", guard.info().pid, guard.path().display());
    std::io::stdout().flush().unwrap();
    // Hold until the parent closes our stdin (or kills us).
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
    drop(guard);
}

#[test]
fn second_driver_is_refused_and_a_dead_drivers_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap().to_string();
    let env = [
        (CHILD_LOCK, "r-lock"),
        (paths::RUNTIME_DIR_ENV, run_s.as_str()),
    ];
    let lock_file = run.join("r-lock.lock");

    // A live holder refuses us, naming itself and how to attach.
    let mut holder = child("helper_lock_holder", &env, false);
    let line = wait_line(&mut holder, "LOCKED");
    let (pid, path) = line.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    assert_eq!(pid, holder.id());
    assert_eq!(
        Path::new(path),
        lock_file,
        "RAMPDECK_RUNTIME_DIR is honoured"
    );
    match lock::acquire_at(&lock_file, "r-lock") {
        Err(e @ LockError::Held { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("pid {pid}")), "{msg}");
            assert!(msg.contains("rampdeck attach r-lock"), "{msg}");
        }
        other => panic!("expected Held, got {other:?}"),
    }

    // A clean exit releases it: no takeover to report.
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    let g = lock::acquire_at(&lock_file, "r-lock").unwrap();
    assert!(g.took_over_from().is_none());
    drop(g);

    // A killed holder leaves its record; the next driver takes over and
    // says from whom.
    let mut holder = child("helper_lock_holder", &env, false);
    let pid: u32 = wait_line(&mut holder, "LOCKED")
        .split_once(' ')
        .unwrap()
        .0
        .parse()
        .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(lock_file.exists(), "the killed holder could not clean up");
    let g = lock::acquire_at(&lock_file, "r-lock").unwrap();
    let prev = g.took_over_from().expect("takeover reported");
    assert_eq!(prev.pid, pid);
    assert!(!prev.process_alive());
    assert_eq!(g.info().pid, std::process::id());
}

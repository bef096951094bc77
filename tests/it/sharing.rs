//! One driver, many views (issue 6), end to end with real processes: the
//! `rampdeck` binary drives a rollout against a Prometheus-API stand-in on
//! loopback whose canary error ratio the test sets; views attach over the
//! driver's Unix socket; another user is a real process under `setpriv`.

#![allow(clippy::unwrap_used)]

use crate::kit::{journal, proc, pty};

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::any;

/// The canary's error ratio the stand-in answers, as f64 bits.
#[derive(Clone)]
struct Knob(Arc<AtomicU64>);

impl Knob {
    fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::SeqCst);
    }
}

async fn query(State(k): State<Knob>) -> String {
    let v = f64::from_bits(k.0.load(Ordering::SeqCst));
    let t = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{t},"{v}"]}}]}}}}"#
    )
}

/// Starts the stand-in on its own runtime thread; returns its address.
fn stand_in(knob: Knob) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/api/v1/query", any(query))
                .with_state(knob);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().to_string()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A world for one test: dirs every user can traverse, a plan, a knob.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    knob: Knob,
}

impl World {
    fn new(extra_rollout: &str) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        // setpriv'd processes must reach the runtime dir inside.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let knob = Knob(Arc::new(AtomicU64::new(0.001f64.to_bits())));
        let addr = stand_in(knob.clone());
        let config = root.join("plan.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[rollout]
service = "shop"
strategy = "canary"
{extra_rollout}

[sources.prom]
kind = "prometheus"
url = "http://{addr}"
interval = "1s"
timeout = "500ms"

[[metrics]]
id = "error_rate"
source = "prom"
query = 'shop:error_ratio{{version="{{cohort}}"}}'
baseline = "none"
bad = "up"
threshold = {{ limit = 0.05 }}
no_data = {{ action = "hold", after = 100 }}

[[triggers]]
name = "errors"
metric = "error_rate"
consecutive = 2

[[steps]]
name = "canary"
weight = 10
hold = "10m"
gate = "auto"

[[steps]]
name = "full"
weight = 100
hold = "10m"
gate = "auto"
"#
            ),
        )
        .unwrap();
        World {
            _tmp: tmp,
            root,
            config,
            knob,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "RAMPDECK_RUNTIME_DIR".into(),
                self.root.join("run").display().to_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                self.root.join("data").display().to_string(),
            ),
            ("HOME".into(), self.root.display().to_string()),
        ]
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = proc::rampdeck(args);
        c.envs(self.env());
        c
    }

    fn run_headless(&self) -> Child {
        self.cmd(&["run", "--headless", "--config"])
            .arg(&self.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits for a driver's socket; returns the rollout id.
    fn wait_socket(&self) -> String {
        let dir = self.root.join("run");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "sock") {
                        return p.file_stem().unwrap().to_string_lossy().into_owned();
                    }
                }
            }
            assert!(Instant::now() < deadline, "no driver socket in {dir:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn journal(&self) -> PathBuf {
        let dir = self.root.join("data").join("rampdeck");
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .unwrap_or_else(|| panic!("no journal in {dir:?}"))
    }
}

#[test]
fn views_share_one_state_and_only_drivers_act() {
    let w = World::new("session_group = \"nogroup\"");
    let mut driver = w.run_headless();
    let id = w.wait_socket();
    let socket = w.root.join("run").join(format!("{id}.sock"));

    // Two views attached see the same rollout and the same updates.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut a = rampdeck::session::connect(&socket).await.unwrap();
        let mut b = rampdeck::session::connect(&socket).await.unwrap();
        assert_eq!(a.hello.rollout_id, id);
        assert_eq!(b.hello.rollout_id, id);
        for _ in 0..3 {
            a.snapshots.changed().await.unwrap();
            b.snapshots.changed().await.unwrap();
        }
        // Both converge on the same published version.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (va, vb) = (a.snapshots.borrow().version, b.snapshots.borrow().version);
            if va == vb {
                let (sa, sb) = (a.snapshots.borrow().clone(), b.snapshots.borrow().clone());
                assert_eq!(sa.engine.phase, sb.engine.phase);
                assert_eq!(sa.engine.weight, sb.engine.weight);
                assert_eq!(sa.series, sb.series, "both views hold the same series");
                assert_eq!(sa.watchers, 2);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "views diverge: {va} vs {vb}"
            );
            tokio::select! {
                _ = a.snapshots.changed() => {}
                _ = b.snapshots.changed() => {}
            }
        }
    });

    // Another user (a real process as uid 65534) may watch but not act:
    // its rollback is refused and journaled with its own uid.
    let out = crate::kit::proc::as_nobody(crate::kit::proc::RAMPDECK)
        .args(["rollback", &id, "--reason", "viewer tries"])
        .envs(w.env())
        .output()
        .expect("setpriv (util-linux) runs a client as another user");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "stderr: {stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    let journal = w.journal();
    let refused = journal::wait_record(&journal, "refused", Duration::from_secs(5));
    assert_eq!(refused["actor"]["uid"], 65534, "{refused}");
    assert_eq!(refused["detail"]["command"], "rollback");
    assert_eq!(refused["detail"]["their_reason"], "viewer tries");

    // The driver's own user rolls back from another shell: journaled with
    // uid 0 and the reason, and the headless driver ends with exit 3.
    let out = w
        .cmd(&["rollback", &id, "--reason", "root pulls the plug"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rb = journal::wait_record(&journal, "rollback", Duration::from_secs(5));
    assert_eq!(rb["actor"]["uid"], 0);
    assert_eq!(rb["reason"], "root pulls the plug");
    assert_eq!(proc::wait_exit(&mut driver, Duration::from_secs(20)), 3);
    let viewers: Vec<_> = journal::records(&journal)
        .into_iter()
        .filter(|r| r["action"] == "viewer_attached")
        .collect();
    assert!(
        viewers.iter().any(|r| r["actor"]["uid"] == 65534),
        "{viewers:?}"
    );
}

#[test]
fn one_driver_per_rollout_and_a_dead_drivers_lock_is_taken_over() {
    let w = World::new("id = \"shop-lock\"");
    let mut first = w.run_headless();
    w.wait_socket();

    let second = w
        .cmd(&["run", "--headless", "--config"])
        .arg(&w.config)
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(4), "{msg}");
    assert!(msg.contains(&format!("pid {}", first.id())), "{msg}");
    assert!(msg.contains("rampdeck attach shop-lock"), "{msg}");

    // The first driver dies without a word (SIGKILL): its lock is stale.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = w.run_headless();
    let stdout = third.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let journal = w.journal();
    let took = journal::wait_record(&journal, "lock_taken_over", Duration::from_secs(10));
    assert!(took["reason"].as_str().unwrap().contains("gone"), "{took}");
    // The dead driver's journal was reopened and goes on: its chain holds,
    // and it is open (4) while the rollout runs.
    journal::wait_record(&journal, "step_entered", Duration::from_secs(10));
    let out = w.cmd(&["verify"]).arg(&journal).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `rampdeck ls` lists it, and its peek is not journaled as a viewer.
    let ls = w.cmd(&["ls"]).output().unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("shop-lock") && ls.contains("holding"), "{ls}");
    // Proof of an absence by what comes after it: a view that stays is
    // attached, then detaches. The driver admits a pending connection at
    // its peek bound or drops it when it closes, in one loop, in order;
    // ls connected before the view, so by the view's `viewer_detached`
    // anything ls would have been journaled as is there already.
    let socket = w.root.join("run/shop-lock.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let view = rt.block_on(rampdeck::session::connect(&socket)).unwrap();
    let client = view.hello.client_id;
    let is = |r: &serde_json::Value, action: &str| {
        r["action"] == action && r["detail"]["client"] == client
    };
    journal::wait_until(&journal, "the view's viewer_attached", journal::WAIT, |r| {
        is(r, "viewer_attached")
    });
    drop(view);
    journal::wait_until(&journal, "the view's viewer_detached", journal::WAIT, |r| {
        is(r, "viewer_detached")
    });
    drop(rt);
    let others: Vec<_> = journal::records(&journal)
        .into_iter()
        .filter(|r| journal::action(r).starts_with("viewer") && r["detail"]["client"] != client)
        .collect();
    assert!(others.is_empty(), "ls looked like a viewer: {others:?}");

    // A breach still rolls back.
    w.knob.set(0.5);
    assert_eq!(proc::wait_exit(&mut third, Duration::from_secs(20)), 3);
    let text: Vec<String> = lines.by_ref().map_while(Result::ok).collect();
    assert!(
        text.iter().any(|l| l.contains("trigger_rollback")),
        "{text:?}"
    );
}

#[test]
fn a_dropped_terminal_leaves_the_canary_guarded() {
    let w = World::new("");
    let env: Vec<(String, String)> = w.env();
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = w.config.display().to_string();
    let term = pty::Term::start(&["run", "--config", &config], 120, 40, &env_ref, &w.root);
    term.wait_for("step 1/2", Duration::from_secs(20));
    let pid = term.pid().unwrap();

    // The SSH link drops: the cockpit gets its hang-up.
    term.hang_up();
    let journal = w.journal();
    let detached = journal::wait_record(&journal, "operator_detached", Duration::from_secs(10));
    assert!(
        detached["reason"].as_str().unwrap().contains("hold"),
        "{detached}"
    );
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok(),
        "the driver process is gone after the hang-up"
    );

    // Someone attaches from another terminal and sees what happened.
    let id = w.wait_socket();
    let view = pty::Term::start(&["attach", &id], 120, 40, &env_ref, &w.root);
    view.wait_for("operator_detached", Duration::from_secs(10));

    // A breach afterwards still rolls back, seen live in the attached view.
    w.knob.set(0.5);
    journal::wait_record(&journal, "trigger_rollback", Duration::from_secs(15));
    journal::wait_record(&journal, "rolled_back", Duration::from_secs(15));
    view.wait_for("ROLLED BACK", Duration::from_secs(10));
}

#[test]
fn the_two_person_rule_needs_a_second_identity() {
    let w = World::new(
        "session_group = \"nogroup\"\ndrivers = [\"root\", \"nobody\"]\nrequire_second = [\"rollback\"]",
    );
    let mut driver = w.run_headless();
    let id = w.wait_socket();
    let journal = w.journal();

    // root asks: recorded, not done.
    let out = w
        .cmd(&["rollback", &id, "--reason", "error budget burning"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("second driver must"), "{stdout}");
    let asked = journal::wait_record(&journal, "awaiting_second", Duration::from_secs(5));
    assert_eq!(asked["actor"]["uid"], 0);
    // The same person again does not count as a second.
    let again = w
        .cmd(&["rollback", &id, "--reason", "me again"])
        .output()
        .unwrap();
    assert_ne!(again.status.code(), Some(0));
    assert!(
        journal::records(&journal)
            .iter()
            .all(|r| r["action"] != "rolled_back")
    );

    // A second identity (uid 65534, "nobody", listed in drivers) confirms.
    let out = crate::kit::proc::as_nobody(crate::kit::proc::RAMPDECK)
        .args(["rollback", &id, "--reason", "confirmed"])
        .envs(w.env())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rb = journal::wait_record(&journal, "rollback", Duration::from_secs(5));
    assert_eq!(rb["actor"]["uid"], 65534);
    let reason = rb["reason"].as_str().unwrap();
    assert!(
        reason.contains("asked by root") && reason.contains("confirmed by nobody"),
        "{reason}"
    );
    assert_eq!(proc::wait_exit(&mut driver, Duration::from_secs(20)), 3);
}

//! One driver, many views (issue 6), end to end with real processes: the
//! `rampdeck` binary drives a rollout against a Prometheus-API stand-in on
//! loopback whose canary error ratio the test sets; views attach over the
//! driver's Unix socket; another user is a real process under `setpriv`.

#![allow(clippy::unwrap_used)]

mod pty;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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
        let mut c = Command::new(env!("CARGO_BIN_EXE_rampdeck"));
        c.args(args).envs(self.env());
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

fn records(journal: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until the journal has a record with this action; returns it.
fn wait_record(journal: &Path, action: &str, timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(r) = records(journal).into_iter().find(|r| r["action"] == action) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {action} record in {journal:?}:\n{}",
            std::fs::read_to_string(journal).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("driver did not end in {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
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
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_rampdeck"))
        .args(["rollback", &id, "--reason", "viewer tries"])
        .envs(w.env())
        .output()
        .expect("setpriv (util-linux) runs a client as another user");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "stderr: {stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    let journal = w.journal();
    let refused = wait_record(&journal, "refused", Duration::from_secs(5));
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
    let rb = wait_record(&journal, "rollback", Duration::from_secs(5));
    assert_eq!(rb["actor"]["uid"], 0);
    assert_eq!(rb["reason"], "root pulls the plug");
    assert_eq!(wait_exit(&mut driver, Duration::from_secs(20)), 3);
    let viewers: Vec<_> = records(&journal)
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
    let took = wait_record(&journal, "lock_taken_over", Duration::from_secs(10));
    assert!(took["reason"].as_str().unwrap().contains("gone"), "{took}");
    // The dead driver's journal was reopened and goes on: its chain holds,
    // and it is open (4) while the rollout runs.
    wait_record(&journal, "step_entered", Duration::from_secs(10));
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
    std::thread::sleep(Duration::from_millis(800));
    let viewers = records(&journal)
        .into_iter()
        .filter(|r| {
            r["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("viewer"))
        })
        .count();
    assert_eq!(viewers, 0, "ls looked like a viewer");

    // A breach still rolls back.
    w.knob.set(0.5);
    assert_eq!(wait_exit(&mut third, Duration::from_secs(20)), 3);
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
    let detached = wait_record(&journal, "operator_detached", Duration::from_secs(10));
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
    wait_record(&journal, "trigger_rollback", Duration::from_secs(15));
    wait_record(&journal, "rolled_back", Duration::from_secs(15));
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
    let asked = wait_record(&journal, "awaiting_second", Duration::from_secs(5));
    assert_eq!(asked["actor"]["uid"], 0);
    // The same person again does not count as a second.
    let again = w
        .cmd(&["rollback", &id, "--reason", "me again"])
        .output()
        .unwrap();
    assert_ne!(again.status.code(), Some(0));
    assert!(
        records(&journal)
            .iter()
            .all(|r| r["action"] != "rolled_back")
    );

    // A second identity (uid 65534, "nobody", listed in drivers) confirms.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_rampdeck"))
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
    let rb = wait_record(&journal, "rollback", Duration::from_secs(5));
    assert_eq!(rb["actor"]["uid"], 65534);
    let reason = rb["reason"].as_str().unwrap();
    assert!(
        reason.contains("asked by root") && reason.contains("confirmed by nobody"),
        "{reason}"
    );
    assert_eq!(wait_exit(&mut driver, Duration::from_secs(20)), 3);
}

//! Hooks against real processes and a real HTTP server on loopback.
//!
//! The scripts in `tests/hooks/` are run with `bash SCRIPT` so the tests do
//! not depend on the executable bit surviving a checkout. Tests that need an
//! environment variable set re-run themselves in a child process (setting
//! variables in a multi-threaded test binary is unsound).

use std::path::PathBuf;
use std::time::Duration;

use rampdeck::hooks::{self, CAPTURE_LIMIT, HookVars, RetryPolicy};
use rampdeck::plan::{Hook, HookAction};
use tokio::sync::watch;

mod webhooks;

const CHILD_FLAG: &str = "RAMPDECK_HOOKS_TEST_CHILD";

/// Runs test `name` of this module again in a child process with `envs`
/// set; `true` when already running in that child.
fn rerun_in_child(name: &str, envs: &[(&str, &str)]) -> bool {
    let envs: Vec<(&str, String)> = envs.iter().map(|(k, v)| (*k, v.to_string())).collect();
    crate::kit::proc::rerun_in_child(CHILD_FLAG, module_path!(), name, &envs)
}

fn script(name: &str) -> String {
    crate::kit::data("hooks").join(name).display().to_string()
}

fn vars() -> HookVars {
    HookVars {
        service: "checkout".into(),
        rollout_id: "checkout-20261129-101500".into(),
        step: 1,
        weight: 25,
        actor: "alice".into(),
        reason: "error ratio back to baseline".into(),
        batch: 2,
        instances: 0,
        cohort_name: String::new(),
    }
}

fn command_hook(argv: &[&str], timeout: Duration, idempotent: bool, retries: u32) -> Hook {
    Hook {
        action: HookAction::Command(argv.iter().map(|s| s.to_string()).collect()),
        timeout,
        retries,
        idempotent,
    }
}

/// A cancel channel nobody will flip. The sender is leaked into the
/// receiver's lifetime by returning both.
fn no_cancel() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

/// Fast retries so the retry tests do not wait out the real backoff (whose
/// numbers are unit-tested in `hooks::tests`).
const FAST: RetryPolicy = RetryPolicy {
    first_backoff: Duration::from_millis(10),
    max_backoff: Duration::from_millis(20),
};

/// Is this process gone? A SIGKILLed grandchild is re-parented to PID 1,
/// which in a container may never reap it; a zombie is dead (it runs no
/// code and holds no resources but its table entry), so it counts as gone.
fn gone(pid: i32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    match kill(Pid::from_raw(pid), None) {
        Err(nix::errno::Errno::ESRCH) => true,
        _ => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Field 3, after the parenthesised command name.
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next().map(|f| f == "Z"))
            })
            .unwrap_or(true),
    }
}

#[tokio::test]
async fn succeeding_hook_reports_exit_0_and_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("argv");
    let out_s = out.display().to_string();
    let rec = script("record-argv.sh");
    let hook = command_hook(
        &["bash", &rec, &out_s, "{service}", "{weight}"],
        Duration::from_secs(30),
        false,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.code, Some(0));
    assert!(
        outcome.summary.starts_with("exit 0 in "),
        "{}",
        outcome.summary
    );
    assert_eq!(outcome.stdout, "recorded 2 args\n");
    assert_eq!(outcome.attempts, 1);
    assert_eq!(read_argv(&out), vec!["checkout", "25"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("argv.env-weight"))
            .ok()
            .as_deref(),
        Some("25")
    );
}

#[tokio::test]
async fn failing_hook_captures_exit_code_and_stderr() {
    let hook = command_hook(
        &["bash", &script("fail.sh")],
        Duration::from_secs(30),
        false,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.code, Some(2));
    assert_eq!(
        outcome.summary,
        "exit 2: error: rollouts.argoproj.io \"checkout\" not found"
    );
    assert_eq!(outcome.stdout, "starting\n");
    assert!(
        outcome.stderr.starts_with("warming up\n"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test]
async fn missing_program_fails_with_a_clear_message() {
    let hook = command_hook(
        &["/nonexistent/rampdeck-hook"],
        Duration::from_secs(5),
        true,
        3,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert!(
        outcome
            .summary
            .contains("could not start `/nonexistent/rampdeck-hook`"),
        "{}",
        outcome.summary
    );
    // Retrying cannot make a program appear.
    assert_eq!(outcome.attempts, 1);
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let pids_s = pids.display().to_string();
    let hook = command_hook(
        &["bash", &script("hang.sh"), &pids_s],
        Duration::from_secs(1),
        false,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.code, None);
    assert_eq!(outcome.summary, "timed out after 1s; process group killed");

    let text = std::fs::read_to_string(&pids).expect("hang.sh wrote its pids");
    let pids: Vec<i32> = text
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{text}");
    // SIGKILL has been sent to the group; the kernel finishes the child
    // asynchronously. Poll with a bound instead of sleeping and hoping.
    for pid in pids {
        let mut tries = 0;
        while !gone(pid) && tries < 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            tries += 1;
        }
        assert!(gone(pid), "process {pid} survived the hook's timeout");
    }
}

#[tokio::test]
async fn idempotent_hook_succeeds_on_the_third_try() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("count").display().to_string();
    let hook = command_hook(
        &["bash", &script("flaky.sh"), &state],
        Duration::from_secs(30),
        true,
        2,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run_with(&hook, &vars(), rx, FAST).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.attempts, 3);
    assert!(
        outcome.summary.ends_with("(attempt 3 of 3)"),
        "{}",
        outcome.summary
    );
    assert_eq!(outcome.stdout, "attempt 3: ok\n");
    assert_eq!(std::fs::read_to_string(&state).ok().as_deref(), Some("3\n"));
}

#[tokio::test]
async fn non_idempotent_hook_runs_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("count").display().to_string();
    // retries = 2 is ignored: running a non-idempotent action twice could
    // move traffic twice.
    let hook = command_hook(
        &["bash", &script("flaky.sh"), &state],
        Duration::from_secs(30),
        false,
        2,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run_with(&hook, &vars(), rx, FAST).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.summary, "exit 1: attempt 1: connection refused");
    assert_eq!(std::fs::read_to_string(&state).ok().as_deref(), Some("1\n"));
}

#[tokio::test]
async fn idempotent_hook_with_no_retries_runs_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("count").display().to_string();
    let hook = command_hook(
        &["bash", &script("flaky.sh"), &state],
        Duration::from_secs(30),
        true,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run_with(&hook, &vars(), rx, FAST).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 1);
}

#[tokio::test]
async fn cancel_before_a_retry_stops_retrying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs").display().to_string();
    let hook = command_hook(
        &["bash", &script("always-fail.sh"), &runs],
        Duration::from_secs(30),
        true,
        5,
    );
    let (_tx, rx) = watch::channel(true);
    let outcome = hooks::run_with(&hook, &vars(), rx, FAST).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 1);
    assert!(
        outcome
            .summary
            .ends_with("retries stopped: a human took over"),
        "{}",
        outcome.summary
    );
    assert_eq!(
        std::fs::read_to_string(&runs).ok().as_deref(),
        Some("run\n")
    );
}

#[tokio::test]
async fn cancel_during_backoff_stops_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let runs_s = runs.display().to_string();
    let hook = command_hook(
        &["bash", &script("always-fail.sh"), &runs_s],
        Duration::from_secs(30),
        true,
        5,
    );
    // A backoff of a minute: only the cancel can end it within the guard.
    let slow = RetryPolicy {
        first_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
    };
    let (tx, rx) = watch::channel(false);
    let vars = vars();
    let task = tokio::spawn(async move { hooks::run_with(&hook, &vars, rx, slow).await });
    // Wait (bounded) for the first attempt to have run, then take over.
    let mut tries = 0;
    while std::fs::read_to_string(&runs)
        .unwrap_or_default()
        .is_empty()
        && tries < 1000
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
        tries += 1;
    }
    tx.send(true).expect("runner alive");
    let outcome = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("cancel ended the backoff")
        .expect("task");
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 1);
    assert!(
        outcome.summary.contains("retries stopped"),
        "{}",
        outcome.summary
    );
}

#[tokio::test]
async fn output_is_bounded_and_the_hook_is_not_blocked() {
    let hook = command_hook(
        &["bash", &script("noisy.sh")],
        Duration::from_secs(60),
        false,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(outcome.ok, "{}", outcome.summary);
    let marker_room = 100;
    assert!(
        outcome.stdout.len() <= CAPTURE_LIMIT + marker_room,
        "{}",
        outcome.stdout.len()
    );
    assert!(
        outcome.stderr.len() <= CAPTURE_LIMIT + marker_room,
        "{}",
        outcome.stderr.len()
    );
    assert!(outcome.stdout.contains("bytes of output truncated]"));
    assert!(outcome.stdout.starts_with("oooo"));
    // The tail is kept: the last line of a failing hook is the useful one.
    assert!(
        outcome.stderr.ends_with("eeelast line\n"),
        "{}",
        &outcome.stderr[outcome.stderr.len() - 20..]
    );
}

#[tokio::test]
async fn injection_in_reason_arrives_literally_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("argv");
    let d = dir.path().display();
    let reason = format!(
        "$(touch {d}/pwned1) `touch {d}/pwned2`; touch {d}/pwned3 && echo {{service}} | sh -c 'touch {d}/pwned4' \" ' \n"
    );
    let mut v = vars();
    v.reason = reason.clone();
    let out_s = out.display().to_string();
    let hook = command_hook(
        &[
            "bash",
            &script("record-argv.sh"),
            &out_s,
            "{reason}",
            "--why={reason}",
            "{service}{actor}",
        ],
        Duration::from_secs(30),
        false,
        0,
    );
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &v, rx).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(
        read_argv(&out),
        vec![
            reason.clone(),
            format!("--why={reason}"),
            "checkoutalice".to_string()
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("argv.env-reason")).ok(),
        Some(reason)
    );
    for n in 1..=4 {
        assert!(
            !dir.path().join(format!("pwned{n}")).exists(),
            "pwned{n} was created"
        );
    }
}

#[tokio::test]
async fn invalid_names_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("argv");
    let out_s = out.display().to_string();
    let hook = command_hook(
        &[
            "bash",
            &script("record-argv.sh"),
            &out_s,
            "{service}",
            "{actor}",
            "{rollout_id}",
        ],
        Duration::from_secs(30),
        true,
        3,
    );
    let d = dir.path().display();
    let bad = [
        HookVars {
            service: format!("x;touch {d}/pwned"),
            ..vars()
        },
        HookVars {
            service: "$(id)".into(),
            ..vars()
        },
        HookVars {
            service: "--kubeconfig=/tmp/evil".into(),
            ..vars()
        },
        HookVars {
            // Any identity is data (one argv element); only control
            // characters, which would reach terminals, are refused.
            actor: "alice\u{1b}]0;pwned\u{7}".into(),
            ..vars()
        },
        HookVars {
            rollout_id: "../../etc/passwd".into(),
            ..vars()
        },
        HookVars {
            weight: 150,
            ..vars()
        },
    ];
    for v in bad {
        assert!(v.validate().is_err(), "{v:?} validated");
        let (_tx, rx) = no_cancel();
        let outcome = hooks::run(&hook, &v, rx).await;
        assert!(!outcome.ok);
        assert_eq!(outcome.attempts, 0, "{v:?}");
        assert!(
            outcome.summary.starts_with("not run: invalid "),
            "{}",
            outcome.summary
        );
    }
    assert!(!out.exists(), "the hook ran despite invalid values");
    assert!(!dir.path().join("pwned").exists());
}

#[tokio::test]
async fn unknown_placeholder_refuses_the_hook() {
    let hook = command_hook(&["echo", "{weigth}"], Duration::from_secs(5), false, 0);
    let (_tx, rx) = no_cancel();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 0);
    assert!(
        outcome.summary.contains("unknown placeholder {weigth}"),
        "{}",
        outcome.summary
    );
}

fn read_argv(path: &PathBuf) -> Vec<String> {
    let bytes = std::fs::read(path).expect("argv file");
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// A hook whose daemon left its group and session (`setsid`) but kept
/// stdout open is over when the hook exits: its output is kept, the daemon
/// is killed, and the hook is not reported as timed out (issue 9, item 10).
#[tokio::test]
async fn a_daemon_holding_a_hooks_output_is_killed_when_the_hook_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("daemon");
    let body = format!(
        "echo switched; setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 300' & \
         while [ ! -s {p} ]; do sleep 0.01; done; exit 0",
        p = pidfile.display()
    );
    let hook = command_hook(&["sh", "-c", &body], Duration::from_secs(20), false, 0);
    let (_tx, rx) = no_cancel();
    let started = std::time::Instant::now();
    let outcome = hooks::run(&hook, &vars(), rx).await;
    assert!(outcome.ok, "{}", outcome.summary);
    assert!(outcome.stdout.contains("switched"), "{}", outcome.stdout);
    assert!(
        outcome.summary.contains("killed 1 leftover process"),
        "{}",
        outcome.summary
    );
    // The grace after exit, not the 20 s timeout.
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("daemon pid")
        .trim()
        .parse()
        .expect("pid");
    let mut tries = 0;
    while !gone(pid) && tries < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        tries += 1;
    }
    assert!(gone(pid), "the daemon {pid} outlived its hook");
}

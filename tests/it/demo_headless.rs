//! The demo end to end, headless: real HTTP polling of the embedded service,
//! the real engine, journal and webhook hooks; checks the exit codes, the
//! lines printed as things happen, and that the journal verifies.

fn run_demo(scenario: &str, data_home: &std::path::Path) -> (i32, String, String) {
    run_demo_as("canary", scenario, data_home)
}

fn run_demo_as(
    strategy: &str,
    scenario: &str,
    data_home: &std::path::Path,
) -> (i32, String, String) {
    let out = crate::kit::proc::rampdeck(&[])
        .args(["demo", "--headless", "--scenario", scenario, "--speed", "6"])
        .args(["--strategy", strategy])
        .env("XDG_DATA_HOME", data_home)
        .env("HOME", data_home)
        .output()
        .expect("run rampdeck demo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn journal_of(stdout: &str) -> std::path::PathBuf {
    let line = stdout
        .lines()
        .last()
        .expect("some output")
        .strip_prefix("journal: ")
        .unwrap_or_else(|| panic!("the last line names the journal:\n{stdout}"));
    std::path::PathBuf::from(line)
}

fn verify(journal: &std::path::Path) -> i32 {
    crate::kit::journal::run_verify(journal)
        .status
        .code()
        .unwrap_or(-1)
}

#[test]
fn bad_canary_rolls_back_and_exits_3() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo("bad-canary", home.path());
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("trigger_rollback"), "{stdout}");
    assert!(stdout.contains("Breach"), "{stdout}");
    assert!(stdout.contains("rolled_back"), "{stdout}");
    let journal = journal_of(&stdout);
    assert!(journal.starts_with(home.path()), "{journal:?}");
    assert_eq!(verify(&journal), 0);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"action\":\"trigger_rollback\""));
    assert!(stdout.contains("summary: "), "{stdout}");
}

#[test]
fn healthy_promotes_and_exits_0() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo("healthy", home.path());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for needle in ["auto_advance", "step_entered", "promoted", "verdict"] {
        assert!(stdout.contains(needle), "missing {needle}:\n{stdout}");
    }
    assert!(!stdout.contains("rollback"), "{stdout}");
    assert_eq!(verify(&journal_of(&stdout)), 0);
}

/// The journal's decision kinds, in order.
fn kinds(journal: &std::path::Path) -> Vec<String> {
    crate::kit::journal::records(journal)
        .iter()
        .filter_map(|v| v["action"].as_str().map(str::to_string))
        .collect()
}

/// The reason of the journal's first `kind` record.
fn reason_of(journal: &std::path::Path, kind: &str) -> String {
    crate::kit::journal::records(journal)
        .iter()
        .find(|v| v["action"] == kind)
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {kind} record"))
}

#[test]
fn blue_green_previews_switches_scales_down_and_promotes() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo_as("blue-green", "healthy", home.path());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let journal = journal_of(&stdout);
    assert_eq!(verify(&journal), 0);
    let k = kinds(&journal);
    let at = |kind: &str| {
        k.iter()
            .position(|x| x == kind)
            .unwrap_or_else(|| panic!("no {kind}: {k:?}"))
    };
    // The preview is judged on its smoke traffic before the switch; the
    // old stack is scaled down before the rollout is promoted.
    assert!(at("auto_advance") < at("switched"), "{k:?}");
    assert!(at("switched") < at("scaled_down"), "{k:?}");
    assert!(at("scaled_down") < at("promoted"), "{k:?}");
    assert!(
        stdout.contains("verdict rps: NoData → Pass (6"),
        "the preview's smoke traffic:\n{stdout}"
    );
}

#[test]
fn blue_green_bad_canary_switches_back_at_once() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo_as("blue-green", "bad-canary", home.path());
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let journal = journal_of(&stdout);
    assert_eq!(verify(&journal), 0);
    let k = kinds(&journal);
    // Healthy in preview, bad once it takes the traffic: the breach comes
    // after the switch and before the scale-down, so the rollback is the
    // instant switch back (the rollback hook), not a redeploy.
    assert!(k.contains(&"switched".to_string()), "{k:?}");
    assert!(!k.contains(&"scaled_down".to_string()), "{k:?}");
    assert_eq!(
        reason_of(&journal, "rolled_back"),
        "switched back: all traffic on the old stack"
    );
    assert!(
        stdout.contains("hook_started by rampdeck: rollback"),
        "{stdout}"
    );
}

#[test]
fn rolling_bad_canary_redeploys_the_batches_it_updated() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo_as("rolling", "bad-canary", home.path());
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let journal = journal_of(&stdout);
    assert_eq!(verify(&journal), 0);
    // The simulated service degrades from 25 %: batch 2 (2 of 8 instances).
    let batches = kinds(&journal)
        .iter()
        .filter(|k| *k == "batch_done")
        .count();
    assert_eq!(batches, 2, "{stdout}");
    assert_eq!(
        reason_of(&journal, "rolled_back"),
        "old version redeployed to the 2 updated instances (2 batches)"
    );
}

#[test]
fn rolling_healthy_updates_every_instance() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_demo_as("rolling", "healthy", home.path());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let journal = journal_of(&stdout);
    assert_eq!(verify(&journal), 0);
    assert!(reason_of(&journal, "batch_done").contains("1 of 8 instances"));
    assert_eq!(
        kinds(&journal)
            .iter()
            .filter(|k| *k == "batch_done")
            .count(),
        4
    );
    assert!(kinds(&journal).contains(&"promoted".to_string()));
}

#[test]
fn an_unknown_strategy_is_refused_with_the_ones_there_are() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run_demo_as("linear", "healthy", home.path());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("use canary, blue-green or rolling"),
        "{stderr}"
    );
}

//! The demo end to end, headless: real HTTP polling of the embedded service,
//! the real engine, journal and webhook hooks; checks the exit codes, the
//! lines printed as things happen, and that the journal verifies.

fn run_demo(scenario: &str, data_home: &std::path::Path) -> (i32, String, String) {
    let out = crate::kit::proc::rampdeck(&[])
        .args(["demo", "--headless", "--scenario", scenario, "--speed", "6"])
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

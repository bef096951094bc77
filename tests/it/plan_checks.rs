//! The plan is checked before traffic moves (issue 10, items 12 and 13):
//! real `rampdeck plan`, `run` and `demo` processes on plans that used to
//! pass `plan` and fail only once traffic had moved. Each refusal is exit 2
//! with FILE:LINE:COL, and no hook has run.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::kit::proc;

const HEAD: &str = "[rollout]\nservice = \"shop\"\nstrategy = \"canary\"\nid = \"shop-checks\"\n";

/// A plan whose `set_weight` hook leaves `moved` in `dir` when it runs.
fn plan(dir: &Path, rollout_extra: &str, tail: &str) -> PathBuf {
    let text = format!(
        r#"{HEAD}{rollout_extra}
[[steps]]
name = "canary"
weight = 10
hold = "1h"

[hooks.set_weight]
command = ["touch", "{moved}"]
idempotent = true
{tail}"#,
        moved = dir.join("moved").display()
    );
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn rampdeck(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = proc::rampdeck(args);
    cmd.env("XDG_DATA_HOME", dir.join("data"))
        .env("RAMPDECK_RUNTIME_DIR", dir.join("run"))
        .env("HOME", dir);
    cmd
}

fn run_headless(dir: &Path, config: &Path) -> Output {
    let mut cmd = rampdeck(dir, &["run", "--headless", "--config"]);
    cmd.arg(config);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A refused run ends at once; one that ran would hold for an hour.
    proc::wait_with_timeout(child, Duration::from_secs(20))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn run_refuses_bad_keys_and_body_templates_before_traffic_moves() {
    for (extra, tail, phrase) in [
        (
            "",
            "\n[ui]\nkeys = { \"x\" = \"explode\" }\n",
            "unknown action \"explode\"",
        ),
        (
            "",
            "\n[hooks.rollback]\nwebhook = { url = \"https://deploy.example.com/rb\", body = '{\"r\": {reason}}' }\n",
            "is not valid JSON once filled in",
        ),
        ("journal_dir = \"journals\"\n", "", "is a relative path"),
        (
            "journal_dir = \"/dev/null/journals\"\n",
            "",
            "`journal_dir` cannot be used",
        ),
        (
            "session_group = \"no-such-group-rampdeck\"\n",
            "",
            "is not a group on this host",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let config = plan(tmp.path(), extra, tail);
        for verb in ["plan", "run"] {
            let out = if verb == "plan" {
                rampdeck(tmp.path(), &["plan", "--config"])
                    .arg(&config)
                    .output()
                    .unwrap()
            } else {
                run_headless(tmp.path(), &config)
            };
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{verb} {phrase}: {err}");
            let located = format!("{}:", config.display());
            assert!(
                err.starts_with(&located) && err.contains(phrase),
                "{verb}: {err}"
            );
            assert!(err.contains("\n  help: "), "{err}");
        }
        assert!(!tmp.path().join("moved").exists(), "a hook ran: {phrase}");
        assert!(
            !tmp.path().join("data").exists(),
            "a journal was started: {phrase}"
        );
    }
}

#[test]
fn plan_refuses_a_password_in_a_url_without_printing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = plan(
        tmp.path(),
        "",
        "\n[sources.prom]\nkind = \"prometheus\"\nurl = \"http://admin:pw-8c1f@prom.example:9090\"\n",
    );
    let out = rampdeck(tmp.path(), &["plan", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains("pw-8c1f") && !err.contains("admin"), "{err}");
}

#[test]
fn plan_refuses_a_session_group_the_user_is_not_in() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // uid 65534 with no supplementary groups is not in "root".
    let config = plan(tmp.path(), "session_group = \"root\"\n", "");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = crate::kit::proc::as_nobody(crate::kit::proc::RAMPDECK)
        .args(["plan", "--config"])
        .arg(&config)
        .env("HOME", tmp.path())
        .output()
        .expect("setpriv (util-linux) runs rampdeck as another user");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":5:17: you (nobody) are not in `session_group` \"root\""),
        "{err}"
    );
    assert!(err.contains("usermod -aG root nobody"), "{err}");
    // Root may give the socket to any group.
    let out = rampdeck(tmp.path(), &["plan", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn demo_refuses_an_unwritable_data_dir_before_the_first_hook() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rampdeck(tmp.path(), &["demo", "--headless", "--speed", "50"])
        .env("XDG_DATA_HOME", "/dev/null/data")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the journal directory cannot be used") && err.contains("/dev/null/data"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "something ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

//! Completions and the man page come from the same clap definitions as
//! `--help`, so every verb is discoverable where people type.

#![allow(clippy::unwrap_used)]

use clap::CommandFactory;

/// Every subcommand a person can type (the hidden ones are none).
fn verbs() -> Vec<String> {
    let names: Vec<String> = rampdeck::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    // The verbs of issue 10 are among them.
    for v in [
        "pause",
        "resume",
        "promote",
        "approve",
        "rollback",
        "completions",
        "man",
    ] {
        assert!(names.iter().any(|n| n == v), "no `{v}` in {names:?}");
    }
    names
}

fn rampdeck(args: &[&str]) -> String {
    let out = crate::kit::proc::rampdeck(&[]).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rampdeck {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_names_every_verb() {
    let script = rampdeck(&["completions", "bash"]);
    assert!(
        script.contains("complete -F _rampdeck"),
        "not a bash completion"
    );
    for verb in verbs() {
        assert!(
            script.contains(&format!("rampdeck,{verb})")),
            "bash completion lacks `{verb}`"
        );
    }
    // Options of the verbs too.
    assert!(script.contains("--take-control") && script.contains("--full"));
}

#[test]
fn zsh_and_fish_completions_name_the_verbs() {
    for shell in ["zsh", "fish"] {
        let script = rampdeck(&["completions", shell]);
        for verb in verbs() {
            assert!(script.contains(&verb), "{shell} completion lacks `{verb}`");
        }
    }
}

#[test]
fn man_page_has_a_section_per_subcommand() {
    let roff = rampdeck(&["man"]);
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH rampdeck 1"),
        "not roff"
    );
    assert!(roff.contains(".TH rampdeck 1"));
    for verb in verbs() {
        assert!(
            roff.contains(&format!(".TH rampdeck-{verb} 1")),
            "man page lacks rampdeck-{verb}"
        );
        assert!(
            roff.contains(&format!("rampdeck\\-{verb}")),
            "man page does not name rampdeck-{verb}"
        );
    }
    // The verbs from a shell say their exit codes.
    assert!(roff.contains("Exit status: 0 when the rollout took it"));
}

/// A reader that stops early (`rampdeck man | head`) ends a print-only
/// command quietly, like any Unix filter: no panic report from a broken pipe.
#[test]
fn a_reader_that_stops_early_gets_no_panic_report() {
    for args in [["man"].as_slice(), ["completions", "bash"].as_slice()] {
        let mut child = crate::kit::proc::rampdeck(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before (almost always) the first write.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

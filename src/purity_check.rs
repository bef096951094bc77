//! The engine's purity, checked: `src/engine/`, the plan (`src/plan/`),
//! the journal's record format (`src/journal/record.rs`), the snapshot
//! views draw, the replay player and the backtest (`src/recording/`) may
//! name only the crates and `std` modules listed here, and never read a
//! clock. A `use
//! tokio`, `std::fs`, `reqwest`, `Instant::now()` or `Utc::now()` in them
//! fails `cargo test`, so purity is not just a comment. Test modules (from
//! `#[cfg(test)]` on, and files that begin `#![cfg(test)]`) are not
//! checked: tests may use fixtures.

use std::path::{Path, PathBuf};

/// Crates the pure part may name: data formats and hashing, nothing that
/// does I/O, spawns, or reads time.
const CRATES: &[&str] = &[
    "serde",
    "serde_json",
    "sha2",
    "hmac",
    "hex",
    "chrono",
    "chrono_tz",
    "croner",
    "humantime",
    "statrs",
    "thiserror",
];

/// `std` modules the pure part may name.
const STD: &[&str] = &[
    "borrow",
    "cmp",
    "collections",
    "convert",
    "error",
    "fmt",
    "hash",
    "iter",
    "mem",
    "num",
    "ops",
    "slice",
    "str",
    "string",
    "sync::Arc",
    "time::Duration",
    "vec",
];

/// Modules of this crate the pure part may name.
const OWN: &[&str] = &[
    "engine",
    "plan",
    "journal::record",
    "snapshot",
    "recording::player",
    // The type the snapshot carries; reading journals is elsewhere.
    "journal::history::History",
];

/// Words that read a clock or the world whatever path they come by.
const NEVER: &[&str] = &["::now(", "Instant", "SystemTime", "thread_rng", "rand::"];

fn pure_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![
        root.join("plan/mod.rs"),
        root.join("plan/hooks.rs"),
        root.join("journal/record.rs"),
        // Replay and backtest run the engine over a recording: no clock.
        root.join("recording/player.rs"),
        root.join("snapshot.rs"),
        root.join("recording/backtest.rs"),
    ];
    let mut dirs = vec![root.join("engine")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The dependency names of Cargo.toml's `[dependencies]` (as Rust names).
fn dependencies() -> Vec<String> {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap_or_default();
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.replace('-', "_"));
            }
        }
    }
    out
}

/// The code of a file without comments and without the items under
/// `#[cfg(test)]` (a test module's braces are matched, so code after it is
/// still checked).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    // Some(depth) while skipping a test item: the brace depth inside it.
    let mut skipping: Option<i32> = None;
    let mut pending = false;
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        if code.trim_start().starts_with("#![cfg(test)]") {
            // A test module in a file of its own (`#[path = "x_tests.rs"]`).
            break;
        }
        if code.trim_start().starts_with("#[cfg(test)]") {
            pending = true;
            continue;
        }
        if pending && code.trim_start().starts_with("#[") {
            // More attributes of the same test item (`#[allow(...)]`).
            out.push('\n');
            continue;
        }
        if pending || skipping.is_some() {
            let depth = skipping.unwrap_or(0) + code.matches('{').count() as i32
                - code.matches('}').count() as i32;
            pending = false;
            // `mod tests;` or a one-line item ends here; a block ends when
            // its braces close.
            skipping = (depth > 0).then_some(depth);
            out.push('\n');
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Each path in `code` that starts at a crate root (`std`, a dependency,
/// `crate`) and is not allowed, with its line.
fn violations(code: &str, deps: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for word in NEVER {
            if line.contains(word) {
                found.push((n + 1, (*word).to_string()));
            }
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while let Some(off) = line[i..].find("::") {
            let at = i + off;
            let start = line[..at]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |p| p + 1);
            let root = &line[start..at];
            let before = line[..start].trim_end();
            // `a::b::c` is checked once, from its root.
            let is_root = !before.ends_with("::") && !root.is_empty();
            if is_root && (start == 0 || bytes[start - 1] != b':') {
                let rest: String = line[at + 2..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path = format!("{root}::{rest}");
                let allowed = match root {
                    "std" | "core" | "alloc" => STD.iter().any(|m| rest.starts_with(m)),
                    "crate" => OWN.iter().any(|m| rest.starts_with(m)),
                    r if deps.iter().any(|d| d == r) => CRATES.contains(&r),
                    "tokio" | "reqwest" | "ratatui" | "crossterm" | "libc" => false,
                    _ => true,
                };
                if !allowed {
                    found.push((n + 1, path));
                }
            }
            i = at + 2;
        }
    }
    found
}

#[test]
fn the_engine_the_plan_and_the_record_format_do_no_io_and_read_no_clock() {
    let deps = dependencies();
    assert!(
        deps.iter().any(|d| d == "tokio"),
        "Cargo.toml's dependencies were not read: {deps:?}"
    );
    let files = pure_files();
    assert!(
        files.len() > 5,
        "the engine's files were not found: {files:?}"
    );
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (line, path) in violations(&code_of(&text), &deps) {
            bad.push(format!("{}:{line}: {path}", f.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "the pure part names I/O, a runtime or a clock (see src/purity_check.rs):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_is_for() {
    let deps: Vec<String> = ["tokio", "serde", "reqwest", "chrono", "rand"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let bad = "use tokio::sync::mpsc;\nlet f = std::fs::read(p);\nlet t = chrono::Utc::now();\n\
               let c = reqwest::Client::new();\nuse std::time::Instant;\nuse crate::driver::Driver;\n";
    let found: Vec<String> = violations(bad, &deps).into_iter().map(|(_, p)| p).collect();
    for want in [
        "tokio::sync::mpsc",
        "std::fs::read",
        "::now(",
        "reqwest::Client::new",
        "Instant",
        "crate::driver::Driver",
    ] {
        assert!(
            found.iter().any(|f| f == want),
            "{want} not caught: {found:?}"
        );
    }
    let good = "use serde::Serialize;\nuse std::collections::BTreeMap;\nuse crate::plan::Plan;\n\
                let p = Phase::Pending;\nuse super::types::Timestamp;\nlet d = std::time::Duration::ZERO;\n";
    assert_eq!(violations(good, &deps), Vec::<(usize, String)>::new());
    assert_eq!(
        code_of("use serde::X; // tokio::spawn\n#[cfg(test)]\nuse tokio::x;\nuse std::fs;"),
        "use serde::X; \n\nuse std::fs;\n"
    );
    let after = code_of(
        "#[cfg(test)]\nmod tests {\n    fn f() {\n        tokio::x();\n    }\n}\nuse std::fs;\n",
    );
    assert!(
        !after.contains("tokio") && after.contains("use std::fs;"),
        "{after}"
    );
    let file = code_of("//! Tests.\n#![cfg(test)]\nuse crate::tui::fixtures;\n");
    assert!(!file.contains("tui"), "{file}");
}

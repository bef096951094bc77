//! `rampdeck verify` and `rampdeck summary` stream a journal: on a 100 MB
//! journal (a flood of refused commands, as a hostile viewer once wrote)
//! each stays small in memory, and the summary counts the flood instead of
//! listing it (issue 9, item 9). The peak memory measured is each child's
//! own (measured by GNU time), whatever else this test binary runs at the
//! same time.

#![allow(clippy::unwrap_used)]

use rampdeck::engine::PhaseKind;
use std::io::Write;

use crate::kit::proc;

use rampdeck::engine::{Actor, Decision, Timestamp};
use rampdeck::journal::GENESIS;
use rampdeck::journal::record::seal;

fn decision(action: &str, actor: Actor, reason: String) -> Decision {
    Decision {
        action: rampdeck::engine::DecisionKind::from_word(action),
        actor,
        reason,
        step: Some(0),
        weight: 10,
        phase: PhaseKind::Holding,
        gates: vec![],
        hook: None,
        detail: serde_json::json!({"command": "rollback"}),
        at: None,
    }
}

#[test]
fn verify_and_summary_stream_a_100_mb_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut prev = GENESIS.to_string();
    let mut seq = 0u64;
    let mut write = |d: &Decision, prev: &mut String| {
        seq += 1;
        let (line, hash) = seal(
            seq,
            Timestamp(1_796_000_000_000 + seq as i64),
            "flood",
            d,
            prev,
        )
        .unwrap();
        out.write_all(&line).unwrap();
        *prev = hash;
    };
    write(
        &decision(
            "rollout_started",
            Actor::named("alice"),
            "canary of shop".into(),
        ),
        &mut prev,
    );
    let bob = Actor::named("bob");
    let padding = "x".repeat(900);
    let mut bytes = 0u64;
    while bytes < 100 << 20 {
        let d = decision(
            "refused",
            bob.clone(),
            format!("bob may not drive {padding}"),
        );
        write(&d, &mut prev);
        bytes += 1100;
    }
    write(
        &decision("rollback", Actor::named("alice"), "pulled".into()),
        &mut prev,
    );
    out.flush().unwrap();
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= 100 << 20, "{size} bytes");

    // Each child's output and its own peak RSS.
    let mut peak_kib = 0;
    let mut rampdeck = |args: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        args.push(path.as_os_str());
        let (out, kib) = proc::rampdeck_with_peak_rss(&args);
        peak_kib = peak_kib.max(kib);
        out
    };
    let t = std::time::Instant::now();
    let verify = rampdeck(&["verify"]);
    println!("verify: {:?}", t.elapsed());
    let text = String::from_utf8_lossy(&verify.stdout);
    // The chain holds; no `rollout_ended` closes this journal: open (4).
    assert_eq!(verify.status.code(), Some(4), "{text}");
    assert!(text.contains("chain holds"), "{text}");
    let t = std::time::Instant::now();
    let summary = rampdeck(&["summary", "--format", "markdown"]);
    println!("summary: {:?}", t.elapsed());
    let md = String::from_utf8_lossy(&summary.stdout);
    assert!(summary.status.success(), "{md}");
    // The flood is one counted line, not 95,000 rows.
    assert!(md.len() < 200 << 10, "a {} byte summary", md.len());
    assert!(
        md.contains("| refused | bob |"),
        "{}",
        &md[..md.len().min(4000)]
    );
    assert!(md.contains("| rollback |"));
    // Peak memory of the two children (the larger of them).
    println!("peak RSS of verify and summary: {peak_kib} KiB for {size} bytes");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB for a {size} byte journal"
    );
}

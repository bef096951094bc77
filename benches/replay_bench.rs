//! Replay's first frame on a 6 h flight recording of 8 metrics at 1 s
//! (both cohorts, the driver's tick each second): read the gzipped file,
//! build the player, seek, build the snapshot the cockpit draws. Run:
//! `cargo bench --bench replay_bench` (figures in BENCHMARKS.md, "Replay").

use std::io::Write;
use std::time::Instant;

use rampdeck::recording::player::{Player, ReplayView};
use rampdeck::recording::{self, format};
use rampdeck::tui::fixtures_recording::long_recording;

fn main() {
    let hours: i64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(6);
    let t0 = Instant::now();
    let rec = long_recording(hours * 3600, 8);
    let made = t0.elapsed();
    let dir = std::env::temp_dir().join(format!("rampdeck-replay-bench-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        eprintln!("cannot create {}", dir.display());
        std::process::exit(1);
    }
    let path = dir.join("long.rec.jsonl.gz");
    let written = std::fs::File::create(&path).and_then(|f| {
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        format::write(&rec, &mut gz)?;
        gz.finish()?.flush()
    });
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "recording: {hours} h, {} entries, {:.1} MB gzipped (made in {:.1} s)",
        rec.entries.len(),
        bytes as f64 / 1e6,
        made.as_secs_f64()
    );
    drop(rec);
    for (what, at_end) in [
        ("first frame at the start", false),
        ("first frame at the end", true),
    ] {
        let t = Instant::now();
        let Ok(rec) = recording::open(&path) else {
            eprintln!("cannot read {}", path.display());
            std::process::exit(1);
        };
        let read = t.elapsed();
        let mut p = Player::new(rec);
        let (from, to) = p.span();
        p.seek(if at_end { to } else { from });
        let view = ReplayView {
            from,
            to,
            playing: false,
            speed: 1.0,
            decisions_seen: p.decisions().len(),
        };
        let snap = p.snapshot(1, "j.jsonl", None, view);
        let all = t.elapsed();
        std::hint::black_box(&snap);
        println!(
            "{what}: {:.2} s (reading and parsing {:.2} s, {} decisions replayed)",
            all.as_secs_f64(),
            read.as_secs_f64(),
            p.decisions().len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

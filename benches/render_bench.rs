//! One full render of the 200x50 cockpit with four metrics × 3,600-point
//! series (an hour at 1 s), timed over many iterations, two ways: into
//! ratatui's `Terminal` with a `TestBackend` (render and ratatui's buffer
//! diff), and through the cockpit's own one-buffer `Screen` and `Wire`
//! into `io::sink()` (render, the screen's diff and the encoding), as
//! `rampdeck run` draws. Run: `cargo bench --bench render_bench`.
//!
//! Prints mean, p50, p99 and max in microseconds; the target (issue 11)
//! is a mean of at most 300 µs in a release build.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use rampdeck::tui::fixtures::{Scenario, snapshot_with_points};
use rampdeck::tui::wire::{Screen, Wire};
use rampdeck::tui::{Keymap, Theme, UiState, render};

fn main() {
    let Ok(keymap) = Keymap::defaults() else {
        eprintln!("built-in keymap does not parse");
        std::process::exit(1);
    };
    let Ok(mut term) = Terminal::new(TestBackend::new(200, 50));
    let Ok(mut screen) = Screen::new(Wire::of_size(std::io::sink(), 200, 50)) else {
        eprintln!("could not set up the screen");
        std::process::exit(1);
    };
    let iterations: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(2_000);
    for (name, scenario, theme) in [
        ("progressing", Scenario::Progressing, Theme::default()),
        ("breach", Scenario::BreachCountdown, Theme::default()),
        (
            "breach --ascii mono",
            Scenario::BreachCountdown,
            Theme {
                mono: true,
                ascii: true,
            },
        ),
    ] {
        let snap = snapshot_with_points(scenario, 3_600);
        let points: usize = snap.series.iter().map(|s| s.canary.len()).sum();
        let ui = UiState::new(theme, keymap.clone(), "alice");
        // Warm up caches and the allocator.
        for _ in 0..50 {
            let _ = term.draw(|f| render(f.buffer_mut(), &snap, &ui));
        }
        // Terminal::draw also diffs the buffer, as a real frame does.
        let times = timed(iterations, || {
            let _ = black_box(term.draw(|f| render(f.buffer_mut(), &snap, &ui)));
        });
        report(&format!("{name} (Terminal)"), &snap, points, &times);
        for _ in 0..50 {
            let _ = screen.draw(|buf| render(buf, &snap, &ui));
        }
        let times = timed(iterations, || {
            let _ = black_box(screen.draw(|buf| render(buf, &snap, &ui)));
        });
        report(&format!("{name} (Screen)"), &snap, points, &times);
    }
}

fn timed(iterations: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        f();
        times.push(start.elapsed());
    }
    times.sort();
    times
}

fn report(name: &str, snap: &rampdeck::snapshot::Snapshot, points: usize, times: &[Duration]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().map(|d| us(*d)).sum::<f64>() / times.len().max(1) as f64;
    let pct = |p: f64| us(times[((times.len() as f64 * p) as usize).min(times.len() - 1)]);
    println!(
        "render 200x50 {name:<31} {} metrics x {} points: mean {mean:.0} µs  p50 {:.0} µs  \
         p99 {:.0} µs  max {:.0} µs  ({} iterations)",
        snap.series.len(),
        points / snap.series.len().max(1),
        pct(0.50),
        pct(0.99),
        us(times[times.len() - 1]),
        times.len(),
    );
}

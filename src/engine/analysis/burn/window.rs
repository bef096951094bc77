//! An error ratio over a window of time, with how much of the window it
//! covers: computed from the points rampdeck holds, or as a source computed
//! it (PromQL over `[1h]`), so the evaluation takes either.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::series::Series;
use crate::engine::types::Timestamp;

/// The error ratio over (the covered part of) one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowRatio {
    /// Errors ÷ requests, from 0 to 1.
    pub ratio: f64,
    /// Seconds of the window that data covers: the window's length when a
    /// source computed the ratio over all of it; less while the canary is
    /// younger than the window.
    pub covered: f64,
}

impl WindowRatio {
    /// The time-weighted mean of `series` over `(now - window, now]`.
    ///
    /// Time-weighted, not a plain mean of the points, because polls are not
    /// evenly spaced (a slow source, a gap): each valued point stands for
    /// the time since the point before it, as a ratio a source computed
    /// over its poll interval describes the time just before it. A point
    /// without a value (`None`, NaN, negative) covers nothing, so gaps
    /// lower the coverage instead of counting as healthy. A point above 1
    /// (`+Inf` included) counts as 1. The series' first point, which has
    /// nothing before it, stands for the gap to its successor (one poll
    /// interval). `None` when no point in the window has a value.
    pub fn over(series: &Series, now: Timestamp, window: Duration) -> Option<WindowRatio> {
        let ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        Self::between(series, Timestamp(now.0.saturating_sub(ms)), now)
    }

    /// [`WindowRatio::over`] for `(from, to]`: the integration bounds a
    /// window by the rollout's start (`from = max(now - window, start)`) and
    /// uses `(start, now]` for the budget consumed so far.
    pub fn between(series: &Series, from: Timestamp, to: Timestamp) -> Option<WindowRatio> {
        if to <= from {
            return None;
        }
        let mut acc = Acc::default();
        // Newest first: a point in (from, to] waits for the one before it.
        let mut pending: Option<(Timestamp, Option<f64>)> = None;
        // The gap from the pending point to the point after it.
        let mut gap_after: i64 = 0;
        for p in series.iter().rev() {
            if p.at > to {
                continue;
            }
            if let Some((at, value)) = pending {
                acc.add(value, at.0 - p.at.max(from).0);
                gap_after = at.0 - p.at.0;
            }
            if p.at <= from {
                pending = None;
                break;
            }
            pending = Some((p.at, p.value));
        }
        if let Some((at, value)) = pending {
            acc.add(value, gap_after.min(at.0 - from.0));
        }
        acc.finish()
    }

    /// This ratio made safe for a window of `window`: a NaN or negative
    /// ratio is no data, a ratio above 1 counts as 1, the coverage is
    /// between 0 and the window.
    pub fn sanitized(self, window: Duration) -> Option<WindowRatio> {
        if self.ratio.is_nan() || self.ratio < 0.0 {
            return None;
        }
        let covered = if self.covered.is_nan() {
            0.0
        } else {
            self.covered.clamp(0.0, window.as_secs_f64())
        };
        Some(WindowRatio {
            ratio: self.ratio.min(1.0),
            covered,
        })
    }
}

/// A time-weighted sum in progress.
#[derive(Default)]
struct Acc {
    weighted: f64,
    covered_ms: i64,
    /// The newest value seen, for a window whose points cover no time.
    newest: Option<f64>,
}

impl Acc {
    fn add(&mut self, value: Option<f64>, weight_ms: i64) {
        let Some(v) = value.filter(|v| *v >= 0.0) else {
            return;
        };
        let v = v.min(1.0);
        self.newest.get_or_insert(v);
        let w = weight_ms.max(0);
        self.weighted += v * w as f64;
        self.covered_ms = self.covered_ms.saturating_add(w);
    }

    fn finish(self) -> Option<WindowRatio> {
        let newest = self.newest?;
        if self.covered_ms == 0 {
            return Some(WindowRatio {
                ratio: newest,
                covered: 0.0,
            });
        }
        Some(WindowRatio {
            ratio: self.weighted / self.covered_ms as f64,
            covered: self.covered_ms as f64 / 1000.0,
        })
    }
}

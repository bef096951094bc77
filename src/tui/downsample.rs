//! Fit a long series into a chart's width before ratatui sees it: one
//! min/max pair per column bucket, so a 3,600-point hour costs the same to
//! draw as the chart has columns, and spikes (breaches) are never averaged
//! away.

use crate::engine::Timestamp;
use crate::engine::series::Point;

/// Seconds from `origin` to `t`, as a chart x value.
pub fn x_of(origin: Timestamp, t: Timestamp) -> f64 {
    (t.0 - origin.0) as f64 / 1000.0
}

/// (bucket index, (x, y) of its minimum, (x, y) of its maximum)
type Bucket = (usize, (f64, f64), (f64, f64));

/// Append to `out` at most two points per bucket (the bucket's minimum and
/// maximum, in time order) for the points in `[from, to]`, with values
/// multiplied by `scale`. Points without a value are skipped. `out` is
/// cleared first; reuse it across frames to avoid allocating.
pub fn min_max<'a>(
    points: impl Iterator<Item = &'a Point>,
    from: Timestamp,
    to: Timestamp,
    buckets: usize,
    scale: f64,
    out: &mut Vec<(f64, f64)>,
) {
    out.clear();
    let buckets = buckets.max(1);
    let span = (to.0 - from.0).max(1) as f64;
    let mut cur: Option<Bucket> = None;
    let flush = |c: Bucket, out: &mut Vec<(f64, f64)>| {
        let (_, lo, hi) = c;
        if lo == hi {
            out.push(lo);
        } else if lo.0 <= hi.0 {
            out.push(lo);
            out.push(hi);
        } else {
            out.push(hi);
            out.push(lo);
        }
    };
    for p in points {
        if p.at < from || p.at > to {
            continue;
        }
        let Some(v) = p.value else { continue };
        if v.is_nan() {
            continue;
        }
        let frac = (p.at.0 - from.0) as f64 / span;
        let b = ((frac * buckets as f64) as usize).min(buckets - 1);
        let pt = (x_of(from, p.at), v * scale);
        match &mut cur {
            Some((cb, lo, hi)) if *cb == b => {
                if pt.1 < lo.1 {
                    *lo = pt;
                }
                if pt.1 > hi.1 {
                    *hi = pt;
                }
            }
            _ => {
                if let Some(c) = cur.take() {
                    flush(c, out);
                }
                cur = Some((b, pt, pt));
            }
        }
    }
    if let Some(c) = cur {
        flush(c, out);
    }
}

/// The last `width` values of a series as sparkline bars (13..=100; 0 for a
/// poll without data), scaled between the window's min and max.
pub fn sparkline<'a>(
    points: impl DoubleEndedIterator<Item = &'a Point>,
    width: usize,
    out: &mut Vec<u64>,
) {
    out.clear();
    let mut vals: Vec<Option<f64>> = points.rev().take(width).map(|p| p.value).collect();
    vals.reverse();
    let (lo, hi) = vals
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    for v in vals {
        let bar = match v {
            None => 0,
            Some(v) if !v.is_finite() => 100,
            // The lowest value still shows as the lowest bar, not as a gap.
            Some(v) if hi > lo => 13 + ((v - lo) / (hi - lo) * 87.0).round() as u64,
            Some(_) => 50,
        };
        out.push(bar);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pts(vals: &[(i64, Option<f64>)]) -> Vec<Point> {
        vals.iter()
            .map(|(t, v)| Point {
                at: Timestamp(*t * 1000),
                value: *v,
            })
            .collect()
    }

    #[test]
    fn keeps_spikes_and_bounds_the_point_count() {
        let mut raw: Vec<(i64, Option<f64>)> = (0..3600).map(|i| (i, Some(1.0))).collect();
        raw[1234].1 = Some(9.0);
        raw[2000].1 = Some(-3.0);
        let p = pts(&raw);
        let mut out = Vec::new();
        min_max(
            p.iter(),
            Timestamp(0),
            Timestamp(3_599_000),
            100,
            1.0,
            &mut out,
        );
        assert!(out.len() <= 200, "{}", out.len());
        assert!(out.iter().any(|(x, y)| *y == 9.0 && *x == 1234.0));
        assert!(out.iter().any(|(_, y)| *y == -3.0));
        // Time order is kept.
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn short_series_pass_through_and_gaps_are_skipped() {
        let p = pts(&[(0, Some(1.0)), (1, None), (2, Some(3.0)), (10, Some(5.0))]);
        let mut out = Vec::new();
        min_max(
            p.iter(),
            Timestamp(0),
            Timestamp(9_000),
            50,
            100.0,
            &mut out,
        );
        // The point at t=10 is outside the window.
        assert_eq!(out, vec![(0.0, 100.0), (2.0, 300.0)]);
    }

    #[test]
    fn sparkline_takes_the_latest_values() {
        let p = pts(&[(0, Some(0.0)), (1, Some(1.0)), (2, None), (3, Some(2.0))]);
        let mut out = Vec::new();
        sparkline(p.iter(), 3, &mut out);
        assert_eq!(out, vec![13, 0, 100]);
    }
}

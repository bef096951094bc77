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

/// One bucket's extremes: (time, value) of its minimum and its maximum.
type Bucket = ((i64, f64), (i64, f64));

/// Append to `out` at most two points per bucket (the bucket's minimum and
/// maximum, in time order) for the points in `[from, to]`, with values
/// multiplied by `scale` and x in seconds since `from`. Points without a
/// value are skipped. `out` is cleared first; reuse it across frames to
/// avoid allocating.
pub fn min_max<'a>(
    points: impl Iterator<Item = &'a Point>,
    from: Timestamp,
    to: Timestamp,
    buckets: usize,
    scale: f64,
    out: &mut Vec<(f64, f64)>,
) {
    out.clear();
    let buckets = buckets.max(1) as i64;
    let span = (to.0 - from.0).max(1);
    let x = |t: i64| (t - from.0) as f64 / 1000.0;
    let flush = |(lo, hi): Bucket, out: &mut Vec<(f64, f64)>| {
        if lo.0 == hi.0 {
            out.push((x(lo.0), lo.1));
        } else if lo.0 < hi.0 {
            out.push((x(lo.0), lo.1));
            out.push((x(hi.0), hi.1));
        } else {
            out.push((x(hi.0), hi.1));
            out.push((x(lo.0), lo.1));
        }
    };
    // The hot loop only compares against the next bucket's start; the
    // division happens once per bucket, not once per point.
    let mut next_edge = i64::MIN;
    let mut cur: Option<Bucket> = None;
    for p in points {
        let t = p.at.0;
        if t < from.0 || t > to.0 {
            continue;
        }
        let Some(v) = p.value else { continue };
        if v.is_nan() {
            continue;
        }
        let v = v * scale;
        if t >= next_edge {
            if let Some(c) = cur.take() {
                flush(c, out);
            }
            let b = (i128::from(t - from.0) * i128::from(buckets) / i128::from(span)) as i64;
            let b = b.min(buckets - 1);
            next_edge = if b == buckets - 1 {
                i64::MAX
            } else {
                {
                    // First ms of bucket b+1: ceil((b+1) * span / buckets).
                    let n = i128::from(b + 1) * i128::from(span);
                    let d = i128::from(buckets);
                    from.0 + ((n + d - 1) / d) as i64
                }
            };
            cur = Some(((t, v), (t, v)));
            continue;
        }
        if let Some((lo, hi)) = &mut cur {
            if v < lo.1 {
                *lo = (t, v);
            }
            if v > hi.1 {
                *hi = (t, v);
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

    proptest::proptest! {
        #[test]
        fn never_more_than_two_per_bucket_and_keeps_extremes(
            vals in proptest::collection::vec(-1e6f64..1e6, 1..2000),
            buckets in 1usize..300,
        ) {
            let p: Vec<Point> = vals.iter().enumerate()
                .map(|(i, v)| Point { at: Timestamp(i as i64 * 1000), value: Some(*v) })
                .collect();
            let to = Timestamp((vals.len() as i64 - 1) * 1000);
            let mut out = Vec::new();
            min_max(p.iter(), Timestamp(0), to, buckets, 1.0, &mut out);
            proptest::prop_assert!(out.len() <= 2 * buckets);
            let max = vals.iter().cloned().fold(f64::MIN, f64::max);
            let min = vals.iter().cloned().fold(f64::MAX, f64::min);
            proptest::prop_assert!(out.iter().any(|(_, y)| *y == max));
            proptest::prop_assert!(out.iter().any(|(_, y)| *y == min));
            proptest::prop_assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        }
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

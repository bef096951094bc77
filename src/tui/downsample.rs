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

/// One bucket's extremes: (time in ms, value) of its minimum and maximum.
type Bucket = ((i64, f64), (i64, f64));

/// A series fitted to a chart's width, kept between frames: each frame
/// folds in only the points that arrived since the last one, so a second
/// of a six-hour chart reads a handful of points, not hours of them (the
/// points would not fit in the CPU's cache; reading them all was the
/// largest item of a frame).
///
/// The buckets are recomputed from scratch when the chart's shape changes
/// (its time span, width or scale) or the series no longer starts where it
/// did (retention dropped its oldest points).
#[derive(Debug, Clone, Default)]
pub struct Downsampler {
    shape: Option<(i64, i64, usize, u64)>,
    first: Option<i64>,
    /// Time of the newest point folded in.
    until: i64,
    buckets: Vec<Option<Bucket>>,
    out: Vec<(f64, f64)>,
}

impl Downsampler {
    /// At most two points per bucket (the bucket's minimum and maximum, in
    /// time order) for the points in `[from, to]`, with values multiplied
    /// by `scale` and x in seconds since `from`. Points without a value,
    /// and NaN, are skipped. `slices` is the series in time order (its
    /// chunks).
    pub fn update<'a>(
        &mut self,
        slices: impl Iterator<Item = &'a [Point]> + Clone,
        from: Timestamp,
        to: Timestamp,
        buckets: usize,
        scale: f64,
    ) -> &[(f64, f64)] {
        let buckets = buckets.max(1);
        let shape = (from.0, to.0, buckets, scale.to_bits());
        let first = slices.clone().find_map(|s| s.first()).map(|p| p.at.0);
        if self.shape != Some(shape) || self.first != first {
            self.shape = Some(shape);
            self.first = first;
            self.until = i64::MIN;
            self.buckets.clear();
            self.buckets.resize(buckets, None);
        }
        let span = (to.0 - from.0).max(1);
        let from_t = from.0.max(self.until.saturating_add(1));
        let mut newest = self.until;
        for slice in slices {
            // Whole chunks already folded in are skipped by their last point.
            if slice.last().is_none_or(|p| p.at.0 < from_t) {
                continue;
            }
            let start = slice.partition_point(|p| p.at.0 < from_t);
            let stop = slice.partition_point(|p| p.at.0 <= to.0);
            for p in &slice[start.min(stop)..stop] {
                newest = p.at.0;
                let Some(v) = p.value else { continue };
                if v.is_nan() {
                    continue;
                }
                let b = (i128::from(p.at.0 - from.0) * buckets as i128 / i128::from(span)) as usize;
                let slot = &mut self.buckets[b.min(buckets - 1)];
                match slot {
                    None => *slot = Some(((p.at.0, v), (p.at.0, v))),
                    Some((lo, hi)) => {
                        if v < lo.1 {
                            *lo = (p.at.0, v);
                        }
                        if v > hi.1 {
                            *hi = (p.at.0, v);
                        }
                    }
                }
            }
        }
        self.until = newest;
        let x = |t: i64| (t - from.0) as f64 / 1000.0;
        self.out.clear();
        for (lo, hi) in self.buckets.iter().flatten() {
            let (a, b) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
            self.out.push((x(a.0), a.1 * scale));
            if a.0 != b.0 {
                self.out.push((x(b.0), b.1 * scale));
            }
        }
        &self.out
    }
}

/// [`Downsampler::update`] once, into `out` (cleared first).
pub fn min_max<'a>(
    slices: impl Iterator<Item = &'a [Point]> + Clone,
    from: Timestamp,
    to: Timestamp,
    buckets: usize,
    scale: f64,
    out: &mut Vec<(f64, f64)>,
) {
    out.clear();
    out.extend_from_slice(Downsampler::default().update(slices, from, to, buckets, scale));
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
            std::iter::once(&p[..]),
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
            min_max(std::iter::once(&p[..]), Timestamp(0), to, buckets, 1.0, &mut out);
            proptest::prop_assert!(out.len() <= 2 * buckets);
            let max = vals.iter().cloned().fold(f64::MIN, f64::max);
            let min = vals.iter().cloned().fold(f64::MAX, f64::min);
            proptest::prop_assert!(out.iter().any(|(_, y)| *y == max));
            proptest::prop_assert!(out.iter().any(|(_, y)| *y == min));
            proptest::prop_assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        }

        #[test]
        fn folding_frame_by_frame_gives_what_one_pass_gives(
            vals in proptest::collection::vec(proptest::option::of(-1e3f64..1e3), 1..400),
            frames in proptest::collection::vec(1usize..40, 1..30),
            buckets in 1usize..80,
        ) {
            let p: Vec<Point> = vals.iter().enumerate()
                .map(|(i, v)| Point { at: Timestamp(i as i64 * 1000), value: *v })
                .collect();
            let to = Timestamp(vals.len() as i64 * 1000);
            let mut kept = Downsampler::default();
            let mut n = 0;
            for grow in frames {
                n = (n + grow).min(p.len());
                let shown = p[..n].chunks(7);
                let live = kept.update(shown.clone(), Timestamp(0), to, buckets, 1.0).to_vec();
                let mut once = Vec::new();
                min_max(shown, Timestamp(0), to, buckets, 1.0, &mut once);
                proptest::prop_assert_eq!(live, once);
            }
            // Retention drops the oldest points: the buckets start over.
            let live = kept.update(p[n / 2..n].chunks(7), Timestamp(0), to, buckets, 1.0).to_vec();
            let mut once = Vec::new();
            min_max(p[n / 2..n].chunks(7), Timestamp(0), to, buckets, 1.0, &mut once);
            proptest::prop_assert_eq!(live, once);
        }

        #[test]
        fn chunked_input_gives_the_same_points_as_one_slice(
            vals in proptest::collection::vec(proptest::option::of(-1e3f64..1e3), 1..500),
            cut in 1usize..64,
            buckets in 1usize..100,
            skip in 0i64..50,
        ) {
            let p: Vec<Point> = vals.iter().enumerate()
                .map(|(i, v)| Point { at: Timestamp(i as i64 * 700), value: *v })
                .collect();
            let (from, to) = (Timestamp(skip * 700), Timestamp(vals.len() as i64 * 500));
            let mut whole = Vec::new();
            min_max(std::iter::once(&p[..]), from, to, buckets, 2.0, &mut whole);
            let mut chunked = Vec::new();
            min_max(p.chunks(cut), from, to, buckets, 2.0, &mut chunked);
            proptest::prop_assert_eq!(whole, chunked);
        }
    }

    #[test]
    fn short_series_pass_through_and_gaps_are_skipped() {
        let p = pts(&[(0, Some(1.0)), (1, None), (2, Some(3.0)), (10, Some(5.0))]);
        let mut out = Vec::new();
        min_max(
            std::iter::once(&p[..]),
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

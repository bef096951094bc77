//! A series of any length brought down to a chart's worth of points,
//! streaming: time is cut into buckets that keep their lowest and highest
//! value (so a one-second spike in six hours still shows), and when there
//! are too many buckets their width doubles and neighbours merge. Memory
//! and points stay bounded by [`MAX_BUCKETS`] whatever the recording's
//! length, and no pass needs to know the end in advance.
//!
//! Gaps (a poll without a value, or no poll for longer than the source's
//! interval allows) break the line: a gap is drawn as a gap, never as a
//! zero or a straight line across it.

/// The most buckets a series keeps: at most two points each, so a chart
/// draws at most `2 * MAX_BUCKETS` points per series.
pub const MAX_BUCKETS: usize = 2000;

/// One bucket: its lowest and highest point (ms since the chart's start,
/// value), and whether the line breaks before or after it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    lo: (i64, f64),
    hi: (i64, f64),
    break_before: bool,
    break_after: bool,
}

impl Bucket {
    fn of(p: (i64, f64)) -> Bucket {
        Bucket {
            lo: p,
            hi: p,
            break_before: false,
            break_after: false,
        }
    }

    fn add(&mut self, p: (i64, f64)) {
        if p.1 < self.lo.1 {
            self.lo = p;
        }
        if p.1 > self.hi.1 {
            self.hi = p;
        }
    }

    /// `self` then `next`, as one bucket. A break between them falls
    /// inside it: it is kept as a break after the merged bucket (off by at
    /// most one bucket's width, well under a pixel at six hours).
    fn merge(self, next: Bucket) -> Bucket {
        let mut m = self;
        m.add(next.lo);
        m.add(next.hi);
        m.break_after = self.break_after || next.break_before || next.break_after;
        m
    }
}

/// A series being downsampled.
#[derive(Debug, Clone)]
pub struct Downsample {
    /// Bucket width in ms.
    width: i64,
    buckets: Vec<Option<Bucket>>,
    /// Longer than this between two readings is a gap.
    gap_ms: i64,
    /// The time of the last reading (value or not).
    last_t: Option<i64>,
    /// The bucket of the last value.
    last_value: Option<usize>,
    /// A reading without a value came after the last value.
    pending_break: bool,
    /// Values and readings without one, counted.
    pub values: u64,
    pub missing: u64,
}

impl Downsample {
    /// A series whose readings come every `interval_ms` or so: more than
    /// two and a half intervals without a reading is a gap.
    pub fn new(interval_ms: i64) -> Downsample {
        Downsample {
            width: 1000,
            buckets: Vec::new(),
            gap_ms: (interval_ms.max(1) * 5) / 2,
            last_t: None,
            last_value: None,
            pending_break: false,
            values: 0,
            missing: 0,
        }
    }

    /// Bucket index of `t` (ms since the start; earlier is the first).
    fn index(&mut self, t: i64) -> usize {
        let mut i = (t.max(0) / self.width) as usize;
        while i >= MAX_BUCKETS {
            self.coarsen();
            i = (t.max(0) / self.width) as usize;
        }
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, None);
        }
        i
    }

    /// Double the width: neighbours merge.
    fn coarsen(&mut self) {
        self.width *= 2;
        let old = std::mem::take(&mut self.buckets);
        self.buckets = old
            .chunks(2)
            .map(|pair| match pair {
                [Some(a), Some(b)] => Some(a.merge(*b)),
                [Some(a), None] | [Some(a)] => Some(*a),
                [None, Some(b)] => Some(*b),
                _ => None,
            })
            .collect();
        self.last_value = self.last_value.map(|i| i / 2);
    }

    fn gap_since_last(&self, t: i64) -> bool {
        self.last_t.is_some_and(|last| t - last > self.gap_ms)
    }

    /// A value at `t` (ms since the chart's start).
    pub fn value(&mut self, t: i64, v: f64) {
        if !v.is_finite() {
            // +Inf is a reading (it breaches) but has no place on an axis.
            self.missing(t);
            return;
        }
        let gap = self.pending_break || self.gap_since_last(t);
        let i = self.index(t);
        let last = self.last_value;
        match &mut self.buckets[i] {
            Some(b) => {
                b.add((t, v));
                if gap {
                    b.break_after = true;
                }
            }
            slot => {
                let mut b = Bucket::of((t, v));
                b.break_before = gap && last.is_some();
                *slot = Some(b);
            }
        }
        self.pending_break = false;
        self.last_t = Some(t);
        self.last_value = Some(i);
        self.values += 1;
    }

    /// A reading without a value (no data, a provider error) at `t`.
    pub fn missing(&mut self, t: i64) {
        self.pending_break = true;
        self.last_t = Some(t);
        self.missing += 1;
    }

    /// The series as line segments, each a run of points without a gap.
    pub fn segments(&self, scale: f64) -> Vec<Vec<(i64, f64)>> {
        let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
        let mut cur: Vec<(i64, f64)> = Vec::new();
        for b in self.buckets.iter().flatten() {
            if b.break_before && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            let (first, second) = if b.lo.0 <= b.hi.0 {
                (b.lo, b.hi)
            } else {
                (b.hi, b.lo)
            };
            cur.push((first.0, first.1 * scale));
            if second != first {
                cur.push((second.0, second.1 * scale));
            }
            if b.break_after {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(s: &[Vec<(i64, f64)>]) -> usize {
        s.iter().map(Vec::len).sum()
    }

    #[test]
    fn a_short_series_keeps_every_point_and_its_scale() {
        let mut d = Downsample::new(1000);
        for k in 0..10 {
            d.value(k * 1000, k as f64);
        }
        let s = d.segments(100.0);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].len(), 10);
        assert_eq!(s[0][3], (3000, 300.0));
    }

    #[test]
    fn six_hours_at_one_second_stay_under_the_bound_and_keep_a_spike() {
        let mut d = Downsample::new(1000);
        let n = 6 * 3600;
        for k in 0..n {
            let v = if k == 12_345 {
                99.0
            } else {
                1.0 + (k % 7) as f64 * 0.01
            };
            d.value(k * 1000, v);
        }
        let s = d.segments(1.0);
        assert_eq!(s.len(), 1, "no gap in a steady series");
        let count = points(&s);
        assert!(count <= 2 * MAX_BUCKETS, "{count} points");
        assert!(count > MAX_BUCKETS / 2, "{count} points: too coarse");
        assert!(s[0].iter().any(|p| p.1 == 99.0), "the spike was lost");
        assert!(s[0].windows(2).all(|w| w[0].0 <= w[1].0), "out of order");
        assert_eq!(d.values, n as u64);
    }

    #[test]
    fn readings_without_a_value_and_silences_are_gaps_not_zeros() {
        let mut d = Downsample::new(5000);
        for k in 0..5 {
            d.value(k * 5000, 1.0);
        }
        d.missing(25_000);
        d.missing(30_000);
        for k in 7..10 {
            d.value(k * 5000, 2.0);
        }
        // Silence: 60 s without a reading at a 5 s interval.
        for k in 22..25 {
            d.value(k * 5000, 3.0);
        }
        let s = d.segments(1.0);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s.iter().flatten().all(|p| p.1 != 0.0));
        assert_eq!(s[1][0], (35_000, 2.0));
        assert_eq!(d.missing, 2);
        // +Inf has no place on an axis: a gap too.
        d.value(125_000, f64::INFINITY);
        d.value(130_000, 3.0);
        assert_eq!(d.segments(1.0).len(), 4);
    }

    #[test]
    fn a_gap_survives_the_merging_of_buckets() {
        let mut d = Downsample::new(1000);
        for k in 0..20_000 {
            if k == 10_000 {
                d.missing(k * 1000);
            } else {
                d.value(k * 1000, 1.0);
            }
        }
        assert_eq!(d.segments(1.0).len(), 2);
    }
}

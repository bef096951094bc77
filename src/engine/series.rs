//! Bounded time series: a ring buffer per metric and cohort, so memory stays
//! bounded however long the cockpit stays open.
//!
//! Points are kept in sealed chunks of [`CHUNK`] points, shared (`Arc`) and
//! never changed once sealed, plus one small open tail. Cloning a series
//! costs one reference count per chunk and a copy of the tail, so a
//! snapshot shares every sealed chunk with the engine and with the
//! snapshots before it instead of copying hours of points each time a
//! sample arrives.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::types::Timestamp;

/// Points per sealed chunk: a snapshot copies at most this many points of
/// each series (its open tail); the rest is shared.
pub const CHUNK: usize = 256;

/// One point: time and value (raw units). `None` marks a poll without data,
/// so charts can show gaps instead of joining across them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub at: Timestamp,
    /// `+Inf` and `-Inf` travel as words (see [`super::types::number`]).
    #[serde(with = "super::types::number")]
    pub value: Option<f64>,
}

/// A ring buffer of points in time order; the oldest point is dropped when
/// `capacity` is reached.
///
/// Sealed chunks hold exactly [`CHUNK`] points each; the first `skip`
/// points of the oldest chunk have been dropped already (the chunk goes
/// once all of them are), so memory stays within `capacity + CHUNK` points.
#[derive(Clone)]
pub struct Series {
    capacity: usize,
    chunks: VecDeque<Arc<[Point]>>,
    /// Points of `chunks[0]` that were dropped (always 0 without chunks).
    skip: usize,
    /// The open chunk: fewer than [`CHUNK`] points, newest last.
    tail: Vec<Point>,
    len: usize,
}

impl Series {
    pub fn with_capacity(capacity: usize) -> Self {
        Series {
            capacity: capacity.max(2),
            chunks: VecDeque::new(),
            skip: 0,
            tail: Vec::new(),
            len: 0,
        }
    }

    /// Append a point. Points older than the newest are ignored, so a late
    /// result never rewrites history.
    pub fn push(&mut self, at: Timestamp, value: Option<f64>) {
        if let Some(last) = self.last()
            && at < last.at
        {
            return;
        }
        if self.len == self.capacity {
            self.drop_oldest();
        }
        if self.tail.capacity() == 0 {
            self.tail.reserve_exact(CHUNK.min(self.capacity));
        }
        self.tail.push(Point { at, value });
        self.len += 1;
        if self.tail.len() == CHUNK {
            let sealed: Arc<[Point]> = Arc::from(std::mem::take(&mut self.tail));
            self.chunks.push_back(sealed);
        }
    }

    fn drop_oldest(&mut self) {
        if self.chunks.is_empty() {
            // Only while the capacity is under a chunk: at most CHUNK points move.
            self.tail.remove(0);
        } else {
            self.skip += 1;
            if self.skip == CHUNK {
                self.chunks.pop_front();
                self.skip = 0;
            }
        }
        self.len -= 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn last(&self) -> Option<Point> {
        self.tail
            .last()
            .or_else(|| self.chunks.back().and_then(|c| c.last()))
            .copied()
    }
    /// The latest point that has a value.
    pub fn last_value(&self) -> Option<f64> {
        self.iter().rev().find_map(|p| p.value)
    }
    /// The points, oldest first.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }
    /// Points at or after `from`.
    pub fn since(&self, from: Timestamp) -> Iter<'_> {
        // Binary search over positions: the points are in time order.
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(p) if p.at < from => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.iter_from(lo)
    }
    /// The points as contiguous slices, oldest first (for loops that want
    /// to run over plain slices).
    pub fn slices(&self) -> impl DoubleEndedIterator<Item = &[Point]> + Clone {
        let skip = self.skip;
        self.chunks
            .iter()
            .enumerate()
            .map(move |(i, c)| if i == 0 { &c[skip..] } else { &c[..] })
            .chain(std::iter::once(self.tail.as_slice()))
            .filter(|s| !s.is_empty())
    }
    /// The sealed chunks this series holds (shared with its clones).
    pub fn sealed_chunks(&self) -> impl Iterator<Item = &Arc<[Point]>> {
        self.chunks.iter()
    }

    /// The point at position `i` (0 is the oldest).
    pub fn get(&self, i: usize) -> Option<&Point> {
        if i >= self.len {
            return None;
        }
        let abs = self.skip + i;
        let sealed = self.chunks.len() * CHUNK;
        if abs < sealed {
            self.chunks.get(abs / CHUNK).map(|c| &c[abs % CHUNK])
        } else {
            self.tail.get(abs - sealed)
        }
    }

    /// The points from position `start` on.
    fn iter_from(&self, start: usize) -> Iter<'_> {
        let start = start.min(self.len);
        let abs = self.skip + start;
        let sealed = self.chunks.len() * CHUNK;
        let empty: &[Point] = &[];
        if abs >= sealed {
            return Iter {
                front: self.tail[abs - sealed..].iter(),
                mid: self.chunks.range(0..0),
                back: empty.iter(),
                len: self.len - start,
            };
        }
        let k = abs / CHUNK;
        Iter {
            front: self.chunks[k][abs % CHUNK..].iter(),
            mid: self.chunks.range(k + 1..),
            back: self.tail.iter(),
            len: self.len - start,
        }
    }
}

/// The points of a [`Series`] in time order.
#[derive(Clone)]
pub struct Iter<'a> {
    front: std::slice::Iter<'a, Point>,
    mid: std::collections::vec_deque::Iter<'a, Arc<[Point]>>,
    back: std::slice::Iter<'a, Point>,
    len: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Point;

    fn next(&mut self) -> Option<&'a Point> {
        loop {
            if let Some(p) = self.front.next() {
                self.len -= 1;
                return Some(p);
            }
            match self.mid.next() {
                Some(c) => self.front = c.iter(),
                None => {
                    let p = self.back.next()?;
                    self.len -= 1;
                    return Some(p);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(p) = self.back.next_back() {
                self.len -= 1;
                return Some(p);
            }
            match self.mid.next_back() {
                Some(c) => self.back = c.iter(),
                None => {
                    let p = self.front.next_back()?;
                    self.len -= 1;
                    return Some(p);
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Same capacity and the same points. A value that is NaN equals NaN here:
/// a series is a record of what was read, and a chunk shared by two
/// series is equal to itself whatever it holds.
impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        if self.capacity != other.capacity || self.len != other.len {
            return false;
        }
        let same = |a: &[Point], b: &[Point]| {
            a.len() == b.len() && a.iter().zip(b).all(|(p, q)| same_point(p, q))
        };
        if self.skip == other.skip && self.chunks.len() == other.chunks.len() {
            // Aligned the same way (a clone and its original): shared chunks
            // compare by pointer, the rest point by point.
            let skip = self.skip;
            return self
                .chunks
                .iter()
                .zip(&other.chunks)
                .enumerate()
                .all(|(i, (a, b))| {
                    let from = if i == 0 { skip } else { 0 };
                    Arc::ptr_eq(a, b) || same(&a[from..], &b[from..])
                })
                && same(&self.tail, &other.tail);
        }
        self.iter().zip(other.iter()).all(|(p, q)| same_point(p, q))
    }
}

fn same_point(p: &Point, q: &Point) -> bool {
    p.at == q.at
        && match (p.value, q.value) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        }
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Series")
            .field("capacity", &self.capacity)
            .field("points", &DebugPoints(self))
            .finish()
    }
}

struct DebugPoints<'a>(&'a Series);

impl fmt::Debug for DebugPoints<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// On the wire a series is `{"capacity": N, "points": [...]}`, as it was
/// when it was one ring buffer: attached views of either kind read it.
#[derive(Serialize)]
struct WireOut<'a> {
    capacity: usize,
    points: PointsOut<'a>,
}

struct PointsOut<'a>(&'a Series);

impl Serialize for PointsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

#[derive(Deserialize)]
struct WireIn {
    capacity: usize,
    points: Vec<Point>,
}

impl Serialize for Series {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            capacity: self.capacity,
            points: PointsOut(self),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Series {
    /// Rebuilt point by point, so what was read keeps the series' rules:
    /// at most `capacity` points (the newest), in time order.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireIn::deserialize(d)?;
        let mut s = Series::with_capacity(wire.capacity);
        for p in wire.points {
            s.push(p.at, p.value);
        }
        Ok(s)
    }
}

/// The canary and baseline series of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    pub metric: String,
    pub canary: Series,
    pub baseline: Series,
}

impl MetricSeries {
    pub fn new(metric: &str, capacity: usize) -> Self {
        MetricSeries {
            metric: metric.to_string(),
            canary: Series::with_capacity(capacity),
            baseline: Series::with_capacity(capacity),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn filled(capacity: usize, n: i64) -> Series {
        let mut s = Series::with_capacity(capacity);
        for i in 0..n {
            s.push(Timestamp(i * 1000), Some(i as f64));
        }
        s
    }

    fn values(s: &Series) -> Vec<i64> {
        s.iter().map(|p| p.at.0 / 1000).collect()
    }

    #[test]
    fn drops_oldest_at_capacity_and_ignores_late_points() {
        let mut s = Series::with_capacity(3);
        for i in 0..5 {
            s.push(Timestamp(i * 1000), Some(i as f64));
        }
        let v: Vec<_> = s.iter().map(|p| p.value).collect();
        assert_eq!(v, vec![Some(2.0), Some(3.0), Some(4.0)]);
        s.push(Timestamp(1000), Some(99.0));
        assert_eq!(s.last_value(), Some(4.0));
        assert_eq!(s.since(Timestamp(3000)).count(), 2);
    }

    #[test]
    fn keeps_the_newest_capacity_points_across_chunk_boundaries() {
        let cap = 2 * CHUNK + 37;
        for n in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            cap - 1,
            cap,
            cap + 1,
            cap + CHUNK - 1,
            cap + CHUNK,
            5 * CHUNK + 3,
        ] {
            let s = filled(cap, n as i64);
            let want: Vec<i64> = (n.saturating_sub(cap) as i64..n as i64).collect();
            assert_eq!(s.len(), want.len(), "n = {n}");
            assert_eq!(values(&s), want, "n = {n}");
            // Backwards too, and the length is exact however it is read.
            let mut back: Vec<i64> = s.iter().rev().map(|p| p.at.0 / 1000).collect();
            back.reverse();
            assert_eq!(back, want, "n = {n}");
            assert_eq!(s.iter().len(), want.len());
            let flat: Vec<i64> = s.slices().flatten().map(|p| p.at.0 / 1000).collect();
            assert_eq!(flat, want, "n = {n}");
            assert_eq!(s.last().map(|p| p.at.0 / 1000), want.last().copied());
            for (i, w) in want.iter().enumerate() {
                assert_eq!(s.get(i).map(|p| p.at.0 / 1000), Some(*w));
            }
            // Memory stays within capacity + one chunk.
            let held: usize = s.sealed_chunks().map(|c| c.len()).sum::<usize>() + s.tail.len();
            assert!(held <= cap + CHUNK, "n = {n}: {held}");
        }
    }

    #[test]
    fn a_small_capacity_never_seals_a_chunk() {
        let s = filled(10, 1000);
        assert_eq!(values(&s), (990..1000).collect::<Vec<_>>());
        assert_eq!(s.sealed_chunks().count(), 0);
    }

    #[test]
    fn since_finds_the_first_point_at_or_after_in_any_chunk() {
        let s = filled(3 * CHUNK, 4 * CHUNK as i64 + 10);
        let first = (CHUNK + 10) as i64;
        for from in [
            0,
            first - 1,
            first,
            first + 1,
            500,
            700,
            1033,
            1034,
            1035,
            5000,
        ] {
            let got: Vec<i64> = s
                .since(Timestamp(from * 1000))
                .map(|p| p.at.0 / 1000)
                .collect();
            let want: Vec<i64> = values(&s).into_iter().filter(|t| *t >= from).collect();
            assert_eq!(got, want, "from {from}");
            assert_eq!(s.since(Timestamp(from * 1000)).len(), want.len());
        }
    }

    #[test]
    fn mixed_iteration_from_both_ends_meets_in_the_middle() {
        let s = filled(4 * CHUNK, 3 * CHUNK as i64 + 5);
        let mut it = s.iter();
        let mut seen = Vec::new();
        let mut flip = false;
        while let Some(p) = if flip { it.next_back() } else { it.next() } {
            seen.push(p.at.0 / 1000);
            assert_eq!(it.len(), s.len() - seen.len());
            flip = !flip;
        }
        seen.sort();
        assert_eq!(seen, values(&s));
    }

    #[test]
    fn a_clone_shares_every_sealed_chunk() {
        let mut engine = filled(6 * CHUNK, 4 * CHUNK as i64 + 7);
        let snapshot = engine.clone();
        assert_eq!(snapshot.sealed_chunks().count(), 4);
        for (a, b) in engine.sealed_chunks().zip(snapshot.sealed_chunks()) {
            assert!(Arc::ptr_eq(a, b), "a clone copied a sealed chunk");
        }
        // New points go to the engine's own tail; sealing it adds a chunk
        // the older snapshot does not see, and drops none it holds.
        for i in 0..CHUNK as i64 {
            engine.push(Timestamp((10_000 + i) * 1000), None);
        }
        let later = engine.clone();
        assert_eq!(snapshot.len(), 4 * CHUNK + 7);
        assert_eq!(later.sealed_chunks().count(), 5);
        for (a, b) in snapshot.sealed_chunks().zip(later.sealed_chunks()) {
            assert!(Arc::ptr_eq(a, b));
        }
        assert_eq!(snapshot, filled(6 * CHUNK, 4 * CHUNK as i64 + 7));
        assert_ne!(snapshot, later);
    }

    #[test]
    fn equality_is_by_content_whatever_the_chunking() {
        // The same points, one series having dropped some on the way.
        let a = filled(CHUNK + 5, 3 * CHUNK as i64);
        let mut b = Series::with_capacity(CHUNK + 5);
        for i in (2 * CHUNK - 5) as i64..(3 * CHUNK) as i64 {
            b.push(Timestamp(i * 1000), Some(i as f64));
        }
        assert_eq!(values(&a), values(&b));
        assert_eq!(a, b);
        b.push(Timestamp(10_000_000), None);
        assert_ne!(a, b);
        assert_ne!(filled(10, 3), filled(11, 3), "capacity counts");
        let mut n = Series::with_capacity(4);
        n.push(Timestamp(1), Some(f64::NAN));
        assert_eq!(n, n.clone());
    }

    #[test]
    fn the_wire_format_is_the_ring_buffers() {
        let mut s = Series::with_capacity(3);
        s.push(Timestamp(1), Some(0.5));
        s.push(Timestamp(2), None);
        s.push(Timestamp(3), Some(f64::INFINITY));
        s.push(Timestamp(4), Some(2.0));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"capacity":3,"points":[{"at":2,"value":null},{"at":3,"value":"+Inf"},{"at":4,"value":2.0}]}"#
        );
        let back: Series = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // Across chunks, both ways.
        let big = filled(3 * CHUNK, 5 * CHUNK as i64 + 1);
        let back: Series = serde_json::from_str(&serde_json::to_string(&big).unwrap()).unwrap();
        assert_eq!(back, big);
        // What a peer sends beyond the capacity keeps the newest points.
        let over: Series =
            serde_json::from_str(r#"{"capacity":2,"points":[{"at":1,"value":1.0},{"at":2,"value":2.0},{"at":3,"value":3.0}]}"#)
                .unwrap();
        assert_eq!(over.iter().map(|p| p.at.0).collect::<Vec<_>>(), vec![2, 3]);
    }
}

//! Bounded time series: a ring buffer per metric and cohort, so memory stays
//! bounded however long the cockpit stays open.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::types::Timestamp;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    capacity: usize,
    points: VecDeque<Point>,
}

impl Series {
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Series {
            capacity,
            points: VecDeque::with_capacity(capacity.min(4096)),
        }
    }

    /// Append a point. Points older than the newest are ignored, so a late
    /// result never rewrites history.
    pub fn push(&mut self, at: Timestamp, value: Option<f64>) {
        if let Some(last) = self.points.back()
            && at < last.at
        {
            return;
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(Point { at, value });
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn last(&self) -> Option<Point> {
        self.points.back().copied()
    }
    /// The latest point that has a value.
    pub fn last_value(&self) -> Option<f64> {
        self.points.iter().rev().find_map(|p| p.value)
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Point> + ExactSizeIterator {
        self.points.iter()
    }
    /// Points at or after `from`.
    pub fn since(&self, from: Timestamp) -> impl Iterator<Item = &Point> {
        let start = self.points.partition_point(|p| p.at < from);
        self.points.range(start..)
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
mod tests {
    use super::*;

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
}

//! ADWIN (Bifet & Gavaldà, 2007): an adaptive window kept as exponential histograms of
//! buckets (rows of buckets of size 1, 2, 4, …, at most `max_buckets + 1` per row before
//! two merge). Every `clock` values it tries each cut between buckets, oldest first, and
//! drops the oldest bucket while the two sides' means differ by more than the Hoeffding-
//! style bound ε_cut; a drop is a detection.

use std::collections::VecDeque;

use super::{Detector, Signal};

/// One row of buckets of equal size, oldest first: each bucket's total and variance sum.
#[derive(Debug, Clone, Default)]
struct Row {
    totals: VecDeque<f64>,
    variances: VecDeque<f64>,
}

/// ADWIN with river's defaults (δ = 0.002, clock 32, 5 buckets per row, sub-windows of at
/// least 5 values, no check before 10 values).
#[derive(Debug, Clone)]
pub struct Adwin {
    /// Confidence parameter δ.
    pub delta: f64,
    /// Check for change every this many values.
    pub clock: u64,
    /// Buckets per row before the two oldest merge.
    pub max_buckets: usize,
    /// Smallest sub-window on either side of a cut.
    pub min_window_length: f64,
    /// Values seen before any check.
    pub grace_period: f64,
    /// Rows from the newest (size 1) to the oldest.
    rows: Vec<Row>,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
}

impl Default for Adwin {
    fn default() -> Self {
        Adwin::new(0.002, 32, 5, 5.0, 10.0)
    }
}

impl Adwin {
    /// A detector with the given parameters.
    pub fn new(
        delta: f64,
        clock: u64,
        max_buckets: usize,
        min_window_length: f64,
        grace_period: f64,
    ) -> Self {
        Adwin {
            delta,
            clock,
            max_buckets,
            min_window_length,
            grace_period,
            rows: vec![Row::default()],
            total: 0.0,
            variance: 0.0,
            width: 0.0,
            tick: 0,
        }
    }

    /// Values in the current window.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// Mean of the current window.
    pub fn estimation(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.total / self.width
        }
    }

    fn bucket_size(row: usize) -> f64 {
        2f64.powi(row as i32)
    }

    fn insert(&mut self, value: f64) {
        self.rows[0].totals.push_back(value);
        self.rows[0].variances.push_back(0.0);
        self.width += 1.0;
        if self.width > 1.0 {
            let d = value - self.total / (self.width - 1.0);
            self.variance += (self.width - 1.0) * d * d / self.width;
        }
        self.total += value;
        self.compress();
    }

    fn compress(&mut self) {
        let mut idx = 0;
        while idx < self.rows.len() && self.rows[idx].totals.len() == self.max_buckets + 1 {
            if idx + 1 == self.rows.len() {
                self.rows.push(Row::default());
            }
            let n = Self::bucket_size(idx);
            let row = &mut self.rows[idx];
            let (t0, t1) = (row.totals[0], row.totals[1]);
            let (v0, v1) = (row.variances[0], row.variances[1]);
            let (mu0, mu1) = (t0 / n, t1 / n);
            let merged_variance = v0 + v1 + n * n * (mu0 - mu1) * (mu0 - mu1) / (n + n);
            row.totals.drain(..2);
            row.variances.drain(..2);
            let next = &mut self.rows[idx + 1];
            next.totals.push_back(t0 + t1);
            next.variances.push_back(merged_variance);
            if next.totals.len() <= self.max_buckets {
                break;
            }
            idx += 1;
        }
    }

    /// Drops the oldest bucket; returns its size.
    fn delete_oldest(&mut self) -> f64 {
        let last = self.rows.len() - 1;
        let n = Self::bucket_size(last);
        let row = &mut self.rows[last];
        let (u, v) = (row.totals[0], row.variances[0]);
        row.totals.pop_front();
        row.variances.pop_front();
        if row.totals.is_empty() {
            self.rows.pop();
        }
        self.width -= n;
        self.total -= u;
        let (mu, mu_window) = (u / n, self.total / self.width);
        self.variance -=
            v + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        n
    }

    fn cut_is_significant(&self, n0: f64, n1: f64, delta_mean: f64) -> bool {
        let delta_prime = (2.0 * self.width.ln() / self.delta).ln();
        let m_recip =
            1.0 / (n0 - self.min_window_length + 1.0) + 1.0 / (n1 - self.min_window_length + 1.0);
        let epsilon = (2.0 * m_recip * (self.variance / self.width) * delta_prime).sqrt()
            + 2.0 / 3.0 * delta_prime * m_recip;
        delta_mean.abs() > epsilon
    }

    fn detect(&mut self) -> bool {
        self.tick += 1;
        if !self.tick.is_multiple_of(self.clock) || self.width <= self.grace_period {
            return false;
        }
        let mut changed = false;
        let mut shrink = true;
        while shrink {
            shrink = false;
            let (mut n0, mut n1, mut u0, mut u1) = (0.0, self.width, 0.0, self.total);
            'cuts: for idx in (0..self.rows.len()).rev() {
                let size = Self::bucket_size(idx);
                let buckets = self.rows[idx].totals.len();
                for k in 0..buckets {
                    let u2 = self.rows[idx].totals[k];
                    n0 += size;
                    n1 -= size;
                    u0 += u2;
                    u1 -= u2;
                    if idx == 0 && k + 1 == buckets {
                        // The newest bucket leaves nothing on the other side.
                        break 'cuts;
                    }
                    let delta_mean = u0 / n0 - u1 / n1;
                    if n1 >= self.min_window_length
                        && n0 >= self.min_window_length
                        && self.cut_is_significant(n0, n1, delta_mean)
                    {
                        shrink = true;
                        changed = true;
                        if self.width > 0.0 {
                            self.delete_oldest();
                            break 'cuts;
                        }
                    }
                }
            }
        }
        changed
    }
}

impl Detector for Adwin {
    fn update(&mut self, x: f64) -> Signal {
        self.insert(x);
        if self.detect() {
            *self = Adwin::new(
                self.delta,
                self.clock,
                self.max_buckets,
                self.min_window_length,
                self.grace_period,
            );
            Signal::Drift
        } else {
            Signal::Stable
        }
    }

    fn name(&self) -> &'static str {
        "adwin"
    }
}

//! KSWIN (Raab et al., 2020): a sliding window of the last `window_size` values; the
//! newest `stat_size` are compared by a two-sample KS test with `stat_size` values drawn
//! from the older part; fires when p ≤ α and the statistic exceeds 0.1.

use std::collections::VecDeque;

use super::python_random::PythonRandom;
use super::{Detector, Signal};
use crate::sample::Numbers;
use crate::stattest::ks::ks_2samp;

/// KSWIN with river's defaults (α = 0.005, window 100, statistic window 30).
#[derive(Clone)]
pub struct Kswin {
    /// Significance level of the KS test.
    pub alpha: f64,
    /// Values kept.
    pub window_size: usize,
    /// Newest values tested (and older values drawn).
    pub stat_size: usize,
    seed: u64,
    window: VecDeque<f64>,
    rng: PythonRandom,
}

impl Kswin {
    /// KSWIN with river's defaults, drawing with Python's generator seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Kswin {
            alpha: 0.005,
            window_size: 100,
            stat_size: 30,
            seed,
            window: VecDeque::with_capacity(100),
            rng: PythonRandom::new(seed),
        }
    }
}

impl Detector for Kswin {
    fn update(&mut self, x: f64) -> Signal {
        if self.window.len() == self.window_size {
            self.window.pop_front();
        }
        self.window.push_back(x);
        if self.window.len() < self.window_size {
            return Signal::Stable;
        }
        let older = self.window_size - self.stat_size;
        let drawn: Vec<f64> = self
            .rng
            .sample(older, self.stat_size)
            .into_iter()
            .map(|i| self.window[i])
            .collect();
        let recent: Vec<f64> = self.window.iter().skip(older).copied().collect();
        let r = ks_2samp(&Numbers::from_values(drawn), &Numbers::from_values(recent));
        if r.p_value <= self.alpha && r.statistic > 0.1 {
            let (alpha, window, stat) = (self.alpha, self.window_size, self.stat_size);
            *self = Kswin::new(self.seed);
            (self.alpha, self.window_size, self.stat_size) = (alpha, window, stat);
            return Signal::Drift;
        }
        Signal::Stable
    }

    fn name(&self) -> &'static str {
        "kswin"
    }
}

//! Page–Hinkley: a CUSUM of deviations from the running mean, faded by `alpha`, in both
//! directions; fires when either cumulative sum moves `threshold` beyond its extreme.

use super::{Detector, RunningMean, Signal};

/// Page–Hinkley with river's defaults (30 values before any alarm, δ = 0.005, λ = 50,
/// α = 1 − 1e−4, both directions).
#[derive(Debug, Clone)]
pub struct PageHinkley {
    /// Values seen before an alarm may be raised.
    pub min_instances: f64,
    /// Magnitude of change tolerated.
    pub delta: f64,
    /// Alarm threshold λ.
    pub threshold: f64,
    /// Fading factor of the sums.
    pub alpha: f64,
    mean: RunningMean,
    sum_increase: f64,
    sum_decrease: f64,
    min_increase: f64,
    max_decrease: f64,
}

impl Default for PageHinkley {
    fn default() -> Self {
        PageHinkley::new(30.0, 0.005, 50.0, 1.0 - 0.0001)
    }
}

impl PageHinkley {
    /// A detector with the given parameters.
    pub fn new(min_instances: f64, delta: f64, threshold: f64, alpha: f64) -> Self {
        PageHinkley {
            min_instances,
            delta,
            threshold,
            alpha,
            mean: RunningMean::default(),
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: f64::INFINITY,
            // river starts the largest decrease at −1, not −∞.
            max_decrease: -1.0,
        }
    }

    fn reset(&mut self) {
        *self = PageHinkley::new(self.min_instances, self.delta, self.threshold, self.alpha);
    }
}

impl Detector for PageHinkley {
    fn update(&mut self, x: f64) -> Signal {
        self.mean.update(x);
        let deviation = x - self.mean.mean;
        self.sum_increase = self.alpha * self.sum_increase + deviation - self.delta;
        self.sum_decrease = self.alpha * self.sum_decrease + deviation + self.delta;
        self.min_increase = self.min_increase.min(self.sum_increase);
        self.max_decrease = self.max_decrease.max(self.sum_decrease);
        if self.mean.n >= self.min_instances
            && (self.sum_increase - self.min_increase > self.threshold
                || self.max_decrease - self.sum_decrease > self.threshold)
        {
            self.reset();
            return Signal::Drift;
        }
        Signal::Stable
    }

    fn name(&self) -> &'static str {
        "page-hinkley"
    }
}

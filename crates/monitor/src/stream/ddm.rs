//! DDM (Gama et al., 2004): the error rate p and its binomial spread s = √(p(1−p)/n);
//! warns when p + s exceeds the best p_min + 2·s_min and fires at p_min + 3·s_min.

use super::{Detector, RunningMean, Signal};

/// DDM with river's defaults (30 values of warm-up, warning at 2, drift at 3 spreads).
#[derive(Debug, Clone)]
pub struct Ddm {
    /// Values seen before p_min is tracked.
    pub warm_start: f64,
    /// Spreads above the best level that raise a warning.
    pub warning_threshold: f64,
    /// Spreads above the best level that signal drift.
    pub drift_threshold: f64,
    p: RunningMean,
    p_min: f64,
    s_min: f64,
    ps_min: f64,
}

impl Default for Ddm {
    fn default() -> Self {
        Ddm::new(30.0, 2.0, 3.0)
    }
}

impl Ddm {
    /// A detector with the given parameters.
    pub fn new(warm_start: f64, warning_threshold: f64, drift_threshold: f64) -> Self {
        Ddm {
            warm_start,
            warning_threshold,
            drift_threshold,
            p: RunningMean::default(),
            p_min: f64::NAN,
            s_min: f64::NAN,
            ps_min: f64::INFINITY,
        }
    }
}

impl Detector for Ddm {
    /// `x` is 1 for an error and 0 for a correct prediction.
    fn update(&mut self, x: f64) -> Signal {
        self.p.update(x);
        let (p, n) = (self.p.mean, self.p.n);
        let s = (p * (1.0 - p) / n).sqrt();
        if n <= self.warm_start {
            return Signal::Stable;
        }
        if p + s <= self.ps_min {
            self.p_min = p;
            self.s_min = s;
            self.ps_min = p + s;
        }
        if p + s > self.p_min + self.drift_threshold * self.s_min {
            *self = Ddm::new(
                self.warm_start,
                self.warning_threshold,
                self.drift_threshold,
            );
            return Signal::Drift;
        }
        if p + s > self.p_min + self.warning_threshold * self.s_min {
            Signal::Warning
        } else {
            Signal::Stable
        }
    }

    fn name(&self) -> &'static str {
        "ddm"
    }
}

//! Seeded percentile-bootstrap confidence intervals, so every headline number in a report
//! comes with its sampling uncertainty (Efron & Tibshirani 1993, §13.3).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// The 95% percentile-bootstrap interval of `statistic` over `n` rows: `resamples` draws of
/// `n` row indices with replacement (ChaCha8 seeded by `seed`), the statistic computed on
/// each, and the 2.5th and 97.5th percentiles of those values.
pub fn bootstrap_ci(
    n: usize,
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[usize]) -> f64,
) -> Interval {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            idx.iter_mut()
                .for_each(|i| *i = rng.random_range(0..n.max(1)));
            statistic(&idx)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        values
            .get(((values.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Interval {
        lo: at(0.025),
        hi: at(0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean of 1,000 fair coin flips (half ones) has standard error √(0.25/1000) ≈ 0.0158,
    /// so its 95% interval is about 0.5 ± 0.031.
    #[test]
    fn bootstrap_interval_of_a_mean_has_the_textbook_width() {
        let x: Vec<f64> = (0..1000).map(|i| f64::from(i % 2)).collect();
        let ci = bootstrap_ci(1000, 2000, 7, |idx| {
            idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64
        });
        assert!(
            (ci.lo - 0.469).abs() < 0.01 && (ci.hi - 0.531).abs() < 0.01,
            "{ci:?}"
        );
        assert_eq!(
            ci,
            bootstrap_ci(1000, 2000, 7, |idx| idx.iter().map(|&i| x[i]).sum::<f64>()
                / idx.len() as f64)
        );
    }
}

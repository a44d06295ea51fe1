//! The two-sample Kolmogorov–Smirnov test, two-sided, with scipy's `ks_2samp` choice of
//! method: the exact null distribution while both samples have at most 10,000 rows, the
//! asymptotic one beyond.
//!
//! The exact p-value is the probability that a uniformly random interleaving of the two
//! samples (a lattice path from (0, 0) to (n1, n2)) ever reaches the observed ECDF gap.
//! We walk that lattice once, carrying the probability mass that has stayed inside the
//! band and collecting the mass that leaves it, so small p-values keep their relative
//! precision instead of being `1 − (something close to 1)`.

use crate::sample::Numbers;

/// Largest sample size for which the exact null distribution is used (scipy's
/// `MAX_AUTO_N`).
const MAX_EXACT_N: u64 = 10_000;

/// The statistic and two-sided p-value of a KS test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// Largest gap between the two empirical CDFs.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// True when the exact null distribution was used.
    pub exact: bool,
}

/// The KS statistic and p-value of two samples (`n` of each must be positive).
pub fn ks_2samp(a: &Numbers, b: &Numbers) -> KsResult {
    let (n1, n2) = (a.n, b.n);
    let (mut max_plus, mut max_minus) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    a.merge_cumulative(b, |_, ca, cb| {
        let diff = ca / n1 as f64 - cb / n2 as f64;
        max_plus = max_plus.max(diff);
        max_minus = max_minus.max(-diff);
    });
    let d = max_plus.max(max_minus.clamp(0.0, 1.0));
    if n1.max(n2) <= MAX_EXACT_N
        && let Some(p) = exact_p(n1, n2, d)
    {
        return KsResult {
            statistic: d,
            p_value: p.clamp(0.0, 1.0),
            exact: true,
        };
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    KsResult {
        statistic: d,
        p_value: super::kolmogorov::kstwo_sf(d, en as u64).clamp(0.0, 1.0),
        exact: false,
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// P(D ≥ d) under the null by walking the lattice; `None` when the lattice is too big.
fn exact_p(n1: u64, n2: u64, d: f64) -> Option<f64> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    if h == 0 {
        return Some(1.0);
    }
    if n1.checked_mul(n2)? > 400_000_000 {
        return None;
    }
    let (step_x, step_y) = (n2 / g, n1 / g);
    let outside = |x: u64, y: u64| (x * step_x).abs_diff(y * step_y) >= h;
    // row[y]: probability of being at (x, y) having stayed inside the band.
    let mut row = vec![0.0f64; n2 as usize + 1];
    let mut left = 0.0f64;
    row[0] = 1.0;
    for x in 0..=n1 {
        for y in 0..=n2 {
            let mut mass = row[y as usize];
            if x > 0 || y > 0 {
                // Mass arriving from the left was placed by the previous row; add mass
                // arriving from below.
                if y > 0 {
                    let below = row[y as usize - 1];
                    let remaining = (n1 - x) + (n2 - y + 1);
                    mass += below * (n2 - y + 1) as f64 / remaining as f64;
                }
                if outside(x, y) {
                    left += mass;
                    mass = 0.0;
                }
            }
            row[y as usize] = mass;
        }
        // Move every cell one step right: the mass stepping along x.
        if x < n1 {
            for y in 0..=n2 {
                let remaining = (n1 - x) + (n2 - y);
                row[y as usize] *= (n1 - x) as f64 / remaining as f64;
            }
        }
    }
    Some(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(xs: &[f64]) -> Numbers {
        Numbers::from_values(xs.to_vec())
    }

    #[test]
    fn identical_samples_have_p_one() {
        let a = numbers(&[1.0, 2.0, 3.0, 4.0]);
        let r = ks_2samp(&a, &a);
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn separated_samples_match_the_closed_form() {
        // All of a below all of b: D = 1 and P = 2 / C(n1 + n2, n1).
        let a = numbers(&[1.0, 2.0, 3.0]);
        let b = numbers(&[10.0, 11.0, 12.0, 13.0]);
        let r = ks_2samp(&a, &b);
        assert_eq!(r.statistic, 1.0);
        assert!((r.p_value - 2.0 / 35.0).abs() < 1e-15, "{}", r.p_value);
    }
}

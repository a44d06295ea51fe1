//! Tests on category counts: Pearson's chi-square goodness of fit of the current counts
//! to the reference shares, and the pooled two-proportion Z-test for two-valued columns,
//! both as Evidently applies them.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use super::binning::binned;
use crate::sample::Distribution;

/// Chi-square statistic and p-value of the current counts against counts expected from
/// the reference shares (scipy's `chisquare(f_obs, f_exp)`).
pub fn chi_square(reference: &Distribution, current: &Distribution) -> (f64, f64) {
    let (r, c) = binned(reference, current, false);
    let n_cur = current.n() as f64;
    let mut stat = 0.0;
    for (share_ref, share_cur) in r.iter().zip(&c) {
        let expected = share_ref * n_cur;
        let observed = share_cur * n_cur;
        stat += (observed - expected).powi(2) / expected;
    }
    let dof = r.len().saturating_sub(1);
    if dof == 0 {
        return (0.0, 1.0);
    }
    if stat.is_nan() || stat.is_infinite() {
        return (f64::INFINITY, 0.0);
    }
    let p = ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(stat));
    (stat, p)
}

/// Z statistic and two-sided p-value for the share of rows not holding the first value
/// (`2 · (1 − Φ(|z|))`); 1 when both columns hold one and the same value.
pub fn z_test(reference: &Distribution, current: &Distribution) -> (f64, f64) {
    let (r, c) = binned(reference, current, false);
    if r.len() <= 1 {
        return (0.0, 1.0);
    }
    let (n1, n2) = (reference.n() as f64, current.n() as f64);
    // Shares of rows *not* at the first key, counted back to rows as Evidently sums them.
    let p1 = (n1 - r[0] * n1).round() / n1;
    let p2 = (n2 - c[0] * n2).round() / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let phi = Normal::standard().cdf(z.abs());
    (z, 2.0 * (1.0 - phi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Categories;

    fn cats(pairs: &[(&str, u64)]) -> Distribution {
        Distribution::Categorical(Categories::from_counts(pairs.iter().copied()))
    }

    #[test]
    fn identical_shares_do_not_drift() {
        let (stat, p) = chi_square(
            &cats(&[("a", 10), ("b", 20)]),
            &cats(&[("a", 20), ("b", 40)]),
        );
        assert!(stat.abs() < 1e-12);
        assert!((p - 1.0).abs() < 1e-12);
        let (z, p) = z_test(
            &cats(&[("a", 10), ("b", 20)]),
            &cats(&[("a", 20), ("b", 40)]),
        );
        assert!(z.abs() < 1e-12 && (p - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_new_level_is_infinite_evidence() {
        let (stat, p) = chi_square(&cats(&[("a", 10), ("b", 20)]), &cats(&[("c", 1), ("b", 4)]));
        assert!(stat.is_infinite());
        assert_eq!(p, 0.0);
    }
}

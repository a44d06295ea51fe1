//! The two statistical tools the slice finder needs: a one-sided Fisher exact test
//! and Benjamini–Hochberg adjusted p-values (false-discovery-rate control).

/// One-sided p-value that a group with `x1` successes in `n1` trials has a lower success
/// rate than one with `x2` in `n2`: Fisher's exact test, `P(X ≤ x1)` for the
/// hypergeometric count of successes in the first group given both margins (scipy's
/// `fisher_exact(..., alternative="less")`). Exact rather than a z-test because success
/// rates near 1 make the normal approximation's lower tail too light, which inflated false
/// slices in our null simulations. Returns 1 when a group is empty.
pub fn lower_rate_p_value(x1: usize, n1: usize, x2: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (n, k) = ((n1 + n2) as f64, (x1 + x2) as f64);
    let (n1, x1) = (n1 as f64, x1 as f64);
    let lowest = (n1 - (n - k)).max(0.0);
    let ln_p = ln_choose(k, x1) + ln_choose(n - k, n1 - x1) - ln_choose(n, n1);
    // Sum P(X = i) / P(X = x1) downwards with the ratio of consecutive terms.
    let (mut term, mut sum, mut i) = (1.0f64, 1.0f64, x1);
    while i > lowest {
        term *= i * (n - k - n1 + i) / ((k - i + 1.0) * (n1 - i + 1.0));
        sum += term;
        i -= 1.0;
        if term < sum * 1e-17 {
            break;
        }
    }
    (ln_p.exp() * sum).min(1.0)
}

fn ln_choose(a: f64, b: f64) -> f64 {
    libm::lgamma(a + 1.0) - libm::lgamma(b + 1.0) - libm::lgamma(a - b + 1.0)
}

/// Standardised difference of two success rates (rest minus group, in pooled standard
/// deviations, as SliceFinder's effect size). Rates are smoothed by half a count so a
/// group that is all right or all wrong still gives a finite value.
pub fn effect_size(x1: usize, n1: usize, x2: usize, n2: usize) -> f64 {
    let rate = |x: usize, n: usize| (x as f64 + 0.5) / (n as f64 + 1.0);
    let (p1, p2) = (rate(x1, n1), rate(x2, n2));
    let sd = ((p1 * (1.0 - p1) + p2 * (1.0 - p2)) / 2.0).sqrt();
    (p2 - p1) / sd
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input order: a hypothesis is a
/// discovery at false-discovery rate α when its q-value is ≤ α. Same numbers as
/// `statsmodels.stats.multitest.multipletests(method="fdr_bh")`.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// statsmodels: multipletests([0.01, 0.04, 0.03, 0.2], method="fdr_bh")[1]
    /// = [0.04, 0.05333333, 0.05333333, 0.2].
    #[test]
    fn bh_matches_statsmodels() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        let want = [0.04, 0.053_333_333_333, 0.053_333_333_333, 0.2];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{q:?}");
        }
    }

    /// scipy 1.x: `fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="less").pvalue`.
    #[test]
    fn fisher_matches_scipy() {
        let cases = [
            ((40, 100, 60, 100), 0.003_529_757_747_508_124),
            ((3, 10, 20, 25), 0.008_350_572_196_021_387),
            ((200, 250, 3300, 3750), 0.000_338_235_250_814_064_5),
            ((0, 30, 500, 600), 1.462_635_990_537_556_6e-22),
        ];
        for ((x1, n1, x2, n2), want) in cases {
            let p = lower_rate_p_value(x1, n1, x2, n2);
            assert!(
                (p / want - 1.0).abs() < 1e-9,
                "{x1}/{n1} vs {x2}/{n2}: {p} vs {want}"
            );
        }
        assert!(lower_rate_p_value(60, 100, 40, 100) > 0.99);
        assert_eq!(lower_rate_p_value(10, 10, 20, 20), 1.0);
    }

    #[test]
    fn effect_is_positive_when_the_group_is_worse() {
        assert!(effect_size(40, 100, 60, 100) > 0.3);
        assert!(effect_size(60, 100, 40, 100) < 0.0);
        assert!(effect_size(0, 50, 500, 500).is_finite());
    }
}

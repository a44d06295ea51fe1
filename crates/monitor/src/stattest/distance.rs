//! Distances between two distributions, thresholded rather than tested: Wasserstein-1
//! normalised by the reference's standard deviation, the Jensen–Shannon distance and the
//! population stability index.

use super::binning::binned;
use crate::sample::{Distribution, Numbers};

/// scipy's `wasserstein_distance`: the area between the two empirical CDFs.
pub fn wasserstein(a: &Numbers, b: &Numbers) -> f64 {
    let (na, nb) = (a.n as f64, b.n as f64);
    let mut area = 0.0;
    let mut previous: Option<(f64, f64)> = None;
    a.merge_cumulative(b, |x, ca, cb| {
        if let Some((x0, gap)) = previous {
            area += gap * (x - x0);
        }
        previous = Some((x, (ca / na - cb / nb).abs()));
    });
    area
}

/// Evidently's normed Wasserstein distance: W1 / max(std(reference), 0.001).
pub fn wasserstein_normed(reference: &Numbers, current: &Numbers) -> f64 {
    wasserstein(reference, current) / reference.std.max(0.001)
}

/// scipy's `jensenshannon` (natural log) over Evidently's shared buckets, unfilled.
pub fn jensen_shannon(reference: &Distribution, current: &Distribution) -> f64 {
    let (p, q) = binned(reference, current, false);
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    let rel_entr = |x: f64, y: f64| {
        if x > 0.0 && y > 0.0 {
            x * (x / y).ln()
        } else if x == 0.0 && y >= 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    };
    let mut js = 0.0;
    for (a, b) in p.iter().zip(&q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        js += rel_entr(a, m) + rel_entr(b, m);
    }
    (js / 2.0).sqrt()
}

/// Population stability index over Evidently's shared buckets, empty ones filled.
pub fn psi(reference: &Distribution, current: &Distribution) -> f64 {
    let (r, c) = binned(reference, current, true);
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_of_a_shift_is_the_shift() {
        let a = Numbers::from_values(vec![0.0, 1.0, 2.0, 3.0]);
        let b = Numbers::from_values(vec![0.5, 1.5, 2.5, 3.5]);
        assert!((wasserstein(&a, &b) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn disjoint_categories_are_at_the_largest_js_distance() {
        use crate::sample::Categories;
        let a = Distribution::Categorical(Categories::from_counts([("x", 3)]));
        let b = Distribution::Categorical(Categories::from_counts([("y", 5)]));
        assert!((jensen_shannon(&a, &b) - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
        assert!(psi(&a, &b) > 1.0);
    }
}

//! Evidently's binning of two samples into shared buckets (`get_binned_data`): Sturges
//! bins over both samples for a numeric column with more than 20 distinct reference
//! values, one bucket per value otherwise; optionally with empty buckets filled by a
//! small share so logarithms stay finite (PSI, KL).

use crate::sample::{Categories, Distribution, Numbers};

/// Numeric columns with more distinct reference values than this are binned by Sturges'
/// rule; others get one bucket per value.
const MAX_VALUES_AS_BUCKETS: usize = 20;

/// Shares of rows per shared bucket, reference first.
pub fn binned(
    reference: &Distribution,
    current: &Distribution,
    fill_zeroes: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (mut r, mut c) = match (reference, current) {
        (Distribution::Numeric(a), Distribution::Numeric(b)) => {
            if a.distinct() > MAX_VALUES_AS_BUCKETS {
                histogram_pair(a, b)
            } else {
                value_buckets(a, b)
            }
        }
        (Distribution::Categorical(a), Distribution::Categorical(b)) => level_buckets(a, b),
        _ => (Vec::new(), Vec::new()),
    };
    if fill_zeroes {
        fill(&mut r);
        fill(&mut c);
    }
    (r, c)
}

/// numpy's `histogram_bin_edges(bins="sturges")` over both samples.
pub fn sturges_edges(a: &Numbers, b: &Numbers) -> Vec<f64> {
    let (mut first, mut last) = (a.min.min(b.min), a.max.max(b.max));
    let size = (a.n + b.n) as f64;
    let ptp = last - first;
    let width = ptp / (size.log2() + 1.0);
    let bins = if width != 0.0 {
        (ptp / width).ceil() as usize
    } else {
        1
    };
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// Row counts per bin of `edges` (numpy's `histogram`: half-open bins, the last closed).
pub fn histogram(x: &Numbers, edges: &[f64]) -> Vec<f64> {
    let bins = edges.len() - 1;
    let mut counts = vec![0.0; bins];
    // Values ascend, so the bin index only moves forward: one sweep, no search.
    let mut i = 0;
    for (&v, &c) in x.values.iter().zip(&x.counts) {
        if v < edges[0] || v > edges[bins] {
            continue;
        }
        while i + 1 < edges.len() && edges[i + 1] <= v {
            i += 1;
        }
        counts[i.min(bins - 1)] += c;
    }
    counts
}

fn histogram_pair(a: &Numbers, b: &Numbers) -> (Vec<f64>, Vec<f64>) {
    let edges = sturges_edges(a, b);
    let share = |x: &Numbers| -> Vec<f64> {
        histogram(x, &edges)
            .into_iter()
            .map(|c| c / x.n as f64)
            .collect()
    };
    (share(a), share(b))
}

fn value_buckets(a: &Numbers, b: &Numbers) -> (Vec<f64>, Vec<f64>) {
    let mut keys: Vec<f64> = Vec::with_capacity(a.values.len().max(b.values.len()));
    a.merge_cumulative(b, |x, _, _| keys.push(x));
    let share = |x: &Numbers| -> Vec<f64> {
        keys.iter()
            .map(|k| {
                x.values
                    .binary_search_by(|v| v.total_cmp(k))
                    .map_or(0.0, |i| x.counts[i])
                    / x.n as f64
            })
            .collect()
    };
    (share(a), share(b))
}

fn level_buckets(a: &Categories, b: &Categories) -> (Vec<f64>, Vec<f64>) {
    let mut keys: Vec<&str> = a
        .levels
        .iter()
        .chain(&b.levels)
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let share = |x: &Categories| -> Vec<f64> {
        keys.iter()
            .map(|k| x.count(k) as f64 / x.n as f64)
            .collect()
    };
    (share(a), share(b))
}

/// Empty buckets get a millionth of the smallest non-empty share when that is at most
/// 1e-4, and 1e-4 otherwise.
fn fill(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return;
    }
    let value = if smallest <= 1e-4 {
        smallest / 1e6
    } else {
        1e-4
    };
    shares
        .iter_mut()
        .filter(|s| **s == 0.0)
        .for_each(|s| *s = value);
}

/// Buckets for drawing two distributions side by side: labels and the shares of each
/// side. Numbers get the same Sturges bins the tests use; categories the union of levels,
/// the 20 most frequent in the reference first and the rest pooled as "(other)".
pub fn plot_buckets(
    reference: &Distribution,
    current: &Distribution,
) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    match (reference, current) {
        (Distribution::Numeric(a), Distribution::Numeric(b)) => {
            let edges = sturges_edges(a, b);
            let share = |x: &Numbers| -> Vec<f64> {
                histogram(x, &edges)
                    .into_iter()
                    .map(|c| c / x.n.max(1) as f64)
                    .collect()
            };
            let labels = edges
                .windows(2)
                .map(|w| format!("{:.4}–{:.4}", w[0], w[1]))
                .collect();
            (labels, share(a), share(b))
        }
        (Distribution::Categorical(a), Distribution::Categorical(b)) => {
            let mut levels: Vec<&str> = a.levels.iter().map(String::as_str).collect();
            for l in &b.levels {
                if !levels.contains(&l.as_str()) {
                    levels.push(l);
                }
            }
            let shown = levels.len().min(MAX_VALUES_AS_BUCKETS);
            let share = |x: &Categories| -> Vec<f64> {
                let n = x.n.max(1) as f64;
                let mut out: Vec<f64> = levels[..shown]
                    .iter()
                    .map(|l| x.count(l) as f64 / n)
                    .collect();
                if levels.len() > shown {
                    out.push(
                        levels[shown..]
                            .iter()
                            .map(|l| x.count(l) as f64)
                            .sum::<f64>()
                            / n,
                    );
                }
                out
            };
            let mut labels: Vec<String> =
                levels[..shown].iter().map(|l| (*l).to_string()).collect();
            if levels.len() > shown {
                labels.push("(other)".into());
            }
            (labels, share(a), share(b))
        }
        _ => (Vec::new(), Vec::new(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturges_matches_numpy_on_a_small_case() {
        // numpy.histogram_bin_edges([0..9] + [5..14], "sturges") has 6 bins over [0, 14].
        let a = Numbers::from_values((0..10).map(f64::from).collect());
        let b = Numbers::from_values((5..15).map(f64::from).collect());
        let edges = sturges_edges(&a, &b);
        assert_eq!(edges.len(), 7);
        assert_eq!((edges[0], edges[6]), (0.0, 14.0));
        let h = histogram(&b, &edges);
        assert_eq!(h.iter().sum::<f64>(), 10.0);
        // The right edge is inside the last bin.
        assert_eq!(h[5], 3.0);
    }

    #[test]
    fn empty_buckets_are_filled_relative_to_the_smallest_share() {
        let mut s = vec![0.5, 0.0, 0.5];
        fill(&mut s);
        assert_eq!(s[1], 1e-4);
        let mut t = vec![0.99999, 0.0, 0.00001];
        fill(&mut t);
        assert!((t[1] - 1e-11).abs() < 1e-24);
    }
}

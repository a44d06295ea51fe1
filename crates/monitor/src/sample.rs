//! A column's distribution as the drift tests see it: numbers as sorted distinct values
//! with counts, categories as a frequency table.
//!
//! Both sides of a comparison use the same shapes, whether they come from a raw file or
//! from a stored reference profile. A profile keeps a numeric column exactly while it has
//! at most [`MAX_EXACT_VALUES`] distinct values and as an equal-mass quantile sketch of
//! [`SKETCH_POINTS`] points otherwise, so the tests never need the training rows again.

use serde::{Deserialize, Serialize};

/// Numeric columns with at most this many distinct values are stored exactly.
pub const MAX_EXACT_VALUES: usize = 1000;

/// Points in the quantile sketch of a column with more distinct values.
pub const SKETCH_POINTS: usize = 1000;

/// The non-missing numbers of a column: distinct values ascending with their counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    /// Distinct values, ascending.
    pub values: Vec<f64>,
    /// Rows each value stands for: whole numbers when exact, `n / SKETCH_POINTS` each in
    /// a sketch.
    pub counts: Vec<f64>,
    /// Non-missing rows.
    pub n: u64,
    /// Smallest value (kept exactly even in a sketch, for shared bin edges).
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean of all rows.
    pub mean: f64,
    /// Population standard deviation (ddof = 0) of all rows.
    pub std: f64,
    /// True when `values`/`counts` are the full distribution, false for a sketch.
    pub exact: bool,
}

impl Numbers {
    /// Summarises finite numbers; non-finite ones must have been removed by the caller.
    pub fn from_values(mut xs: Vec<f64>) -> Numbers {
        // Radix sort on the bit patterns, linear in the rows: 3–6× a comparison sort on the
        // 200k-row columns of drift checks (voracious beat radsort by a tenth of a check).
        voracious_radix_sort::RadixSort::voracious_sort(&mut xs[..]);
        let n = xs.len();
        let (min, max) = (xs.first().copied(), xs.last().copied());
        let mean = if n == 0 {
            0.0
        } else {
            xs.iter().sum::<f64>() / n as f64
        };
        let var = if n == 0 {
            0.0
        } else {
            xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64
        };
        // Distinct values are compacted into `xs` itself, and the counts get their exact
        // size: no vector grows by doubling, which was a fifth of profiling a column.
        let distinct = usize::from(n > 0) + xs.windows(2).filter(|w| w[0] != w[1]).count();
        let mut counts: Vec<f64> = Vec::with_capacity(distinct);
        let mut kept = 0;
        for i in 0..n {
            if kept > 0 && xs[kept - 1] == xs[i] {
                if let Some(c) = counts.last_mut() {
                    *c += 1.0;
                }
            } else {
                xs[kept] = xs[i];
                kept += 1;
                counts.push(1.0);
            }
        }
        xs.truncate(kept);
        Numbers {
            values: xs,
            counts,
            n: n as u64,
            min: min.unwrap_or(0.0),
            max: max.unwrap_or(0.0),
            mean,
            std: var.sqrt(),
            exact: true,
        }
    }

    /// The same distribution reduced to an equal-mass sketch of [`SKETCH_POINTS`] points
    /// when it has more than [`MAX_EXACT_VALUES`] distinct values: point `i` is the value
    /// at cumulative share `(i + 0.5) / SKETCH_POINTS`, standing for `n / SKETCH_POINTS`
    /// rows. Moments, minimum and maximum stay exact.
    pub fn sketched(self) -> Numbers {
        if self.values.len() <= MAX_EXACT_VALUES || self.n == 0 {
            return self;
        }
        let weight = self.n as f64 / SKETCH_POINTS as f64;
        let mut values: Vec<f64> = Vec::with_capacity(SKETCH_POINTS);
        let mut counts: Vec<f64> = Vec::with_capacity(SKETCH_POINTS);
        let (mut at, mut below) = (0usize, 0.0f64);
        for i in 0..SKETCH_POINTS {
            // Rank (0-based) of the row at this share, then the value holding that rank.
            let rank = ((i as f64 + 0.5) * weight).floor();
            while at + 1 < self.values.len() && below + self.counts[at] <= rank {
                below += self.counts[at];
                at += 1;
            }
            let x = self.values[at];
            if values.last() == Some(&x) {
                if let Some(c) = counts.last_mut() {
                    *c += weight;
                }
            } else {
                values.push(x);
                counts.push(weight);
            }
        }
        Numbers {
            values,
            counts,
            exact: false,
            ..self
        }
    }

    /// Number of distinct values (a lower bound for a sketch).
    pub fn distinct(&self) -> usize {
        self.values.len()
    }

    /// Distinct values of `self` and `other` together, counted up to `cap`.
    pub(crate) fn distinct_union(&self, other: &Numbers, cap: usize) -> usize {
        let mut n = 0;
        self.merge_while(other, |_, _, _| {
            n += 1;
            n < cap
        });
        n
    }

    /// Walks the distinct values of `self` and `other` together in ascending order (each
    /// once, a value both hold once), calling `f(x, rows of self ≤ x, rows of other ≤ x)`.
    /// Both hold their values sorted, so this is a linear merge: the two-sample statistics
    /// (KS, Wasserstein) need no sort of the pooled sample.
    pub(crate) fn merge_cumulative(&self, other: &Numbers, mut f: impl FnMut(f64, f64, f64)) {
        self.merge_while(other, |x, ca, cb| {
            f(x, ca, cb);
            true
        });
    }

    /// [`Numbers::merge_cumulative`] that stops once `f` returns false.
    fn merge_while(&self, other: &Numbers, mut f: impl FnMut(f64, f64, f64) -> bool) {
        let (a, b) = (&self.values, &other.values);
        let (mut i, mut j) = (0, 0);
        let (mut ca, mut cb) = (0.0, 0.0);
        loop {
            let x = match (a.get(i), b.get(j)) {
                (Some(&u), Some(&v)) => u.min(v),
                (Some(&u), None) => u,
                (None, Some(&v)) => v,
                (None, None) => return,
            };
            while i < a.len() && a[i] <= x {
                ca += self.counts[i];
                i += 1;
            }
            while j < b.len() && b[j] <= x {
                cb += other.counts[j];
                j += 1;
            }
            if !f(x, ca, cb) {
                return;
            }
        }
    }
}

/// The non-missing cells of a categorical column: levels with their counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Categories {
    /// Levels, in descending count order (ties by name).
    pub levels: Vec<String>,
    /// Rows per level.
    pub counts: Vec<u64>,
    /// Non-missing rows.
    pub n: u64,
}

impl Categories {
    /// Counts levels from `(level, count)` pairs; levels may repeat.
    pub fn from_counts<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> Categories {
        let mut map: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for (level, count) in pairs {
            *map.entry(level).or_default() += count;
        }
        let mut sorted: Vec<(&str, u64)> = map.into_iter().filter(|(_, c)| *c > 0).collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Categories {
            n: sorted.iter().map(|(_, c)| c).sum(),
            levels: sorted.iter().map(|(l, _)| (*l).to_string()).collect(),
            counts: sorted.iter().map(|(_, c)| *c).collect(),
        }
    }

    /// The count of one level (0 when unseen).
    pub fn count(&self, level: &str) -> u64 {
        self.levels
            .iter()
            .position(|l| l == level)
            .map_or(0, |i| self.counts[i])
    }
}

/// One column's distribution: what a drift test compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Distribution {
    /// A numeric column.
    Numeric(Numbers),
    /// A categorical column.
    Categorical(Categories),
}

impl Distribution {
    /// The feature kind this distribution belongs to.
    pub fn kind(&self) -> distillery_data::Kind {
        match self {
            Distribution::Numeric(_) => distillery_data::Kind::Numeric,
            Distribution::Categorical(_) => distillery_data::Kind::Categorical,
        }
    }

    /// Non-missing rows.
    pub fn n(&self) -> u64 {
        match self {
            Distribution::Numeric(x) => x.n,
            Distribution::Categorical(c) => c.n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_keep_every_value_and_moments() {
        let n = Numbers::from_values(vec![3.0, 1.0, 3.0, 2.0]);
        assert_eq!(n.values, vec![1.0, 2.0, 3.0]);
        assert_eq!(n.counts, vec![1.0, 1.0, 2.0]);
        assert!(n.exact);
        assert!((n.mean - 2.25).abs() < 1e-15);
        assert!((n.std - (0.6875f64).sqrt()).abs() < 1e-15);
        let probe = Numbers::from_values(vec![0.5, 2.0, 9.0]);
        let mut seen = Vec::new();
        n.merge_cumulative(&probe, |x, below, probes| seen.push((x, below, probes)));
        assert_eq!(
            seen,
            [
                (0.5, 0.0, 1.0),
                (1.0, 1.0, 1.0),
                (2.0, 2.0, 2.0),
                (3.0, 4.0, 2.0),
                (9.0, 4.0, 3.0)
            ]
        );
    }

    #[test]
    fn many_distinct_values_become_an_equal_mass_sketch() {
        let xs: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 10.0).collect();
        let n = Numbers::from_values(xs).sketched();
        assert!(!n.exact);
        assert_eq!(n.values.len(), SKETCH_POINTS);
        assert!((n.counts.iter().sum::<f64>() - 10_000.0).abs() < 1e-6);
        assert_eq!((n.min, n.max), (0.0, 999.9));
        // The sketch's median sits at the data's median.
        let mut half = 0.0;
        n.merge_cumulative(&Numbers::from_values(vec![500.0]), |x, below, _| {
            if x == 500.0 {
                half = below;
            }
        });
        assert!((half - 5_000.0).abs() <= 10.0 + 1e-9, "{half}");
    }

    #[test]
    fn categories_merge_repeats_and_sort_by_count() {
        let c = Categories::from_counts([("b", 2), ("a", 5), ("b", 4), ("z", 0)]);
        assert_eq!(c.levels, vec!["b", "a"]);
        assert_eq!(c.counts, vec![6, 5]);
        assert_eq!(c.n, 11);
        assert_eq!(c.count("z"), 0);
    }
}

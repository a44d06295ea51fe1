//! Drift of the joint distribution, which per-column tests miss (a correlation that
//! flips, a combination that becomes common): the maximum mean discrepancy with a Gaussian
//! kernel and a permutation test, and a domain classifier whose out-of-fold AUC says how
//! well reference and current rows can be told apart.
//!
//! Both work on rows encoded the same way for both sides: numbers standardised by the
//! reference's mean and standard deviation (missing → 0), categories one-hot over the
//! reference's 20 most frequent levels. Each side is subsampled (seeded) to at most
//! [`MAX_ROWS`] rows.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use distillery_data::{Kind, Table, format_number};

use crate::profile::Profile;
use crate::sample::Distribution;

/// Rows per side used by the multivariate tests.
pub const MAX_ROWS: usize = 1000;

/// Levels per categorical column that get their own one-hot input.
const MAX_LEVELS: usize = 20;

/// Permutations of the MMD test (alibi-detect's default).
pub const PERMUTATIONS: usize = 100;

/// Folds of the domain classifier's cross-validation.
const FOLDS: usize = 5;

/// Raw rows kept for the multivariate tests: one vector per feature, in profile order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowSample {
    /// Cells per feature: numbers (`None` = missing) or category text.
    pub columns: Vec<SampleColumn>,
}

/// One feature's cells in a [`RowSample`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "cells", rename_all = "lowercase")]
pub enum SampleColumn {
    /// Numbers.
    Numeric(Vec<Option<f64>>),
    /// Category text.
    Categorical(Vec<Option<String>>),
}

impl RowSample {
    /// The features' cells of every row of `table` (categories as text, numbers as numbers).
    ///
    /// # Errors
    /// A feature is not in the table.
    pub fn from_table(
        table: &Table,
        features: &[(String, Kind)],
    ) -> Result<RowSample, crate::MonitorError> {
        let columns = features
            .iter()
            .map(|(name, kind)| {
                let c = table
                    .column(name)
                    .map_err(|e| crate::MonitorError::Invalid(e.to_string()))?;
                let rows = 0..c.len();
                Ok(if *kind == Kind::Numeric {
                    SampleColumn::Numeric(
                        rows.map(|r| c.number(r).filter(|x| x.is_finite()))
                            .collect(),
                    )
                } else {
                    SampleColumn::Categorical(
                        rows.map(|r| {
                            c.text(r)
                                .map(str::to_string)
                                .or_else(|| c.number(r).map(format_number))
                        })
                        .collect(),
                    )
                })
            })
            .collect::<Result<_, crate::MonitorError>>()?;
        Ok(RowSample { columns })
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| match c {
            SampleColumn::Numeric(v) => v.len(),
            SampleColumn::Categorical(v) => v.len(),
        })
    }

    /// A seeded subsample of at most `max` rows (all rows, in order, when there are fewer).
    pub fn subsample(&self, max: usize, seed: u64) -> RowSample {
        let n = self.rows();
        if n <= max {
            return self.clone();
        }
        let mut rows: Vec<usize> = (0..n).collect();
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        rows.truncate(max);
        rows.sort_unstable();
        RowSample {
            columns: self
                .columns
                .iter()
                .map(|c| match c {
                    SampleColumn::Numeric(v) => {
                        SampleColumn::Numeric(rows.iter().map(|&r| v[r]).collect())
                    }
                    SampleColumn::Categorical(v) => {
                        SampleColumn::Categorical(rows.iter().map(|&r| v[r].clone()).collect())
                    }
                })
                .collect(),
        }
    }
}

/// The multivariate verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultivariateDrift {
    /// Reference rows used.
    pub reference_rows: usize,
    /// Current rows used.
    pub current_rows: usize,
    /// Encoded inputs per row.
    pub dimensions: usize,
    /// Unbiased MMD² estimate.
    pub mmd2: f64,
    /// Kernel bandwidth (median pairwise distance of the pooled rows).
    pub bandwidth: f64,
    /// Permutation p-value, (1 + #permuted ≥ observed) / (1 + permutations).
    pub mmd_p_value: f64,
    /// Out-of-fold AUC of a logistic regression telling current rows from reference rows.
    pub classifier_auc: f64,
    /// One-sided p-value of that AUC exceeding 0.5 (Mann–Whitney normal approximation).
    pub classifier_p_value: f64,
    /// Family-wise significance level: each test is held to half of it (Bonferroni).
    pub threshold: f64,
    /// True when either test rejects at `threshold / 2`.
    pub drifted: bool,
}

/// Encodes rows by the reference profile's statistics.
fn encode(sample: &RowSample, reference: &Profile) -> (Vec<Vec<f64>>, usize) {
    let n = sample.rows();
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); n];
    for (column, profile) in sample.columns.iter().zip(&reference.columns) {
        match (column, &profile.distribution) {
            (SampleColumn::Numeric(cells), Distribution::Numeric(x)) => {
                let sd = if x.std > 0.0 { x.std } else { 1.0 };
                for (row, cell) in rows.iter_mut().zip(cells) {
                    row.push(cell.map_or(0.0, |v| (v - x.mean) / sd));
                }
            }
            (SampleColumn::Categorical(cells), Distribution::Categorical(c)) => {
                let levels = &c.levels[..c.levels.len().min(MAX_LEVELS)];
                for (row, cell) in rows.iter_mut().zip(cells) {
                    for level in levels {
                        row.push(f64::from(u8::from(cell.as_deref() == Some(level.as_str()))));
                    }
                }
            }
            _ => {}
        }
    }
    let d = rows.first().map_or(0, Vec::len);
    (rows, d)
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Runs both tests on samples of the reference and the current data.
pub fn compare(
    reference: &RowSample,
    current: &RowSample,
    profile: &Profile,
    threshold: f64,
    seed: u64,
) -> MultivariateDrift {
    let (x, d) = encode(&reference.subsample(MAX_ROWS, seed), profile);
    let (y, _) = encode(&current.subsample(MAX_ROWS, seed ^ 0x9e37_79b9), profile);
    let (m, n) = (x.len(), y.len());
    let pooled: Vec<&Vec<f64>> = x.iter().chain(&y).collect();
    let total = m + n;
    // Pairwise squared distances, then the median heuristic.
    let mut d2 = vec![0.0f64; total * total];
    let mut upper = Vec::with_capacity(total * (total - 1) / 2);
    for i in 0..total {
        for j in (i + 1)..total {
            let v = squared_distance(pooled[i], pooled[j]);
            d2[i * total + j] = v;
            d2[j * total + i] = v;
            upper.push(v);
        }
    }
    let mid = upper.len() / 2;
    let median = if upper.is_empty() {
        1.0
    } else {
        *upper.select_nth_unstable_by(mid, f64::total_cmp).1
    };
    let bandwidth = median.sqrt().max(1e-12);
    let kernel: Vec<f64> = d2
        .iter()
        .map(|v| (-v / (2.0 * bandwidth * bandwidth)).exp())
        .collect();
    let labels: Vec<bool> = (0..total).map(|i| i >= m).collect();
    let mmd2 = mmd2_unbiased(&kernel, total, &labels, m, n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut shuffled = labels;
    let mut at_least = 0usize;
    for _ in 0..PERMUTATIONS {
        shuffled.shuffle(&mut rng);
        if mmd2_unbiased(&kernel, total, &shuffled, m, n) >= mmd2 {
            at_least += 1;
        }
    }
    let mmd_p_value = (1 + at_least) as f64 / (1 + PERMUTATIONS) as f64;
    let features = RandomFourier::new(d, bandwidth, seed);
    let (fx, fy): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (
        x.iter().map(|r| features.map(r)).collect(),
        y.iter().map(|r| features.map(r)).collect(),
    );
    let (classifier_auc, classifier_p_value) = domain_classifier(&fx, &fy, seed);
    MultivariateDrift {
        reference_rows: m,
        current_rows: n,
        dimensions: d,
        mmd2,
        bandwidth,
        mmd_p_value,
        classifier_auc,
        classifier_p_value,
        threshold,
        // Bonferroni over the two tests keeps the false-alarm rate at `threshold`.
        drifted: mmd_p_value.min(classifier_p_value) < threshold / 2.0,
    }
}

/// Unbiased MMD² between the rows labelled false (m of them) and true (n).
fn mmd2_unbiased(kernel: &[f64], total: usize, labels: &[bool], m: usize, n: usize) -> f64 {
    let (mut kxx, mut kyy, mut kxy) = (0.0, 0.0, 0.0);
    for i in 0..total {
        let row = &kernel[i * total..(i + 1) * total];
        for (j, &k) in row.iter().enumerate().skip(i + 1) {
            match (labels[i], labels[j]) {
                (false, false) => kxx += k,
                (true, true) => kyy += k,
                _ => kxy += k,
            }
        }
    }
    let (m, n) = (m as f64, n as f64);
    2.0 * kxx / (m * (m - 1.0)) + 2.0 * kyy / (n * (n - 1.0)) - 2.0 * kxy / (m * n)
}

/// Random Fourier features of the Gaussian kernel the MMD uses (Rahimi & Recht), so the
/// domain classifier can separate rows that differ only in how columns combine.
struct RandomFourier {
    weights: Vec<Vec<f64>>,
    offsets: Vec<f64>,
}

/// Random features per row.
const FOURIER_FEATURES: usize = 100;

impl RandomFourier {
    fn new(d: usize, bandwidth: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(2));
        let mut normal = || {
            // Box–Muller.
            let (u, v): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let weights = (0..FOURIER_FEATURES)
            .map(|_| (0..d).map(|_| normal() / bandwidth).collect())
            .collect();
        let offsets = (0..FOURIER_FEATURES)
            .map(|_| rng.random::<f64>() * 2.0 * std::f64::consts::PI)
            .collect();
        RandomFourier { weights, offsets }
    }

    fn map(&self, x: &[f64]) -> Vec<f64> {
        let scale = (2.0 / FOURIER_FEATURES as f64).sqrt();
        self.weights
            .iter()
            .zip(&self.offsets)
            .map(|(w, b)| scale * (w.iter().zip(x).map(|(a, c)| a * c).sum::<f64>() + b).cos())
            .collect()
    }
}

/// Out-of-fold AUC of an L2 logistic regression separating current (1) from reference (0)
/// rows, and its one-sided Mann–Whitney p-value.
fn domain_classifier(x: &[Vec<f64>], y: &[Vec<f64>], seed: u64) -> (f64, f64) {
    let rows: Vec<(&Vec<f64>, f64)> = x
        .iter()
        .map(|r| (r, 0.0))
        .chain(y.iter().map(|r| (r, 1.0)))
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
    order.shuffle(&mut rng);
    let mut score = vec![0.0; rows.len()];
    for fold in 0..FOLDS {
        let train: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(k, _)| k % FOLDS != fold)
            .map(|(_, &i)| i)
            .collect();
        let w = fit_logistic(&rows, &train);
        for (k, &i) in order.iter().enumerate() {
            if k % FOLDS == fold {
                score[i] = w[0]
                    + rows[i]
                        .0
                        .iter()
                        .zip(&w[1..])
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
            }
        }
    }
    let truth: Vec<u8> = rows.iter().map(|r| u8::from(r.1 > 0.5)).collect();
    let auc = crate::cbpe::auroc(&score, &truth);
    let (n1, n0) = (y.len() as f64, x.len() as f64);
    // Under no difference AUC is centred on 1/2 with variance (n0 + n1 + 1) / (12 n0 n1).
    let z = (auc - 0.5) / ((n0 + n1 + 1.0) / (12.0 * n0 * n1)).sqrt();
    let p = Normal::standard().sf(z);
    (auc, p)
}

/// Full-batch gradient descent on the L2-penalised log loss; weights with the bias first.
fn fit_logistic(rows: &[(&Vec<f64>, f64)], train: &[usize]) -> Vec<f64> {
    let d = rows.first().map_or(0, |r| r.0.len());
    let mut w = vec![0.0f64; d + 1];
    let (rate, l2) = (0.5, 1e-3);
    let n = train.len() as f64;
    for _ in 0..200 {
        let mut grad = vec![0.0f64; d + 1];
        for &i in train {
            let (x, t) = rows[i];
            let z = w[0] + x.iter().zip(&w[1..]).map(|(a, b)| a * b).sum::<f64>();
            let err = 1.0 / (1.0 + (-z).exp()) - t;
            grad[0] += err;
            for (g, a) in grad[1..].iter_mut().zip(x) {
                *g += err * a;
            }
        }
        w[0] -= rate * grad[0] / n;
        for k in 1..=d {
            w[k] -= rate * (grad[k] / n + l2 * w[k]);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_data::Column;
    use std::path::PathBuf;

    /// Two correlated columns; `flip` reverses the correlation but keeps each column's
    /// distribution, so only a multivariate test can see it.
    fn sample(rows: usize, flip: bool, seed: u64) -> (Table, RowSample) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rows {
            let x: f64 = rng.random::<f64>() * 2.0 - 1.0;
            let noise: f64 = (rng.random::<f64>() - 0.5) * 0.2;
            a.push(x);
            b.push(if flip { -x + noise } else { x + noise });
        }
        let sample = RowSample {
            columns: vec![
                SampleColumn::Numeric(a.iter().map(|&v| Some(v)).collect()),
                SampleColumn::Numeric(b.iter().map(|&v| Some(v)).collect()),
            ],
        };
        let table = Table::from_columns(
            PathBuf::from("t.csv"),
            vec!["a".into(), "b".into()],
            vec![Column::Numeric(a), Column::Numeric(b)],
        )
        .expect("table");
        (table, sample)
    }

    #[test]
    fn a_flipped_correlation_is_found_by_both_tests_and_not_by_chance() {
        let features = [
            ("a".to_string(), Kind::Numeric),
            ("b".to_string(), Kind::Numeric),
        ];
        let (table, reference) = sample(400, false, 1);
        let profile = Profile::from_table(&table, &features).expect("profile");
        let (_, same) = sample(400, false, 2);
        let (_, flipped) = sample(400, true, 3);
        let calm = compare(&reference, &same, &profile, 0.05, 7);
        assert!(!calm.drifted, "{calm:?}");
        assert!(calm.classifier_auc < 0.6);
        let moved = compare(&reference, &flipped, &profile, 0.05, 7);
        assert!(moved.drifted, "{moved:?}");
        assert!(
            moved.mmd_p_value < 0.05 && moved.classifier_p_value < 0.05,
            "{moved:?}"
        );
    }

    #[test]
    fn false_alarms_stay_near_the_level_on_data_without_drift() {
        let features = [
            ("a".to_string(), Kind::Numeric),
            ("b".to_string(), Kind::Numeric),
        ];
        let mut alarms = 0;
        for seed in 0..40u64 {
            let (table, reference) = sample(150, false, 1000 + seed);
            let profile = Profile::from_table(&table, &features).expect("profile");
            let (_, same) = sample(150, false, 2000 + seed);
            alarms += usize::from(compare(&reference, &same, &profile, 0.05, seed).drifted);
        }
        // At a 5% family-wise level about 2 of 40 fire; 6 or more would happen by chance
        // with probability under 2%.
        assert!(alarms <= 5, "{alarms} false alarms in 40 null datasets");
    }
}

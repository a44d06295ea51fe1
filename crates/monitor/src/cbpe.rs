//! Confidence-based performance estimation (CBPE, as NannyML defines it): accuracy and F1
//! estimated per chunk of unlabelled traffic from the student's own calibrated
//! probabilities, with a sampling-error band and alert thresholds learnt on labelled
//! reference data.
//!
//! It assumes the probabilities stay calibrated, i.e. no concept drift (P(y | x) fixed);
//! that is what teacher-fidelity monitoring covers where CBPE cannot.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::MonitorError;

/// Multiples of the sampling error in the confidence band, and of the reference chunks'
/// standard deviation in the alert thresholds (NannyML's 3).
pub(crate) const BAND: f64 = 3.0;

/// Isotonic regression (pool adjacent violators) with scikit-learn's semantics: tied
/// inputs are averaged first, predictions interpolate linearly and clip at the ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Isotonic {
    /// Fits a non-decreasing map from scores `x` to outcomes `y`.
    pub fn fit(x: &[f64], y: &[f64]) -> Isotonic {
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        // Unique x with mean y and weight.
        let (mut ux, mut uy, mut uw): (Vec<f64>, Vec<f64>, Vec<f64>) =
            (Vec::new(), Vec::new(), Vec::new());
        for &i in &order {
            if ux.last() == Some(&x[i]) {
                let k = ux.len() - 1;
                uy[k] += y[i];
                uw[k] += 1.0;
            } else {
                ux.push(x[i]);
                uy.push(y[i]);
                uw.push(1.0);
            }
        }
        for (s, w) in uy.iter_mut().zip(&uw) {
            *s /= w;
        }
        // Pool adjacent violators over blocks (value, weight, length).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(ux.len());
        for (&v, &w) in uy.iter().zip(&uw) {
            blocks.push((v, w, 1));
            while blocks.len() > 1 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
                let (v2, w2, l2) = blocks.pop().unwrap_or_default();
                if let Some(b) = blocks.last_mut() {
                    let w = b.1 + w2;
                    *b = ((b.0 * b.1 + v2 * w2) / w, w, b.2 + l2);
                }
            }
        }
        let y: Vec<f64> = blocks
            .iter()
            .flat_map(|&(v, _, l)| std::iter::repeat_n(v, l))
            .collect();
        Isotonic { x: ux, y }
    }

    /// The calibrated value of one score.
    pub fn predict(&self, v: f64) -> f64 {
        let n = self.x.len();
        if n == 0 {
            return v;
        }
        if v <= self.x[0] {
            return self.y[0];
        }
        if v >= self.x[n - 1] {
            return self.y[n - 1];
        }
        let i = self.x.partition_point(|&a| a <= v);
        let (x0, x1, y0, y1) = (self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]);
        y0 + (y1 - y0) * (v - x0) / (x1 - x0)
    }
}

/// Labelled reference predictions of a binary student: probability of the positive class,
/// predicted class and true class (0 or 1).
#[derive(Debug, Clone)]
pub struct BinaryReference<'a> {
    /// P(class 1) per row.
    pub probability: &'a [f64],
    /// Predicted class per row.
    pub predicted: &'a [u8],
    /// True class per row.
    pub truth: &'a [u8],
}

/// One chunk's estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkEstimate {
    /// First row of the chunk.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// Estimated accuracy.
    pub accuracy: f64,
    /// Its sampling error (reference std of correctness / √rows).
    pub accuracy_sampling_error: f64,
    /// Estimate ± 3 sampling errors, clipped to [0, 1].
    pub accuracy_band: (f64, f64),
    /// Estimated F1 of class 1.
    pub f1: f64,
    /// Its sampling error.
    pub f1_sampling_error: f64,
    /// Estimate ± 3 sampling errors, clipped to [0, 1].
    pub f1_band: (f64, f64),
    /// True when an estimate leaves its alert thresholds.
    pub alert: bool,
    /// Realized accuracy and F1, when labels were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized: Option<(f64, f64)>,
}

/// A fitted estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cbpe {
    /// Rows per chunk.
    pub chunk_size: usize,
    /// The calibrator, when calibration was found to help on the reference.
    pub calibrator: Option<Isotonic>,
    /// Std of per-row correctness on the reference.
    accuracy_std: f64,
    /// Std and share of the rows that count for F1 (TP, FP, FN) on the reference.
    f1_components: (f64, f64),
    /// Alert thresholds (low, high) for accuracy, from reference chunks' realized values.
    pub accuracy_thresholds: (f64, f64),
    /// Alert thresholds for F1.
    pub f1_thresholds: (f64, f64),
}

impl Cbpe {
    /// Fits on labelled reference rows (which must not be the student's training rows).
    ///
    /// # Errors
    /// Fewer rows than two chunks, or columns of different lengths.
    pub fn fit(
        reference: &BinaryReference<'_>,
        chunk_size: usize,
        seed: u64,
    ) -> Result<Cbpe, MonitorError> {
        if reference.probability.len() != reference.predicted.len() {
            return Err(MonitorError::Invalid(
                "reference columns have different lengths".into(),
            ));
        }
        let baseline = Baseline::fit(reference.predicted, reference.truth, chunk_size, realized)?;
        let truth: Vec<f64> = reference.truth.iter().map(|&t| f64::from(t)).collect();
        let calibrator = needs_calibration(reference.probability, reference.truth, seed)
            .then(|| Isotonic::fit(reference.probability, &truth));
        Ok(Cbpe {
            chunk_size,
            calibrator,
            accuracy_std: baseline.accuracy_std,
            f1_components: f1_components(reference.predicted, reference.truth),
            accuracy_thresholds: baseline.accuracy_thresholds,
            f1_thresholds: baseline.f1_thresholds,
        })
    }

    /// Estimates each chunk of `probability` / `predicted` (a last partial chunk is kept);
    /// `truth`, when given, adds the realized values for comparison.
    pub fn estimate(
        &self,
        probability: &[f64],
        predicted: &[u8],
        truth: Option<&[u8]>,
    ) -> Vec<ChunkEstimate> {
        chunks(probability.len(), self.chunk_size)
            .into_iter()
            .map(|(start, end)| self.estimate_chunk(start, end, probability, predicted, truth))
            .collect()
    }

    fn estimate_chunk(
        &self,
        start: usize,
        end: usize,
        probability: &[f64],
        predicted: &[u8],
        truth: Option<&[u8]>,
    ) -> ChunkEstimate {
        let rows = (end - start) as f64;
        let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
        for (&p, &y) in probability[start..end].iter().zip(&predicted[start..end]) {
            let p = self.calibrator.as_ref().map_or(p, |c| c.predict(p));
            if y == 1 {
                tp += p;
                fp += 1.0 - p;
            } else {
                fn_ += p;
                tn += 1.0 - p;
            }
        }
        let accuracy = (tp + tn) / rows;
        let denominator = tp + 0.5 * (fp + fn_);
        let f1 = if denominator != 0.0 {
            tp / denominator
        } else {
            0.0
        };
        let f1_sampling_error = self.f1_components.0 / (rows * self.f1_components.1).sqrt();
        ChunkEstimate::judge(
            (start, end),
            (accuracy, self.accuracy_std / rows.sqrt()),
            (f1, f1_sampling_error),
            (self.accuracy_thresholds, self.f1_thresholds),
            truth.map(|t| realized(&predicted[start..end], &t[start..end])),
        )
    }
}

impl ChunkEstimate {
    /// A chunk's estimate with its bands (± 3 sampling errors, clipped to [0, 1]) and its
    /// verdict against the (accuracy, F1) alert thresholds; each estimate comes with its
    /// sampling error.
    pub(crate) fn judge(
        (start, end): (usize, usize),
        (accuracy, accuracy_sampling_error): (f64, f64),
        (f1, f1_sampling_error): (f64, f64),
        (accuracy_thresholds, f1_thresholds): ((f64, f64), (f64, f64)),
        realized: Option<(f64, f64)>,
    ) -> ChunkEstimate {
        let band = |v: f64, e: f64| ((v - BAND * e).max(0.0), (v + BAND * e).min(1.0));
        let outside = |v: f64, (lo, hi): (f64, f64)| v < lo || v > hi;
        ChunkEstimate {
            start,
            end,
            accuracy,
            accuracy_sampling_error,
            accuracy_band: band(accuracy, accuracy_sampling_error),
            f1,
            f1_sampling_error,
            f1_band: band(f1, f1_sampling_error),
            alert: outside(accuracy, accuracy_thresholds) || outside(f1, f1_thresholds),
            realized,
        }
    }
}

/// What either estimator learns from the labelled reference besides calibration: the
/// spread of per-row correctness, and alert thresholds from the realized accuracy and F1
/// of the reference's own chunks.
pub(crate) struct Baseline {
    pub(crate) accuracy_std: f64,
    pub(crate) accuracy_thresholds: (f64, f64),
    pub(crate) f1_thresholds: (f64, f64),
}

impl Baseline {
    /// Checks the reference (equal lengths, at least two chunks) and measures it, with
    /// `realized` giving a chunk's accuracy and F1.
    pub(crate) fn fit<T: PartialEq>(
        predicted: &[T],
        truth: &[T],
        chunk_size: usize,
        realized: impl Fn(&[T], &[T]) -> (f64, f64),
    ) -> Result<Baseline, MonitorError> {
        let n = predicted.len();
        if truth.len() != n {
            return Err(MonitorError::Invalid(
                "reference columns have different lengths".into(),
            ));
        }
        if chunk_size == 0 {
            return Err(MonitorError::Invalid(
                "the chunk size must be at least 1 row".into(),
            ));
        }
        if n < 2 * chunk_size {
            return Err(MonitorError::Invalid(format!(
                "CBPE needs at least two reference chunks: {n} rows for chunks of {chunk_size}"
            )));
        }
        let correct: Vec<f64> = predicted
            .iter()
            .zip(truth)
            .map(|(p, t)| f64::from(u8::from(p == t)))
            .collect();
        let (accuracies, f1s): (Vec<f64>, Vec<f64>) = chunks(n, chunk_size)
            .into_iter()
            .map(|(start, end)| realized(&predicted[start..end], &truth[start..end]))
            .unzip();
        Ok(Baseline {
            accuracy_std: population_std(&correct),
            accuracy_thresholds: alert_thresholds(&accuracies),
            f1_thresholds: alert_thresholds(&f1s),
        })
    }
}

pub(crate) fn chunks(n: usize, size: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(size.max(1))
        .map(|s| (s, (s + size).min(n)))
        .collect()
}

/// Alert thresholds from reference chunks' realized values: mean ± 3 standard
/// deviations, clipped to [0, 1] (NannyML's `StandardDeviationThreshold`).
pub(crate) fn alert_thresholds(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let sd = population_std(values);
    ((mean - BAND * sd).max(0.0), (mean + BAND * sd).min(1.0))
}

/// The index of the largest value (the predicted class).
pub(crate) fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

pub(crate) fn population_std(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// Accuracy and F1 of class 1 (0 when undefined, as scikit-learn reports it).
fn realized(predicted: &[u8], truth: &[u8]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_, mut right) = (0.0, 0.0, 0.0, 0.0);
    for (&p, &t) in predicted.iter().zip(truth) {
        right += f64::from(u8::from(p == t));
        match (p, t) {
            (1, 1) => tp += 1.0,
            (1, _) => fp += 1.0,
            (_, 1) => fn_ += 1.0,
            _ => {}
        }
    }
    let f1 = if tp + fp + fn_ > 0.0 {
        2.0 * tp / (2.0 * tp + fp + fn_)
    } else {
        0.0
    };
    (right / predicted.len() as f64, f1)
}

/// NannyML's per-row F1 contributions (TP rows weigh 1, FP and FN rows 0, rescaled so
/// their mean is F1) and the share of rows they cover.
fn f1_components(predicted: &[u8], truth: &[u8]) -> (f64, f64) {
    let (mut tp, mut wrong) = (0usize, 0usize);
    for (&p, &t) in predicted.iter().zip(truth) {
        match (p == t, p) {
            (true, 1) => tp += 1,
            (false, _) => wrong += 1,
            _ => {}
        }
    }
    let relevant = tp + wrong;
    if relevant == 0 {
        return (f64::NAN, 0.0);
    }
    let factor = relevant as f64 / (wrong as f64 * 0.5 + tp as f64);
    let values: Vec<f64> = std::iter::repeat_n(factor, tp)
        .chain(std::iter::repeat_n(0.0, wrong))
        .collect();
    (
        population_std(&values),
        relevant as f64 / predicted.len() as f64,
    )
}

/// NannyML's test of whether isotonic calibration helps: ten stratified 90/10 splits
/// (seeded), calibrate on each 90%, and compare the expected calibration error of the
/// pooled 10% before and after (ten equal-count bins). Never for one class or an AUROC
/// above 0.999.
pub(crate) fn needs_calibration(probability: &[f64], truth: &[u8], seed: u64) -> bool {
    let positives: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] == 1).collect();
    let negatives: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] != 1).collect();
    if positives.is_empty() || negatives.is_empty() || auroc(probability, truth) > 0.999 {
        return false;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut raw, mut calibrated, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        let mut test = Vec::new();
        for group in [&positives, &negatives] {
            let mut g = (*group).clone();
            g.shuffle(&mut rng);
            let k = ((g.len() as f64) * 0.1).round().max(1.0) as usize;
            test.extend_from_slice(&g[..k.min(g.len())]);
        }
        let mut in_test = vec![false; truth.len()];
        test.iter().for_each(|&i| in_test[i] = true);
        let (tx, ty): (Vec<f64>, Vec<f64>) = (0..truth.len())
            .filter(|&i| !in_test[i])
            .map(|i| (probability[i], f64::from(truth[i])))
            .unzip();
        let iso = Isotonic::fit(&tx, &ty);
        for &i in &test {
            raw.push(probability[i]);
            calibrated.push(iso.predict(probability[i]));
            labels.push(f64::from(truth[i]));
        }
    }
    ece(&raw, &labels) > ece(&calibrated, &labels)
}

/// ECE over ten equal-count bins of the sorted scores.
fn ece(scores: &[f64], labels: &[f64]) -> f64 {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let bins = if n <= 20 { (n / 2).max(1) } else { 10 };
    let width = (n / bins).max(1);
    let mut edges: Vec<usize> = (0..=n).step_by(width).collect();
    if let Some(last) = edges.last_mut() {
        *last = n;
    }
    edges
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let idx = &order[w[0]..w[1]];
            let m = idx.len() as f64;
            let p = idx.iter().map(|&i| scores[i]).sum::<f64>() / m;
            let y = idx.iter().map(|&i| labels[i]).sum::<f64>() / m;
            m / n as f64 * (p - y).abs()
        })
        .sum()
}

/// Area under the ROC curve by the rank-sum formula, ties sharing their average rank.
pub(crate) fn auroc(score: &[f64], truth: &[u8]) -> f64 {
    let n = score.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        order[i..=j].iter().for_each(|&k| ranks[k] = rank);
        i = j + 1;
    }
    let pos = truth.iter().filter(|&&t| t == 1).count() as f64;
    let neg = n as f64 - pos;
    let sum: f64 = (0..n).filter(|&k| truth[k] == 1).map(|k| ranks[k]).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        let iso = Isotonic::fit(&[0.1, 0.2, 0.2, 0.3, 0.4], &[0.0, 1.0, 0.0, 0.0, 1.0]);
        // Means by x: 0 | 0.5 (twice) | 0 | 1 → the middle pooled by weight: 0 | ⅓ | ⅓ | 1.
        assert_eq!(iso.predict(0.0), 0.0);
        assert!((iso.predict(0.25) - 1.0 / 3.0).abs() < 1e-15);
        assert!((iso.predict(0.35) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(iso.predict(0.9), 1.0);
    }

    #[test]
    fn perfectly_calibrated_scores_estimate_their_accuracy() {
        // Scores equal to the empirical rate of their bucket; the estimate matches reality.
        let mut p = Vec::new();
        let mut t = Vec::new();
        for i in 0..4000 {
            let score = [0.1, 0.3, 0.7, 0.9][i % 4];
            p.push(score);
            t.push(u8::from(((i / 4) % 10) as f64 / 10.0 < score));
        }
        let pred: Vec<u8> = p.iter().map(|&s| u8::from(s >= 0.5)).collect();
        let cbpe = Cbpe::fit(
            &BinaryReference {
                probability: &p,
                predicted: &pred,
                truth: &t,
            },
            500,
            1,
        )
        .expect("fit");
        for c in cbpe.estimate(&p, &pred, Some(&t)) {
            let (acc, _) = c.realized.expect("realized");
            assert!((c.accuracy - acc).abs() < 1e-9, "{} vs {acc}", c.accuracy);
        }
    }
}

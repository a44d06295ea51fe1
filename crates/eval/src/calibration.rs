//! Probability quality: the multiclass Brier score and the expected calibration error with
//! its reliability-diagram data.

use serde::{Deserialize, Serialize};

use crate::argmax;

/// Mean over labelled rows of Σⱼ (pⱼ − 1[y = j])²: scikit-learn's `brier_score_loss` with
/// `scale_by_half=False` (so two classes give twice the binary Brier score).
pub fn brier(p: &[f32], k: usize, y: &[Option<u32>]) -> f64 {
    let (sum, n) = p
        .chunks_exact(k)
        .zip(y)
        .filter_map(|(row, y)| {
            y.map(|y| {
                row.iter()
                    .enumerate()
                    .map(|(j, &q)| {
                        let d = f64::from(q) - if j == y as usize { 1.0 } else { 0.0 };
                        d * d
                    })
                    .sum::<f64>()
            })
        })
        .fold((0.0, 0u64), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge (exclusive, except 0 for the first bin).
    pub lo: f64,
    /// Upper edge (inclusive).
    pub hi: f64,
    /// Rows whose top-label confidence falls in the bin.
    pub count: u64,
    /// Mean top-label confidence of those rows.
    pub confidence: f64,
    /// Share of those rows whose top label is right.
    pub accuracy: f64,
}

/// Reliability-diagram data on top-label confidence with `bins` equal-width bins; bin `b`
/// holds confidences in (b/bins, (b+1)/bins], the first bin also holds 0.
pub fn reliability(p: &[f32], k: usize, y: &[Option<u32>], bins: usize) -> Vec<ReliabilityBin> {
    let mut count = vec![0u64; bins];
    let mut conf = vec![0.0f64; bins];
    let mut hits = vec![0u64; bins];
    for (row, y) in p.chunks_exact(k).zip(y) {
        let Some(y) = y else { continue };
        let top = argmax(row);
        let c = f64::from(row[top]);
        let b = ((c * bins as f64).ceil() as usize)
            .saturating_sub(1)
            .min(bins - 1);
        count[b] += 1;
        conf[b] += c;
        hits[b] += u64::from(top == *y as usize);
    }
    (0..bins)
        .map(|b| ReliabilityBin {
            lo: b as f64 / bins as f64,
            hi: (b + 1) as f64 / bins as f64,
            count: count[b],
            confidence: if count[b] > 0 {
                conf[b] / count[b] as f64
            } else {
                0.0
            },
            accuracy: if count[b] > 0 {
                hits[b] as f64 / count[b] as f64
            } else {
                0.0
            },
        })
        .collect()
}

/// Expected calibration error: Σ_b (n_b / N) · |accuracy_b − confidence_b| over the
/// [`reliability`] bins (Guo et al. 2017 use 15 bins).
pub fn ece(p: &[f32], k: usize, y: &[Option<u32>], bins: usize) -> f64 {
    let r = reliability(p, k, y, bins);
    let n: u64 = r.iter().map(|b| b.count).sum();
    r.iter()
        .map(|b| b.count as f64 / n.max(1) as f64 * (b.accuracy - b.confidence).abs())
        .sum()
}

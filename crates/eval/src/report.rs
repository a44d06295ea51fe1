//! Label metrics from the confusion matrix (precision, recall, F1 per class and averaged)
//! and the ranking metric ROC-AUC.

use serde::{Deserialize, Serialize};

use crate::argmax;

/// `k × k` counts: row = true class, column = predicted class (unlabelled rows skipped).
pub fn confusion_matrix(p: &[f32], k: usize, y: &[Option<u32>]) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; k]; k];
    for (row, y) in p.chunks_exact(k).zip(y) {
        if let Some(y) = y {
            m[*y as usize][argmax(row)] += 1;
        }
    }
    m
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerClass {
    /// TP / (TP + FP), 0 when nothing was predicted as the class.
    pub precision: f64,
    /// TP / (TP + FN), 0 when the class never occurs.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
    /// Rows whose true class this is.
    pub support: u64,
}

/// Precision, recall and F1 averaged one way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1.
    pub f1: f64,
}

/// Per-class scores plus macro, micro and support-weighted averages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// One entry per class index.
    pub per_class: Vec<PerClass>,
    /// Unweighted mean over the classes present in the labels or the predictions.
    pub macro_avg: Averages,
    /// From the pooled counts (equals accuracy for single-label data).
    pub micro_avg: Averages,
    /// Mean weighted by support.
    pub weighted_avg: Averages,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

impl ClassReport {
    /// Builds the report from a confusion matrix.
    pub fn from_confusion(m: &[Vec<u64>]) -> ClassReport {
        let k = m.len();
        let tp: Vec<u64> = (0..k).map(|c| m[c][c]).collect();
        let predicted: Vec<u64> = (0..k).map(|c| m.iter().map(|r| r[c]).sum()).collect();
        let support: Vec<u64> = m.iter().map(|r| r.iter().sum()).collect();
        let per_class: Vec<PerClass> = (0..k)
            .map(|c| {
                let (p, r) = (ratio(tp[c], predicted[c]), ratio(tp[c], support[c]));
                PerClass {
                    precision: p,
                    recall: r,
                    f1: f1(p, r),
                    support: support[c],
                }
            })
            .collect();
        let present: Vec<usize> = (0..k).filter(|&c| support[c] + predicted[c] > 0).collect();
        let mean = |f: &dyn Fn(&PerClass) -> f64| {
            present.iter().map(|&c| f(&per_class[c])).sum::<f64>() / present.len().max(1) as f64
        };
        let total: u64 = support.iter().sum();
        let weighted = |f: &dyn Fn(&PerClass) -> f64| {
            per_class
                .iter()
                .map(|c| f(c) * c.support as f64)
                .sum::<f64>()
                / total.max(1) as f64
        };
        let (all_tp, all_pred) = (tp.iter().sum::<u64>(), predicted.iter().sum::<u64>());
        let (mp, mr) = (ratio(all_tp, all_pred), ratio(all_tp, total));
        ClassReport {
            macro_avg: Averages {
                precision: mean(&|c| c.precision),
                recall: mean(&|c| c.recall),
                f1: mean(&|c| c.f1),
            },
            micro_avg: Averages {
                precision: mp,
                recall: mr,
                f1: f1(mp, mr),
            },
            weighted_avg: Averages {
                precision: weighted(&|c| c.precision),
                recall: weighted(&|c| c.recall),
                f1: weighted(&|c| c.f1),
            },
            per_class,
        }
    }
}

/// Area under the ROC curve of `scores` for the rows where `positive` is true (the
/// Mann–Whitney statistic with tied scores counted half, as the trapezoidal rule gives).
/// `None` when either class is empty.
fn binary_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&r| positive[r]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    (n_pos > 0.0 && n_neg > 0.0).then(|| (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// ROC-AUC: for two classes, of the second class's probability; for more, the one-vs-rest
/// macro average over classes (scikit-learn `multi_class="ovr", average="macro"`).
/// `None` when a class needed for it has no positive or no negative row.
pub fn roc_auc(p: &[f32], k: usize, y: &[Option<u32>]) -> Option<f64> {
    let rows: Vec<(&[f32], u32)> = p
        .chunks_exact(k)
        .zip(y)
        .filter_map(|(r, y)| y.map(|y| (r, y)))
        .collect();
    let one = |c: usize| {
        let scores: Vec<f64> = rows.iter().map(|(r, _)| f64::from(r[c])).collect();
        let positive: Vec<bool> = rows.iter().map(|(_, y)| *y as usize == c).collect();
        binary_auc(&scores, &positive)
    };
    if k == 2 {
        return one(1);
    }
    let aucs: Option<Vec<f64>> = (0..k).map(one).collect();
    aucs.map(|a| a.iter().sum::<f64>() / k as f64)
}

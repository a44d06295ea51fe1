//! Metrics that compare a student with the labels and with its teacher: accuracy,
//! per-class and averaged precision / recall / F1, confusion matrix, ROC-AUC, log loss,
//! multiclass Brier score, expected calibration error, fidelity (argmax agreement) and
//! mean KL divergence. Definitions follow scikit-learn 1.9 (`zero_division=0`; averages over
//! the classes present in the labels or the predictions), checked against it to 1e-9 on
//! fixtures made by `tools/make_metric_fixtures.py`.
//!
//! Probabilities are row-major `n × k` slices; labels are class indices. Rows without a
//! label are skipped by the label metrics.
//!
//! ```
//! use distillery_eval::{accuracy, fidelity};
//! let p = [0.9, 0.1, 0.2, 0.8];
//! assert_eq!(accuracy(&p, 2, &[Some(0), Some(0)]), 0.5);
//! assert_eq!(fidelity(&p, &p, 2), 1.0);
//! ```

mod ablation;
pub mod attribute;
pub mod audit;
mod bootstrap;
mod calibration;
pub mod evasion;
pub mod extraction;
pub mod gate;
mod intervals;
pub mod membership;
mod paired;
mod pareto;
pub mod privacy;
pub mod render;
mod report;
pub mod run_report;
pub mod search;
pub mod slices;
mod stats;

pub use ablation::{
    Ablation, AblationRow, CrossValidation, CvStudent, Fold, FoldModel, FoldSummary, MeanStd,
    PICK_RULE,
};
pub use bootstrap::{Interval, bootstrap_ci};
pub use calibration::{ReliabilityBin, brier, ece, reliability};
pub use intervals::{MetricIntervals, metric_intervals};
pub use paired::{ALPHA, PairedComparison, compare as compare_paired, mcnemar_exact};
pub use pareto::pareto_front;
pub use report::{Averages, ClassReport, PerClass, confusion_matrix, roc_auc};
pub use stats::{benjamini_hochberg, effect_size, lower_rate_p_value};

use serde::{Deserialize, Serialize};

/// Index of the largest value (first on ties, like numpy's argmax).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Share of labelled rows whose argmax equals the label.
pub fn accuracy(p: &[f32], k: usize, y: &[Option<u32>]) -> f64 {
    let (hit, n) = p
        .chunks_exact(k)
        .zip(y)
        .filter_map(|(row, y)| y.map(|y| (argmax(row) == y as usize) as usize))
        .fold((0, 0), |(h, n), v| (h + v, n + 1));
    hit as f64 / n.max(1) as f64
}

/// Unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN); a class with no true and
/// no predicted rows scores 0 (scikit-learn's `zero_division=0`) and still counts, as in
/// scikit-learn when the class is among the labels.
pub fn macro_f1(p: &[f32], k: usize, y: &[Option<u32>]) -> f64 {
    let mut tp = vec![0usize; k];
    let mut fp = vec![0usize; k];
    let mut fneg = vec![0usize; k];
    for (row, y) in p.chunks_exact(k).zip(y) {
        let Some(y) = y else { continue };
        let (pred, y) = (argmax(row), *y as usize);
        if pred == y {
            tp[y] += 1;
        } else {
            fp[pred] += 1;
            fneg[y] += 1;
        }
    }
    let present: Vec<usize> = (0..k).filter(|&c| tp[c] + fp[c] + fneg[c] > 0).collect();
    let f1: f64 = present
        .iter()
        .map(|&c| {
            let d = 2 * tp[c] + fp[c] + fneg[c];
            if d == 0 {
                0.0
            } else {
                2.0 * tp[c] as f64 / d as f64
            }
        })
        .sum();
    f1 / present.len().max(1) as f64
}

/// Mean negative log-likelihood of the labels (natural log). As scikit-learn ≥ 1.5 does,
/// the true class's probability is clipped to [ε, 1 − ε] with ε the f64 machine epsilon and
/// rows are not renormalised.
pub fn log_loss(p: &[f32], k: usize, y: &[Option<u32>]) -> f64 {
    let (sum, n) = p
        .chunks_exact(k)
        .zip(y)
        .filter_map(|(row, y)| {
            y.map(|y| {
                let q = f64::from(row[y as usize]).clamp(f64::EPSILON, 1.0 - f64::EPSILON);
                -q.ln()
            })
        })
        .fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    sum / f64::from(n.max(1))
}

/// Share of rows where student and teacher pick the same class.
pub fn fidelity(student: &[f32], teacher: &[f32], k: usize) -> f64 {
    let n = student.len() / k;
    let same = student
        .chunks_exact(k)
        .zip(teacher.chunks_exact(k))
        .filter(|(s, t)| argmax(s) == argmax(t))
        .count();
    same as f64 / n.max(1) as f64
}

/// Teacher × student argmax counts: entry `[t][s]` counts rows where the teacher picks
/// class `t` and the student class `s`; the off-diagonal is where distillation lost the
/// teacher's decision.
pub fn disagreement_matrix(student: &[f32], teacher: &[f32], k: usize) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; k]; k];
    for (s, t) in student.chunks_exact(k).zip(teacher.chunks_exact(k)) {
        m[argmax(t)][argmax(s)] += 1;
    }
    m
}

/// Mean KL(teacher ‖ student) in nats, at temperature 1.
pub fn mean_kl(student: &[f32], teacher: &[f32], k: usize) -> f64 {
    let n = student.len() / k;
    let total: f64 = student
        .chunks_exact(k)
        .zip(teacher.chunks_exact(k))
        .map(|(s, t)| row_kl(s, t))
        .sum();
    total / n.max(1) as f64
}

/// KL(teacher ‖ student) of one row in nats (student probabilities floored at 1e-30).
pub fn row_kl(student: &[f32], teacher: &[f32]) -> f64 {
    teacher
        .iter()
        .zip(student)
        .filter(|(t, _)| **t > 0.0)
        .map(|(&t, &s)| f64::from(t) * (f64::from(t).ln() - f64::from(s).max(1e-30).ln()))
        .sum()
}

/// The headline metrics of one model on one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Share of correct argmax predictions.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
}

impl Scores {
    /// Computes all three on `p` (`n × k`) against `y`.
    pub fn of(p: &[f32], k: usize, y: &[Option<u32>]) -> Scores {
        Scores {
            accuracy: accuracy(p, k, y),
            macro_f1: macro_f1(p, k, y),
            log_loss: log_loss(p, k, y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = [0, 1, 2, 2], predictions [0, 2, 2, 2]: per-class F1 = 1, 0, 0.8 → macro 0.6
    /// (scikit-learn `f1_score(..., average="macro")` gives 0.6).
    #[test]
    fn macro_f1_matches_hand_computation() {
        let p = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let y = [Some(0), Some(1), Some(2), Some(2)];
        assert!((macro_f1(&p, 3, &y) - 0.6).abs() < 1e-12);
        assert!((accuracy(&p, 3, &y) - 0.75).abs() < 1e-12);
    }

    /// log loss of p(true) = 0.8 and 0.4: (−ln 0.8 − ln 0.4) / 2 = 0.5697171 (f32 inputs).
    #[test]
    fn log_loss_matches_hand_computation() {
        let p = [0.8, 0.2, 0.6, 0.4];
        assert!((log_loss(&p, 2, &[Some(0), Some(1), None]) - 0.569_717_1).abs() < 1e-6);
    }

    #[test]
    fn disagreement_rows_are_teacher_classes() {
        let t = [0.9, 0.1, 0.9, 0.1, 0.2, 0.8];
        let s = [0.9, 0.1, 0.3, 0.7, 0.2, 0.8];
        assert_eq!(disagreement_matrix(&s, &t, 2), [[1, 1], [0, 1]]);
    }

    #[test]
    fn kl_is_zero_for_identical_and_positive_otherwise() {
        let t = [0.7, 0.3];
        assert!(mean_kl(&t, &t, 2).abs() < 1e-12);
        assert!(mean_kl(&[0.5, 0.5], &t, 2) > 0.0);
    }
}

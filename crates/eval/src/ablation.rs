//! The ablation table and cross-validation summaries: what each ingredient of distillation
//! (the teacher's soft targets, temperature, soft weight, student size, feature groups)
//! contributes, and how stable the result is across folds.

use serde::{Deserialize, Serialize};

use crate::pareto_front;

/// One trained model in the ablation table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRow {
    /// Short label, e.g. `T=4 α=0.9 [64]` or `without demographics`.
    pub name: String,
    /// `teacher`, `student` (the recipe's), `scratch`, `sweep` or `feature_group`.
    pub kind: String,
    /// Hidden widths (empty for the teacher).
    pub hidden: Vec<usize>,
    /// Distillation temperature.
    pub temperature: Option<f32>,
    /// Weight of the teacher term.
    pub soft_weight: Option<f32>,
    /// Feature group left out.
    pub dropped: Option<String>,
    /// Test accuracy.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Argmax agreement with the teacher.
    pub fidelity: f64,
    /// Trainable parameters.
    pub parameters: Option<usize>,
    /// Model file size.
    pub bytes: Option<u64>,
    /// Median single-row latency in µs.
    pub latency_us: Option<f64>,
    /// On the accuracy-vs-latency Pareto front of the sweep.
    pub pareto_latency: bool,
    /// On the accuracy-vs-bytes Pareto front of the sweep.
    pub pareto_bytes: bool,
    /// Whether the row passes every configured gate (students only).
    pub meets_gates: Option<bool>,
}

/// The whole table, with the student picked from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ablation {
    /// Teacher, recipe student, scratch, sweep and feature-group rows.
    pub rows: Vec<AblationRow>,
    /// Index into `rows` of the picked sweep student (`None` when none meets the gates).
    pub picked: Option<usize>,
    /// The picking rule, in words.
    pub rule: String,
}

/// The rule [`Ablation::pick`] applies.
pub const PICK_RULE: &str = "smallest model (bytes) on the accuracy-vs-bytes Pareto front that passes every gate; ties go to the more accurate";

impl Ablation {
    /// Marks the Pareto fronts among the sweep, student and scratch rows and picks a student.
    pub fn new(mut rows: Vec<AblationRow>) -> Ablation {
        let candidates: Vec<usize> = (0..rows.len())
            .filter(|&i| matches!(rows[i].kind.as_str(), "student" | "sweep"))
            .collect();
        let front = |cost: &dyn Fn(&AblationRow) -> Option<f64>| {
            let pts: Vec<(f64, f64)> = candidates
                .iter()
                .map(|&i| (rows[i].accuracy, cost(&rows[i]).unwrap_or(f64::INFINITY)))
                .collect();
            pareto_front(&pts)
        };
        let by_latency = front(&|r| r.latency_us);
        let by_bytes = front(&|r| r.bytes.map(|b| b as f64));
        for (j, &i) in candidates.iter().enumerate() {
            rows[i].pareto_latency = by_latency[j];
            rows[i].pareto_bytes = by_bytes[j];
        }
        let picked = candidates
            .iter()
            .copied()
            .filter(|&i| rows[i].pareto_bytes && rows[i].meets_gates == Some(true))
            .min_by(|&a, &b| {
                let bytes = |i: usize| rows[i].bytes.unwrap_or(u64::MAX);
                bytes(a)
                    .cmp(&bytes(b))
                    .then(rows[b].accuracy.total_cmp(&rows[a].accuracy))
            });
        Ablation {
            rows,
            picked,
            rule: PICK_RULE.into(),
        }
    }
}

/// Mean and population standard deviation (numpy's default `ddof=0`) over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean over folds.
    pub mean: f64,
    /// Standard deviation over folds.
    pub std: f64,
}

impl MeanStd {
    /// Summarises `values` (0 ± 0 when empty).
    pub fn of(values: &[f64]) -> MeanStd {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// One model's scores on one fold's held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldModel {
    /// Accuracy.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
    /// Argmax agreement with the fold's teacher.
    pub fidelity: f64,
}

/// One fold of the cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// Fold number, from 0.
    pub fold: usize,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out.
    pub test_rows: usize,
    /// The teacher on the held-out rows.
    pub teacher: FoldModel,
    /// The distilled student.
    pub student: FoldModel,
    /// The scratch student.
    pub scratch: FoldModel,
}

/// Mean ± std of each metric over the folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldSummary {
    /// Accuracy.
    pub accuracy: MeanStd,
    /// Macro-averaged F1.
    pub macro_f1: MeanStd,
    /// Log loss.
    pub log_loss: MeanStd,
    /// Fidelity.
    pub fidelity: MeanStd,
}

impl FoldSummary {
    /// Summarises one model's fold scores.
    pub fn of(folds: &[FoldModel]) -> FoldSummary {
        let m = |f: fn(&FoldModel) -> f64| MeanStd::of(&folds.iter().map(f).collect::<Vec<_>>());
        FoldSummary {
            accuracy: m(|f| f.accuracy),
            macro_f1: m(|f| f.macro_f1),
            log_loss: m(|f| f.log_loss),
            fidelity: m(|f| f.fidelity),
        }
    }
}

/// Stratified k-fold cross-validation of the whole recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// Per-fold scores.
    pub folds: Vec<Fold>,
    /// Teacher mean ± std.
    pub teacher: FoldSummary,
    /// Distilled student mean ± std.
    pub student: FoldSummary,
    /// Scratch student mean ± std.
    pub scratch: FoldSummary,
    /// Whether the teacher probabilities are out of fold (true only for a teacher trained
    /// per fold; a given ONNX model or soft-label columns saw every row).
    pub teacher_out_of_fold: bool,
    /// File in the run directory with the per-row out-of-fold probabilities.
    pub probabilities_file: String,
    /// The student every fold trained: the recipe's, or the search's winner (the search is
    /// not repeated per fold).
    #[serde(default)]
    pub student_params: Option<CvStudent>,
}

/// Architecture and distillation settings of the cross-validated student, so a reader can
/// tell which network the fold scores describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvStudent {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Softening temperature of the teacher's targets.
    pub temperature: f32,
    /// Weight of the soft (teacher) term against the hard-label term.
    pub soft_weight: f32,
}

impl std::fmt::Display for CvStudent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}, T = {}, soft weight {}",
            self.hidden, self.temperature, self.soft_weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: &str, acc: f64, bytes: u64, ok: bool) -> AblationRow {
        AblationRow {
            name: name.into(),
            kind: kind.into(),
            hidden: vec![],
            temperature: None,
            soft_weight: None,
            dropped: None,
            accuracy: acc,
            macro_f1: acc,
            fidelity: acc,
            parameters: None,
            bytes: Some(bytes),
            latency_us: Some(bytes as f64),
            pareto_latency: false,
            pareto_bytes: false,
            meets_gates: Some(ok),
        }
    }

    #[test]
    fn picks_the_smallest_passing_student_on_the_front() {
        let a = Ablation::new(vec![
            row("teacher", "teacher", 0.99, 1, true),
            row("tiny", "sweep", 0.70, 10, false),
            row("small", "sweep", 0.85, 20, true),
            row("dominated", "sweep", 0.84, 30, true),
            row("big", "sweep", 0.90, 40, true),
        ]);
        assert!(!a.rows[0].pareto_bytes, "the teacher is not a candidate");
        assert!(a.rows[1].pareto_bytes && a.rows[2].pareto_bytes && a.rows[4].pareto_bytes);
        assert!(!a.rows[3].pareto_bytes);
        assert_eq!(a.picked, Some(2));
    }

    #[test]
    fn population_std() {
        let m = MeanStd::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.mean, 2.5);
        assert!((m.std - 1.118_033_988_749_895).abs() < 1e-12); // numpy.std([1,2,3,4])
    }
}

//! `summary.json`: the run's headline numbers for teacher, distilled student and scratch
//! baseline, plus where everything came from. Printed as a short table at the end of a run.

use serde::{Deserialize, Serialize};

/// Version of the summary layout; bump on incompatible changes.
pub(crate) const SUMMARY_SCHEMA: &str = "distillery-summary/1";

/// The whole run in one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Summary {
    pub(crate) schema: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    pub(crate) tool_version: String,
    pub(crate) recipe_hash: String,
    pub(crate) seed: u64,
    pub(crate) dataset: DatasetSummary,
    pub(crate) teacher: ModelSummary,
    pub(crate) student: ModelSummary,
    pub(crate) scratch: ModelSummary,
    /// The int8 student, when `[quantize] int8 = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) int8: Option<ModelSummary>,
    pub(crate) distill: serde_json::Value,
    pub(crate) gates: Vec<GateResult>,
    pub(crate) seconds: f64,
}

/// The data a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DatasetSummary {
    pub(crate) train_file: String,
    pub(crate) test_file: Option<String>,
    pub(crate) fingerprint: String,
    pub(crate) classes: Vec<String>,
    pub(crate) features: usize,
    pub(crate) encoded_width: usize,
    pub(crate) train_rows: usize,
    pub(crate) unlabelled_rows: usize,
    pub(crate) augmented_rows: usize,
    pub(crate) validation_rows: usize,
    pub(crate) test_rows: usize,
}

/// One model's measurements on the test rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelSummary {
    pub(crate) kind: String,
    pub(crate) accuracy: f64,
    pub(crate) macro_f1: f64,
    pub(crate) log_loss: f64,
    /// Argmax agreement with the teacher (1 for the teacher itself).
    pub(crate) fidelity: f64,
    /// Mean KL(teacher ‖ model) in nats.
    pub(crate) mean_kl: f64,
    /// Trainable parameters (`None` for teachers that are not MLPs).
    pub(crate) parameters: Option<usize>,
    /// Size of the model file.
    pub(crate) bytes: Option<u64>,
    /// Median single-row latency in µs, measured in-process.
    pub(crate) latency_us: Option<f64>,
    /// Calibration, ranking and uncertainty of the numbers above.
    pub(crate) quality: Quality,
    /// Training details, for students.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) training: Option<TrainingSummary>,
}

/// Beyond accuracy: how sure the accuracy is and how good the probabilities are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Quality {
    /// 95% percentile-bootstrap interval of the test accuracy (1,000 resamples, seeded).
    pub(crate) accuracy_ci: distillery_eval::Interval,
    /// ROC-AUC (binary) or one-vs-rest macro ROC-AUC; `None` when a class has no test row.
    pub(crate) roc_auc: Option<f64>,
    /// Multiclass Brier score (sum over classes, not halved).
    pub(crate) brier: f64,
    /// Expected calibration error, 15 equal-width bins on top-label confidence.
    pub(crate) ece: f64,
    /// Reliability-diagram data behind the ECE.
    pub(crate) reliability: Vec<distillery_eval::ReliabilityBin>,
    /// Confusion matrix (row = true class, column = predicted), classes in `dataset.classes` order.
    pub(crate) confusion: Vec<Vec<u64>>,
    /// Per-class precision / recall / F1 / support and their macro, micro and weighted means.
    pub(crate) classes: distillery_eval::ClassReport,
}

impl Quality {
    /// Measures `p` (`n × k`) against labels `y`; `seed` drives the bootstrap.
    pub(crate) fn of(p: &[f32], k: usize, y: &[Option<u32>], seed: u64) -> Quality {
        let hits: Vec<f64> = p
            .chunks_exact(k)
            .zip(y)
            .map(|(row, y)| {
                f64::from(u8::from(
                    y.is_some_and(|y| distillery_eval::argmax(row) == y as usize),
                ))
            })
            .collect();
        let accuracy_ci = distillery_eval::bootstrap_ci(hits.len(), 1000, seed, |idx| {
            idx.iter().map(|&i| hits[i]).sum::<f64>() / idx.len().max(1) as f64
        });
        let confusion = distillery_eval::confusion_matrix(p, k, y);
        Quality {
            accuracy_ci,
            roc_auc: distillery_eval::roc_auc(p, k, y),
            brier: distillery_eval::brier(p, k, y),
            ece: distillery_eval::ece(p, k, y, 15),
            reliability: distillery_eval::reliability(p, k, y, 15),
            classes: distillery_eval::ClassReport::from_confusion(&confusion),
            confusion,
        }
    }
}

/// How a student's training went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrainingSummary {
    pub(crate) hidden: Vec<usize>,
    pub(crate) epochs_run: usize,
    pub(crate) best_epoch: usize,
    pub(crate) stopped_early: bool,
    pub(crate) resumed_after: Option<usize>,
}

/// One gate's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GateResult {
    pub(crate) gate: String,
    pub(crate) threshold: f64,
    pub(crate) value: f64,
    pub(crate) passed: bool,
}

impl Summary {
    /// True when every gate passed.
    pub(crate) fn gates_passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// The human-readable table printed at the end of a run.
    pub(crate) fn table(&self) -> String {
        let mut s = String::new();
        let row = |name: &str, m: &ModelSummary| {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "–".into());
            format!(
                "{:<9} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>10} {:>11} {:>10}\n",
                name,
                m.accuracy,
                m.macro_f1,
                m.log_loss,
                m.fidelity,
                opt(m.parameters.map(|p| p.to_string())),
                opt(m.bytes.map(human_bytes)),
                opt(m.latency_us.map(|l| format!("{l:.2} µs"))),
            )
        };
        s.push_str(&format!(
            "run {}  ({} test rows, {} classes, {:.1} s)\n",
            self.run_id,
            self.dataset.test_rows,
            self.dataset.classes.len(),
            self.seconds
        ));
        s.push_str(&format!(
            "{:<9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>11} {:>10}\n",
            "model", "accuracy", "macro-F1", "log loss", "fidelity", "params", "size", "latency"
        ));
        s.push_str(&row("teacher", &self.teacher));
        s.push_str(&row("student", &self.student));
        s.push_str(&row("scratch", &self.scratch));
        if let Some(q) = &self.int8 {
            s.push_str(&row("int8", q));
        }
        let ci = |m: &ModelSummary| {
            format!(
                "[{:.4}, {:.4}]",
                m.quality.accuracy_ci.lo, m.quality.accuracy_ci.hi
            )
        };
        s.push_str(&format!(
            "accuracy 95% CI: teacher {}, student {}, scratch {}; student ECE {:.4}\n",
            ci(&self.teacher),
            ci(&self.student),
            ci(&self.scratch),
            self.student.quality.ece
        ));
        if let (Some(t), Some(st)) = (self.teacher.latency_us, self.student.latency_us) {
            s.push_str(&format!("student is {:.0}× faster per row", t / st));
        }
        if let (Some(t), Some(st)) = (self.teacher.bytes, self.student.bytes) {
            s.push_str(&format!(
                " and {:.0}× smaller than the teacher",
                t as f64 / st as f64
            ));
        }
        s.push('\n');
        for g in &self.gates {
            s.push_str(&format!(
                "gate {}: {:.4} vs {:.4} {}\n",
                g.gate,
                g.value,
                g.threshold,
                if g.passed { "passed" } else { "FAILED" }
            ));
        }
        s
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

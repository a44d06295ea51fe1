//! `report.json`: everything a run (or `distillery eval`) measured: headline metrics with
//! intervals for teacher, distilled student, scratch baseline and int8 student, fidelity,
//! slices, cross-validation, the ablation sweep and the gate verdicts, plus where it all
//! came from. The layout is versioned by [`REPORT_SCHEMA`] and documented in
//! `docs/report-schema.md`; a short table of it ends every run.

use serde::{Deserialize, Serialize};

/// The test scores on the test rows that do not repeat a training row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeduplicatedTest {
    /// Test rows whose features repeat a training row exactly (left out here).
    pub repeated_rows: usize,
    /// Test rows scored here.
    pub rows: usize,
    /// The teacher on those rows.
    pub teacher: Option<crate::Scores>,
    /// The distilled student on those rows.
    pub student: crate::Scores,
    /// The student trained on labels only, on those rows.
    pub scratch: Option<crate::Scores>,
}

/// Version of the report layout; bump on incompatible changes.
pub const REPORT_SCHEMA: &str = "distillery-report/1";

/// The whole run in one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// `run` for `distillery run`, `eval` for `distillery eval`.
    pub kind: String,
    /// Directory name of the run under `runs/`.
    pub run_id: String,
    /// Recipe name.
    pub name: String,
    /// distillery version that wrote the report.
    pub tool_version: String,
    /// When the report was written (RFC 3339, UTC).
    pub created: String,
    /// BLAKE3 of the recipe text.
    pub recipe_hash: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// The data.
    pub dataset: DatasetSummary,
    /// The teacher on the test rows (absent when `eval` had no teacher).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher: Option<ModelSummary>,
    /// The distilled student.
    pub student: ModelSummary,
    /// The same architecture trained on hard labels only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scratch: Option<ModelSummary>,
    /// The int8 student, when `[quantize] int8 = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8: Option<ModelSummary>,
    /// The int8 student per slice against the fp32 student (its `gap` is fp32 − int8
    /// accuracy, its `fidelity` the agreement of the two).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8_slices: Option<SliceReport>,
    /// Student vs teacher, row by row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<FidelityReport>,
    /// Declared and discovered slices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices: Option<SliceReport>,
    /// Stratified k-fold cross-validation of the whole recipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<crate::CrossValidation>,
    /// The data checks (`check.json`), when they ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<serde_json::Value>,
    /// The ablation table: sweep, feature groups and the Pareto fronts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ablation: Option<crate::Ablation>,
    /// Test scores without the test rows that repeat a training row, when some do: the
    /// full scores overstate the model by what it memorised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated_test: Option<DeduplicatedTest>,
    /// Whether distillation beat the scratch baseline, on validation and on test rows
    /// (paired: McNemar's exact test on the same rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distillation_gain: Option<DistillationGain>,
    /// The student search, when the recipe did not pin `hidden`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::StudentSearch>,
    /// Membership inference against the teacher, the student and the scratch baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<crate::membership::MembershipReport>,
    /// Attribute inference on the `[evaluate] sensitive` columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attribute_inference: Vec<crate::attribute::AttributeInference>,
    /// The extraction curve, when `[evaluate] extraction = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<crate::extraction::ExtractionReport>,
    /// DP-SGD's guarantee, when the recipe has `[privacy]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::privacy::PrivacyReport>,
    /// The evasion audit, added by `distillery audit RUN` after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evasion: Option<crate::evasion::EvasionAudit>,
    /// The `[distill]` settings.
    pub distill: serde_json::Value,
    /// One verdict per configured gate.
    pub gates: Vec<GateResult>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// Student vs teacher on the test rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FidelityReport {
    /// Share of rows where the argmaxes agree.
    pub agreement: f64,
    /// Mean KL(teacher ‖ student) in nats.
    pub mean_kl: f64,
    /// Teacher class (row) × student class (column) counts.
    pub disagreement: Vec<Vec<u64>>,
}

/// Slices of the test rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceReport {
    /// Smallest number of labelled rows for a slice to count toward the gap and the search.
    pub min_rows: usize,
    /// The slices the recipe declared.
    pub declared: Vec<crate::slices::SliceGroup>,
    /// The automatic search for weak slices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<crate::slices::Discovery>,
    /// The largest student-vs-teacher accuracy drop over declared and single-feature slices.
    pub gap: Option<crate::slices::SliceGap>,
}

/// The data a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Training file as given.
    pub train_file: String,
    /// Test file, when separate.
    pub test_file: Option<String>,
    /// The `[data] unlabelled` file whose rows joined the training rows, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlabelled_file: Option<String>,
    /// BLAKE3 fingerprint of the normalised content and schema.
    pub fingerprint: String,
    /// The label column.
    #[serde(default)]
    pub target: Option<String>,
    /// Class names in model order.
    pub classes: Vec<String>,
    /// Feature columns.
    pub features: usize,
    /// Width of the encoded input.
    pub encoded_width: usize,
    /// Training rows (excluding validation).
    pub train_rows: usize,
    /// Training rows without a label.
    pub unlabelled_rows: usize,
    /// Synthetic rows added by augmentation.
    pub augmented_rows: usize,
    /// Rows used for early stopping.
    pub validation_rows: usize,
    /// Rows evaluated.
    pub test_rows: usize,
    /// Free-text feature columns (MUNGE and Gibbs cannot augment them; token copies can).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_columns: Vec<String>,
}

/// One model's measurements on the test rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSummary {
    /// What the model is, in words.
    pub kind: String,
    /// Test accuracy.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
    /// Argmax agreement with the teacher (1 for the teacher itself).
    pub fidelity: f64,
    /// Mean KL(teacher ‖ model) in nats.
    pub mean_kl: f64,
    /// Trainable parameters (`None` for teachers that are not MLPs).
    pub parameters: Option<usize>,
    /// Size of the model file.
    pub bytes: Option<u64>,
    /// Median single-row latency in µs, measured in-process.
    pub latency_us: Option<f64>,
    /// Calibration, ranking and uncertainty of the numbers above.
    pub quality: Quality,
    /// Training details, for students.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingSummary>,
}

/// Beyond accuracy: how sure the accuracy is and how good the probabilities are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quality {
    /// 95% percentile-bootstrap interval of the test accuracy (1,000 resamples, seeded).
    pub accuracy_ci: crate::Interval,
    /// 95% bootstrap intervals of every headline metric (same resamples as `accuracy_ci`).
    pub intervals: crate::MetricIntervals,
    /// ROC-AUC (binary) or one-vs-rest macro ROC-AUC; `None` when a class has no test row.
    pub roc_auc: Option<f64>,
    /// Multiclass Brier score (sum over classes, not halved).
    pub brier: f64,
    /// Expected calibration error, 15 equal-width bins on top-label confidence.
    pub ece: f64,
    /// Reliability-diagram data behind the ECE.
    pub reliability: Vec<crate::ReliabilityBin>,
    /// Confusion matrix (row = true class, column = predicted), classes in `dataset.classes` order.
    pub confusion: Vec<Vec<u64>>,
    /// Per-class precision / recall / F1 / support and their macro, micro and weighted means.
    pub classes: crate::ClassReport,
}

impl Quality {
    /// Measures `p` (`n × k`) against labels `y` (and agreement with `teacher` when given);
    /// `seed` drives the bootstrap (1,000 resamples).
    pub fn of(
        p: &[f32],
        k: usize,
        y: &[Option<u32>],
        teacher: Option<&[f32]>,
        seed: u64,
    ) -> Quality {
        let intervals = crate::metric_intervals(p, k, y, teacher, 1000, seed);
        let confusion = crate::confusion_matrix(p, k, y);
        Quality {
            accuracy_ci: intervals.accuracy,
            intervals,
            roc_auc: crate::roc_auc(p, k, y),
            brier: crate::brier(p, k, y),
            ece: crate::ece(p, k, y, 15),
            reliability: crate::reliability(p, k, y, 15),
            classes: crate::ClassReport::from_confusion(&confusion),
            confusion,
        }
    }
}

/// How a student's training went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Epoch a resumed run continued after.
    pub resumed_after: Option<usize>,
}

/// One gate's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateResult {
    /// Gate key as in `[gates]`.
    pub gate: String,
    /// The configured limit.
    pub threshold: f64,
    /// The measured value.
    pub value: f64,
    /// Whether the value is within the limit.
    pub passed: bool,
    /// What was measured, e.g. the slice behind a slice gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Who made a report and from what: the fields every report starts with.
#[derive(Debug, Clone)]
pub struct ReportHeader {
    /// `run` or `eval`.
    pub kind: String,
    /// The run (or evaluation) id, also its directory's name.
    pub run_id: String,
    /// The model's name.
    pub name: String,
    /// The distillery version that made it.
    pub tool_version: String,
    /// When (RFC 3339).
    pub created: String,
    /// BLAKE3 of the recipe text.
    pub recipe_hash: String,
    /// The seed every random choice took.
    pub seed: u64,
}

impl Report {
    /// The one way a report is begun, by `run` and `eval` alike: the student measured on
    /// `dataset`, nothing else yet. The caller then sets what it measured (teacher,
    /// slices, gates, …), so no field is forgotten by one of two hand-built copies.
    pub fn new(header: ReportHeader, dataset: DatasetSummary, student: ModelSummary) -> Report {
        Report {
            schema: REPORT_SCHEMA.into(),
            kind: header.kind,
            run_id: header.run_id,
            name: header.name,
            tool_version: header.tool_version,
            created: header.created,
            recipe_hash: header.recipe_hash,
            seed: header.seed,
            dataset,
            teacher: None,
            student,
            scratch: None,
            int8: None,
            int8_slices: None,
            fidelity: None,
            slices: None,
            cross_validation: None,
            checks: None,
            ablation: None,
            deduplicated_test: None,
            distillation_gain: None,
            search: None,
            membership: None,
            attribute_inference: Vec::new(),
            evasion: None,
            extraction: None,
            privacy: None,
            distill: serde_json::Value::Null,
            gates: Vec::new(),
            seconds: 0.0,
        }
    }

    /// True when every gate passed.
    pub fn gates_passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// Hidden widths of the student, when it was trained here.
    pub fn training_hidden(&self) -> Option<Vec<usize>> {
        self.student.training.as_ref().map(|t| t.hidden.clone())
    }

    /// The target column's name, as the recipe gave it (or `the target` if unknown).
    pub fn target_hint(&self) -> String {
        self.dataset
            .target
            .clone()
            .unwrap_or_else(|| "the target".into())
    }

    /// Every model measured, with its short name, teacher first.
    pub fn models(&self) -> Vec<(&'static str, &ModelSummary)> {
        let mut m = Vec::new();
        if let Some(t) = &self.teacher {
            m.push(("teacher", t));
        }
        m.push(("student", &self.student));
        if let Some(s) = &self.scratch {
            m.push(("scratch", s));
        }
        if let Some(q) = &self.int8 {
            m.push(("int8", q));
        }
        m
    }

    /// The human-readable table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let row = |name: &str, m: &ModelSummary| {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "–".into());
            format!(
                "{:<9} {:>8.4} {:>8.4} {:>8.4} {:>8} {:>10} {:>11} {:>10}\n",
                name,
                m.accuracy,
                m.macro_f1,
                m.log_loss,
                crate::render::num(m.fidelity, 4),
                opt(m.parameters.map(|p| p.to_string())),
                opt(m.bytes.map(human_bytes)),
                opt(m.latency_us.map(|l| format!("{l:.2} µs"))),
            )
        };
        let synthetic = match self.dataset.augmented_rows {
            0 => String::new(),
            n => format!(
                "; transfer set {} training + {n} teacher-labelled synthetic rows",
                self.dataset.train_rows
            ),
        };
        s.push_str(&format!(
            "run {}  ({} test rows, {} classes{synthetic}, {:.1} s)\n",
            self.run_id,
            self.dataset.test_rows,
            self.dataset.classes.len(),
            self.seconds
        ));
        s.push_str(&format!(
            "{:<9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>11} {:>10}\n",
            "model", "accuracy", "macro-F1", "log loss", "fidelity", "params", "size", "latency"
        ));
        let models = self.models();
        for (name, m) in &models {
            s.push_str(&row(name, m));
        }
        let ci: Vec<String> = models
            .iter()
            .map(|(name, m)| {
                let i = m.quality.accuracy_ci;
                format!("{name} [{:.4}, {:.4}]", i.lo, i.hi)
            })
            .collect();
        s.push_str(&format!(
            "accuracy 95% CI: {}; student ECE {:.4}\n",
            ci.join(", "),
            self.student.quality.ece
        ));
        if let Some(d) = &self.deduplicated_test {
            s.push_str(&format!(
                "{} test rows repeat a training row; on the other {}: student accuracy {:.4}{}\n",
                d.repeated_rows,
                d.rows,
                d.student.accuracy,
                d.teacher
                    .as_ref()
                    .map(|t| format!(", teacher {:.4}", t.accuracy))
                    .unwrap_or_default()
            ));
        }
        if let Some(g) = &self.distillation_gain {
            let text = !self.dataset.text_columns.is_empty();
            let augmenting = match (text, self.dataset.augmented_rows > 0) {
                (true, true) => Augmenting::TextDone,
                (true, false) => Augmenting::Text,
                (false, true) => Augmenting::Done,
                (false, false) => Augmenting::Possible,
            };
            let teacher = self.teacher.as_ref().map(|t| t.accuracy);
            s.push_str(&g.line(augmenting, self.search.is_some(), teacher));
        }
        if let Some(search) = &self.search {
            s.push_str(&search.line());
        }
        if let Some(privacy) = &self.privacy {
            s.push_str(&privacy.line());
        }
        if let Some(membership) = &self.membership {
            s.push_str(&membership.line());
        }
        if !self.attribute_inference.is_empty() {
            s.push_str(&crate::attribute::AttributeInference::line(
                &self.attribute_inference,
            ));
        }
        if let Some(extraction) = &self.extraction {
            s.push_str(&extraction.line());
        }
        if let Some(t) = &self.teacher {
            if let (Some(t), Some(st)) = (t.latency_us, self.student.latency_us) {
                s.push_str(&format!("student is {:.0}× faster per row", t / st));
            }
            if let (Some(t), Some(st)) = (t.bytes, self.student.bytes) {
                s.push_str(&format!(
                    " and {:.0}× smaller than the teacher",
                    t as f64 / st as f64
                ));
            }
            s.push('\n');
        }
        if let Some(slices) = &self.slices {
            if let Some(g) = &slices.gap {
                s.push_str(&format!(
                    "largest slice gap: {:.4} on {} ({} rows)\n",
                    g.gap, g.slice.name, g.slice.labelled
                ));
            }
            if let Some(d) = &slices.discovery {
                let worst = |f: &[crate::slices::Finding]| {
                    f.first().map_or_else(
                        || "none".to_string(),
                        |f| format!("{} ({:.3} vs {:.3})", f.slice.name, f.value, f.rest),
                    )
                };
                s.push_str(&format!(
                    "weak slices (FDR {}): accuracy {} found, worst {}; fidelity {} found, worst {}\n",
                    d.options.fdr,
                    d.accuracy.len(),
                    worst(&d.accuracy),
                    d.fidelity.len(),
                    worst(&d.fidelity)
                ));
            }
        }
        if let Some(g) = self.int8_slices.as_ref().and_then(|sl| sl.gap.as_ref()) {
            s.push_str(&format!(
                "int8 vs fp32: largest slice drop {:.4} on {} ({} rows)\n",
                g.gap, g.slice.name, g.slice.labelled
            ));
        }
        if let Some(cv) = &self.cross_validation {
            s.push_str(&format!(
                "{}-fold CV: student accuracy {:.4} ± {:.4}, fidelity {:.4} ± {:.4}\n",
                cv.folds.len(),
                cv.student.accuracy.mean,
                cv.student.accuracy.std,
                cv.student.fidelity.mean,
                cv.student.fidelity.std
            ));
        }
        if let Some(a) = &self.ablation {
            let picked = a.picked.and_then(|i| a.rows.get(i));
            s.push_str(&format!(
                "ablation: {} rows; picked {} ({})\n",
                a.rows.len(),
                picked.map_or("none: no student passes every gate", |p| p.name.as_str()),
                a.rule
            ));
        }
        for g in &self.gates {
            s.push_str(&format!(
                "gate {}: {} vs {} {}{}\n",
                g.gate,
                crate::render::gate_num(g.value),
                crate::render::gate_num(g.threshold),
                if g.passed { "passed" } else { "FAILED" },
                g.detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        s
    }
}

/// Bytes as B, kB or MB.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The distilled student against the scratch baseline on the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillationGain {
    /// On the validation rows (what early stopping saw).
    pub validation: crate::PairedComparison,
    /// On the test rows.
    pub test: crate::PairedComparison,
}

/// Whether the run's rows were, could be, or cannot be augmented with synthetic ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Augmenting {
    /// Synthetic rows were added.
    Done,
    /// None were added, but they could be.
    Possible,
    /// The data has text columns and no copies were made: MUNGE and Gibbs cannot make
    /// new texts, token dropout / swap or unlabelled texts can.
    Text,
    /// The data has text columns and token-augmented copies were added.
    TextDone,
}

impl DistillationGain {
    /// One line for the summary: the gain on test (and validation) with McNemar's p, and
    /// what to try when distillation did not beat the scratch baseline (given whether the
    /// run already used synthetic rows and searched the student, and, first, whether the
    /// teacher's own test accuracy was above the baseline's at all).
    pub fn line(
        &self,
        augmenting: Augmenting,
        searched: bool,
        teacher_accuracy: Option<f64>,
    ) -> String {
        let pp = |c: &crate::PairedComparison| 100.0 * (c.accuracy - c.baseline_accuracy);
        let (t, v) = (&self.test, &self.validation);
        let mut line = format!(
            "distillation vs scratch: {:+.2} pp accuracy on test (McNemar p = {:.3}: {}), {:+.2} pp on validation (p = {:.3}: {})\n",
            pp(t),
            t.p_value,
            t.verdict,
            pp(v),
            v.p_value,
            v.verdict
        );
        if t.verdict != "better" && v.verdict != "better" {
            let tries = [
                match augmenting {
                    Augmenting::Done => {
                        "a larger augment_factor under augment = \"munge\" (more teacher-labelled neighbours)"
                    }
                    Augmenting::Possible => "augment = \"munge\" (teacher-labelled neighbours)",
                    Augmenting::Text => {
                        "unlabelled texts ([data] unlabelled) or augment = \"tokens\", labelled by a teacher that can label new texts ([teacher] onnx + tokenizer)"
                    }
                    Augmenting::TextDone => {
                        "more unlabelled texts ([data] unlabelled) or a larger augment_factor under augment = \"tokens\""
                    }
                },
                "a larger step budget (e.g. steps = 30000)",
                if searched {
                    "a larger max_bytes for the student search"
                } else {
                    "size = \"auto\" in place of hidden, to search temperatures and soft weights with the architecture"
                },
            ];
            line.push_str(&format!(
                "distillation did not beat the scratch baseline here; try {} (see the README's recipe reference)\n",
                tries.join(", ")
            ));
            if let Some(teacher) = teacher_accuracy.filter(|&a| a <= t.baseline_accuracy) {
                line.push_str(&format!(
                    "the teacher itself scored no higher than scratch on test ({teacher:.4} against {:.4}); distillation passes on what a teacher knows beyond the labels, so a stronger teacher is the likeliest lever (more labelled rows, or an ONNX teacher of your own)\n",
                    t.baseline_accuracy
                ));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(rows: usize) -> crate::PairedComparison {
        let p = [0.9f32, 0.1];
        let model: Vec<f32> = p.iter().copied().cycle().take(rows * 2).collect();
        crate::compare_paired(&model, &model, 2, &vec![Some(0); rows])
    }

    #[test]
    fn the_no_gain_advice_depends_on_what_the_run_already_did() {
        let g = DistillationGain {
            validation: same(10),
            test: same(10),
        };
        let plain = g.line(Augmenting::Possible, false, None);
        assert!(plain.contains("augment = \"munge\" (teacher"), "{plain}");
        assert!(plain.contains("size = \"auto\""), "{plain}");
        let done = g.line(Augmenting::Done, true, None);
        assert!(done.contains("larger augment_factor"), "{done}");
        assert!(done.contains("larger max_bytes"), "{done}");
        assert!(!done.contains("size = \"auto\""), "{done}");
        let text = g.line(Augmenting::Text, true, None);
        assert!(
            text.contains("[data] unlabelled") && text.contains("tokenizer"),
            "{text}"
        );
        // A teacher above scratch gets no teacher advice; one at or below it does.
        let labels: Vec<Option<u32>> = (0..10).map(|i| Some(i % 2)).collect();
        let model: Vec<f32> = [0.9f32, 0.1].iter().copied().cycle().take(20).collect();
        let half = crate::compare_paired(&model, &model, 2, &labels);
        let g = DistillationGain {
            validation: half.clone(),
            test: half,
        };
        let strong = g.line(Augmenting::Done, true, Some(0.9));
        assert!(!strong.contains("stronger teacher"), "{strong}");
        let weak = g.line(Augmenting::Done, true, Some(0.5));
        assert!(
            weak.contains(
                "the teacher itself scored no higher than scratch on test (0.5000 against 0.5000)"
            ) && weak.contains("stronger teacher"),
            "{weak}"
        );
    }
}

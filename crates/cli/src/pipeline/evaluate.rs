//! The evidence beyond headline metrics: fidelity, slices and gate verdicts, shared by
//! `distillery run` and `distillery eval`.

use anyhow::{Result, bail};
use distillery_data::{Kind, Table};
use distillery_eval::run_report::{
    FidelityReport, GateResult, ModelSummary, Quality, SliceReport, TrainingSummary,
};
use distillery_eval::slices::{self, DiscoveryOptions, Outcomes};
use distillery_train::FitOutcome;

use super::data::Prepared;
use crate::recipe::{EvaluateSection, GatesSection};
use crate::slicing::{SliceSpec, search_features};

/// Checks, before any training, that every declared slice and feature group names real
/// columns, so a typo fails in a second rather than after the whole run.
pub(crate) fn check_columns(settings: &EvaluateSection, prepared: &Prepared) -> Result<()> {
    for spec in &settings.slices {
        let spec = SliceSpec::parse(spec).map_err(|m| anyhow::anyhow!("[evaluate] slices: {m}"))?;
        spec.build(prepared.test_table(), &prepared.test_rows)?;
    }
    let names: Vec<&str> = prepared.features.iter().map(|(n, _)| n.as_str()).collect();
    for (group, columns) in &settings.feature_groups {
        if let Some(bad) = columns.iter().find(|c| !names.contains(&c.as_str())) {
            let hint = distillery_data::nearest(bad, prepared.train_table.names())
                .filter(|n| names.contains(&n.as_str()))
                .map(|n| format!("did you mean '{n}'? "))
                .unwrap_or_default();
            bail!(
                "[evaluate] feature_groups.{group}: '{bad}' is not a feature column; {hint}features are {}",
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// A trained student's raw measurements.
pub(crate) struct Measured<'a> {
    pub(crate) kind: &'a str,
    /// Test probabilities, `n × k`.
    pub(crate) p: &'a [f32],
    pub(crate) parameters: usize,
    pub(crate) bytes: usize,
    pub(crate) latency_us: f64,
    pub(crate) fit: &'a FitOutcome,
    pub(crate) hidden: &'a [usize],
}

/// Every metric of one student on the test rows.
pub(crate) fn student_summary(
    m: &Measured<'_>,
    teacher_test: &[f32],
    k: usize,
    y: &[Option<u32>],
    seed: u64,
) -> ModelSummary {
    let s = distillery_eval::Scores::of(m.p, k, y);
    ModelSummary {
        kind: m.kind.into(),
        accuracy: s.accuracy,
        macro_f1: s.macro_f1,
        log_loss: s.log_loss,
        fidelity: distillery_eval::fidelity(m.p, teacher_test, k),
        mean_kl: distillery_eval::mean_kl(m.p, teacher_test, k),
        parameters: Some(m.parameters),
        bytes: Some(m.bytes as u64),
        latency_us: Some(m.latency_us),
        quality: Quality::of(m.p, k, y, Some(teacher_test), seed),
        training: Some(TrainingSummary {
            hidden: m.hidden.to_vec(),
            epochs_run: m.fit.history.len(),
            best_epoch: m.fit.best_epoch,
            stopped_early: m.fit.stopped_early,
            resumed_after: m.fit.resumed_after,
        }),
    }
}

/// Student vs teacher row by row.
pub(crate) fn fidelity(student: &[f32], teacher: &[f32], k: usize) -> FidelityReport {
    FidelityReport {
        agreement: distillery_eval::fidelity(student, teacher, k),
        mean_kl: distillery_eval::mean_kl(student, teacher, k),
        disagreement: distillery_eval::disagreement_matrix(student, teacher, k),
    }
}

/// What the slice report is computed on.
pub(crate) struct SliceInput<'a> {
    pub(crate) table: &'a Table,
    /// Rows of `table` in the order of the probability rows.
    pub(crate) rows: &'a [usize],
    pub(crate) features: &'a [(String, Kind)],
    pub(crate) student: &'a [f32],
    /// The teacher's probabilities (`None`: slices report the student alone).
    pub(crate) teacher: Option<&'a [f32]>,
    pub(crate) k: usize,
    pub(crate) y: &'a [Option<u32>],
}

/// Declared slices, the weak-slice search (when `search` and the recipe allow) and the slice
/// gap over declared and single-feature slices.
pub(crate) fn slices(
    settings: &EvaluateSection,
    input: &SliceInput<'_>,
    search: bool,
) -> Result<SliceReport> {
    let outcomes = match input.teacher {
        Some(t) => Outcomes::new(input.student, t, input.k, input.y),
        None => Outcomes::without_teacher(input.student, input.k, input.y),
    };
    let labelled = input.y.iter().filter(|y| y.is_some()).count();
    let min_rows = settings
        .min_slice_rows
        .unwrap_or_else(|| (labelled / 100).max(30));
    let declared = settings
        .slices
        .iter()
        .map(|spec| {
            let spec =
                SliceSpec::parse(spec).map_err(|m| anyhow::anyhow!("[evaluate] slices: {m}"))?;
            Ok(slices::evaluate(
                &spec.build(input.table, input.rows)?,
                &outcomes,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let features = search_features(input.table, input.features, input.rows)?;
    let discovery = if settings.discover && search {
        let options = DiscoveryOptions {
            min_rows,
            min_effect: settings.min_effect,
            fdr: settings.fdr,
            ..DiscoveryOptions::default()
        };
        Some(slices::discover(&features, &outcomes, options))
    } else {
        None
    };
    let single: Vec<slices::SliceGroup> = match &discovery {
        Some(_) => Vec::new(),
        None => features
            .iter()
            .map(|f| slices::evaluate(f, &outcomes))
            .collect(),
    };
    let candidates = declared
        .iter()
        .chain(&single)
        .flat_map(|g| &g.slices)
        .chain(discovery.iter().flat_map(|d| &d.single));
    let gap = slices::slice_gap(candidates, min_rows);
    Ok(SliceReport {
        min_rows,
        declared,
        discovery,
        gap,
    })
}

/// What the gates are checked against.
pub(crate) struct GateInputs<'a> {
    pub(crate) teacher: Option<&'a ModelSummary>,
    pub(crate) student: &'a ModelSummary,
    pub(crate) slices: Option<&'a SliceReport>,
    /// The int8 student and its slices measured against the fp32 student.
    pub(crate) int8: Option<(&'a ModelSummary, &'a SliceReport)>,
}

/// Verdicts of every configured gate. A gate whose measurement is unavailable (no teacher,
/// no slice with enough rows, no int8 student) fails, naming why, rather than passing
/// silently.
pub(crate) fn gates(gates: &GatesSection, input: &GateInputs<'_>) -> Vec<GateResult> {
    let (teacher, student, slices) = (input.teacher, input.student, input.slices);
    let mut out = Vec::new();
    let mut push =
        |gate: &str, threshold: f64, value: Option<f64>, at_most: bool, detail: Option<String>| {
            let passed = value.is_some_and(|v| {
                if at_most {
                    v <= threshold
                } else {
                    v >= threshold
                }
            });
            out.push(GateResult {
                gate: gate.into(),
                threshold,
                value: value.unwrap_or(f64::NAN),
                passed,
                detail: if value.is_none() {
                    Some(detail.unwrap_or_else(|| "not measured".into()))
                } else {
                    detail
                },
            });
        };
    if let Some(min) = gates.min_fidelity {
        let value = teacher.map(|_| student.fidelity);
        push(
            "min_fidelity",
            min,
            value,
            false,
            teacher
                .is_none()
                .then(|| "no teacher to compare with".into()),
        );
    }
    if let Some(max) = gates.max_accuracy_drop {
        let value = teacher.map(|t| t.accuracy - student.accuracy);
        push(
            "max_accuracy_drop",
            max,
            value,
            true,
            teacher
                .is_none()
                .then(|| "no teacher to compare with".into()),
        );
    }
    if let Some(max) = gates.max_slice_gap {
        let gap = slices.and_then(|s| s.gap.as_ref());
        let detail = match (teacher, gap) {
            (None, _) => Some("no teacher to compare with".to_string()),
            (_, Some(g)) => Some(format!("{}, {} rows", g.slice.name, g.slice.labelled)),
            (_, None) => Some("no slice has enough labelled rows".to_string()),
        };
        push(
            "max_slice_gap",
            max,
            gap.filter(|_| teacher.is_some()).map(|g| g.gap),
            true,
            detail,
        );
    }
    if let Some(max) = gates.max_int8_drop {
        let (value, detail) = match input.int8 {
            None => (
                None,
                Some("no int8 student: set [quantize] int8 = true".to_string()),
            ),
            Some((q, sl)) => {
                let overall = student.accuracy - q.accuracy;
                match &sl.gap {
                    Some(g) if g.gap > overall => (
                        Some(g.gap),
                        Some(format!("{}, {} rows", g.slice.name, g.slice.labelled)),
                    ),
                    _ => (Some(overall), Some("all test rows".to_string())),
                }
            }
        };
        push("max_int8_drop", max, value, true, detail);
    }
    if let Some(max) = gates.max_ece {
        push("max_ece", max, Some(student.quality.ece), true, None);
    }
    if let Some(max) = gates.max_latency_us {
        push("max_latency_us", max, student.latency_us, true, None);
    }
    if let Some(max) = gates.max_bytes {
        push(
            "max_bytes",
            max as f64,
            student.bytes.map(|b| b as f64),
            true,
            None,
        );
    }
    out
}

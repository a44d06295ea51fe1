//! The evidence beyond headline metrics: fidelity, slices and gate verdicts, shared by
//! `distillery run` and `distillery eval`.

use distillery_data::{Kind, Table};
use distillery_eval::run_report::{
    FidelityReport, ModelSummary, Quality, SliceReport, TrainingSummary,
};
use distillery_eval::slices::{self, DiscoveryOptions, Outcomes};
use distillery_train::FitOutcome;

use crate::data::Prepared;
use crate::error::{Result, data_error, refuse};
use crate::recipe::EvaluateSection;
use distillery_eval::slices::{SliceSpec, search_features};

/// Checks, before any training, that every declared slice and feature group names real
/// columns, so a typo fails in a second rather than after the whole run.
pub fn check_columns(settings: &EvaluateSection, prepared: &Prepared) -> Result<()> {
    for spec in &settings.slices {
        let spec = SliceSpec::parse(spec).map_err(|m| data_error!("[evaluate] slices: {m}"))?;
        spec.build(prepared.test_table(), &prepared.test_rows)
            .map_err(|e| data_error!("[evaluate] slices: {e}"))?;
    }
    let names: Vec<&str> = prepared.features.iter().map(|(n, _)| n.as_str()).collect();
    for (group, columns) in &settings.feature_groups {
        if let Some(bad) = columns.iter().find(|c| !names.contains(&c.as_str())) {
            let hint = distillery_data::nearest(bad, prepared.train_table.names())
                .filter(|n| names.contains(&n.as_str()))
                .map(|n| format!("did you mean '{n}'? "))
                .unwrap_or_default();
            refuse!(
                "[evaluate] feature_groups.{group}: '{bad}' is not a feature column; {hint}features are {}",
                names.join(", ")
            );
        }
    }
    if let Some(bad) = settings
        .sensitive
        .iter()
        .find(|c| prepared.train_table.column(c).is_err())
    {
        let hint = distillery_data::nearest(bad, prepared.train_table.names())
            .map(|n| format!("; did you mean '{n}'?"))
            .unwrap_or_default();
        refuse!(
            "[evaluate] sensitive names '{bad}', which is not a column of the training data{hint}"
        );
    }
    Ok(())
}

/// A trained student's raw measurements.
pub struct Measured<'a> {
    /// What the report calls the model ("distilled MLP").
    pub kind: &'a str,
    /// Test probabilities, `n × k`.
    pub p: &'a [f32],
    /// Weights and biases in the network.
    pub parameters: usize,
    /// Size of the saved student.
    pub bytes: usize,
    /// Median latency of one raw row, in microseconds.
    pub latency_us: f64,
    /// How training went (epochs, best validation loss).
    pub fit: &'a FitOutcome,
    /// Hidden layer widths.
    pub hidden: &'a [usize],
}

/// Every metric of one student on the test rows.
pub fn student_summary(
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
pub fn fidelity(student: &[f32], teacher: &[f32], k: usize) -> FidelityReport {
    FidelityReport {
        agreement: distillery_eval::fidelity(student, teacher, k),
        mean_kl: distillery_eval::mean_kl(student, teacher, k),
        disagreement: distillery_eval::disagreement_matrix(student, teacher, k),
    }
}

/// What the slice report is computed on.
pub struct SliceInput<'a> {
    /// The table the test rows come from.
    pub table: &'a Table,
    /// Rows of `table` in the order of the probability rows.
    pub rows: &'a [usize],
    /// The feature columns slices may be built on.
    pub features: &'a [(String, Kind)],
    /// The model under test's probabilities, `n × k`.
    pub student: &'a [f32],
    /// The teacher's probabilities (`None`: slices report the student alone).
    pub teacher: Option<&'a [f32]>,
    /// Number of classes.
    pub k: usize,
    /// True class per row (`None`: unlabelled).
    pub y: &'a [Option<u32>],
}

/// Declared slices, the weak-slice search (when `search` and the recipe allow) and the slice
/// gap over declared and single-feature slices.
pub fn slices(
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
            let spec = SliceSpec::parse(spec).map_err(|m| data_error!("[evaluate] slices: {m}"))?;
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

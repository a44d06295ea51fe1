//! The evidence beyond headline metrics: fidelity, slices and gate verdicts, shared by
//! `distillery run` and `distillery eval`.

use anyhow::{Result, bail};
use distillery_data::{Kind, Table};
use distillery_eval::run_report::{
    FidelityReport, ModelSummary, Quality, SliceReport, TrainingSummary,
};
use distillery_eval::slices::{self, DiscoveryOptions, Outcomes};
use distillery_train::FitOutcome;

use super::data::Prepared;
use crate::recipe::EvaluateSection;
use distillery_eval::slices::{SliceSpec, search_features};

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

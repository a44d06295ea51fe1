//! The reference profile monitoring compares live traffic with, written into every run.

use crate::data::Prepared;
use crate::error::Result;

/// Held-out rows kept in a profile for label-free performance estimation.
const LABELLED_ROWS: usize = 20_000;

/// The reference profile monitoring compares live traffic with: the training rows'
/// features, and the student's predictions on the held-out rows (predictions on training
/// rows would be over-confident), tied to the student by its hash.
pub(crate) fn reference_profile(
    prepared: &Prepared,
    student_p: &[f32],
    student_bytes: &[u8],
) -> Result<distillery_monitor::Profile> {
    let train = prepared.train_table.take(&prepared.train_rows);
    let classes = &prepared.labels.classes;
    let probabilities: Vec<Vec<f64>> = student_p
        .chunks(classes.len().max(1))
        .map(|row| row.iter().map(|&p| f64::from(p)).collect())
        .collect();
    let mut profile = distillery_monitor::Profile::from_table(&train, &prepared.features)?
        .with_predictions(classes, &probabilities)
        .with_sample(&train, &prepared.features, 7)?
        .sketched();
    profile.student = Some(blake3::hash(student_bytes).to_hex().to_string());
    // At most LABELLED_ROWS held-out rows (an evenly spaced subset, order kept), so the
    // profile stays small for large test sets.
    let step = probabilities.len().div_ceil(LABELLED_ROWS).max(1);
    let (labelled, truth): (Vec<Vec<f64>>, Vec<usize>) = probabilities
        .iter()
        .zip(&prepared.test_labels)
        .step_by(step)
        .filter_map(|(p, y)| Some((p.clone(), (*y)? as usize)))
        .unzip();
    profile.labelled = Some(distillery_monitor::profile::LabelledReference {
        classes: classes.clone(),
        probabilities: labelled,
        truth,
    });
    Ok(profile)
}

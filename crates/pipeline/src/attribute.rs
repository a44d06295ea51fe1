//! `[evaluate] sensitive = [...]`: attribute inference against the student. For each
//! sensitive column, an attacker network learns the column's value from a training row's
//! other columns (the column's own inputs zeroed when the student reads it), once without
//! and once with the student's probabilities; both are scored on training rows they did
//! not learn from. The accuracy the probabilities add is the leak.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use distillery_eval::attribute::AttributeInference;
use distillery_runtime::{Encoder, Provenance, Student};
use distillery_train::{DistillParams, FitOptions, TransferSet, fit};

use crate::data::Prepared;
use crate::error::{Context, Result, data_error};

/// Rows used at most (half to train the attacker, half to score it).
const MAX_ROWS: usize = 20_000;

/// Most distinct values a sensitive column may have.
const MAX_LEVELS: usize = 50;

/// Attribute inference for every sensitive column.
pub(crate) fn report(
    data: &Prepared,
    student: &Student,
    columns: &[String],
    seed: u64,
) -> Result<Vec<AttributeInference>> {
    columns
        .iter()
        .map(|c| one(data, student, c, seed))
        .collect()
}

fn one(data: &Prepared, student: &Student, name: &str, seed: u64) -> Result<AttributeInference> {
    let column = data.train_table.column(name).map_err(|_| {
        data_error!(
            "[evaluate] sensitive names '{name}', which is not a column of the training data"
        )
    })?;
    // The value of each training row, as a level.
    let mut levels: Vec<String> = Vec::new();
    let mut rows: Vec<(usize, u32)> = Vec::new();
    for (i, &r) in data.train_rows.iter().enumerate() {
        let value = match column.text(r) {
            Some(t) => Some(t.to_string()),
            None => column.number(r).map(distillery_data::format_number),
        };
        let Some(value) = value else { continue };
        let code = match levels.iter().position(|l| *l == value) {
            Some(c) => c,
            None => {
                levels.push(value);
                levels.len() - 1
            }
        };
        if levels.len() > MAX_LEVELS {
            return Err(data_error!(
                "[evaluate] sensitive: '{name}' has more than {MAX_LEVELS} distinct values; attribute inference needs a categorical column (bin a numeric one first)"
            ));
        }
        rows.push((i, code as u32));
    }
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0xA771));
    rows.truncate(MAX_ROWS);
    if rows.len() < 40 || levels.len() < 2 {
        return Err(data_error!(
            "[evaluate] sensitive: '{name}' needs at least 40 training rows with a value and two distinct values"
        ));
    }
    let width = data.encoder.width();
    let mask = crate::distill::column_mask(data, &[name.to_string()]);
    let k = student.classes().len();
    let rows_x: Vec<f32> = rows
        .iter()
        .flat_map(|&(i, _)| {
            data.train_x[i * width..(i + 1) * width]
                .iter()
                .zip(&mask)
                .map(|(&v, &m)| if m { 0.0 } else { v })
                .collect::<Vec<f32>>()
        })
        .collect();
    let outputs = student.predict_encoded_batch(
        &rows
            .iter()
            .flat_map(|&(i, _)| data.train_x[i * width..(i + 1) * width].to_vec())
            .collect::<Vec<f32>>(),
        rows.len(),
    );
    let with: Vec<f32> = rows_x
        .chunks_exact(width)
        .zip(outputs.chunks_exact(k))
        .flat_map(|(x, p)| x.iter().chain(p).copied().collect::<Vec<f32>>())
        .collect();
    let labels: Vec<Option<u32>> = rows.iter().map(|&(_, c)| Some(c)).collect();
    let half = rows.len() / 2;
    let mut counts = vec![0usize; levels.len()];
    for &(_, c) in &rows[half..] {
        counts[c as usize] += 1;
    }
    let scored = rows.len() - half;
    let majority = counts.iter().copied().max().unwrap_or(0) as f64 / scored as f64;
    let without = attacker_right(&rows_x, width, &labels, half, levels.len(), seed)?;
    let with_outputs = attacker_right(&with, width + k, &labels, half, levels.len(), seed)?;
    let rate = |r: &[bool]| r.iter().filter(|&&b| b).count() as f64 / scored as f64;
    // McNemar on the rows where exactly one of the two attackers is right.
    let only_with = without
        .iter()
        .zip(&with_outputs)
        .filter(|(a, b)| !**a && **b)
        .count();
    let only_without = without
        .iter()
        .zip(&with_outputs)
        .filter(|(a, b)| **a && !**b)
        .count();
    Ok(AttributeInference {
        column: name.to_string(),
        rows: scored,
        majority,
        without_outputs: rate(&without),
        with_outputs: rate(&with_outputs),
        p_value: distillery_eval::mcnemar_exact(only_with as u64, only_without as u64),
    })
}

/// Trains an attacker on the first `half` rows of `x` (width `w`); which of the other rows
/// it gets right.
fn attacker_right(
    x: &[f32],
    w: usize,
    labels: &[Option<u32>],
    half: usize,
    classes: usize,
    seed: u64,
) -> Result<Vec<bool>> {
    let set = TransferSet {
        x: &x[..half * w],
        width: w,
        soft: None,
        labels: &labels[..half],
        classes,
    };
    let params = DistillParams {
        hidden: vec![32],
        soft_weight: 0.0,
        temperature: 1.0,
        steps: Some(2_000),
        patience: 0,
        patience_steps: None,
        seed,
        ..DistillParams::default()
    }
    .check()
    .map_err(|e| crate::error::PipelineError::Recipe(format!("attribute attacker: {e:?}")))?;
    let out = fit(&params, &set, None, &FitOptions::default())
        .context("training an attribute-inference attacker")?;
    let attacker = Student::new(
        Encoder::identity(w),
        (0..classes).map(|c| c.to_string()).collect(),
        out.layers,
        Vec::new(),
        Provenance::new(),
    )
    .context("building an attribute-inference attacker")?;
    let n = labels.len() - half;
    let p = attacker.predict_encoded_batch(&x[half * w..], n);
    Ok(p.chunks_exact(classes)
        .zip(&labels[half..])
        .map(|(row, y)| Some(distillery_eval::argmax(row) as u32) == *y)
        .collect())
}

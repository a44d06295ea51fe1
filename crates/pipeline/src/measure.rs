//! Measuring a student the way it will be used: latency through the full raw-row path, and
//! the int8 student quantized from it with its own scores.

use distillery_eval::run_report::{ModelSummary, Quality};
use distillery_eval::{Scores, fidelity, mean_kl};
use distillery_runtime::{QuantizedStudent, RawValue, Scratch, Student};
use distillery_train::raw_value;

use crate::data::Prepared;
use crate::error::Result;
use crate::latency;
use crate::recipe::ValidRecipe;

/// Raw cells of (up to) 256 test rows, for latency measurement through the full path.
pub(crate) fn test_raw_rows(prepared: &Prepared) -> Vec<Vec<RawValue<'_>>> {
    let columns: Vec<_> = prepared
        .encoder
        .names()
        .iter()
        .filter_map(|n| prepared.test_table().column(n).ok())
        .collect();
    prepared
        .test_rows
        .iter()
        .take(256)
        .map(|&r| columns.iter().map(|c| raw_value(c, r)).collect())
        .collect()
}

/// The median latency of one raw row through the fp32 student, in microseconds.
pub fn student_latency_of(student: &Student, rows: &[Vec<RawValue<'_>>]) -> f64 {
    let mut scratch = Scratch::default();
    let mut out = vec![0.0; student.classes().len()];
    latency::median_us(5000, |i| {
        let row = &rows[i % rows.len()];
        // Errors cannot occur here: the rows were encoded successfully for evaluation.
        let _ = student.predict_one_into(row, &mut scratch, &mut out);
        std::hint::black_box(&out);
    })
}

/// The int8 student and its measurements.
pub(crate) struct Int8 {
    pub(crate) student: QuantizedStudent,
    pub(crate) summary: ModelSummary,
    pub(crate) bytes: Vec<u8>,
    /// Test probabilities.
    pub(crate) p: Vec<f32>,
}

/// Quantizes the student (calibrated on training rows) and measures it like the others.
pub(crate) fn quantize(
    recipe: &ValidRecipe,
    prepared: &Prepared,
    student: &Student,
    teacher_test: &[f32],
    test_y: &[Option<u32>],
    raw_rows: &[Vec<RawValue<'_>>],
) -> Result<Int8> {
    let width = prepared.encoder.width();
    let n = prepared.train_rows.len();
    let take = recipe.quantize.calibration_rows.clamp(1, n);
    let stride = n / take;
    let calibration: Vec<f32> = (0..take)
        .flat_map(|i| {
            prepared.train_x[i * stride * width..(i * stride + 1) * width]
                .iter()
                .copied()
        })
        .collect();
    let q = QuantizedStudent::quantize(student, &calibration, take, recipe.calibration);
    let k = student.classes().len();
    let p = q.predict_encoded_batch(&prepared.test_x, test_y.len());
    let s = Scores::of(&p, k, test_y);
    let bytes = q.to_bytes()?;
    let mut scratch = distillery_runtime::Int8Scratch::default();
    let mut out = vec![0.0; k];
    let latency = latency::median_us(5000, |i| {
        let _ = q.predict_one_into(&raw_rows[i % raw_rows.len()], &mut scratch, &mut out);
        std::hint::black_box(&out);
    });
    let summary = ModelSummary {
        kind: format!(
            "int8 ({:?} calibration on {take} training rows)",
            recipe.calibration
        ),
        accuracy: s.accuracy,
        macro_f1: s.macro_f1,
        log_loss: s.log_loss,
        fidelity: fidelity(&p, teacher_test, k),
        mean_kl: mean_kl(&p, teacher_test, k),
        parameters: Some(student.parameters()),
        bytes: Some(bytes.len() as u64),
        latency_us: Some(latency),
        quality: Quality::of(&p, k, test_y, Some(teacher_test), recipe.distill.seed),
        training: None,
    };
    Ok(Int8 {
        student: q,
        summary,
        bytes,
        p,
    })
}

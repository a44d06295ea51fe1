//! What every student offers a caller, fp32 or int8 alike, so code that scores rows (the
//! `predict` command, benchmarks, an embedding application) takes either without caring
//! which: its classes, its encoder, and class probabilities for rows (`predict_proba`, in
//! the vocabulary of scikit-learn and linfa).

use alloc::vec;
use alloc::vec::Vec;

use crate::encoder::{Encoder, RawValue};
use crate::error::Result;

/// A student that turns raw rows into class probabilities.
pub trait Predict {
    /// Class names, in the order of the probabilities.
    fn classes(&self) -> &[alloc::string::String];

    /// The feature encoder the student was trained with.
    fn encoder(&self) -> &Encoder;

    /// The cell texts read as missing values when the student was trained.
    fn missing_tokens(&self) -> &[alloc::string::String];

    /// Probabilities for `n` rows already encoded (`x` is `n × encoder width`, row-major);
    /// `n × classes` out.
    fn predict_encoded_batch(&self, x: &[f32], n: usize) -> Vec<f32>;

    /// Probabilities for raw rows (`rows.len() × classes`), through one batched pass.
    ///
    /// # Errors
    /// A row of the wrong width, or text in a numeric feature.
    fn predict_proba(&self, rows: &[&[RawValue<'_>]]) -> Result<Vec<f32>> {
        let width = self.encoder().width();
        let mut x = vec![0.0f32; rows.len() * width];
        for (row, out) in rows.iter().zip(x.chunks_exact_mut(width.max(1))) {
            self.encoder().encode_into(row, out)?;
        }
        Ok(self.predict_encoded_batch(&x, rows.len()))
    }
}

impl Predict for crate::Student {
    fn classes(&self) -> &[alloc::string::String] {
        crate::Student::classes(self)
    }
    fn encoder(&self) -> &Encoder {
        crate::Student::encoder(self)
    }
    fn missing_tokens(&self) -> &[alloc::string::String] {
        crate::Student::missing_tokens(self)
    }
    fn predict_encoded_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        crate::Student::predict_encoded_batch(self, x, n)
    }
}

impl Predict for crate::QuantizedStudent {
    fn classes(&self) -> &[alloc::string::String] {
        crate::QuantizedStudent::classes(self)
    }
    fn encoder(&self) -> &Encoder {
        crate::QuantizedStudent::encoder(self)
    }
    fn missing_tokens(&self) -> &[alloc::string::String] {
        crate::QuantizedStudent::missing_tokens(self)
    }
    fn predict_encoded_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        crate::QuantizedStudent::predict_encoded_batch(self, x, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::student::tests::tiny;
    use crate::{Calibration, QuantizedStudent};

    /// Probabilities of any student, through the trait only.
    fn proba(model: &dyn Predict, rows: &[&[RawValue<'_>]]) -> Vec<f32> {
        model.predict_proba(rows).expect("rows fit the encoder")
    }

    #[test]
    fn fp32_and_int8_students_answer_through_one_trait() {
        let s = tiny();
        let x: Vec<f32> = (0..40)
            .flat_map(|i| [((i % 7) as f32 - 3.0) / 2.0, (i % 2) as f32, 0.0])
            .collect();
        let q = QuantizedStudent::quantize(&s, &x, 40, Calibration::MinMax);
        let a = [RawValue::Number(1.5), RawValue::Text("a")];
        let b = [RawValue::Missing, RawValue::Text("zz")];
        let rows: [&[RawValue<'_>]; 2] = [&a, &b];
        let fp = proba(&s, &rows);
        assert_eq!(fp, s.predict_batch(&rows).expect("batch"));
        let int8 = proba(&q, &rows);
        assert_eq!(Predict::classes(&q), Predict::classes(&s));
        for (x, y) in fp.iter().zip(&int8) {
            assert!((x - y).abs() < 0.05, "{x} vs {y}");
        }
    }
}

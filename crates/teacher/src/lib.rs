//! Teachers for distillery, behind one small trait ([`Teacher`]: a batch of rows in, class
//! probabilities out):
//! - [`OnnxTeacher`]: any ONNX classifier. Tree ensembles (scikit-learn, LightGBM, XGBoost
//!   exports) run on our own evaluator, which matches onnxruntime and is hundreds of times
//!   faster than tract on trees; other graphs run on tract (feature `tract`, default on).
//! - [`read_soft_labels`]: probabilities precomputed by any external system, validated.
//! - [`MlpTeacher`]: a large MLP trained in-house (by `distillery-train`) for users who
//!   arrive with labelled data only.
//!
//! This crate never trains anything; it only produces soft labels.
//!
//! ```no_run
//! use distillery_teacher::{OnnxOptions, OnnxTeacher, Teacher};
//! let teacher = OnnxTeacher::load("teacher.onnx".as_ref(), &OnnxOptions::default())?;
//! let p = teacher.predict_proba(&vec![0.0; teacher.input_width()], 1)?;
//! assert_eq!(p.len(), teacher.n_classes());
//! # Ok::<(), distillery_teacher::TeacherError>(())
//! ```

mod columns;
mod error;
mod graph;
mod onnx;
mod tensor;
#[cfg(feature = "tract")]
mod tract;
mod tree;

use serde::{Deserialize, Serialize};

pub use columns::{SUM_TOLERANCE, read_soft_labels, soft_label_columns};
pub use error::{Result, TeacherError};
pub use onnx::{OnnxOptions, OnnxTeacher};

/// A source of soft labels: `n` rows of `input_width()` floats in, `n × n_classes()`
/// class probabilities out (rows sum to 1).
pub trait Teacher: Send + Sync {
    /// Values per input row.
    fn input_width(&self) -> usize;
    /// Number of classes in the output.
    fn n_classes(&self) -> usize;
    /// Class probabilities for `n` rows of `x` (row-major).
    ///
    /// # Errors
    /// Wrong input width, or the engine failed.
    fn predict_proba(&self, x: &[f32], n: usize) -> Result<Vec<f32>>;
    /// One line for logs and reports.
    fn describe(&self) -> String;
}

/// Whether a teacher's output holds probabilities or logits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Probabilities when every row is non-negative and sums to 1 (± 1e-3), else logits.
    #[default]
    Auto,
    /// Probabilities.
    Probabilities,
    /// Unnormalised log-probabilities; a softmax is applied.
    Logits,
}

/// True when every row of `k` values lies in [0, 1] and sums to 1 ± [`SUM_TOLERANCE`].
pub fn looks_like_probabilities(values: &[f32], k: usize) -> bool {
    values.chunks_exact(k).all(|row| {
        row.iter().all(|&p| (0.0..=1.0).contains(&p))
            && (row.iter().map(|&p| f64::from(p)).sum::<f64>() - 1.0).abs() <= SUM_TOLERANCE
    })
}

/// An in-house MLP teacher: a [`distillery_runtime::Student`]-shaped network (usually much
/// larger than the student) fed with encoded rows.
pub struct MlpTeacher(pub distillery_runtime::Student);

impl Teacher for MlpTeacher {
    fn input_width(&self) -> usize {
        self.0.encoder().width()
    }

    fn n_classes(&self) -> usize {
        self.0.classes().len()
    }

    fn predict_proba(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        if x.len() != n * self.input_width() {
            return Err(TeacherError::InputWidth {
                expected: self.input_width(),
                found: x.len() / n.max(1),
            });
        }
        Ok(self.0.predict_encoded_batch(x, n))
    }

    fn describe(&self) -> String {
        let dims: Vec<String> = self
            .0
            .layers()
            .iter()
            .map(|l| l.outputs.to_string())
            .collect();
        format!("in-house MLP {}→{}", self.input_width(), dims.join("→"))
    }
}

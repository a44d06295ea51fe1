//! Teachers for distillery, behind one trait ([`Teacher`]: rows of a table in, class
//! probabilities out, in the caller's class order). Training, live monitoring and
//! re-distillation all label rows through it:
//! - [`OnnxTeacher`]: any ONNX classifier ([`OnnxModel`]) run in this process, fed from
//!   table columns. Tree ensembles (scikit-learn, LightGBM, XGBoost exports) run on our own
//!   evaluator, which matches onnxruntime and is hundreds of times faster than tract on
//!   trees; other graphs run on tract (feature `tract`, default on).
//! - [`ColumnsTeacher`]: probabilities precomputed by any external system, validated.
//! - [`MlpTeacher`]: a large MLP trained in-house (by `distillery-train`) for users who
//!   arrive with labelled data only.
//! - [`RemoteTeacher`]: a model behind an Open Inference Protocol endpoint.
//!
//! This crate never trains anything; it only produces soft labels.
//!
//! ```no_run
//! use distillery_data::{ReadOptions, Schema, SchemaOptions, Table};
//! use distillery_teacher::{OnnxModel, OnnxOptions, OnnxTeacher, Teacher};
//!
//! let table = Table::read("rows.csv".as_ref(), &ReadOptions::default())?;
//! let schema = Schema::infer(&table, &SchemaOptions::default())?;
//! let model = OnnxModel::load("teacher.onnx".as_ref(), &OnnxOptions::default())?;
//! let classes = ["<=50K".to_string(), ">50K".to_string()];
//! let teacher = OnnxTeacher::new(model, &classes, None, &schema, Some(&table))?;
//! let p = teacher.label(&table, &[0, 1, 2])?;
//! assert_eq!(p.len(), 3 * classes.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod column_inputs;
mod columns;
mod error;
mod feed;
mod graph;
mod ml_ops;
mod onnx;
mod remote;
mod rows;
mod tensor;
#[cfg(feature = "tract")]
mod text;
#[cfg(feature = "tract")]
mod tract;
mod tree;
mod values;

use serde::{Deserialize, Serialize};

pub use column_inputs::{ColumnInput, ColumnKind, ColumnValues};
pub use columns::{SUM_TOLERANCE, read_soft_labels, soft_label_columns};
pub use error::{Result, TeacherError};
pub use feed::TeacherFeed;
pub use onnx::{OnnxModel, OnnxOptions};
pub use remote::{REMOTE_TIMEOUT, RemoteOptions, RemoteTeacher};
pub use rows::{ColumnsTeacher, OnnxTeacher, Teacher, class_order, reorder};
#[cfg(feature = "tract")]
pub use text::{EMBEDDING_OUTPUT, TextTeacher, word_embeddings};

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

impl MlpTeacher {
    /// Values per encoded input row.
    pub fn input_width(&self) -> usize {
        self.0.encoder().width()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.0.classes().len()
    }

    /// Class probabilities for `n` encoded rows of `x` (row-major).
    ///
    /// # Errors
    /// Wrong input width.
    pub fn predict_proba(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        if x.len() != n * self.input_width() {
            return Err(TeacherError::InputWidth {
                expected: self.input_width(),
                found: x.len() / n.max(1),
            });
        }
        Ok(self.0.predict_encoded_batch(x, n))
    }

    /// One line for logs and reports ("in-house MLP 108→256→256→2").
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self
            .0
            .layers()
            .iter()
            .map(|l| l.outputs.to_string())
            .collect();
        format!("in-house MLP {}→{}", self.input_width(), dims.join("→"))
    }
}

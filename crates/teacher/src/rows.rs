//! The one [`Teacher`] trait every teacher implements (an ONNX model run here, soft-label
//! columns, the in-house MLP, a remote endpoint): rows of a table in, probabilities out
//! in the caller's class order. Training, live monitoring and re-distillation all label
//! rows through it.

use std::path::Path;

use distillery_data::{Column, Schema, Table};
use distillery_runtime::RawValue;

use crate::error::{Result, TeacherError};
use crate::feed::TeacherFeed;
use crate::{MlpTeacher, OnnxModel, OutputKind, read_soft_labels, soft_label_columns};

/// A source of soft labels for rows of a table.
pub trait Teacher: Send + Sync {
    /// The classes, in the order of each row's probabilities.
    fn classes(&self) -> &[String];
    /// Class probabilities for `rows` of `table`: `rows.len() × classes().len()`, row-major,
    /// each row summing to 1.
    ///
    /// # Errors
    /// The table lacks a column the teacher reads, or the teacher failed.
    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>>;
    /// One line for logs and reports.
    fn describe(&self) -> String;
}

/// An ONNX model run in this process, fed from table columns, answering in the caller's
/// class order.
pub struct OnnxTeacher {
    /// The loaded model (floats in, its own class order out).
    pub model: OnnxModel,
    /// Which columns it reads and how categories become codes.
    pub feed: TeacherFeed,
    order: Vec<usize>,
    classes: Vec<String>,
}

impl OnnxTeacher {
    /// Binds `model` to `classes` (matched by the model's class labels when it carries
    /// them) and to its input columns (`inputs`, else the model's metadata, else every
    /// feature of `schema`), checked against `table` when given.
    ///
    /// # Errors
    /// The class count differs, or the columns cannot feed the model.
    pub fn new(
        model: OnnxModel,
        classes: &[String],
        inputs: Option<&[String]>,
        schema: &Schema,
        table: Option<&Table>,
    ) -> Result<OnnxTeacher> {
        let feed = TeacherFeed::new(&model, inputs, schema, table)?;
        let order = class_order(&model, classes, &model.path)?;
        Ok(OnnxTeacher {
            model,
            feed,
            order,
            classes: classes.to_vec(),
        })
    }

    /// Where the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.model.path
    }
}

impl Teacher for OnnxTeacher {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let k = self.classes.len();
        let p = if self.feed.per_column_inputs() {
            let columns = self.feed.build_columns(table, rows)?;
            self.model.predict_columns(&columns, rows.len())?
        } else {
            let x = self.feed.build(table, rows)?;
            self.model.predict_proba(&x, rows.len())?
        };
        if let Some(bad) = p.iter().position(|v| !v.is_finite()) {
            return Err(TeacherError::Runtime(format!(
                "the teacher returned {} for row {} of {}; neural-network teachers cannot take missing values (tree ensembles can): impute or drop rows with missing inputs",
                p[bad],
                rows[bad / k.max(1)] + 1,
                table.path().display()
            )));
        }
        Ok(reorder(&p, &self.order, k))
    }

    fn describe(&self) -> String {
        self.model.describe()
    }
}

/// Probabilities precomputed by another system, read from columns `<prefix><class>` of
/// whatever table is being labelled.
pub struct ColumnsTeacher {
    prefix: String,
    classes: Vec<String>,
    kind: OutputKind,
}

impl ColumnsTeacher {
    /// Reads columns named `prefix` + class (probabilities or logits, per `kind`).
    pub fn new(prefix: &str, classes: &[String], kind: OutputKind) -> ColumnsTeacher {
        ColumnsTeacher {
            prefix: prefix.to_string(),
            classes: classes.to_vec(),
            kind,
        }
    }
}

impl Teacher for ColumnsTeacher {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let columns = soft_label_columns(table, &self.prefix, &self.classes)?;
        read_soft_labels(table, &columns, rows, self.kind)
    }

    fn describe(&self) -> String {
        format!("soft-label columns {}*", self.prefix)
    }
}

impl Teacher for MlpTeacher {
    fn classes(&self) -> &[String] {
        self.0.classes()
    }

    /// Encodes the rows with the network's own encoder, then runs the batch.
    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let encoder = self.0.encoder();
        let columns: Vec<&Column> = encoder
            .names()
            .iter()
            .map(|n| {
                table
                    .column(n)
                    .map_err(|e| TeacherError::Feed(e.to_string()))
            })
            .collect::<Result<_>>()?;
        let width = encoder.width();
        let mut x = vec![0.0f32; rows.len() * width];
        let mut raw: Vec<RawValue<'_>> = Vec::with_capacity(columns.len());
        for (i, &r) in rows.iter().enumerate() {
            raw.clear();
            raw.extend(columns.iter().map(|c| cell(c, r)));
            encoder
                .encode_into(&raw, &mut x[i * width..(i + 1) * width])
                .map_err(|e| TeacherError::Feed(e.to_string()))?;
        }
        self.predict_proba(&x, rows.len())
    }

    fn describe(&self) -> String {
        MlpTeacher::describe(self)
    }
}

/// One table cell as the runtime's raw value.
fn cell(column: &Column, row: usize) -> RawValue<'_> {
    match column {
        Column::Numeric(v) if v[row].is_nan() => RawValue::Missing,
        Column::Numeric(v) => RawValue::Number(v[row]),
        Column::Text { .. } => column.text(row).map_or(RawValue::Missing, RawValue::Text),
    }
}

/// For each of `classes`, the model output column holding it: by the model's class labels
/// when it carries them, else the same order (with a warning when the labels differ).
///
/// # Errors
/// The model predicts a different number of classes.
pub fn class_order(model: &OnnxModel, classes: &[String], path: &Path) -> Result<Vec<usize>> {
    let k = model.n_classes();
    if k != classes.len() {
        return Err(TeacherError::Feed(format!(
            "teacher {} predicts {k} classes but the target has {} ({:?}); use a teacher trained on this target",
            path.display(),
            classes.len(),
            classes
        )));
    }
    if let Some(labels) = &model.class_labels {
        let order: Option<Vec<usize>> = classes
            .iter()
            .map(|c| labels.iter().position(|l| l == c))
            .collect();
        if let Some(order) = order {
            return Ok(order);
        }
        tracing::warn!(
            "teacher class labels {labels:?} differ from the target's {classes:?}; assuming the same order"
        );
    }
    Ok((0..k).collect())
}

/// Rearranges `n × k` probabilities from a model's class order into the caller's.
pub fn reorder(p: &[f32], order: &[usize], k: usize) -> Vec<f32> {
    if order.iter().enumerate().all(|(i, &o)| i == o) {
        return p.to_vec();
    }
    p.chunks_exact(k)
        .flat_map(|row| order.iter().map(move |&o| row[o]))
        .collect()
}

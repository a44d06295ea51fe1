//! What an ONNX teacher receives: one float per input column, numbers as they are,
//! categories as the integer codes stored in the model (unseen or missing → NaN).

use std::collections::HashMap;

use distillery_data::{Column, Kind, Schema, Table, format_number};

use crate::OnnxModel;
use crate::column_inputs::{ColumnInput, ColumnKind, ColumnValues};
use crate::error::{Result, TeacherError};

/// Returns early with [`TeacherError::Feed`] built like `format!`.
macro_rules! refuse {
    ($($t:tt)*) => {
        return Err(TeacherError::Feed(format!($($t)*)))
    };
}

/// A table that lacks a column the teacher reads.
fn feed_error(e: distillery_data::DataError) -> TeacherError {
    TeacherError::Feed(e.to_string())
}

/// The column order and category codes a teacher takes.
pub struct TeacherFeed {
    /// The columns the teacher reads, in its input order.
    pub columns: Vec<String>,
    codes: Vec<Option<HashMap<String, f32>>>,
    /// For a model with one input per column: each input's type (else `None`: one matrix).
    kinds: Option<Vec<ColumnKind>>,
}

/// Lower case with every run of other characters than letters and digits as one `_`: the
/// names converters give inputs (skl2onnx turns `education-num` into `education_num`).
fn normalized(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

impl TeacherFeed {
    /// Resolves the teacher's inputs: the recipe's list, else the model's metadata, else
    /// every feature column in file order; checks width and category codes (against
    /// `table`'s columns when given, else against `schema` alone).
    pub fn new(
        teacher: &OnnxModel,
        recipe_inputs: Option<&[String]>,
        schema: &Schema,
        table: Option<&Table>,
    ) -> Result<TeacherFeed> {
        if let Some(inputs) = &teacher.columns {
            return TeacherFeed::per_column(inputs, recipe_inputs, schema, table);
        }
        let columns: Vec<String> = match (recipe_inputs, &teacher.input_names) {
            (Some(list), _) => list.to_vec(),
            (None, Some(meta)) => meta.clone(),
            (None, None) => schema.features().iter().map(|c| c.name.clone()).collect(),
        };
        if columns.len() != teacher.input_width() {
            refuse!(
                "the teacher takes {} inputs per row but {} columns would feed it ({}); list the teacher's columns in order with [teacher] inputs = [...]",
                teacher.input_width(),
                columns.len(),
                columns.join(", ")
            );
        }
        let mut codes = Vec::with_capacity(columns.len());
        for name in &columns {
            let text = match table {
                Some(t) => matches!(t.column(name).map_err(feed_error)?, Column::Text { .. }),
                None if schema.kind_of(name).is_none() => {
                    refuse!("teacher input '{name}' is not a known feature column")
                }
                None => false,
            };
            let categorical = schema.kind_of(name) == Some(Kind::Categorical) || text;
            codes.push(match (teacher.categories.get(name), categorical) {
                (Some(levels), _) => Some(levels.iter().enumerate().map(|(i, l)| (l.clone(), i as f32)).collect()),
                (None, false) => None,
                (None, true) => refuse!(
                    "teacher input '{name}' is categorical but the teacher carries no category codes for it; distillery feeds ONNX teachers floats, so store the levels in the model's metadata (distillery.categories, see tools/teachers.py) or leave the column out of [teacher] inputs"
                ),
            });
        }
        Ok(TeacherFeed {
            columns,
            codes,
            kinds: None,
        })
    }

    /// Binds each model input to a column: the recipe's list in input order, else the
    /// column of the same name (or the same name once normalised, see [`normalized`]).
    fn per_column(
        inputs: &[ColumnInput],
        recipe_inputs: Option<&[String]>,
        schema: &Schema,
        table: Option<&Table>,
    ) -> Result<TeacherFeed> {
        let known: Vec<String> = match table {
            Some(t) => t.names().to_vec(),
            None => schema.columns.iter().map(|c| c.name.clone()).collect(),
        };
        let columns: Vec<String> = match recipe_inputs {
            Some(list) if list.len() != inputs.len() => refuse!(
                "the teacher has {} inputs but [teacher] inputs lists {} columns",
                inputs.len(),
                list.len()
            ),
            Some(list) => list.to_vec(),
            None => inputs
                .iter()
                .map(|i| {
                    known
                        .iter()
                        .find(|c| **c == i.name)
                        .or_else(|| known.iter().find(|c| normalized(c) == normalized(&i.name)))
                        .cloned()
                        .ok_or_else(|| {
                            TeacherError::Feed(format!(
                                "teacher input '{}' matches no column; name the columns that feed the teacher's inputs, in order, with [teacher] inputs = [...]",
                                i.name
                            ))
                        })
                })
                .collect::<Result<_>>()?,
        };
        if let Some(t) = table {
            for c in &columns {
                t.column(c).map_err(feed_error)?;
            }
        }
        Ok(TeacherFeed {
            codes: vec![None; columns.len()],
            columns,
            kinds: Some(inputs.iter().map(|i| i.kind).collect()),
        })
    }

    /// True when the teacher takes one input per column ([`TeacherFeed::build_columns`]).
    pub fn per_column_inputs(&self) -> bool {
        self.kinds.is_some()
    }

    /// One value list per model input for rows `rows` of `table` (models with one input per
    /// column): numbers as they are (missing = NaN), text as written (missing = empty).
    pub fn build_columns(&self, table: &Table, rows: &[usize]) -> Result<Vec<ColumnValues>> {
        let kinds = self.kinds.as_deref().unwrap_or_default();
        self.columns
            .iter()
            .zip(kinds)
            .map(|(name, kind)| {
                let col = table.column(name).map_err(feed_error)?;
                let text = |r: usize| match col {
                    Column::Text { .. } => col.text(r).unwrap_or_default().to_string(),
                    Column::Numeric(_) => col.number(r).map(format_number).unwrap_or_default(),
                };
                let number = |r: usize| match col {
                    Column::Numeric(_) => col.number(r).map_or(f32::NAN, |x| x as f32),
                    Column::Text { .. } => col
                        .text(r)
                        .and_then(|t| t.trim().parse().ok())
                        .unwrap_or(f32::NAN),
                };
                Ok(match kind {
                    ColumnKind::Text => ColumnValues::Text(rows.iter().map(|&r| text(r)).collect()),
                    ColumnKind::Number => {
                        ColumnValues::Numbers(rows.iter().map(|&r| number(r)).collect())
                    }
                    ColumnKind::Integer => {
                        ColumnValues::Integers(rows.iter().map(|&r| number(r) as i64).collect())
                    }
                })
            })
            .collect()
    }

    /// A feed for a model about to be built: `columns` in input order, with `levels` giving
    /// the codes of the categorical ones (index = code).
    pub fn with_levels(columns: Vec<String>, levels: &HashMap<String, Vec<String>>) -> TeacherFeed {
        let codes = columns
            .iter()
            .map(|c| {
                levels.get(c).map(|l| {
                    l.iter()
                        .enumerate()
                        .map(|(i, v)| (v.clone(), i as f32))
                        .collect()
                })
            })
            .collect();
        TeacherFeed {
            columns,
            codes,
            kinds: None,
        }
    }

    /// The `rows.len() × columns` float matrix for rows `rows` of `table`.
    pub fn build(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let cols: Vec<&Column> = self
            .columns
            .iter()
            .map(|c| table.column(c).map_err(feed_error))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(rows.len() * cols.len());
        for &r in rows {
            for (col, codes) in cols.iter().zip(&self.codes) {
                out.push(match codes {
                    Some(map) => match col {
                        Column::Text { .. } => col
                            .text(r)
                            .and_then(|t| map.get(t))
                            .copied()
                            .unwrap_or(f32::NAN),
                        Column::Numeric(_) => col
                            .number(r)
                            .and_then(|x| map.get(&format_number(x)))
                            .copied()
                            .unwrap_or(f32::NAN),
                    },
                    None => col.number(r).map_or(f32::NAN, |x| x as f32),
                });
            }
        }
        Ok(out)
    }
}

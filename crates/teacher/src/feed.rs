//! What an ONNX teacher receives: one float per input column, numbers as they are,
//! categories as the integer codes stored in the model (unseen or missing → NaN).

use std::collections::HashMap;

use distillery_data::{Column, Kind, Schema, Table, format_number};

use crate::OnnxModel;
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
        Ok(TeacherFeed { columns, codes })
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
        TeacherFeed { columns, codes }
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

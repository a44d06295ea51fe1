//! Precomputed soft labels: one column per class holding the teacher's probabilities (or
//! logits), produced by any external system (an LLM, a model behind an API, …).

use distillery_data::Table;

use crate::OutputKind;
use crate::error::{Result, TeacherError};

/// Tolerance on a probability row's sum.
pub const SUM_TOLERANCE: f64 = 1e-3;

/// The soft-label columns for `classes`: `{prefix}{class}` for every class when all exist,
/// otherwise every column starting with `prefix`, in file order.
///
/// # Errors
/// No such columns, or a count different from the number of classes.
pub fn soft_label_columns(table: &Table, prefix: &str, classes: &[String]) -> Result<Vec<String>> {
    let named: Vec<String> = classes.iter().map(|c| format!("{prefix}{c}")).collect();
    if named.iter().all(|n| table.index_of(n).is_ok()) {
        return Ok(named);
    }
    let found: Vec<String> = table
        .names()
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect();
    if found.len() != classes.len() {
        return Err(TeacherError::SoftLabels(format!(
            "{}: [teacher] columns = \"{prefix}\" matches {} column(s) {:?} but the target has {} classes {:?}; give one column per class, named {prefix}<class> or in class order",
            table.path().display(),
            found.len(),
            found,
            classes.len(),
            classes
        )));
    }
    Ok(found)
}

/// Reads and validates soft labels for rows `rows`, returning `rows.len() × classes`
/// probabilities (logits are turned into probabilities with a softmax).
///
/// # Errors
/// A missing or non-numeric cell, a negative probability, or a row whose probabilities do
/// not sum to 1 ± [`SUM_TOLERANCE`]; each names the file, row and column.
pub fn read_soft_labels(
    table: &Table,
    columns: &[String],
    rows: &[usize],
    kind: OutputKind,
) -> Result<Vec<f32>> {
    let k = columns.len();
    let cols: Vec<_> = columns
        .iter()
        .map(|c| {
            table
                .column(c)
                .map_err(|e| TeacherError::SoftLabels(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let path = table.path().display().to_string();
    let mut out = Vec::with_capacity(rows.len() * k);
    for &r in rows {
        for (col, name) in cols.iter().zip(columns) {
            let v = col.number(r).ok_or_else(|| {
                TeacherError::SoftLabels(format!(
                    "{path}: row {} column '{name}' is {} but soft labels must be numbers",
                    r + 1,
                    col.text(r)
                        .map_or("missing".to_string(), |t| format!("'{t}'"))
                ))
            })?;
            out.push(v as f32);
        }
    }
    let probabilities = match kind {
        OutputKind::Probabilities => true,
        OutputKind::Logits => false,
        OutputKind::Auto => {
            out.iter().all(|&p| p >= 0.0) && crate::looks_like_probabilities(&out, k)
        }
    };
    if probabilities {
        for (i, row) in out.chunks_exact(k).enumerate() {
            let sum: f64 = row.iter().map(|&p| f64::from(p)).sum();
            if let Some(j) = row.iter().position(|&p| p < 0.0) {
                return Err(TeacherError::SoftLabels(format!(
                    "{path}: row {} column '{}' is {} but probabilities cannot be negative",
                    rows[i] + 1,
                    columns[j],
                    row[j]
                )));
            }
            if (sum - 1.0).abs() > SUM_TOLERANCE {
                return Err(TeacherError::SoftLabels(format!(
                    "{path}: row {} soft labels {columns:?} sum to {sum:.6}, not 1 ± {SUM_TOLERANCE}; fix the row, or set [teacher] output = \"logits\" if they are logits",
                    rows[i] + 1
                )));
            }
        }
    } else {
        out.chunks_exact_mut(k)
            .for_each(distillery_runtime::softmax_in_place);
    }
    Ok(out)
}

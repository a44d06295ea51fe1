//! Class labels: the target column turned into class indices; a missing label marks an
//! unlabelled row, which distillation still uses through the teacher's soft labels.

use serde::{Deserialize, Serialize};

use crate::table::Column;

/// Class names and one optional class index per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Class names, sorted (numerically when every name is a number).
    pub classes: Vec<String>,
    /// Class index of each row; `None` for an unlabelled row.
    pub y: Vec<Option<u32>>,
}

impl Labels {
    /// Reads labels from a target column. With `classes` given (e.g. those of the training
    /// file), values outside them become `Err(value)` so the caller can report them.
    ///
    /// # Errors
    /// The first label not in `classes`.
    pub fn from_column(column: &Column, classes: Option<&[String]>) -> Result<Labels, String> {
        let n = column.len();
        let texts: Vec<Option<String>> = (0..n)
            .map(|r| match column {
                Column::Numeric(_) => column.number(r).map(crate::table::format_number),
                Column::Text { .. } => column.text(r).map(str::to_string),
            })
            .collect();
        let classes: Vec<String> = match classes {
            Some(c) => c.to_vec(),
            None => sorted_classes(texts.iter().flatten().cloned().collect()),
        };
        let mut y = Vec::with_capacity(n);
        for t in texts {
            y.push(match t {
                None => None,
                Some(t) => match classes.iter().position(|c| *c == t) {
                    Some(i) => Some(i as u32),
                    None => return Err(t),
                },
            });
        }
        Ok(Labels { classes, y })
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Rows per class (unlabelled rows not counted).
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes.len()];
        for &y in self.y.iter().flatten() {
            c[y as usize] += 1;
        }
        c
    }
}

fn sorted_classes(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    if values.iter().all(|v| v.parse::<f64>().is_ok()) {
        values.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels_sort_numerically_and_missing_is_unlabelled() {
        let col = Column::Numeric(vec![10.0, 9.0, f64::NAN, 10.0]);
        let l = Labels::from_column(&col, None).unwrap();
        assert_eq!(l.classes, ["9", "10"]);
        assert_eq!(l.y, [Some(1), Some(0), None, Some(1)]);
        assert_eq!(l.counts(), [1, 2]);
    }

    #[test]
    fn unknown_label_against_given_classes_is_reported() {
        let col = Column::Text {
            levels: vec!["a".into(), "z".into()],
            codes: vec![0, 1],
        };
        let classes = ["a".to_string(), "b".to_string()];
        assert_eq!(
            Labels::from_column(&col, Some(&classes)),
            Err("z".to_string())
        );
    }
}

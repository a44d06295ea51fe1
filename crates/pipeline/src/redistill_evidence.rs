//! The evidence a person weighs before approving a re-distilled student: old and new
//! students against the teacher on held-out traffic, overall and slice by slice (the
//! teacher's class, each categorical value, each numeric quartile), with the slices that
//! got worse first. Written as `redistill.json` in the run and kept with the version.

use distillery_data::{Column, Kind, Table};
use distillery_eval::slices::SliceFeature;
use serde::{Deserialize, Serialize};

/// Fewest held-out rows a slice needs to be listed (fewer say too little).
pub const MIN_SLICE_ROWS: usize = 10;

/// The name of the slices by the teacher's class.
const TEACHER: &str = "teacher's class";

/// One slice of the held-out traffic: how often each student agreed with the teacher there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceChange {
    /// The condition that picks the rows, in words (`teacher says yes`, `age in (30, 41]`).
    pub slice: String,
    /// Held-out rows in the slice.
    pub rows: usize,
    /// The old (stable) student's agreement with the teacher on them.
    pub before: f64,
    /// The new student's.
    pub after: f64,
}

impl SliceChange {
    /// How much agreement the slice lost (positive) or gained (negative).
    pub fn loss(&self) -> f64 {
        self.before - self.after
    }
}

/// The slices of `table`'s held-out rows, each with both students' agreement, worst loss
/// first; `teacher` is the teacher's class per row, `old` and `new` whether each student
/// agreed with it.
pub fn slice_changes(
    table: &Table,
    features: &[(String, Kind)],
    classes: &[String],
    teacher: &[usize],
    old: &[bool],
    new: &[bool],
) -> Vec<SliceChange> {
    let mut partitions = vec![SliceFeature {
        name: TEACHER.into(),
        levels: classes.to_vec(),
        codes: teacher.iter().map(|&c| c as u32).collect(),
    }];
    for (name, kind) in features {
        let Ok(column) = table.column(name) else {
            continue;
        };
        partitions.push(match column {
            // Free text by its length in words: every document is its own value.
            _ if *kind == Kind::Text => {
                let words: Vec<f64> = (0..column.len())
                    .map(|r| {
                        column
                            .text(r)
                            .map_or(f64::NAN, |t| t.split_whitespace().count() as f64)
                    })
                    .collect();
                SliceFeature::quantiles(&format!("{name} words"), &words, 4)
            }
            Column::Numeric(values) => SliceFeature::numeric_values(name, values, 4)
                .unwrap_or_else(|| SliceFeature::quantiles(name, values, 4)),
            Column::Text { levels, codes } => SliceFeature::categorical(name, levels, codes),
        });
    }
    let mut out = Vec::new();
    for p in &partitions {
        let mut counts = vec![(0usize, 0usize, 0usize); p.levels.len()];
        for (row, &code) in p.codes.iter().enumerate() {
            let Some(c) = counts.get_mut(code as usize) else {
                continue;
            };
            c.0 += 1;
            c.1 += usize::from(old[row]);
            c.2 += usize::from(new[row]);
        }
        for (level, &(n, before, after)) in p.levels.iter().zip(&counts) {
            if n < MIN_SLICE_ROWS {
                continue;
            }
            // The teacher's classes are values, even one written like a bin (`>50K`).
            let slice = if p.name == TEACHER {
                format!("{TEACHER} = {level}")
            } else {
                distillery_eval::slices::condition(&p.name, level)
            };
            out.push(SliceChange {
                slice,
                rows: n,
                before: before as f64 / n as f64,
                after: after as f64 / n as f64,
            });
        }
    }
    out.sort_by(|a, b| b.loss().total_cmp(&a.loss()).then(b.rows.cmp(&a.rows)));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_slice_that_lost_agreement_comes_first() {
        let n = 40;
        let x: Vec<f64> = (0..n).map(f64::from).collect();
        let table =
            Table::from_columns("t".into(), vec!["x".into()], vec![Column::Numeric(x)]).unwrap();
        let teacher: Vec<usize> = (0..n as usize).map(|i| i % 2).collect();
        let old = vec![true; n as usize];
        // The new student is wrong on the top quarter of x only.
        let new: Vec<bool> = (0..n as usize).map(|i| i < 30).collect();
        let classes = vec!["a".to_string(), "b".to_string()];
        let features = vec![("x".to_string(), Kind::Numeric)];
        let s = slice_changes(&table, &features, &classes, &teacher, &old, &new);
        assert!(s[0].slice.starts_with("x >"), "{:?}", s[0]);
        assert_eq!(s[0].rows, 10);
        assert_eq!((s[0].before, s[0].after), (1.0, 0.0));
        let class_a = s.iter().find(|c| c.slice.contains("teacher")).unwrap();
        assert_eq!(class_a.rows, 20);
        assert!(class_a.loss() > 0.0 && class_a.loss() < 1.0);
    }
}

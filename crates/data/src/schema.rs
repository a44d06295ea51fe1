//! Feature kinds (numeric / categorical / target / ignored) inferred from a table and
//! overridable by the recipe.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::table::{Column, Table};

/// A text column with more distinct values than this, most of them unique, is an
/// identifier, not a category: one-hot encoding it would only memorise rows.
const MAX_CATEGORY_LEVELS: usize = 1000;

/// Mean words per value from which a mostly-unique text column is free text (reviews,
/// tickets, e-mails), not an identifier.
const MIN_TEXT_WORDS: f64 = 4.0;

/// Fewest distinct values for a wordy column to be read as free text.
const MIN_TEXT_ROWS: usize = 20;

/// Mean number of whitespace-separated words over (up to the first 1,000 of) `levels`.
fn mean_words(levels: &[String]) -> f64 {
    let sample = &levels[..levels.len().min(1000)];
    let words: usize = sample.iter().map(|l| l.split_whitespace().count()).sum();
    words as f64 / sample.len().max(1) as f64
}

/// Share of numeric cells above which a few text cells are treated as a data error.
const MIXED_NUMERIC_SHARE: f64 = 0.9;

/// What role a column plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Standardised number.
    Numeric,
    /// One-hot encoded category.
    Categorical,
    /// Free text (hashed n-grams): reviews, tickets, e-mails.
    Text,
    /// The class label.
    Target,
    /// Not used for learning.
    Ignored,
}

/// One column's role and why it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name as in the file header.
    pub name: String,
    /// Role of the column.
    pub kind: Kind,
    /// Why this kind was chosen (shown by `distillery init`).
    pub reason: String,
}

/// The roles of all columns of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in file order.
    pub columns: Vec<ColumnSchema>,
}

/// What the recipe says about column roles; everything else is inferred.
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    /// The class label column.
    pub target: String,
    /// Columns forced to be categorical.
    pub categorical: Vec<String>,
    /// Columns forced to be numeric.
    pub numeric: Vec<String>,
    /// Columns left out.
    pub ignore: Vec<String>,
    /// Columns forced to be free text.
    pub text: Vec<String>,
}

impl Schema {
    /// Infers the schema of `table` under the recipe's overrides.
    ///
    /// # Errors
    /// An override names a column that does not exist, a column is mostly numbers with a
    /// few text cells, or a forced-numeric column holds text.
    pub fn infer(table: &Table, options: &SchemaOptions) -> Result<Schema> {
        for name in std::iter::once(&options.target)
            .chain(&options.categorical)
            .chain(&options.numeric)
            .chain(&options.ignore)
            .chain(&options.text)
        {
            table.index_of(name)?;
        }
        let categorical: HashSet<&str> = options.categorical.iter().map(String::as_str).collect();
        let numeric: HashSet<&str> = options.numeric.iter().map(String::as_str).collect();
        let ignore: HashSet<&str> = options.ignore.iter().map(String::as_str).collect();
        let text: HashSet<&str> = options.text.iter().map(String::as_str).collect();
        let mut columns = Vec::with_capacity(table.names().len());
        for (i, (name, column)) in table.names().iter().zip(table.columns()).enumerate() {
            let stats = table.stats(i);
            let (kind, reason) = if *name == options.target {
                (Kind::Target, "recipe: target".to_string())
            } else if ignore.contains(name.as_str()) {
                (Kind::Ignored, "recipe: ignore".to_string())
            } else if text.contains(name.as_str()) {
                (Kind::Text, "recipe: text".to_string())
            } else if categorical.contains(name.as_str()) {
                (Kind::Categorical, "recipe: categorical".to_string())
            } else if numeric.contains(name.as_str()) || stats.text == 0 {
                if stats.text > 0 {
                    return Err(mixed(name, stats));
                }
                let why = if numeric.contains(name.as_str()) {
                    "recipe: numeric"
                } else if stats.numeric == 0 {
                    "every cell is missing"
                } else {
                    "every value is a number"
                };
                (Kind::Numeric, why.to_string())
            } else {
                let share = stats.numeric as f64 / (stats.numeric + stats.text) as f64;
                if share >= MIXED_NUMERIC_SHARE {
                    return Err(mixed(name, stats));
                }
                let (levels, words) = match column {
                    Column::Text { levels, .. } => (levels.len(), mean_words(levels)),
                    Column::Numeric(_) => (0, 0.0),
                };
                let present = stats.numeric + stats.text;
                if levels * 2 > present && levels >= MIN_TEXT_ROWS && words >= MIN_TEXT_WORDS {
                    (
                        Kind::Text,
                        format!(
                            "free text: {levels} distinct values in {present} rows, {words:.0} words on average"
                        ),
                    )
                } else if levels > MAX_CATEGORY_LEVELS && levels * 2 > present {
                    (
                        Kind::Ignored,
                        format!("identifier-like: {levels} distinct values in {present} rows"),
                    )
                } else {
                    (
                        Kind::Categorical,
                        format!("text with {levels} distinct values"),
                    )
                }
            };
            columns.push(ColumnSchema {
                name: name.clone(),
                kind,
                reason,
            });
        }
        Ok(Schema { columns })
    }

    /// Names of the feature columns (numeric, categorical and text) in file order.
    pub fn features(&self) -> Vec<&ColumnSchema> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, Kind::Numeric | Kind::Categorical | Kind::Text))
            .collect()
    }

    /// The target column's name.
    pub fn target(&self) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.kind == Kind::Target)
            .map(|c| c.name.as_str())
    }

    /// The kind of a named column.
    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        self.columns.iter().find(|c| c.name == name).map(|c| c.kind)
    }

    /// Checks that `other` (e.g. a separate test file) has every column this schema uses.
    ///
    /// # Errors
    /// [`DataError::MissingColumn`] for the first absent feature or target column.
    pub fn check_columns(&self, other: &Table) -> Result<()> {
        for c in &self.columns {
            if c.kind != Kind::Ignored && other.index_of(&c.name).is_err() {
                return Err(DataError::MissingColumn {
                    path: other.path().to_path_buf(),
                    column: c.name.clone(),
                });
            }
        }
        Ok(())
    }
}

fn mixed(name: &str, stats: &crate::table::ColumnStats) -> DataError {
    let (row, value) = stats.first_text.clone().unwrap_or_default();
    DataError::MixedColumn {
        column: name.to_string(),
        numeric: stats.numeric,
        text: stats.text,
        row,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ReadOptions;

    fn table(body: &str) -> Table {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, body).unwrap();
        let mut o = ReadOptions::default();
        o.keep_text.insert("y".into());
        Table::read(&p, &o).unwrap()
    }

    fn opts() -> SchemaOptions {
        SchemaOptions {
            target: "y".into(),
            ..Default::default()
        }
    }

    #[test]
    fn kinds_follow_content_and_overrides() {
        let t = table("n,c,code,y\n1,a,1,0\n2,b,2,1\n3,a,1,0\n");
        let s = Schema::infer(&t, &opts()).unwrap();
        let kinds: Vec<Kind> = s.columns.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Numeric,
                Kind::Categorical,
                Kind::Numeric,
                Kind::Target
            ]
        );
        let mut o = opts();
        o.ignore = vec!["n".into()];
        let s = Schema::infer(&t, &o).unwrap();
        assert_eq!(s.kind_of("n"), Some(Kind::Ignored));
    }

    #[test]
    fn stray_text_in_numeric_column_is_an_error_naming_the_row() {
        let mut body = String::from("age,y\n");
        for i in 0..30 {
            body.push_str(&format!("{i},0\n"));
        }
        body.push_str("forty,1\n");
        let err = Schema::infer(&table(&body), &opts())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'age'") && err.contains("row 31") && err.contains("forty"),
            "{err}"
        );
    }
}

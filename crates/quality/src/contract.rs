//! The schema contract: what the training data looked like (column kinds, categories,
//! numeric ranges, whether values could be missing), saved with every run as
//! `contract.json`, and the check of later data against it — new categories, values out
//! of range, type changes, missing or extra columns — so that a model is never fed data
//! unlike what it learned from without anyone being told.

use std::collections::BTreeSet;

use distillery_data::{Column, Table};
use serde::{Deserialize, Serialize};

use crate::{Finding, Severity, finding};

/// One column's expectations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnContract {
    /// Column name.
    pub name: String,
    /// `numeric` or `text`.
    pub kind: String,
    /// Categories seen in training (text columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Smallest value seen (numeric columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest value seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Whether training data had missing cells in this column.
    pub nullable: bool,
}

/// The contract of a training file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// `distillery-contract/1`.
    pub schema: String,
    /// The feature columns (and the target, last).
    pub columns: Vec<ColumnContract>,
    /// Cell values read as missing.
    pub missing_tokens: Vec<String>,
}

impl Contract {
    /// Records what `columns` of `table` look like.
    pub fn of(table: &Table, columns: &[String], missing_tokens: &[String]) -> Contract {
        let columns = columns
            .iter()
            .filter_map(|name| {
                let c = table.column(name).ok()?;
                let nullable = (0..c.len()).any(|r| c.is_missing(r));
                Some(match c {
                    Column::Numeric(v) => {
                        let finite = v.iter().copied().filter(|x| !x.is_nan());
                        let (min, max) = finite
                            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                                (a.min(x), b.max(x))
                            });
                        ColumnContract {
                            name: name.clone(),
                            kind: "numeric".into(),
                            categories: Vec::new(),
                            min: min.is_finite().then_some(min),
                            max: max.is_finite().then_some(max),
                            nullable,
                        }
                    }
                    Column::Text { levels, codes } => {
                        let used: BTreeSet<&String> = codes
                            .iter()
                            .filter_map(|&c| levels.get(c as usize))
                            .collect();
                        ColumnContract {
                            name: name.clone(),
                            kind: "text".into(),
                            categories: used.into_iter().cloned().collect(),
                            min: None,
                            max: None,
                            nullable,
                        }
                    }
                })
            })
            .collect();
        Contract {
            schema: "distillery-contract/1".into(),
            columns,
            missing_tokens: missing_tokens.to_vec(),
        }
    }

    /// How to read later data so that it is typed as in training.
    pub fn read_options(&self) -> distillery_data::ReadOptions {
        distillery_data::ReadOptions {
            missing: self.missing_tokens.clone(),
            keep_text: self
                .columns
                .iter()
                .filter(|c| c.kind == "text")
                .map(|c| c.name.clone())
                .collect(),
        }
    }

    /// Findings for `table` against the contract.
    pub fn validate(&self, table: &Table) -> Vec<Finding> {
        let n = table.n_rows();
        let mut out = Vec::new();
        let known: BTreeSet<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        for extra in table.names().iter().filter(|n| !known.contains(n.as_str())) {
            out.push(finding(
                "extra_column",
                Some(extra),
                Severity::Info,
                format!("'{extra}' was not in the training data; the model ignores it"),
                n,
                n,
                Vec::new(),
            ));
        }
        for c in &self.columns {
            let Ok(col) = table.column(&c.name) else {
                out.push(finding(
                    "missing_column",
                    Some(&c.name),
                    Severity::Block,
                    format!("'{}' is missing; the model needs it", c.name),
                    n,
                    n,
                    Vec::new(),
                ));
                continue;
            };
            let missing: Vec<usize> = (0..n).filter(|&r| col.is_missing(r)).collect();
            if !c.nullable && !missing.is_empty() {
                out.push(finding(
                    "new_missing",
                    Some(&c.name),
                    Severity::Warn,
                    format!(
                        "{} cells of '{}' are missing; training data had none",
                        missing.len(),
                        c.name
                    ),
                    missing.len(),
                    n,
                    rows(&missing),
                ));
            }
            match (c.kind.as_str(), col) {
                ("numeric", Column::Text { levels, codes }) => {
                    let bad: Vec<usize> = (0..n).filter(|&r| !col.is_missing(r)).collect();
                    let example = bad
                        .first()
                        .and_then(|&r| levels.get(codes[r] as usize))
                        .cloned()
                        .unwrap_or_default();
                    out.push(finding(
                        "type_change",
                        Some(&c.name),
                        Severity::Block,
                        format!(
                            "'{}' was numeric in training but holds text now (e.g. '{example}')",
                            c.name
                        ),
                        bad.len(),
                        n,
                        rows(&bad),
                    ));
                }
                ("numeric", Column::Numeric(v)) => {
                    let (lo, hi) = (
                        c.min.unwrap_or(f64::NEG_INFINITY),
                        c.max.unwrap_or(f64::INFINITY),
                    );
                    let outside: Vec<usize> = (0..n)
                        .filter(|&r| !v[r].is_nan() && (v[r] < lo || v[r] > hi))
                        .collect();
                    if !outside.is_empty() {
                        let ex = outside
                            .iter()
                            .take(3)
                            .map(|&r| format!("row {}: {}", r + 1, v[r]))
                            .collect();
                        out.push(finding(
                            "out_of_range",
                            Some(&c.name),
                            Severity::Warn,
                            format!(
                                "{} values of '{}' lie outside the training range [{lo}, {hi}]",
                                outside.len(),
                                c.name
                            ),
                            outside.len(),
                            n,
                            ex,
                        ));
                    }
                }
                (_, Column::Text { levels, codes }) => {
                    let allowed: BTreeSet<&str> = c.categories.iter().map(String::as_str).collect();
                    let new: Vec<usize> = (0..n)
                        .filter(|&r| {
                            levels
                                .get(codes[r] as usize)
                                .is_some_and(|l| !allowed.contains(l.as_str()))
                        })
                        .collect();
                    if !new.is_empty() {
                        let mut names: Vec<&str> = new
                            .iter()
                            .filter_map(|&r| levels.get(codes[r] as usize).map(String::as_str))
                            .collect();
                        names.sort_unstable();
                        names.dedup();
                        let ex = names.iter().take(3).map(|s| format!("'{s}'")).collect();
                        out.push(finding(
                            "new_category",
                            Some(&c.name),
                            Severity::Warn,
                            format!(
                                "{} rows of '{}' hold {} categories never seen in training",
                                new.len(),
                                c.name,
                                names.len()
                            ),
                            new.len(),
                            n,
                            ex,
                        ));
                    }
                }
                (_, Column::Numeric(_)) => {}
            }
        }
        out
    }
}

fn rows(r: &[usize]) -> Vec<String> {
    r.iter().take(3).map(|r| format!("row {}", r + 1)).collect()
}

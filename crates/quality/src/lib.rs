//! Data checks before anything trains: integrity (missing values, constant columns,
//! duplicates, conflicting labels, outliers, identifier-like columns), train/test hygiene
//! (shared rows, leaking features, class imbalance, label shift) and personal data. Each
//! finding has a severity (`info`, `warn`, `block`); a `block` finding stops training until
//! the recipe acknowledges it.

mod contract;
mod hygiene;
mod integrity;
mod label_issues;
pub mod pii;
mod text;

pub use contract::{ColumnContract, Contract};
pub use hygiene::overlapping_test_rows;
pub use label_issues::{LabelIssues, find_label_issues};

use std::collections::BTreeMap;

use distillery_data::Table;
use serde::{Deserialize, Serialize};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth a look before trusting the model.
    Warn,
    /// Training stops until the recipe acknowledges it.
    Block,
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check (`missing`, `leakage`, `pii`, …).
    pub check: String,
    /// The column, when the finding is about one.
    pub column: Option<String>,
    /// What `[quality] acknowledge` must list to accept it: `check` or `check:column`.
    pub key: String,
    /// How much it matters.
    pub severity: Severity,
    /// Listed in `[quality] acknowledge`.
    pub acknowledged: bool,
    /// What was found, in words.
    pub message: String,
    /// Rows (or values) concerned.
    pub count: usize,
    /// `count` as a share of the rows checked.
    pub share: f64,
    /// A few examples (row numbers, masked values).
    pub examples: Vec<String>,
}

/// Missing cells of one column, as pandas' `isna().sum()` counts them after reading with
/// the recipe's missing tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingCount {
    /// Column.
    pub column: String,
    /// Missing cells.
    pub count: usize,
    /// Share of rows.
    pub share: f64,
}

/// Everything the checks found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `distillery-check/1`.
    pub schema: String,
    /// Rows of the training file.
    pub rows: usize,
    /// Rows of the test file, when separate.
    pub test_rows: Option<usize>,
    /// Columns of the training file.
    pub columns: usize,
    /// Missing cells per column of the training file.
    pub missing: Vec<MissingCount>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Block findings that the recipe has not acknowledged.
    pub fn blocking(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Block && !f.acknowledged)
            .collect()
    }
}

/// The data to check.
pub struct Input<'a> {
    /// Training file.
    pub train: &'a Table,
    /// Separate test file.
    pub test: Option<&'a Table>,
    /// Label column.
    pub target: &'a str,
    /// Feature columns.
    pub features: &'a [String],
    /// The feature columns read as free text (checked for empty and repeated texts).
    pub text_columns: &'a [String],
    /// Class index per training row.
    pub train_labels: &'a [Option<u32>],
    /// Class index per test row.
    pub test_labels: Option<&'a [Option<u32>]>,
    /// Class names.
    pub classes: &'a [String],
    /// A column giving each row's time (ISO 8601 text or a number), to check that no test
    /// row precedes the training rows.
    pub time_column: Option<&'a str>,
    /// Rows of `train` held out as test rows when there is no separate test file.
    pub held_out: &'a [usize],
}

/// Per-check overrides from `[quality]`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Severity per check name.
    pub severity: BTreeMap<String, Severity>,
    /// Keys (`check` or `check:column`) the user accepts.
    pub acknowledge: Vec<String>,
}

/// Runs every check.
pub fn check(input: &Input<'_>, settings: &Settings) -> CheckReport {
    let mut findings = Vec::new();
    let missing = integrity::missing(input.train, &mut findings);
    integrity::columns(input, &mut findings);
    integrity::rows(input, &mut findings);
    hygiene::overlap(input, &mut findings);
    hygiene::leakage(input, &mut findings);
    hygiene::balance(input, &mut findings);
    hygiene::time_order(input, &mut findings);
    pii_scan(input, &mut findings);
    text::check(input, &mut findings);
    for f in &mut findings {
        if let Some(&s) = settings.severity.get(&f.check) {
            f.severity = s;
        }
        f.acknowledged = settings
            .acknowledge
            .iter()
            .any(|a| *a == f.key || *a == f.check);
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.key.cmp(&b.key)));
    CheckReport {
        schema: "distillery-check/1".into(),
        rows: input.train.n_rows(),
        test_rows: input.test.map(Table::n_rows),
        columns: input.train.names().len(),
        missing,
        findings,
    }
}

/// A finding under construction.
pub(crate) fn finding(
    check: &str,
    column: Option<&str>,
    severity: Severity,
    message: String,
    count: usize,
    of: usize,
    examples: Vec<String>,
) -> Finding {
    Finding {
        check: check.into(),
        column: column.map(str::to_string),
        key: column.map_or_else(|| check.to_string(), |c| format!("{check}:{c}")),
        severity,
        acknowledged: false,
        message,
        count,
        share: count as f64 / of.max(1) as f64,
        examples,
    }
}

/// Personal data in every text column (and integral numeric ones, for card numbers).
fn pii_scan(input: &Input<'_>, out: &mut Vec<Finding>) {
    use distillery_data::Column;
    for (name, column) in input.train.names().iter().zip(input.train.columns()) {
        if name == input.target {
            continue;
        }
        // Each distinct text value is scanned once and weighted by how often it occurs.
        let values: Vec<String> = match column {
            Column::Text { levels, .. } => levels.clone(),
            Column::Numeric(v) => v
                .iter()
                .filter(|x| x.fract() == 0.0 && x.abs() >= 1e12 && x.abs() < 9.007e15)
                .map(|x| format!("{x:.0}"))
                .collect(),
        };
        if values.is_empty() {
            continue;
        }
        let weights: Vec<usize> = match column {
            Column::Text { levels, codes } => {
                let mut w = vec![0usize; levels.len()];
                for &c in codes {
                    if let Some(x) = w.get_mut(c as usize) {
                        *x += 1;
                    }
                }
                w
            }
            Column::Numeric(_) => vec![1; values.len()],
        };
        let present: usize = (0..column.len()).filter(|&r| !column.is_missing(r)).count();
        for entity in pii::Entity::ALL {
            let mut rows = 0;
            let mut examples = Vec::new();
            for (v, &w) in values.iter().zip(&weights) {
                if let Some(m) = pii::find(entity, v) {
                    rows += w;
                    if examples.len() < 3 {
                        examples.push(pii::mask(entity, &m));
                    }
                }
            }
            if rows == 0 {
                continue;
            }
            let rate = rows as f64 / present.max(1) as f64;
            // A column left out of the features never reaches the model: report it only.
            // Block only what is almost certainly personal data: values that pass a
            // checksum or structure rule (card Luhn, IBAN mod-97, SSN area/group/serial) in
            // most rows. E-mails, phones and addresses in a feature warn.
            let validated = matches!(
                entity,
                pii::Entity::CreditCard | pii::Entity::Iban | pii::Entity::UsSsn
            );
            let severity = if !input.features.contains(name) {
                Severity::Info
            } else if validated && rate >= 0.5 {
                Severity::Block
            } else {
                Severity::Warn
            };
            out.push(finding(
                "pii",
                Some(name),
                severity,
                format!(
                    "{:.1}% of '{name}' values contain {} ({rows} rows); ignore the column ([data] ignore) or acknowledge pii:{name}",
                    rate * 100.0,
                    entity.name()
                ),
                rows,
                present,
                examples,
            ));
        }
    }
}

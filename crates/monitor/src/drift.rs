//! The batch drift report: one test per column (Evidently's default choice unless
//! overridden), PSI alongside every column, and a dataset-level verdict when at least
//! `drift_share` of the columns drifted.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::MonitorError;
use crate::profile::{ColumnProfile, PredictionProfile, Profile};
use crate::sample::Distribution;
use crate::stattest::{self, StatTest, TestOutcome};

/// Version of the drift report's JSON layout.
pub const DRIFT_SCHEMA_VERSION: u32 = 1;

/// How to run a drift report.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Share of drifted columns at or above which the dataset drifted (Evidently: 0.5).
    pub drift_share: f64,
    /// Per-column test overrides.
    pub tests: BTreeMap<String, StatTest>,
    /// Per-test threshold overrides (a p-value level or a distance).
    pub thresholds: BTreeMap<StatTest, f64>,
    /// Columns to compare; empty means every reference column.
    pub columns: Vec<String>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            drift_share: 0.5,
            tests: BTreeMap::new(),
            thresholds: BTreeMap::new(),
            columns: Vec::new(),
        }
    }
}

/// One column's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// "numeric" or "categorical".
    pub kind: String,
    /// Non-missing reference rows.
    pub reference_rows: u64,
    /// Non-missing current rows.
    pub current_rows: u64,
    /// Share of reference rows with a missing cell.
    pub reference_missing_share: f64,
    /// Share of current rows with a missing cell.
    pub current_missing_share: f64,
    /// False when the reference is a quantile sketch (results are then approximate).
    pub reference_exact: bool,
    /// How the test was chosen: "default" (Evidently's rule) or "override".
    pub chosen_by: String,
    /// The test's result and verdict.
    #[serde(flatten)]
    pub outcome: TestOutcome,
    /// Population stability index, reported for every column whatever the test.
    pub psi: f64,
}

/// The whole comparison of a current batch with a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Layout version ([`DRIFT_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Reference rows.
    pub reference_rows: u64,
    /// Current rows.
    pub current_rows: u64,
    /// The share of drifted columns that makes the dataset drift.
    pub drift_share: f64,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Columns compared.
    pub columns_compared: usize,
    /// `drifted_columns / columns_compared`.
    pub share_drifted: f64,
    /// True when `share_drifted ≥ drift_share`.
    pub dataset_drift: bool,
    /// One entry per column, in reference order.
    pub columns: Vec<ColumnDrift>,
    /// The joint distribution compared (MMD and a domain classifier), with `--multivariate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<crate::multivariate::MultivariateDrift>,
    /// The student's predictions compared the same way (predicted class and each class's
    /// probability); reported, but not counted in the dataset verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prediction: Vec<ColumnDrift>,
    /// What makes the verdict less trustworthy (too few current rows, for one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Below this many current rows the report warns: a test has little power on so few rows,
/// and a distance between so few values and the reference is mostly noise.
pub const FEW_ROWS: u64 = 100;

impl DriftReport {
    /// Compares `current` with `reference`, column by column, in parallel.
    ///
    /// # Errors
    /// A reference column is missing from the current data, an override names an unknown
    /// column or a test that does not fit it, or a column is empty on one side.
    pub fn compare(
        reference: &Profile,
        current: &Profile,
        options: &DriftOptions,
    ) -> Result<DriftReport, MonitorError> {
        let wanted: Vec<&ColumnProfile> = if options.columns.is_empty() {
            reference.columns.iter().collect()
        } else {
            options
                .columns
                .iter()
                .map(|n| {
                    reference.column(n).ok_or_else(|| {
                        MonitorError::Invalid(format!("column `{n}` is not in the reference"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        for name in options.tests.keys() {
            if reference.column(name).is_none() {
                return Err(MonitorError::Invalid(format!(
                    "--test names column `{name}`, which is not in the reference"
                )));
            }
        }
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|c| current.column(&c.name).is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(MonitorError::Invalid(format!(
                "the current data lacks reference column(s): {}",
                missing.join(", ")
            )));
        }
        let columns = wanted
            .par_iter()
            .map(|r| {
                let c = current.column(&r.name).ok_or(MonitorError::Empty)?;
                compare_column(r, c, options)
            })
            .collect::<Result<Vec<_>, MonitorError>>()?;
        let drifted = columns.iter().filter(|c| c.outcome.drifted).count();
        let share = if columns.is_empty() {
            0.0
        } else {
            drifted as f64 / columns.len() as f64
        };
        Ok(DriftReport {
            schema_version: DRIFT_SCHEMA_VERSION,
            reference_rows: reference.rows,
            current_rows: current.rows,
            drift_share: options.drift_share,
            drifted_columns: drifted,
            columns_compared: columns.len(),
            share_drifted: share,
            dataset_drift: !columns.is_empty() && share >= options.drift_share,
            columns,
            multivariate: None,
            prediction: Vec::new(),
            warnings: (current.rows < FEW_ROWS)
                .then(|| {
                    format!(
                        "only {} current rows: drift tests have little power on fewer than {FEW_ROWS}, and distances are noisy; compare a larger window",
                        current.rows
                    )
                })
                .into_iter()
                .collect(),
        })
    }

    /// Adds the comparison of the student's prediction distributions.
    ///
    /// # Errors
    /// The two sides have different classes.
    pub fn with_predictions(
        mut self,
        reference: &PredictionProfile,
        current: &PredictionProfile,
        options: &DriftOptions,
    ) -> Result<DriftReport, MonitorError> {
        if reference.classes != current.classes {
            return Err(MonitorError::Invalid(format!(
                "the reference predicts classes {:?} but the current predictions have {:?}",
                reference.classes, current.classes
            )));
        }
        let defaults = DriftOptions {
            tests: BTreeMap::new(),
            columns: Vec::new(),
            ..options.clone()
        };
        self.prediction = reference
            .as_columns()
            .iter()
            .zip(current.as_columns().iter())
            .filter(|(r, c)| r.distribution.n() > 0 && c.distribution.n() > 0)
            .map(|(r, c)| compare_column(r, c, &defaults))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }
}

fn compare_column(
    reference: &ColumnProfile,
    current: &ColumnProfile,
    options: &DriftOptions,
) -> Result<ColumnDrift, MonitorError> {
    let (r, c) = (&reference.distribution, &current.distribution);
    let context =
        |e: MonitorError| MonitorError::Invalid(format!("column `{}`: {e}", reference.name));
    if std::mem::discriminant(r) != std::mem::discriminant(c) {
        return Err(context(MonitorError::Invalid(
            "numeric in one dataset and categorical in the other".into(),
        )));
    }
    let (test, chosen_by) = match options.tests.get(&reference.name) {
        Some(t) => (*t, "override"),
        None => (stattest::default_test(r, c), "default"),
    };
    let outcome =
        stattest::run(test, r, c, options.thresholds.get(&test).copied()).map_err(context)?;
    let psi = stattest::distance::psi(r, c);
    Ok(ColumnDrift {
        column: reference.name.clone(),
        kind: match r {
            Distribution::Numeric(_) => "numeric",
            Distribution::Categorical(_) => "categorical",
        }
        .to_string(),
        reference_rows: r.n(),
        current_rows: c.n(),
        reference_missing_share: reference.missing_share(),
        current_missing_share: current.missing_share(),
        reference_exact: match r {
            Distribution::Numeric(x) => x.exact,
            Distribution::Categorical(_) => true,
        },
        chosen_by: chosen_by.to_string(),
        outcome,
        psi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_data::{Column, Kind, Table};
    use std::path::PathBuf;

    fn profile(shift: f64, rows: usize) -> Profile {
        let table = Table::from_columns(
            PathBuf::from("t.csv"),
            vec!["x".into(), "y".into()],
            vec![
                Column::Numeric((0..rows).map(|i| (i % 97) as f64 + shift).collect()),
                Column::Numeric((0..rows).map(|i| (i % 89) as f64).collect()),
            ],
        )
        .expect("table");
        Profile::from_table(
            &table,
            &[("x".into(), Kind::Numeric), ("y".into(), Kind::Numeric)],
        )
        .expect("profile")
    }

    #[test]
    fn a_shifted_column_drifts_and_half_the_columns_make_the_dataset_drift() {
        let report = DriftReport::compare(
            &profile(0.0, 500),
            &profile(30.0, 400),
            &DriftOptions::default(),
        )
        .expect("report");
        assert_eq!(report.columns[0].outcome.test, StatTest::Ks);
        assert!(report.columns[0].outcome.drifted);
        assert!(!report.columns[1].outcome.drifted);
        assert_eq!(report.drifted_columns, 1);
        assert!(report.dataset_drift, "1 of 2 columns reaches the 0.5 share");
    }

    #[test]
    fn overrides_and_unknown_columns() {
        let mut options = DriftOptions::default();
        options.tests.insert("y".into(), StatTest::Psi);
        let report = DriftReport::compare(&profile(0.0, 2000), &profile(0.0, 2000), &options)
            .expect("report");
        assert_eq!(report.columns[0].outcome.test, StatTest::Wasserstein);
        assert_eq!(report.columns[1].outcome.test, StatTest::Psi);
        assert_eq!(report.columns[1].chosen_by, "override");
        assert!(!report.dataset_drift);
        options.tests.insert("nope".into(), StatTest::Psi);
        assert!(DriftReport::compare(&profile(0.0, 10), &profile(0.0, 10), &options).is_err());
    }

    #[test]
    fn a_sketched_reference_stays_close_to_the_exact_one() {
        use crate::sample::{Numbers, SKETCH_POINTS};
        use crate::stattest::{distance, ks};
        // A skewed column of 20,000 distinct values against a shifted current sample.
        let reference: Vec<f64> = (0..20_000)
            .map(|i| (f64::from(i) / 20_000.0).powi(3) * 1e5)
            .collect();
        let current: Vec<f64> = (0..5_000)
            .map(|i| (f64::from(i) / 5_000.0).powi(3) * 1.1e5 + 7.0)
            .collect();
        let exact = Numbers::from_values(reference);
        let sketch = exact.clone().sketched();
        let cur = Numbers::from_values(current);
        assert_eq!(sketch.values.len(), SKETCH_POINTS);
        let (w_exact, w_sketch) = (
            distance::wasserstein_normed(&exact, &cur),
            distance::wasserstein_normed(&sketch, &cur),
        );
        assert!((w_exact - w_sketch).abs() < 2e-3, "{w_exact} vs {w_sketch}");
        let (d_exact, d_sketch) = (
            ks::ks_2samp(&exact, &cur).statistic,
            ks::ks_2samp(&sketch, &cur).statistic,
        );
        assert!(
            (d_exact - d_sketch).abs() <= 1.0 / SKETCH_POINTS as f64,
            "{d_exact} vs {d_sketch}"
        );
    }
}

//! Per-column drift tests and Evidently's rule for picking one.
//!
//! A test compares one column's reference distribution with its current one and returns
//! a score (a p-value or a distance), the threshold it was held to and the verdict. The
//! default choice copies Evidently's `_get_default_stattest` so a report can be checked
//! against it column by column.

pub mod binning;
pub mod distance;
pub mod kolmogorov;
pub mod ks;
pub mod proportions;

use serde::{Deserialize, Serialize};

use crate::error::MonitorError;
use crate::sample::Distribution;

/// References with at most this many rows get statistical tests; larger ones distances.
const SMALL_REFERENCE_ROWS: u64 = 1000;

/// A drift test for one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatTest {
    /// Two-sample Kolmogorov–Smirnov (numeric); drift when p ≤ threshold.
    Ks,
    /// Pearson chi-square of current counts against reference shares; drift when p <
    /// threshold.
    #[serde(rename = "chisquare")]
    ChiSquare,
    /// Pooled two-proportion Z-test (two-valued columns); drift when p < threshold.
    Z,
    /// Wasserstein-1 over the reference's standard deviation (numeric); drift when ≥
    /// threshold.
    Wasserstein,
    /// Jensen–Shannon distance over shared buckets; drift when ≥ threshold.
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    /// Population stability index over shared buckets; drift when ≥ threshold.
    Psi,
}

impl StatTest {
    /// Every test, for help texts and parsing.
    pub const ALL: [StatTest; 6] = [
        StatTest::Ks,
        StatTest::ChiSquare,
        StatTest::Z,
        StatTest::Wasserstein,
        StatTest::JensenShannon,
        StatTest::Psi,
    ];

    /// The name used in reports, recipes and `--test column=name` (Evidently's names).
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::ChiSquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Wasserstein => "wasserstein",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::Psi => "psi",
        }
    }

    /// Parses a test name.
    ///
    /// # Errors
    /// An unknown name; the message lists the known ones.
    pub fn parse(name: &str) -> Result<StatTest, MonitorError> {
        StatTest::ALL
            .into_iter()
            .find(|t| t.name() == name.trim().to_ascii_lowercase())
            .ok_or_else(|| MonitorError::UnknownTest(name.to_string()))
    }

    /// True when the score is a p-value (small means drift), false for a distance.
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare | StatTest::Z)
    }

    /// Evidently's default threshold: 0.05 for p-values, 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// True when the test accepts this kind of column.
    fn accepts(self, d: &Distribution) -> bool {
        !matches!(
            (self, d),
            (
                StatTest::Ks | StatTest::Wasserstein,
                Distribution::Categorical(_)
            )
        )
    }
}

/// Evidently's default test for a column, from the reference size and the number of
/// distinct values in both samples together.
pub fn default_test(reference: &Distribution, current: &Distribution) -> StatTest {
    // The rules below only ask whether there are more than 2 or 5 values.
    let n_values = distinct_union(reference, current, 6);
    let small = reference.n() <= SMALL_REFERENCE_ROWS;
    match (reference, small) {
        (Distribution::Numeric(_), true) if n_values > 5 => StatTest::Ks,
        (_, true) if n_values > 2 => StatTest::ChiSquare,
        (_, true) => StatTest::Z,
        (Distribution::Numeric(_), false) if n_values > 5 => StatTest::Wasserstein,
        (_, false) => StatTest::JensenShannon,
    }
}

/// Distinct values of the two samples together, counted up to `cap` (a merge of two
/// 200k-value columns is then a few steps, not a pass over both).
fn distinct_union(a: &Distribution, b: &Distribution, cap: usize) -> usize {
    match (a, b) {
        (Distribution::Numeric(x), Distribution::Numeric(y)) => x.distinct_union(y, cap),
        (Distribution::Categorical(x), Distribution::Categorical(y)) => {
            let mut v: Vec<&String> = x.levels.iter().chain(&y.levels).collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        }
        _ => 0,
    }
}

/// What one test said about one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The test that ran.
    pub test: StatTest,
    /// The test's own statistic: KS D, chi-square, z, or the distance itself.
    pub statistic: f64,
    /// The p-value for the statistical tests; absent for distances.
    pub p_value: Option<f64>,
    /// What the threshold applies to: the p-value or the distance.
    pub score: f64,
    /// The threshold the score was held to.
    pub threshold: f64,
    /// True when the column drifted.
    pub drifted: bool,
}

/// Runs `test` on one column.
///
/// # Errors
/// A side has no values, or the test does not accept the column's kind.
pub fn run(
    test: StatTest,
    reference: &Distribution,
    current: &Distribution,
    threshold: Option<f64>,
) -> Result<TestOutcome, MonitorError> {
    if reference.n() == 0 || current.n() == 0 {
        return Err(MonitorError::Empty);
    }
    if !test.accepts(reference)
        || std::mem::discriminant(reference) != std::mem::discriminant(current)
    {
        return Err(MonitorError::WrongKind(test.name()));
    }
    let threshold = threshold.unwrap_or_else(|| test.default_threshold());
    let (statistic, score) = match (test, reference, current) {
        (StatTest::Ks, Distribution::Numeric(a), Distribution::Numeric(b)) => {
            let r = ks::ks_2samp(a, b);
            (r.statistic, r.p_value)
        }
        (StatTest::Wasserstein, Distribution::Numeric(a), Distribution::Numeric(b)) => {
            let d = distance::wasserstein_normed(a, b);
            (d, d)
        }
        (StatTest::ChiSquare, ..) => proportions::chi_square(reference, current),
        (StatTest::Z, ..) => proportions::z_test(reference, current),
        (StatTest::JensenShannon, ..) => {
            let d = distance::jensen_shannon(reference, current);
            (d, d)
        }
        (StatTest::Psi, ..) => {
            let d = distance::psi(reference, current);
            (d, d)
        }
        _ => return Err(MonitorError::WrongKind(test.name())),
    };
    let drifted = match test {
        StatTest::Ks => score <= threshold,
        StatTest::ChiSquare | StatTest::Z => score < threshold,
        _ => score >= threshold,
    };
    Ok(TestOutcome {
        test,
        statistic,
        p_value: test.is_p_value().then_some(score),
        score,
        threshold,
        drifted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Categories, Numbers};

    fn numeric(n: usize, distinct: usize) -> Distribution {
        Distribution::Numeric(Numbers::from_values(
            (0..n).map(|i| (i % distinct) as f64).collect(),
        ))
    }

    #[test]
    fn default_selection_follows_evidently_boundaries() {
        assert_eq!(
            default_test(&numeric(1000, 6), &numeric(10, 6)),
            StatTest::Ks
        );
        assert_eq!(
            default_test(&numeric(1000, 5), &numeric(10, 5)),
            StatTest::ChiSquare
        );
        assert_eq!(
            default_test(&numeric(1000, 2), &numeric(10, 2)),
            StatTest::Z
        );
        assert_eq!(
            default_test(&numeric(1001, 6), &numeric(10, 6)),
            StatTest::Wasserstein
        );
        assert_eq!(
            default_test(&numeric(1001, 5), &numeric(10, 5)),
            StatTest::JensenShannon
        );
        let cat = |n: u64| Distribution::Categorical(Categories::from_counts([("a", n), ("b", 1)]));
        assert_eq!(default_test(&cat(10), &cat(10)), StatTest::Z);
        assert_eq!(default_test(&cat(2000), &cat(10)), StatTest::JensenShannon);
    }

    #[test]
    fn tests_refuse_the_wrong_kind_of_column() {
        let cat = Distribution::Categorical(Categories::from_counts([("a", 3)]));
        assert!(matches!(
            run(StatTest::Ks, &cat, &cat, None),
            Err(MonitorError::WrongKind("ks"))
        ));
        assert_eq!(StatTest::parse("PSI").ok(), Some(StatTest::Psi));
        assert!(StatTest::parse("t-test").is_err());
    }
}

//! The reference profile: everything monitoring needs to know about the training data and
//! the student's predictions, computed once at training time and stored as
//! `profile.json` next to the student, so drift checks never read the training rows again.

use std::path::Path;

use distillery_data::{Column, Kind, Table, format_number};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::MonitorError;
use crate::sample::{Categories, Distribution, Numbers};
use crate::text::{
    EMBEDDING_DIMS, Vocabulary, derived_names, embedding, unseen_share, unseen_share_held_out,
};
use rustc_hash::FxHashSet;

/// Version of the `profile.json` layout.
pub const PROFILE_SCHEMA_VERSION: u32 = 1;

/// Quantiles kept for display (the sketch in `distribution` is what tests use).
const DISPLAY_QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/// One feature's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name as in the data file.
    pub name: String,
    /// Rows with a missing cell.
    pub missing: u64,
    /// The non-missing values: exact, or an equal-mass sketch for many distinct numbers.
    pub distribution: Distribution,
    /// Display quantiles `(q, value)` of a numeric column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<(f64, f64)>,
    /// A free-text column, profiled by each text's length in words (its distribution
    /// drifts when documents get longer or shorter, or arrive empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub text: bool,
    /// The text column this number is derived from (its unseen-word share or an
    /// embedding coordinate, [`crate::text`]); not a column of the data itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
}

impl ColumnProfile {
    /// Share of rows with a missing cell.
    pub fn missing_share(&self) -> f64 {
        let total = self.missing + self.distribution.n();
        if total == 0 {
            0.0
        } else {
            self.missing as f64 / total as f64
        }
    }
}

/// What the student predicted on held-out reference rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionProfile {
    /// Class labels in the student's order.
    pub classes: Vec<String>,
    /// How often each class was predicted.
    pub predicted: Categories,
    /// The distribution of each class's probability, in `classes` order.
    pub probabilities: Vec<Numbers>,
}

impl PredictionProfile {
    /// Builds the prediction distribution from per-row class probabilities.
    pub fn from_probabilities(classes: &[String], probabilities: &[Vec<f64>]) -> PredictionProfile {
        prediction_profile(classes, probabilities)
    }

    /// The predictions as columns a drift test can compare: the predicted class
    /// (`prediction`) and each class's probability (`p(<class>)`).
    pub fn as_columns(&self) -> Vec<ColumnProfile> {
        let mut out = vec![ColumnProfile {
            name: "prediction".into(),
            missing: 0,
            distribution: Distribution::Categorical(self.predicted.clone()),
            quantiles: Vec::new(),
            text: false,
            derived_from: None,
        }];
        for (class, p) in self.classes.iter().zip(&self.probabilities) {
            out.push(ColumnProfile {
                name: format!("p({class})"),
                missing: 0,
                distribution: Distribution::Numeric(p.clone()),
                quantiles: Vec::new(),
                text: false,
                derived_from: None,
            });
        }
        out
    }
}

/// A reference profile of features and predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Layout version ([`PROFILE_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Which student this profile belongs to (its artifact hash), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<String>,
    /// Where the rows came from (the training file), for people reading the profile.
    pub source: String,
    /// Rows profiled.
    pub rows: u64,
    /// One entry per feature, in schema order.
    pub columns: Vec<ColumnProfile>,
    /// The student's prediction distribution, when profiled with a student.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<PredictionProfile>,
    /// A seeded sample of at most 1,000 training rows for the multivariate tests (these are
    /// raw rows: treat the profile like the training data it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::multivariate::RowSample>,
    /// Held-out rows with the student's probabilities and the true class, for label-free
    /// performance estimation (CBPE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled: Option<LabelledReference>,
    /// Each text column's most frequent words, against which later texts' unseen words
    /// are counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vocabularies: Vec<Vocabulary>,
}

/// The student's held-out predictions with their labels: what CBPE is fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledReference {
    /// The class labels, in the student's order.
    pub classes: Vec<String>,
    /// The student's class probabilities per row.
    pub probabilities: Vec<Vec<f64>>,
    /// True class per row (an index into `classes`).
    pub truth: Vec<usize>,
}

impl Profile {
    /// Profiles the named features of `table`, keeping every distinct value (see
    /// [`Profile::sketched`] for the stored form). A text column also gets its vocabulary
    /// and its derived columns ([`crate::text`]).
    ///
    /// # Errors
    /// A feature is not in the table.
    pub fn from_table(table: &Table, features: &[(String, Kind)]) -> Result<Profile, MonitorError> {
        let vocabularies = features
            .iter()
            .filter(|(_, k)| *k == Kind::Text)
            .map(|(name, _)| {
                let column = table
                    .column(name)
                    .map_err(|e| MonitorError::Invalid(e.to_string()))?;
                Ok(Vocabulary::build(
                    name,
                    (0..column.len()).filter_map(|r| column.text(r)),
                ))
            })
            .collect::<Result<Vec<_>, MonitorError>>()?;
        let (vocabularies, shared): (Vec<Vocabulary>, Vec<_>) = vocabularies.into_iter().unzip();
        Profile::with_vocabularies(table, features, vocabularies, Some(&shared))
    }

    /// Profiles `table` the way `reference` was profiled: its features, and text measured
    /// against its vocabularies. What a drift check compares with the reference.
    ///
    /// # Errors
    /// A feature is not in the table.
    pub fn current(table: &Table, reference: &Profile) -> Result<Profile, MonitorError> {
        Profile::current_of(table, reference, &reference.features())
    }

    /// As [`Profile::current`], for the reference columns named in `only`.
    ///
    /// # Errors
    /// A feature is not in the table.
    pub fn current_of(
        table: &Table,
        reference: &Profile,
        only: &[(String, Kind)],
    ) -> Result<Profile, MonitorError> {
        let vocabularies = reference
            .vocabularies
            .iter()
            .filter(|v| only.iter().any(|(n, _)| *n == v.column))
            .cloned()
            .collect();
        Profile::with_vocabularies(table, only, vocabularies, None)
    }

    /// `shared`: the vocabularies were built from `table` itself, and these are, per
    /// vocabulary, the words that occur in three or more of its texts: each text's unseen
    /// words are then counted as if it had been left out.
    fn with_vocabularies(
        table: &Table,
        features: &[(String, Kind)],
        vocabularies: Vec<Vocabulary>,
        shared: Option<&[FxHashSet<String>]>,
    ) -> Result<Profile, MonitorError> {
        let mut columns = features
            .par_iter()
            .map(|(name, kind)| {
                let column = table
                    .column(name)
                    .map_err(|e| MonitorError::Invalid(e.to_string()))?;
                Ok(profile_column(name, column, *kind))
            })
            .collect::<Result<Vec<_>, MonitorError>>()?;
        for (i, v) in vocabularies.iter().enumerate() {
            columns.extend(derived_columns(table, &v.column, v, shared.map(|s| &s[i]))?);
        }
        Ok(Profile {
            schema_version: PROFILE_SCHEMA_VERSION,
            student: None,
            source: table.path().display().to_string(),
            rows: table.n_rows() as u64,
            columns,
            prediction: None,
            sample: None,
            labelled: None,
            vocabularies,
        })
    }

    /// Adds the prediction distribution from per-row class probabilities.
    pub fn with_predictions(mut self, classes: &[String], probabilities: &[Vec<f64>]) -> Profile {
        self.prediction = Some(prediction_profile(classes, probabilities));
        self
    }

    /// The profile as stored: numeric columns with many distinct values (and the
    /// prediction probabilities) reduced to quantile sketches, so its size no longer
    /// grows with the training set.
    pub fn sketched(mut self) -> Profile {
        for c in &mut self.columns {
            if let Distribution::Numeric(x) = &mut c.distribution {
                *x = std::mem::replace(x, Numbers::from_values(Vec::new())).sketched();
            }
        }
        if let Some(p) = &mut self.prediction {
            p.probabilities = std::mem::take(&mut p.probabilities)
                .into_iter()
                .map(Numbers::sketched)
                .collect();
        }
        self
    }

    /// Adds a seeded sample of at most [`crate::multivariate::MAX_ROWS`] rows of `table`.
    ///
    /// # Errors
    /// A feature is not in the table.
    pub fn with_sample(
        mut self,
        table: &Table,
        features: &[(String, Kind)],
        seed: u64,
    ) -> Result<Profile, MonitorError> {
        let all = crate::multivariate::RowSample::from_table(table, features)?;
        self.sample = Some(all.subsample(crate::multivariate::MAX_ROWS, seed));
        Ok(self)
    }

    /// The profiled features and their kinds, in order: what live rows are read as.
    pub fn features(&self) -> Vec<(String, Kind)> {
        self.columns
            .iter()
            .filter(|c| c.derived_from.is_none())
            .map(|c| {
                let kind = if c.text {
                    Kind::Text
                } else {
                    c.distribution.kind()
                };
                (c.name.clone(), kind)
            })
            .collect()
    }

    /// The profile of one column.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Reads a `profile.json`.
    ///
    /// # Errors
    /// Unreadable file, malformed JSON or a newer layout version.
    pub fn load(path: &Path) -> Result<Profile, MonitorError> {
        let bytes = std::fs::read(path).map_err(|source| MonitorError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let profile: Profile = serde_json::from_slice(&bytes).map_err(|e| {
            MonitorError::Invalid(format!(
                "{} is not a reference profile: {e}",
                path.display()
            ))
        })?;
        if profile.schema_version > PROFILE_SCHEMA_VERSION {
            return Err(MonitorError::Invalid(format!(
                "{} has profile layout {} but this distillery reads up to {}; upgrade distillery",
                path.display(),
                profile.schema_version,
                PROFILE_SCHEMA_VERSION
            )));
        }
        Ok(profile)
    }
}

/// The distribution of one column read as `kind`, and its count of missing cells.
pub fn column_distribution(column: &Column, kind: Kind) -> (Distribution, u64) {
    let rows = column.len();
    if kind == Kind::Text {
        // A text's length in words: missing cells are left out, like missing numbers.
        let lengths: Vec<f64> = (0..rows)
            .filter_map(|r| column.text(r))
            .map(|t| t.split_whitespace().count() as f64)
            .collect();
        let missing = (rows - lengths.len()) as u64;
        return (
            Distribution::Numeric(Numbers::from_values(lengths)),
            missing,
        );
    }
    if kind == Kind::Numeric {
        let values: Vec<f64> = match column {
            Column::Numeric(v) => v.iter().copied().filter(|x| x.is_finite()).collect(),
            _ => (0..rows)
                .filter_map(|r| column.number(r))
                .filter(|x| x.is_finite())
                .collect(),
        };
        let missing = (rows - values.len()) as u64;
        return (Distribution::Numeric(Numbers::from_values(values)), missing);
    }
    let (categories, missing) = match column {
        Column::Text { levels, codes } => {
            let mut counts = vec![0u64; levels.len()];
            let mut missing = 0u64;
            for &c in codes {
                match counts.get_mut(c as usize) {
                    Some(n) => *n += 1,
                    None => missing += 1,
                }
            }
            (
                Categories::from_counts(levels.iter().map(String::as_str).zip(counts)),
                missing,
            )
        }
        Column::Numeric(values) => {
            let texts: Vec<String> = values
                .iter()
                .filter(|x| x.is_finite())
                .map(|&x| format_number(x))
                .collect();
            let missing = (rows - texts.len()) as u64;
            (
                Categories::from_counts(texts.iter().map(|t| (t.as_str(), 1))),
                missing,
            )
        }
    };
    (Distribution::Categorical(categories), missing)
}

fn profile_column(name: &str, column: &Column, kind: Kind) -> ColumnProfile {
    let (distribution, missing) = column_distribution(column, kind);
    let quantiles = match &distribution {
        Distribution::Numeric(x) if x.n > 0 => DISPLAY_QUANTILES
            .iter()
            .map(|&q| (q, quantile(x, q)))
            .collect(),
        _ => Vec::new(),
    };
    ColumnProfile {
        name: name.to_string(),
        missing,
        distribution,
        quantiles,
        text: kind == Kind::Text,
        derived_from: None,
    }
}

/// The numeric columns derived from text column `name` ([`crate::text`]): the share of
/// each text's words outside `vocabulary`, then the embedding coordinates.
fn derived_columns(
    table: &Table,
    name: &str,
    vocabulary: &Vocabulary,
    shared: Option<&FxHashSet<String>>,
) -> Result<Vec<ColumnProfile>, MonitorError> {
    let column = table
        .column(name)
        .map_err(|e| MonitorError::Invalid(e.to_string()))?;
    let set = vocabulary.set();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); 1 + EMBEDDING_DIMS];
    for text in (0..column.len()).filter_map(|r| column.text(r)) {
        let share = match shared {
            Some(shared) => unseen_share_held_out(text, &set, shared),
            None => unseen_share(text, &set),
        };
        if let (Some(share), Some(e)) = (share, embedding(text)) {
            values[0].push(share);
            for (v, x) in values[1..].iter_mut().zip(e) {
                v.push(x);
            }
        }
    }
    let rows = column.len() as u64;
    Ok(derived_names(name)
        .into_iter()
        .zip(values)
        .map(|(derived, v)| {
            let missing = rows - v.len() as u64;
            let mut c = profile_column(&derived, &Column::Numeric(v), Kind::Numeric);
            c.missing = missing;
            c.derived_from = Some(name.to_string());
            c
        })
        .collect())
}

/// The smallest value whose cumulative share reaches `q`.
fn quantile(x: &Numbers, q: f64) -> f64 {
    let target = q * x.n as f64;
    let mut acc = 0.0;
    for (v, c) in x.values.iter().zip(&x.counts) {
        acc += c;
        if acc >= target {
            return *v;
        }
    }
    x.max
}

fn prediction_profile(classes: &[String], probabilities: &[Vec<f64>]) -> PredictionProfile {
    let k = classes.len();
    let mut predicted = vec![0u64; k];
    let mut per_class: Vec<Vec<f64>> = vec![Vec::with_capacity(probabilities.len()); k];
    for row in probabilities {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        if let Some(n) = predicted.get_mut(best) {
            *n += 1;
        }
        for (c, p) in row.iter().enumerate().take(k) {
            per_class[c].push(*p);
        }
    }
    PredictionProfile {
        classes: classes.to_vec(),
        predicted: Categories::from_counts(classes.iter().map(String::as_str).zip(predicted)),
        probabilities: per_class.into_iter().map(Numbers::from_values).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn table() -> Table {
        Table::from_columns(
            PathBuf::from("t.csv"),
            vec!["age".into(), "city".into()],
            vec![
                Column::Numeric(vec![30.0, f64::NAN, 50.0, 40.0]),
                Column::Text {
                    levels: vec!["Oslo".into(), "Rome".into()],
                    codes: vec![0, 1, 0, distillery_data::MISSING],
                },
            ],
        )
        .expect("table")
    }

    #[test]
    fn profile_counts_missing_cells_and_keeps_exact_values() {
        let p = Profile::from_table(
            &table(),
            &[
                ("age".into(), Kind::Numeric),
                ("city".into(), Kind::Categorical),
            ],
        )
        .expect("profile")
        .with_predictions(
            &["no".into(), "yes".into()],
            &[vec![0.2, 0.8], vec![0.6, 0.4]],
        );
        let age = p.column("age").expect("age");
        assert_eq!(age.missing, 1);
        assert!((age.missing_share() - 0.25).abs() < 1e-15);
        let Distribution::Numeric(x) = &age.distribution else {
            panic!("age is numeric")
        };
        assert_eq!(x.values, vec![30.0, 40.0, 50.0]);
        assert_eq!(age.quantiles[3], (0.5, 40.0));
        let city = p.column("city").expect("city");
        let Distribution::Categorical(c) = &city.distribution else {
            panic!("city is categorical")
        };
        assert_eq!((c.count("Oslo"), c.count("Rome"), city.missing), (2, 1, 1));
        let pred = p.prediction.as_ref().expect("predictions");
        assert_eq!(
            (pred.predicted.count("yes"), pred.predicted.count("no")),
            (1, 1)
        );
        // A round trip through JSON loses nothing.
        let json = serde_json::to_string(&p).expect("json");
        assert_eq!(serde_json::from_str::<Profile>(&json).expect("parse"), p);
    }
}

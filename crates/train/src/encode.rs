//! Fitting the student's feature [`Encoder`] on the training rows only, and applying it to
//! whole tables. Statistics never see validation or test rows, so evaluation stays honest.

use std::collections::HashMap;

use distillery_data::{Column, Kind, Table};
use distillery_runtime::{Encoder, FeatureEncoder, RawValue};

use crate::error::{Result, TrainError};

/// At most this many levels per categorical feature get their own one-hot slot (the most
/// frequent in training); rarer ones share the "unseen" slot, which keeps students small.
pub const MAX_LEVELS: usize = 100;

/// Fits an encoder for `features` (name, kind) on rows `rows` of `table`.
///
/// # Errors
/// A feature column is missing from the table.
pub fn fit_encoder(table: &Table, features: &[(String, Kind)], rows: &[usize]) -> Result<Encoder> {
    fit_encoder_with(table, features, rows, &EncoderOptions::default())
}

/// How numeric features are encoded beyond one standardised number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncoderOptions {
    /// Numeric features that also one-hot encode their most frequent exact values (up to
    /// [`MAX_LEVELS`] values seen at least twice in training, each exactly representable as
    /// `f32` so the ONNX export agrees).
    pub value_levels: Vec<String>,
    /// Quantile bins of every numeric feature's piecewise-linear encoding (0 = none). Edges
    /// are training quantiles rounded to `f32`; a feature with fewer than 3 distinct edges
    /// (binary, or nearly constant) gets none.
    pub numeric_bins: usize,
    /// Also give value levels to every numeric feature with a point mass: one value holds at
    /// least half the training rows and the column has more than ten values (amounts that
    /// are mostly zero, such as capital gains).
    pub point_mass_levels: bool,
    /// How text features are hashed.
    pub text: distillery_runtime::TextHashing,
    /// Word vectors for every text feature (`[student.text] vectors`), fitted to each one's
    /// training texts.
    pub vectors: Option<std::sync::Arc<crate::VectorFile>>,
}

/// Like [`fit_encoder`], with the numeric encodings `options` asks for.
///
/// # Errors
/// A feature column is missing from the table.
pub fn fit_encoder_with(
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
    options: &EncoderOptions,
) -> Result<Encoder> {
    let mut encoders = Vec::with_capacity(features.len());
    for (name, kind) in features {
        let column = table
            .column(name)
            .map_err(|e| TrainError::Shape(e.to_string()))?;
        let missing = rows.iter().any(|&r| column.is_missing(r));
        encoders.push(match kind {
            Kind::Text => FeatureEncoder::Text {
                name: name.clone(),
                hashing: options.text.clone(),
                vectors: options
                    .vectors
                    .as_ref()
                    .map(|v| v.fit(name, column, rows, options.text.max_tokens as usize))
                    .transpose()?,
            },
            Kind::Categorical => {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for &r in rows {
                    if let Some(t) = column.text(r) {
                        *counts.entry(t).or_default() += 1;
                    }
                }
                let mut levels: Vec<(&str, usize)> = counts.into_iter().collect();
                levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                levels.truncate(MAX_LEVELS);
                let mut levels: Vec<String> =
                    levels.into_iter().map(|(l, _)| l.to_string()).collect();
                levels.sort();
                FeatureEncoder::Categorical {
                    name: name.clone(),
                    levels,
                    missing_indicator: missing,
                }
            }
            _ => {
                let values: Vec<f64> = rows.iter().filter_map(|&r| column.number(r)).collect();
                let n = values.len().max(1) as f64;
                let mean = values.iter().sum::<f64>() / n;
                let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                let std = var.sqrt();
                FeatureEncoder::Numeric {
                    name: name.clone(),
                    mean,
                    scale: if std > 1e-12 { std } else { 1.0 },
                    missing_indicator: missing,
                    levels: if options.value_levels.contains(name) {
                        frequent_values(&values, MAX_LEVELS)
                    } else if options.point_mass_levels && has_point_mass(&values) {
                        frequent_values(&values, POINT_MASS_LEVELS)
                    } else {
                        Vec::new()
                    },
                    bins: quantile_edges(values, options.numeric_bins),
                }
            }
        });
    }
    Ok(Encoder::new(encoders))
}

/// A feature with at most this many distinct values per bin asked for gets no bins: its few
/// values (ordinal codes such as letter's 0–15 or phishing's −1/0/1) are learnt as well from
/// one standardised number, and bins would only widen the student's first layer.
const MIN_DISTINCT_PER_BIN: usize = 4;

/// Edges of `bins` equal-frequency bins (the 0th, 1/bins-th, …, 100th percentiles, as
/// `f32`), duplicates merged; empty when fewer than two intervals remain or the column has
/// at most [`MIN_DISTINCT_PER_BIN`] × `bins` distinct values.
fn quantile_edges(mut values: Vec<f64>, bins: usize) -> Vec<f64> {
    if bins < 2 || values.is_empty() {
        return Vec::new();
    }
    values.sort_by(f64::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= MIN_DISTINCT_PER_BIN * bins {
        return Vec::new();
    }
    let last = values.len() - 1;
    let mut edges: Vec<f64> = (0..=bins)
        .map(|b| f64::from(values[b * last / bins] as f32))
        .collect();
    edges.dedup();
    if edges.len() < 3 { Vec::new() } else { edges }
}

/// Fewest distinct values a column needs beside its point mass to get point-mass levels:
/// a spike with a long tail (amounts), not a few codes (−1/0/1), which one standardised
/// number already serves and whose one-hot only widens the student.
const POINT_MASS_MIN_DISTINCT: usize = 10;

/// Whether one value holds at least half of `values` and the rest spread over more than
/// [`POINT_MASS_MIN_DISTINCT`] values.
fn has_point_mass(values: &[f64]) -> bool {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for v in values {
        *counts.entry(v.to_bits()).or_default() += 1;
    }
    counts.len() > POINT_MASS_MIN_DISTINCT && counts.values().any(|&c| 2 * c >= values.len())
}

/// At most this many value levels for a column found by its point mass: on census_kdd's
/// dozen such columns [`MAX_LEVELS`] each made the smallest student too wide for the size
/// budget.
const POINT_MASS_LEVELS: usize = 32;

/// The `max` most frequent exact values (seen at least twice, `f32`-exact), sorted.
fn frequent_values(values: &[f64], max: usize) -> Vec<f64> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for v in values.iter().filter(|v| f64::from(**v as f32) == **v) {
        *counts.entry(v.to_bits()).or_default() += 1;
    }
    let mut top: Vec<(u64, usize)> = counts.into_iter().filter(|&(_, c)| c >= 2).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(max);
    let mut out: Vec<f64> = top.into_iter().map(|(b, _)| f64::from_bits(b)).collect();
    out.sort_by(f64::total_cmp);
    out
}

/// Encodes rows `rows` of `table` (columns matched by name) into an `n × width` matrix.
///
/// # Errors
/// A feature column is missing, or a numeric feature holds text.
pub fn encode_rows(encoder: &Encoder, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
    let columns: Vec<&Column> = encoder
        .names()
        .iter()
        .map(|n| {
            table
                .column(n)
                .map_err(|e| TrainError::Shape(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let width = encoder.width();
    let mut out = vec![0.0f32; rows.len() * width];
    let mut raw: Vec<RawValue<'_>> = Vec::with_capacity(columns.len());
    for (i, &r) in rows.iter().enumerate() {
        raw.clear();
        raw.extend(columns.iter().map(|c| raw_value(c, r)));
        encoder
            .encode_into(&raw, &mut out[i * width..(i + 1) * width])
            .map_err(|e| TrainError::Shape(format!("row {}: {e}", r + 1)))?;
    }
    Ok(out)
}

/// The cell as the runtime sees it.
pub fn raw_value(column: &Column, row: usize) -> RawValue<'_> {
    match column {
        Column::Numeric(v) if v[row].is_nan() => RawValue::Missing,
        Column::Numeric(v) => RawValue::Number(v[row]),
        Column::Text { .. } => column.text(row).map_or(RawValue::Missing, RawValue::Text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn encoder_statistics_come_from_training_rows_only() {
        let t = Table::from_columns(
            PathBuf::from("mem"),
            vec!["x".into(), "c".into()],
            vec![
                Column::Numeric(vec![1.0, 3.0, 100.0, f64::NAN]),
                Column::Text {
                    levels: vec!["a".into(), "b".into(), "z".into()],
                    codes: vec![0, 1, 2, 0],
                },
            ],
        )
        .unwrap();
        let features = [
            ("x".to_string(), Kind::Numeric),
            ("c".to_string(), Kind::Categorical),
        ];
        let e = fit_encoder(&t, &features, &[0, 1]).unwrap();
        match &e.features[0] {
            FeatureEncoder::Numeric {
                mean,
                scale,
                missing_indicator,
                ..
            } => {
                assert_eq!((*mean, *scale, *missing_indicator), (2.0, 1.0, false));
            }
            other => panic!("{other:?}"),
        }
        let x = encode_rows(&e, &t, &[2, 3]).unwrap();
        // row 2: x = 100 → 98; c = "z" unseen. row 3: x missing → 0; c = "a".
        assert_eq!(x, [98.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn quantile_edges_are_training_percentiles_with_duplicates_merged() {
        let values: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(quantile_edges(values, 4), [0.0, 25.0, 50.0, 75.0, 100.0]);
        // Mostly zeros (a capital-gain column): the repeated 0 edges merge.
        let mut sparse = vec![0.0; 90];
        sparse.extend((1..=10).map(|v| f64::from(v) * 1000.0));
        assert!(
            quantile_edges(sparse, 4).is_empty(),
            "one interval [0, 10000]: none"
        );
        let mut tail = vec![0.0; 60];
        tail.extend((1..=40).map(f64::from));
        assert_eq!(quantile_edges(tail, 4), [0.0, 15.0, 40.0]);
        assert!(
            quantile_edges(vec![0.0, 1.0], 8).is_empty(),
            "binary: no bins"
        );
        let codes: Vec<f64> = (0..1000).map(|i| f64::from(i % 16)).collect();
        assert!(
            quantile_edges(codes, 4).is_empty(),
            "16 codes for 4 bins: none"
        );
        assert!(quantile_edges(vec![3.0; 5], 0).is_empty());
    }

    #[test]
    fn a_point_mass_column_gets_value_levels_when_asked() {
        let mut gains = vec![0.0; 70];
        gains.extend([7688.0, 7688.0, 3103.0, 3103.0, 15024.0]);
        gains.extend((0..25).map(|i| f64::from(i) * 37.0 + 1.0));
        let ages: Vec<f64> = (0..100).map(|i| f64::from(17 + i % 60)).collect();
        let t = Table::from_columns(
            PathBuf::from("mem"),
            vec!["gain".into(), "age".into()],
            vec![Column::Numeric(gains), Column::Numeric(ages)],
        )
        .unwrap();
        let features = [
            ("gain".to_string(), Kind::Numeric),
            ("age".to_string(), Kind::Numeric),
        ];
        let rows: Vec<usize> = (0..100).collect();
        let levels = |point_mass_levels| {
            let options = EncoderOptions {
                point_mass_levels,
                numeric_bins: 4,
                ..EncoderOptions::default()
            };
            let e = fit_encoder_with(&t, &features, &rows, &options).unwrap();
            e.features
                .iter()
                .map(|f| match f {
                    FeatureEncoder::Numeric { levels, bins, .. } => (levels.clone(), bins.len()),
                    _ => panic!("numeric"),
                })
                .collect::<Vec<_>>()
        };
        let on = levels(true);
        assert_eq!(on[0].0, [0.0, 3103.0, 7688.0], "values seen twice or more");
        assert!(on[1].0.is_empty(), "age has no point mass");
        assert_eq!(on[1].1, 5, "age: 60 distinct values, 4 bins, 5 edges");
        assert!(levels(false)[0].0.is_empty());
    }
}

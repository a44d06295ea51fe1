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
    fit_encoder_with_levels(table, features, rows, &[])
}

/// Like [`fit_encoder`], and each numeric feature named in `value_levels` also one-hot
/// encodes its most frequent exact values (up to [`MAX_LEVELS`] values seen at least twice
/// in training, each exactly representable as `f32` so the ONNX export agrees).
///
/// # Errors
/// A feature column is missing from the table.
pub fn fit_encoder_with_levels(
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
    value_levels: &[String],
) -> Result<Encoder> {
    let mut encoders = Vec::with_capacity(features.len());
    for (name, kind) in features {
        let column = table
            .column(name)
            .map_err(|e| TrainError::Shape(e.to_string()))?;
        let missing = rows.iter().any(|&r| column.is_missing(r));
        encoders.push(match kind {
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
                    levels: if value_levels.contains(name) {
                        frequent_values(&values)
                    } else {
                        Vec::new()
                    },
                }
            }
        });
    }
    Ok(Encoder::new(encoders))
}

/// The most frequent exact values (seen at least twice, `f32`-exact), sorted.
fn frequent_values(values: &[f64]) -> Vec<f64> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for v in values.iter().filter(|v| f64::from(**v as f32) == **v) {
        *counts.entry(v.to_bits()).or_default() += 1;
    }
    let mut top: Vec<(u64, usize)> = counts.into_iter().filter(|&(_, c)| c >= 2).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(MAX_LEVELS);
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
}

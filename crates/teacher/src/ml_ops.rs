//! The `ai.onnx.ml` preprocessing operators that skl2onnx and onnxmltools emit before a
//! model (OneHotEncoder, Imputer, Scaler, Normalizer, Binarizer, LabelEncoder,
//! ArrayFeatureExtractor, FeatureVectorizer) and Cast, compiled from their nodes and
//! applied to [`Tensor`]s with the semantics of the ONNX-ML specification.

use std::collections::HashMap;

use distillery_onnx::NodeProto;

use crate::tensor::Attributes;
use crate::values::{Data, Tensor};

/// A compiled preprocessing operator.
#[derive(Debug, Clone)]
pub(crate) enum MlOp {
    /// One float slot per category; an unknown value gives all zeros.
    OneHot {
        strings: Vec<String>,
        ints: Vec<i64>,
    },
    /// Replaces `replaced` (NaN matches NaN) by the column's `values` (or one value).
    Imputer { values: Vec<f32>, replaced: f32 },
    /// `(x − offset) · scale`, per column or one value.
    Scaler { offset: Vec<f32>, scale: Vec<f32> },
    /// Rows divided by their max, L1 or L2 norm.
    Normalizer { norm: String },
    /// 1 above the threshold, else 0.
    Binarizer { threshold: f32 },
    /// A lookup from one element type to another, with a default.
    LabelEncoder {
        keys: Data,
        values: Data,
        default: Data,
    },
    /// Columns picked from the last axis by the indices in the second input.
    ArrayFeatureExtractor,
    /// Inputs flattened per row and joined as floats.
    FeatureVectorizer,
    /// Element type conversion (1 = float, 7 = int64, 8 = string).
    Cast { to: i64 },
}

impl MlOp {
    /// Compiles `node`, or `None` when it is not one of these operators.
    pub(crate) fn compile(node: &NodeProto) -> Option<Result<MlOp, String>> {
        let a = Attributes(node);
        let op = node.op_type.as_deref().unwrap_or_default();
        Some(Ok(match op {
            "OneHotEncoder" => MlOp::OneHot {
                strings: a.strings("cats_strings"),
                ints: a.ints("cats_int64s"),
            },
            "Imputer" => {
                let mut values = a.floats("imputed_value_floats");
                if values.is_empty() {
                    values = a
                        .ints("imputed_value_int64s")
                        .iter()
                        .map(|&i| i as f32)
                        .collect();
                }
                MlOp::Imputer {
                    values,
                    replaced: a.float("replaced_value_float").unwrap_or(0.0),
                }
            }
            "Scaler" => MlOp::Scaler {
                offset: a.floats("offset"),
                scale: a.floats("scale"),
            },
            "Normalizer" => MlOp::Normalizer {
                norm: a.string("norm").unwrap_or_else(|| "MAX".into()),
            },
            "Binarizer" => MlOp::Binarizer {
                threshold: a.float("threshold").unwrap_or(0.0),
            },
            "LabelEncoder" => return Some(label_encoder(&a)),
            "ArrayFeatureExtractor" => MlOp::ArrayFeatureExtractor,
            "FeatureVectorizer" => MlOp::FeatureVectorizer,
            "Cast" => MlOp::Cast {
                to: a.int("to").unwrap_or(1),
            },
            _ => return None,
        }))
    }

    /// Applies the operator to its inputs.
    pub(crate) fn apply(&self, inputs: &[Tensor]) -> Result<Tensor, String> {
        let x = inputs.first().ok_or("operator without input")?;
        match self {
            MlOp::OneHot { strings, ints } => one_hot(x, strings, ints),
            MlOp::Imputer { values, replaced } => {
                let mut v = x.to_f32();
                let c = x.last();
                for (i, e) in v.iter_mut().enumerate() {
                    if *e == *replaced || (replaced.is_nan() && e.is_nan()) {
                        *e = pick(values, i % c)?;
                    }
                }
                Ok(Tensor::f32(x.shape.clone(), v))
            }
            MlOp::Scaler { offset, scale } => {
                let c = x.last();
                let v = x.to_f32();
                let out = v
                    .iter()
                    .enumerate()
                    .map(|(i, &e)| {
                        Ok((e - pick_or(offset, i % c, 0.0)?) * pick_or(scale, i % c, 1.0)?)
                    })
                    .collect::<Result<_, String>>()?;
                Ok(Tensor::f32(x.shape.clone(), out))
            }
            MlOp::Normalizer { norm } => normalize(x, norm),
            MlOp::Binarizer { threshold } => Ok(Tensor::f32(
                x.shape.clone(),
                x.to_f32()
                    .iter()
                    .map(|&e| if e > *threshold { 1.0 } else { 0.0 })
                    .collect(),
            )),
            MlOp::LabelEncoder {
                keys,
                values,
                default,
            } => encode_labels(x, keys, values, default),
            MlOp::ArrayFeatureExtractor => {
                let idx = inputs.get(1).ok_or("ArrayFeatureExtractor needs indices")?;
                extract(x, &idx.to_f32())
            }
            MlOp::FeatureVectorizer => {
                let n = x.shape.first().copied().unwrap_or(1);
                let parts: Vec<Tensor> = inputs
                    .iter()
                    .map(|t| {
                        let w = t.data.len() / n.max(1);
                        Tensor::f32(vec![n, w], t.to_f32())
                    })
                    .collect();
                Tensor::concat(&parts, 1)
            }
            MlOp::Cast { to } => cast(x, *to),
        }
    }
}

fn pick(values: &[f32], i: usize) -> Result<f32, String> {
    match values {
        [one] => Ok(*one),
        v => v
            .get(i)
            .copied()
            .ok_or_else(|| format!("{} values for column {i}", v.len())),
    }
}

fn pick_or(values: &[f32], i: usize, default: f32) -> Result<f32, String> {
    if values.is_empty() {
        Ok(default)
    } else {
        pick(values, i)
    }
}

fn one_hot(x: &Tensor, strings: &[String], ints: &[i64]) -> Result<Tensor, String> {
    let k = strings.len().max(ints.len());
    let index: Vec<Option<usize>> = match &x.data {
        Data::Str(v) => {
            let at: HashMap<&str, usize> = strings
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect();
            v.iter().map(|s| at.get(s.as_str()).copied()).collect()
        }
        _ => {
            let at: HashMap<i64, usize> = ints.iter().enumerate().map(|(i, &c)| (c, i)).collect();
            x.to_f32()
                .iter()
                .map(|&f| at.get(&(f as i64)).copied())
                .collect()
        }
    };
    let mut out = vec![0.0f32; index.len() * k];
    for (row, i) in index.iter().enumerate() {
        if let Some(i) = i {
            out[row * k + i] = 1.0;
        }
    }
    let mut shape = x.shape.clone();
    shape.push(k);
    Ok(Tensor::f32(shape, out))
}

fn normalize(x: &Tensor, norm: &str) -> Result<Tensor, String> {
    let c = x.last().max(1);
    let mut v = x.to_f32();
    for row in v.chunks_exact_mut(c) {
        let d = match norm {
            "MAX" => row.iter().fold(f32::NEG_INFINITY, |m, &e| m.max(e)),
            "L1" => row.iter().map(|e| e.abs()).sum(),
            "L2" => row.iter().map(|e| e * e).sum::<f32>().sqrt(),
            other => return Err(format!("Normalizer norm '{other}'")),
        };
        if d != 0.0 {
            row.iter_mut().for_each(|e| *e /= d);
        }
    }
    Ok(Tensor::f32(x.shape.clone(), v))
}

fn extract(x: &Tensor, indices: &[f32]) -> Result<Tensor, String> {
    let c = x.last().max(1);
    let rows = x.data.len() / c;
    let picks: Vec<usize> = indices.iter().map(|&i| i as usize).collect();
    if let Some(bad) = picks.iter().find(|&&i| i >= c) {
        return Err(format!("ArrayFeatureExtractor index {bad} of {c} columns"));
    }
    let gather = |r: usize| picks.iter().map(move |&i| r * c + i);
    let data = match &x.data {
        Data::F32(v) => Data::F32((0..rows).flat_map(gather).map(|i| v[i]).collect()),
        Data::I64(v) => Data::I64((0..rows).flat_map(gather).map(|i| v[i]).collect()),
        Data::Str(v) => Data::Str((0..rows).flat_map(gather).map(|i| v[i].clone()).collect()),
    };
    let mut shape = x.shape.clone();
    match shape.last_mut() {
        Some(last) => *last = picks.len(),
        None => shape.push(picks.len()),
    }
    Ok(Tensor { shape, data })
}

fn cast(x: &Tensor, to: i64) -> Result<Tensor, String> {
    let data = match to {
        1 | 11 => Data::F32(x.to_f32()),
        7 => Data::I64(match &x.data {
            Data::I64(v) => v.clone(),
            _ => x.to_f32().iter().map(|&f| f as i64).collect(),
        }),
        8 => Data::Str(match &x.data {
            Data::Str(v) => v.clone(),
            Data::I64(v) => v.iter().map(i64::to_string).collect(),
            Data::F32(v) => v.iter().map(f32::to_string).collect(),
        }),
        other => return Err(format!("Cast to element type {other}")),
    };
    Ok(Tensor {
        shape: x.shape.clone(),
        data,
    })
}

fn label_encoder(a: &Attributes<'_>) -> Result<MlOp, String> {
    let typed = |s: Vec<String>, i: Vec<i64>, f: Vec<f32>| {
        if !s.is_empty() {
            Data::Str(s)
        } else if !i.is_empty() {
            Data::I64(i)
        } else {
            Data::F32(f)
        }
    };
    let keys = typed(
        a.strings("keys_strings"),
        a.ints("keys_int64s"),
        a.floats("keys_floats"),
    );
    let values = typed(
        a.strings("values_strings"),
        a.ints("values_int64s"),
        a.floats("values_floats"),
    );
    if keys.len() != values.len() {
        return Err("LabelEncoder keys and values differ in length".into());
    }
    let default = match &values {
        Data::Str(_) => Data::Str(vec![
            a.string("default_string")
                .unwrap_or_else(|| "_Unused".into()),
        ]),
        Data::I64(_) => Data::I64(vec![a.int("default_int64").unwrap_or(-1)]),
        Data::F32(_) => Data::F32(vec![a.float("default_float").unwrap_or(-0.0)]),
    };
    Ok(MlOp::LabelEncoder {
        keys,
        values,
        default,
    })
}

fn encode_labels(x: &Tensor, keys: &Data, values: &Data, default: &Data) -> Result<Tensor, String> {
    let key_text = |d: &Data, i: usize| match d {
        Data::Str(v) => v[i].clone(),
        Data::I64(v) => v[i].to_string(),
        Data::F32(v) => v[i].to_string(),
    };
    let map: HashMap<String, usize> = (0..keys.len()).map(|i| (key_text(keys, i), i)).collect();
    let n = x.data.len();
    let found: Vec<Option<usize>> = (0..n)
        .map(|i| map.get(&key_text(&x.data, i)).copied())
        .collect();
    let data = match (values, default) {
        (Data::Str(v), Data::Str(d)) => Data::Str(
            found
                .iter()
                .map(|f| f.map_or_else(|| d[0].clone(), |i| v[i].clone()))
                .collect(),
        ),
        (Data::I64(v), Data::I64(d)) => {
            Data::I64(found.iter().map(|f| f.map_or(d[0], |i| v[i])).collect())
        }
        (Data::F32(v), Data::F32(d)) => {
            Data::F32(found.iter().map(|f| f.map_or(d[0], |i| v[i])).collect())
        }
        _ => return Err("LabelEncoder default of another type".into()),
    };
    Ok(Tensor {
        shape: x.shape.clone(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Tensor {
        Tensor {
            shape: vec![v.len(), 1],
            data: Data::Str(v.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn one_hot_adds_a_dimension_and_zeros_the_unknown() {
        let op = MlOp::OneHot {
            strings: vec!["a".into(), "b".into()],
            ints: vec![],
        };
        let t = op.apply(&[strings(&["b", "z", "a"])]).unwrap();
        assert_eq!(t.shape, vec![3, 1, 2]);
        assert_eq!(t.data, Data::F32(vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]));
    }

    #[test]
    fn imputer_and_scaler_work_per_column() {
        let x = Tensor::f32(vec![2, 2], vec![f32::NAN, 2.0, 4.0, f32::NAN]);
        let imputed = MlOp::Imputer {
            values: vec![1.0, 3.0],
            replaced: f32::NAN,
        }
        .apply(&[x])
        .unwrap();
        assert_eq!(imputed.data, Data::F32(vec![1.0, 2.0, 4.0, 3.0]));
        let scaled = MlOp::Scaler {
            offset: vec![1.0, 2.0],
            scale: vec![2.0],
        }
        .apply(&[imputed])
        .unwrap();
        assert_eq!(scaled.data, Data::F32(vec![0.0, 0.0, 6.0, 2.0]));
    }

    #[test]
    fn normalizer_binarizer_extractor_and_encoder() {
        let x = Tensor::f32(vec![1, 2], vec![3.0, 4.0]);
        let l2 = MlOp::Normalizer { norm: "L2".into() }
            .apply(std::slice::from_ref(&x))
            .unwrap();
        assert_eq!(l2.data, Data::F32(vec![0.6, 0.8]));
        let b = MlOp::Binarizer { threshold: 3.5 }
            .apply(std::slice::from_ref(&x))
            .unwrap();
        assert_eq!(b.data, Data::F32(vec![0.0, 1.0]));
        let idx = Tensor {
            shape: vec![1],
            data: Data::I64(vec![1]),
        };
        let e = MlOp::ArrayFeatureExtractor.apply(&[x, idx]).unwrap();
        assert_eq!((e.shape, e.data), (vec![1, 1], Data::F32(vec![4.0])));
        let enc = MlOp::LabelEncoder {
            keys: Data::Str(vec!["x".into(), "y".into()]),
            values: Data::I64(vec![7, 9]),
            default: Data::I64(vec![-1]),
        };
        let out = enc.apply(&[strings(&["y", "q"])]).unwrap();
        assert_eq!(out.data, Data::I64(vec![9, -1]));
    }
}

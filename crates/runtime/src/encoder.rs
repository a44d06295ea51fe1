//! The feature encoder that travels inside every student: raw values in, the model's
//! input vector out. Fitted once on the training split (by `distillery-train`) and
//! stored in the artifact, so serving applies exactly the transformation training saw.
//!
//! Layout per feature, in order:
//! - numeric: `(x − mean) / scale`, missing → 0 (the training mean), plus a 0/1 missing
//!   indicator when the training split had missing values in that column;
//! - categorical: one-hot over the training levels, then one "unseen" slot for any level
//!   not seen in training, plus a missing indicator when training had missing values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// One raw input value, as read from a CSV cell, a JSON request or a program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue<'a> {
    /// A number.
    Number(f64),
    /// Text: a category, or a number written as text.
    Text(&'a str),
    /// No value.
    Missing,
}

/// How one feature is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeatureEncoder {
    /// Standardised number.
    Numeric {
        /// Column name.
        name: String,
        /// Training mean (also the imputed value).
        mean: f64,
        /// Training standard deviation (1 when the column is constant).
        scale: f64,
        /// Whether a missing-indicator slot follows.
        missing_indicator: bool,
    },
    /// One-hot category.
    Categorical {
        /// Column name.
        name: String,
        /// Levels seen in training, in slot order.
        levels: Vec<String>,
        /// Whether a missing-indicator slot follows the unseen slot.
        missing_indicator: bool,
    },
}

impl FeatureEncoder {
    /// The column this encoder reads.
    pub fn name(&self) -> &str {
        match self {
            FeatureEncoder::Numeric { name, .. } | FeatureEncoder::Categorical { name, .. } => name,
        }
    }

    /// Number of model inputs this feature produces.
    pub fn width(&self) -> usize {
        match self {
            FeatureEncoder::Numeric {
                missing_indicator, ..
            } => 1 + usize::from(*missing_indicator),
            FeatureEncoder::Categorical {
                levels,
                missing_indicator,
                ..
            } => levels.len() + 1 + usize::from(*missing_indicator),
        }
    }
}

/// Raw features → model input vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    /// One encoder per raw feature, in input order.
    pub features: Vec<FeatureEncoder>,
    #[serde(skip)]
    lookup: Vec<HashMap<String, usize>>,
}

impl Encoder {
    /// Builds an encoder from per-feature encoders.
    pub fn new(features: Vec<FeatureEncoder>) -> Encoder {
        let mut e = Encoder {
            features,
            lookup: Vec::new(),
        };
        e.index();
        e
    }

    /// Rebuilds the level lookup tables (after deserialising).
    pub(crate) fn index(&mut self) {
        self.lookup = self
            .features
            .iter()
            .map(|f| match f {
                FeatureEncoder::Categorical { levels, .. } => levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.clone(), i))
                    .collect(),
                FeatureEncoder::Numeric { .. } => HashMap::new(),
            })
            .collect();
    }

    /// Number of model inputs produced per row.
    pub fn width(&self) -> usize {
        self.features.iter().map(FeatureEncoder::width).sum()
    }

    /// Raw feature names in input order.
    pub fn names(&self) -> Vec<&str> {
        self.features.iter().map(FeatureEncoder::name).collect()
    }

    /// Encodes one row into `out` (length [`Encoder::width`]) without allocating.
    ///
    /// # Errors
    /// Wrong number of values, or text that is not a number for a numeric feature.
    pub fn encode_into(&self, row: &[RawValue<'_>], out: &mut [f32]) -> Result<()> {
        if row.len() != self.features.len() || out.len() != self.width() {
            return Err(RuntimeError::RowWidth {
                expected: self.features.len(),
                found: row.len(),
                names: self.names().join(", "),
            });
        }
        let mut at = 0;
        for ((feature, value), lookup) in self.features.iter().zip(row).zip(&self.lookup) {
            let width = feature.width();
            let slots = &mut out[at..at + width];
            at += width;
            match feature {
                FeatureEncoder::Numeric {
                    name,
                    mean,
                    scale,
                    missing_indicator,
                } => {
                    let x =
                        match *value {
                            RawValue::Number(x) if x.is_nan() => None,
                            RawValue::Number(x) => Some(x),
                            RawValue::Missing => None,
                            RawValue::Text(t) => Some(t.trim().parse::<f64>().map_err(|_| {
                                RuntimeError::NotANumber {
                                    feature: name.clone(),
                                    value: t.to_string(),
                                }
                            })?),
                        };
                    slots[0] = x.map_or(0.0, |x| ((x - mean) / scale) as f32);
                    if *missing_indicator {
                        slots[1] = if x.is_none() { 1.0 } else { 0.0 };
                    }
                }
                FeatureEncoder::Categorical {
                    levels,
                    missing_indicator,
                    ..
                } => {
                    slots.fill(0.0);
                    let unseen = levels.len();
                    let slot = match *value {
                        RawValue::Missing => {
                            if *missing_indicator {
                                unseen + 1
                            } else {
                                unseen
                            }
                        }
                        RawValue::Text(t) => lookup.get(t.trim()).copied().unwrap_or(unseen),
                        RawValue::Number(x) if x.is_nan() => {
                            if *missing_indicator {
                                unseen + 1
                            } else {
                                unseen
                            }
                        }
                        RawValue::Number(x) => {
                            let mut buf = NumberText::default();
                            lookup.get(buf.format(x)).copied().unwrap_or(unseen)
                        }
                    };
                    slots[slot] = 1.0;
                }
            }
        }
        Ok(())
    }
}

/// Formats a number the way it appears in a CSV cell (integers without `.0`) into a stack
/// buffer, so categorical lookups of numeric codes do not allocate on the hot path.
struct NumberText {
    buf: [u8; 40],
    len: usize,
}

impl Default for NumberText {
    fn default() -> Self {
        NumberText {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl NumberText {
    fn format(&mut self, x: f64) -> &str {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut self.buf[..]);
        let ok = if x.fract() == 0.0 && x.abs() < 1e15 {
            write!(cursor, "{}", x as i64)
        } else {
            write!(cursor, "{x}")
        };
        self.len = if ok.is_ok() {
            cursor.position() as usize
        } else {
            0
        };
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder() -> Encoder {
        Encoder::new(vec![
            FeatureEncoder::Numeric {
                name: "age".into(),
                mean: 40.0,
                scale: 10.0,
                missing_indicator: true,
            },
            FeatureEncoder::Categorical {
                name: "city".into(),
                levels: vec!["Oslo".into(), "Rome".into()],
                missing_indicator: false,
            },
            FeatureEncoder::Categorical {
                name: "code".into(),
                levels: vec!["1".into(), "2".into()],
                missing_indicator: true,
            },
        ])
    }

    fn encode(row: &[RawValue<'_>]) -> Vec<f32> {
        let e = encoder();
        let mut out = vec![f32::NAN; e.width()];
        e.encode_into(row, &mut out).unwrap();
        out
    }

    #[test]
    fn encodes_numbers_levels_unseen_and_missing() {
        assert_eq!(encoder().width(), 2 + 3 + 4);
        let v = encode(&[
            RawValue::Number(50.0),
            RawValue::Text("Rome"),
            RawValue::Number(2.0),
        ]);
        assert_eq!(v, [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let v = encode(&[
            RawValue::Missing,
            RawValue::Text("Paris"),
            RawValue::Missing,
        ]);
        assert_eq!(v, [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let v = encode(&[RawValue::Text("30"), RawValue::Missing, RawValue::Text("1")]);
        assert_eq!(v, [-1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn encoder_round_trips_through_json() {
        let e = encoder();
        let mut back: Encoder = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        back.index();
        assert_eq!(back, e);
        let row = [
            RawValue::Number(41.0),
            RawValue::Text("Oslo"),
            RawValue::Missing,
        ];
        let (mut a, mut b) = (vec![0.0; 9], vec![0.0; 9]);
        e.encode_into(&row, &mut a).unwrap();
        back.encode_into(&row, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn text_in_numeric_feature_is_an_error() {
        let e = encoder();
        let mut out = vec![0.0; 9];
        let err = e
            .encode_into(
                &[RawValue::Text("old"), RawValue::Missing, RawValue::Missing],
                &mut out,
            )
            .unwrap_err();
        assert!(err.to_string().contains("'age'"));
    }
}

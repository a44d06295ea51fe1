//! The feature encoder that travels inside every student: raw values in, the model's
//! input vector out. Fitted once on the training split (by `distillery-train`) and
//! stored in the artifact, so serving applies exactly the transformation training saw.
//!
//! Layout per feature, in order:
//! - numeric: `(x − mean) / scale`, missing → 0 (the training mean), plus a 0/1 missing
//!   indicator when the training split had missing values in that column;
//! - categorical: one-hot over the training levels, then one "unseen" slot for any level
//!   not seen in training, plus a missing indicator when training had missing values;
//! - text: hashed word (and optionally character) n-grams, `buckets` slots (see
//!   [`crate::TextHashing`]); a missing text is an empty one.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

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
        /// Exact values that also get a one-hot slot each (sorted), after the number and the
        /// missing indicator: lets a small student learn a teacher's splits on sparse,
        /// heavy-tailed columns such as capital gains.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<f64>,
        /// Bin edges `e₀ < e₁ < … < e_B` of a piecewise-linear encoding (Gorishniy et al.
        /// 2022), after the levels: slot `b` holds `clamp((x − e_{b−1}) / (e_b − e_{b−1}), 0, 1)`.
        /// A small network then bends its response at the edges the way a boosted teacher
        /// splits, which one standardised number makes it learn slowly.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
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
    /// Free text as hashed n-gram counts, then optionally the mean of its word vectors.
    Text {
        /// Column name.
        name: String,
        /// How the text is hashed.
        hashing: crate::TextHashing,
        /// Word vectors whose mean follows the hashed slots (`[student.text] vectors`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vectors: Option<crate::WordVectors>,
    },
}

impl FeatureEncoder {
    /// The column this encoder reads.
    pub fn name(&self) -> &str {
        match self {
            FeatureEncoder::Numeric { name, .. }
            | FeatureEncoder::Categorical { name, .. }
            | FeatureEncoder::Text { name, .. } => name,
        }
    }

    /// Number of model inputs this feature produces.
    pub fn width(&self) -> usize {
        match self {
            FeatureEncoder::Numeric {
                missing_indicator,
                levels,
                bins,
                ..
            } => 1 + usize::from(*missing_indicator) + levels.len() + bin_slots(bins),
            FeatureEncoder::Categorical {
                levels,
                missing_indicator,
                ..
            } => levels.len() + 1 + usize::from(*missing_indicator),
            FeatureEncoder::Text {
                hashing, vectors, ..
            } => hashing.buckets as usize + vectors.as_ref().map_or(0, |v| v.dim as usize),
        }
    }
}

/// Slots of a piecewise-linear encoding with these edges: one per interval.
fn bin_slots(edges: &[f64]) -> usize {
    edges.len().saturating_sub(1)
}

/// Calls `f(slot, value)` for the non-zero slots of `x`'s piecewise-linear encoding, from
/// slot `base`: 1 for every interval wholly below `x`, the fraction of the one `x` falls in.
fn for_each_bin(edges: &[f64], x: f64, base: usize, f: &mut impl FnMut(usize, f32)) {
    for (b, pair) in edges.windows(2).enumerate() {
        let (lo, hi) = (pair[0], pair[1]);
        if x <= lo {
            break;
        }
        let v = if x >= hi {
            1.0
        } else {
            ((x - lo) / (hi - lo)) as f32
        };
        f(base + b, v);
    }
}

/// Raw features → model input vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    /// One encoder per raw feature, in input order.
    pub features: Vec<FeatureEncoder>,
    #[serde(skip)]
    lookup: Vec<LevelIndex>,
    /// `1 / scale` per feature (numeric ones), so the hot path multiplies instead of dividing.
    #[serde(skip)]
    inv_scale: Vec<f64>,
}

/// Level lookup for one categorical feature, the hot spot of a single-row prediction.
///
/// Keys are a word-at-a-time multiplicative hash (the FxHash step
/// `h = (rotl(h, 5) ^ word) · K` with odd `K`) plus the byte length. For a fixed state each
/// step is a bijection of the word, and for a fixed word a bijection of the state, so two
/// strings of the same length (same word count, zero-padded last word) can only share a
/// hash if they are equal: matching on (hash, length) is exact and needs no string compare.
/// std's SipHash plus a `memcmp` per probe made lookups cost ≈ 3× more on census data.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LevelIndex {
    /// Open-addressing table: (hash, length, slot); length `u32::MAX` marks an empty entry.
    table: Vec<(u64, u32, u32)>,
    shift: u32,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

fn word_hash(bytes: &[u8]) -> u64 {
    let mut h = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    }
    h
}

impl LevelIndex {
    fn new(levels: &[String]) -> LevelIndex {
        let bits = (levels.len() * 2)
            .max(2)
            .next_power_of_two()
            .trailing_zeros();
        let mut index = LevelIndex {
            table: vec![(0, u32::MAX, 0); 1 << bits],
            shift: 64 - bits,
        };
        for (slot, level) in levels.iter().enumerate() {
            let (h, len) = (word_hash(level.as_bytes()), level.len() as u32);
            if index.get_hashed(h, len).is_none() {
                let mask = index.table.len() - 1;
                let mut i = index.home(h, len);
                while index.table[i].1 != u32::MAX {
                    i = (i + 1) & mask;
                }
                index.table[i] = (h, len, slot as u32);
            }
        }
        index
    }

    fn home(&self, h: u64, len: u32) -> usize {
        ((h ^ u64::from(len).wrapping_mul(K)).wrapping_mul(K) >> self.shift) as usize
    }

    fn get_hashed(&self, h: u64, len: u32) -> Option<usize> {
        let mask = self.table.len() - 1;
        let mut i = self.home(h, len);
        loop {
            let (eh, elen, slot) = self.table[i];
            if elen == u32::MAX {
                return None;
            }
            if eh == h && elen == len {
                return Some(slot as usize);
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, text: &str) -> Option<usize> {
        self.get_hashed(word_hash(text.as_bytes()), text.len() as u32)
    }
}

impl Encoder {
    /// Builds an encoder from per-feature encoders.
    pub fn new(features: Vec<FeatureEncoder>) -> Encoder {
        let mut e = Encoder {
            features,
            lookup: Vec::new(),
            inv_scale: Vec::new(),
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
                FeatureEncoder::Categorical { levels, .. } => LevelIndex::new(levels),
                FeatureEncoder::Text {
                    vectors: Some(v), ..
                } => LevelIndex::new(&v.words),
                FeatureEncoder::Numeric { .. } | FeatureEncoder::Text { .. } => {
                    LevelIndex::default()
                }
            })
            .collect();
        self.inv_scale = self
            .features
            .iter()
            .map(|f| match f {
                FeatureEncoder::Numeric { scale, .. } => 1.0 / scale,
                FeatureEncoder::Categorical { .. } | FeatureEncoder::Text { .. } => 1.0,
            })
            .collect();
    }

    /// An encoder that passes `width` numbers through unchanged (inputs named `x0`, `x1`,
    /// …): for a network trained on a matrix that is already encoded, such as an attacker
    /// model or a plain ONNX graph's weights.
    pub fn identity(width: usize) -> Encoder {
        Encoder::new(
            (0..width)
                .map(|i| FeatureEncoder::Numeric {
                    name: alloc::format!("x{i}"),
                    mean: 0.0,
                    scale: 1.0,
                    missing_indicator: false,
                    levels: Vec::new(),
                    bins: Vec::new(),
                })
                .collect(),
        )
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
        if out.len() != self.width() {
            return Err(self.width_error(row.len()));
        }
        out.fill(0.0);
        self.for_each_active(row, |i, v| out[i] = v)
    }

    fn width_error(&self, found: usize) -> RuntimeError {
        RuntimeError::RowWidth {
            expected: self.features.len(),
            found,
            names: self.names().join(", "),
        }
    }

    /// Calls `f(slot, value)` for every non-zero input slot of the encoded row, in slot
    /// order. One-hot rows are mostly zeros, so the student's first layer uses this to add
    /// only the weight rows that matter instead of scanning the whole input vector.
    ///
    /// # Errors
    /// Wrong number of values, or text that is not a number for a numeric feature.
    pub fn for_each_active(
        &self,
        row: &[RawValue<'_>],
        mut f: impl FnMut(usize, f32),
    ) -> Result<()> {
        if row.len() != self.features.len() {
            return Err(self.width_error(row.len()));
        }
        let mut at = 0;
        let parts = self
            .features
            .iter()
            .zip(row)
            .zip(&self.lookup)
            .zip(&self.inv_scale);
        for (((feature, value), lookup), inv_scale) in parts {
            match feature {
                FeatureEncoder::Numeric {
                    name,
                    mean,
                    missing_indicator,
                    levels,
                    bins,
                    ..
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
                    let level_base = at + 1 + usize::from(*missing_indicator);
                    match x {
                        Some(x) => {
                            let v = ((x - mean) * inv_scale) as f32;
                            if v != 0.0 {
                                f(at, v);
                            }
                            if let Ok(i) = levels.binary_search_by(|l| l.total_cmp(&x)) {
                                f(level_base + i, 1.0);
                            }
                            for_each_bin(bins, x, level_base + levels.len(), &mut f);
                        }
                        None if *missing_indicator => f(at + 1, 1.0),
                        None => {}
                    }
                    at = level_base + levels.len() + bin_slots(bins);
                }
                FeatureEncoder::Categorical {
                    levels,
                    missing_indicator,
                    ..
                } => {
                    let unseen = levels.len();
                    let missing_slot = if *missing_indicator {
                        unseen + 1
                    } else {
                        unseen
                    };
                    let slot = match *value {
                        RawValue::Missing => missing_slot,
                        RawValue::Number(x) if x.is_nan() => missing_slot,
                        RawValue::Text(t) => lookup
                            .get(t)
                            .or_else(|| lookup.get(t.trim()))
                            .unwrap_or(unseen),
                        RawValue::Number(x) => {
                            let mut buf = NumberText::default();
                            lookup.get(buf.format(x)).unwrap_or(unseen)
                        }
                    };
                    f(at + slot, 1.0);
                    at += unseen + 1 + usize::from(*missing_indicator);
                }
                FeatureEncoder::Text {
                    hashing, vectors, ..
                } => {
                    let mut buf = NumberText::default();
                    let text = match *value {
                        RawValue::Text(t) => t,
                        RawValue::Number(x) if !x.is_nan() => buf.format(x),
                        _ => "",
                    };
                    // Split once: the hashed n-grams and the word vectors read the same
                    // tokens.
                    let tokens = hashing.tokens(text);
                    for (slot, v) in hashing.features_of_tokens(&tokens) {
                        f(at + slot as usize, v);
                    }
                    at += hashing.buckets as usize;
                    if let Some(vectors) = vectors {
                        let dim = vectors.dim as usize;
                        let mut mean = vec![0.0f32; dim];
                        if vectors.mean_into(&tokens, |t| lookup.get(t), &mut mean) {
                            for (k, &v) in mean.iter().enumerate() {
                                if v != 0.0 {
                                    f(at + k, v);
                                }
                            }
                        }
                        at += dim;
                    }
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

impl core::fmt::Write for NumberText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl NumberText {
    fn format(&mut self, x: f64) -> &str {
        use core::fmt::Write;
        self.len = 0;
        let ok = if crate::math::fract(x) == 0.0 && libm::fabs(x) < 1e15 {
            write!(self, "{}", x as i64)
        } else {
            write!(self, "{x}")
        };
        if ok.is_err() {
            self.len = 0;
        }
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
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
                levels: Vec::new(),
                bins: Vec::new(),
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
    fn bins_encode_a_number_piecewise_linearly_and_missing_as_zeros() {
        let e = Encoder::new(vec![FeatureEncoder::Numeric {
            name: "age".into(),
            mean: 40.0,
            scale: 10.0,
            missing_indicator: true,
            levels: Vec::new(),
            bins: vec![20.0, 30.0, 50.0, 90.0],
        }]);
        assert_eq!(e.width(), 1 + 1 + 3);
        let enc = |v: RawValue<'_>| {
            let mut out = vec![f32::NAN; e.width()];
            e.encode_into(&[v], &mut out).unwrap();
            out
        };
        assert_eq!(enc(RawValue::Number(10.0)), [-3.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(enc(RawValue::Number(25.0)), [-1.5, 0.0, 0.5, 0.0, 0.0]);
        assert_eq!(enc(RawValue::Number(40.0)), [0.0, 0.0, 1.0, 0.5, 0.0]);
        assert_eq!(enc(RawValue::Number(95.0)), [5.5, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(enc(RawValue::Missing), [0.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn value_levels_add_a_one_hot_slot_per_known_value() {
        let e = Encoder::new(vec![FeatureEncoder::Numeric {
            name: "loss".into(),
            mean: 100.0,
            scale: 50.0,
            missing_indicator: true,
            levels: vec![0.0, 1902.0, 1977.0],
            bins: Vec::new(),
        }]);
        assert_eq!(e.width(), 1 + 1 + 3);
        let enc = |v: RawValue<'_>| {
            let mut out = vec![f32::NAN; e.width()];
            e.encode_into(&[v], &mut out).unwrap();
            out
        };
        assert_eq!(enc(RawValue::Number(1902.0)), [36.04, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(enc(RawValue::Number(0.0)), [-2.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(
            enc(RawValue::Number(5.0)),
            [-1.9, 0.0, 0.0, 0.0, 0.0],
            "unknown value: no slot"
        );
        assert_eq!(enc(RawValue::Missing), [0.0, 1.0, 0.0, 0.0, 0.0]);
        let json = serde_json::to_string(&e.features[0]).unwrap();
        assert!(json.contains("\"levels\":[0.0,1902.0,1977.0]"), "{json}");
        let old: FeatureEncoder = serde_json::from_str(
            r#"{"kind":"numeric","name":"x","mean":0.0,"scale":1.0,"missing_indicator":false}"#,
        )
        .unwrap();
        assert_eq!(
            old.width(),
            1,
            "files written before value levels still load"
        );
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
    fn level_index_finds_every_level_and_nothing_else() {
        let levels: Vec<String> = (0..300)
            .map(|i| format!("level number {i}"))
            .chain(["".into(), "a".into(), "exactly8".into()])
            .collect();
        let index = LevelIndex::new(&levels);
        for (slot, l) in levels.iter().enumerate() {
            assert_eq!(index.get(l), Some(slot), "{l}");
        }
        for miss in [
            "level number 300",
            "b",
            "exactly9",
            "exactly8\0",
            "level number 1 ",
        ] {
            assert_eq!(index.get(miss), None, "{miss}");
        }
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

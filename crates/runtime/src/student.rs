//! The student network: dense layers with ReLU between them and a softmax at the end,
//! behind the bundled [`Encoder`].
//!
//! Weights are stored input-major (`weight[i * outputs + j]`), so the single-row path is a
//! sequence of contiguous axpy updates that the compiler vectorises, and it skips the
//! zero inputs that one-hot encoding produces in abundance. Batches go through a real GEMM.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::AlignedF32;
use crate::encoder::{Encoder, RawValue};
use crate::error::{Result, RuntimeError};

/// One fully connected layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// `inputs × outputs` weights, input-major, starting on a cache line.
    pub weight: AlignedF32,
    /// `outputs` biases.
    pub bias: Vec<f32>,
}

impl Dense {
    /// `y = x · W + b` for one encoded row, skipping zero inputs (most of a one-hot row).
    fn forward_one(&self, x: &[f32], y: &mut [f32]) {
        y.copy_from_slice(&self.bias);
        crate::kernels::matvec(y, &x[..self.inputs], &self.weight);
    }

    /// `y = x · W + b` for one row of hidden activations, every input included (see
    /// [`crate::kernels::matvec_dense`]).
    fn forward_hidden(&self, x: &[f32], y: &mut [f32]) {
        y.copy_from_slice(&self.bias);
        crate::kernels::matvec_dense(y, &x[..self.inputs], &self.weight);
    }
}

/// Where a student came from: hashes and settings recorded for lineage and the model card.
pub type Provenance = serde_json::Map<String, serde_json::Value>;

/// A trained student, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Student {
    pub(crate) encoder: Encoder,
    pub(crate) classes: Vec<String>,
    pub(crate) layers: Vec<Dense>,
    pub(crate) missing: Vec<String>,
    pub(crate) provenance: Provenance,
}

/// Reusable buffers for [`Student::predict_one_into`], so the hot path never allocates.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    a: AlignedF32,
    b: AlignedF32,
    /// The encoded row's non-zero inputs, `(slot, value)` in slot order.
    active: Vec<(usize, f32)>,
}

/// Metadata stored next to the weights (the safetensors header).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: String,
    pub(crate) encoder: Encoder,
    pub(crate) classes: Vec<String>,
    pub(crate) layers: Vec<[usize; 2]>,
    pub(crate) activation: String,
    pub(crate) missing: Vec<String>,
    pub(crate) provenance: Provenance,
}

impl Student {
    /// Assembles a student, checking that the layers chain from the encoder to the classes.
    ///
    /// # Errors
    /// [`RuntimeError::Shape`] when widths do not line up.
    pub fn new(
        encoder: Encoder,
        classes: Vec<String>,
        layers: Vec<Dense>,
        missing: Vec<String>,
        provenance: Provenance,
    ) -> Result<Student> {
        let mut width = encoder.width();
        for (k, l) in layers.iter().enumerate() {
            if l.inputs != width
                || l.weight.len() != l.inputs * l.outputs
                || l.bias.len() != l.outputs
            {
                return Err(RuntimeError::Shape(format!(
                    "layer {k} is {}×{} with {} weights and {} biases but its input is {width} wide",
                    l.inputs,
                    l.outputs,
                    l.weight.len(),
                    l.bias.len()
                )));
            }
            width = l.outputs;
        }
        if layers.is_empty() || width != classes.len() {
            return Err(RuntimeError::Shape(format!(
                "the last layer gives {width} outputs for {} classes",
                classes.len()
            )));
        }
        Ok(Student {
            encoder,
            classes,
            layers,
            missing,
            provenance,
        })
    }

    /// The feature encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Class names, in output order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The dense layers.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// Cell values that the training data treated as missing (used when reading CSVs).
    pub fn missing_tokens(&self) -> &[String] {
        &self.missing
    }

    /// Lineage and settings recorded at training time.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum()
    }

    /// Class probabilities for one raw row.
    ///
    /// # Errors
    /// See [`Encoder::encode_into`].
    pub fn predict_one(&self, row: &[RawValue<'_>]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.classes.len()];
        self.predict_one_into(row, &mut Scratch::default(), &mut out)?;
        Ok(out)
    }

    /// Class probabilities for one raw row into `out`; allocation-free once `scratch` has
    /// been used once.
    ///
    /// # Errors
    /// See [`Encoder::encode_into`].
    pub fn predict_one_into(
        &self,
        row: &[RawValue<'_>],
        scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<()> {
        // The first layer adds the weight rows of the active inputs only.
        let first = &self.layers[0];
        let Scratch { a, b, active } = scratch;
        active.clear();
        self.encoder
            .for_each_active(row, |i, v| active.push((i, v)))?;
        a.assign(&first.bias);
        crate::kernels::matvec_sparse(a, active, &first.weight);
        self.forward_from(1, a, b, out);
        Ok(())
    }

    /// Class probabilities for one already-encoded row (`x.len()` = encoder width).
    pub fn predict_encoded_one(&self, x: &[f32], scratch: &mut Scratch, out: &mut [f32]) {
        let Scratch { a, b, .. } = scratch;
        self.forward_one(x, a, b, out);
    }

    fn forward_one(&self, x: &[f32], a: &mut AlignedF32, b: &mut AlignedF32, out: &mut [f32]) {
        let first = &self.layers[0];
        b.resize(first.outputs, 0.0);
        first.forward_one(x, b);
        core::mem::swap(a, b);
        self.forward_from(1, a, b, out);
    }

    /// Finishes a single-row pass whose layer `start − 1` pre-activations are in `a`.
    fn forward_from(&self, start: usize, a: &mut AlignedF32, b: &mut AlignedF32, out: &mut [f32]) {
        if start < self.layers.len() {
            a.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        let last = self.layers.len() - 1;
        for (k, layer) in self.layers.iter().enumerate().skip(start) {
            b.resize(layer.outputs, 0.0);
            layer.forward_hidden(a, b);
            if k < last {
                b.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            core::mem::swap(a, b);
        }
        out.copy_from_slice(a);
        softmax_in_place(out);
    }

    /// Class probabilities for raw rows (`rows.len() × classes`): rows are encoded, then run
    /// through GEMM in one batch; with `std`, batches of 8,192 rows or more are split
    /// across threads.
    ///
    /// # Errors
    /// See [`Encoder::encode_into`].
    pub fn predict_batch(&self, rows: &[&[RawValue<'_>]]) -> Result<Vec<f32>> {
        #[cfg(feature = "std")]
        {
            const PARALLEL_FROM: usize = 8192;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            if rows.len() >= PARALLEL_FROM && threads > 1 {
                let chunk = rows.len().div_ceil(threads);
                let parts: Vec<Result<Vec<f32>>> = std::thread::scope(|s| {
                    let handles: Vec<_> = rows
                        .chunks(chunk)
                        .map(|c| s.spawn(move || self.predict_batch_serial(c)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(RuntimeError::Shape("worker panicked".into()))
                            })
                        })
                        .collect()
                });
                let mut out = Vec::with_capacity(rows.len() * self.classes.len());
                for p in parts {
                    out.extend(p?);
                }
                return Ok(out);
            }
        }
        self.predict_batch_serial(rows)
    }

    fn predict_batch_serial(&self, rows: &[&[RawValue<'_>]]) -> Result<Vec<f32>> {
        let width = self.encoder.width();
        let mut x = vec![0.0f32; rows.len() * width];
        for (row, out) in rows.iter().zip(x.chunks_exact_mut(width)) {
            self.encoder.encode_into(row, out)?;
        }
        Ok(self.predict_encoded_batch(&x, rows.len()))
    }

    /// Class probabilities for `n` encoded rows (`x` is `n × width`, row-major): each layer
    /// is one fused GEMM + bias + ReLU pass over the batch (see the `batch` module).
    pub fn predict_encoded_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        let last = self.layers.len() - 1;
        let mut input = AlignedF32::new();
        let mut output = AlignedF32::new();
        for (k, layer) in self.layers.iter().enumerate() {
            output.resize(n * layer.outputs, 0.0);
            let act: &[f32] = if k == 0 { x } else { &input };
            crate::batch::dense(act, n, layer, k < last, &mut output);
            core::mem::swap(&mut input, &mut output);
        }
        let mut probabilities = input[..n * self.classes.len()].to_vec();
        crate::batch::softmax_rows(&mut probabilities, self.classes.len());
        probabilities
    }
}

/// `c += a · b` with `a` m×k, `b` k×n, `c` m×n, all row-major.
pub fn gemm_acc(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm shapes"
    );
    // SAFETY-free: matrixmultiply's safe wrapper is unsafe fn; the asserts above prove the
    // slices cover every element the strides address.
    #[allow(
        unsafe_code,
        reason = "matrixmultiply only exposes an unsafe sgemm; bounds asserted above"
    )]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            1.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Numerically stable softmax of logits, in place.
pub fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = crate::math::exp(*x - max);
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::encoder::FeatureEncoder;

    pub(crate) fn tiny() -> Student {
        let encoder = Encoder::new(vec![
            FeatureEncoder::Numeric {
                name: "x".into(),
                mean: 0.0,
                scale: 1.0,
                missing_indicator: false,
                levels: Vec::new(),
                bins: Vec::new(),
            },
            FeatureEncoder::Categorical {
                name: "c".into(),
                levels: vec!["a".into()],
                missing_indicator: false,
            },
        ]);
        let layers = vec![
            Dense {
                inputs: 3,
                outputs: 2,
                weight: vec![1.0, -1.0, 0.5, 0.5, 0.0, 2.0].into(),
                bias: vec![0.1, -0.1],
            },
            Dense {
                inputs: 2,
                outputs: 2,
                weight: vec![1.0, 0.0, 0.0, 1.0].into(),
                bias: vec![0.0, 0.0],
            },
        ];
        Student::new(
            encoder,
            vec!["no".into(), "yes".into()],
            layers,
            vec![],
            Provenance::new(),
        )
        .unwrap()
    }

    /// x = 2, c = "a" → input [2, 1, 0]; hidden = relu([2+0.5+0.1, -2+0.5-0.1]) = [2.6, 0];
    /// probabilities = softmax([2.6, 0]).
    #[test]
    fn single_row_matches_hand_computation() {
        let p = tiny()
            .predict_one(&[RawValue::Number(2.0), RawValue::Text("a")])
            .unwrap();
        let e = (2.6f32).exp();
        assert!((p[0] - e / (e + 1.0)).abs() < 1e-6);
        assert!((p[0] + p[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn batch_path_equals_single_row_path() {
        let s = tiny();
        let x = [2.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.3, 1.0, 0.0];
        let batch = s.predict_encoded_batch(&x, 3);
        let mut scratch = Scratch::default();
        for r in 0..3 {
            let mut out = [0.0; 2];
            s.predict_encoded_one(&x[r * 3..r * 3 + 3], &mut scratch, &mut out);
            for j in 0..2 {
                assert!((out[j] - batch[r * 2 + j]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn fused_single_row_path_equals_encode_then_batch() {
        let s = tiny();
        let rows = [
            [RawValue::Number(2.0), RawValue::Text("a")],
            [RawValue::Missing, RawValue::Text("unseen")],
            [RawValue::Text("-0.5"), RawValue::Missing],
            [RawValue::Number(0.0), RawValue::Number(3.0)],
        ];
        for row in rows {
            let mut x = vec![0.0; s.encoder.width()];
            s.encoder.encode_into(&row, &mut x).unwrap();
            let batch = s.predict_encoded_batch(&x, 1);
            let single = s.predict_one(&row).unwrap();
            for (a, b) in batch.iter().zip(&single) {
                assert!((a - b).abs() < 1e-6, "{row:?}: {batch:?} vs {single:?}");
            }
        }
    }

    #[test]
    fn raw_batch_equals_single_rows() {
        let s = tiny();
        let rows: Vec<Vec<RawValue<'_>>> = (0..9000)
            .map(|i| {
                vec![
                    RawValue::Number(f64::from(i % 13) / 3.0),
                    RawValue::Text(if i % 3 == 0 { "a" } else { "b" }),
                ]
            })
            .collect();
        let refs: Vec<&[RawValue<'_>]> = rows.iter().map(Vec::as_slice).collect();
        let batch = s.predict_batch(&refs).unwrap();
        for (i, row) in rows.iter().enumerate().step_by(97) {
            let one = s.predict_one(row).unwrap();
            assert!((one[0] - batch[2 * i]).abs() < 1e-6);
        }
    }

    #[test]
    fn mismatched_layers_are_rejected() {
        let s = tiny();
        let mut layers = s.layers.clone();
        layers[1].inputs = 3;
        assert!(
            Student::new(
                s.encoder.clone(),
                s.classes,
                layers,
                vec![],
                Provenance::new()
            )
            .is_err()
        );
    }
}

//! int8 post-training quantization of a student: symmetric per-output-channel int8
//! weights, one calibrated symmetric scale per layer input, int32 accumulation.
//!
//! For layer input `x` with scale `sₓ` and weight column `j` with scale `s_wⱼ`:
//! `xq = clamp(round_half_even(x / sₓ), −128, 127)`, `accⱼ = Σᵢ xqᵢ · wqᵢⱼ` in i32 and
//! `yⱼ = accⱼ · (sₓ · s_wⱼ) + bⱼ`. This is exactly what an ONNX QDQ graph
//! (QuantizeLinear → DequantizeLinear → MatMul) computes, up to float rounding, so the
//! exported int8 model and this runtime agree.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::artifact::{SafeTensorsView, f32_bytes, f32s};
use crate::encoder::{Encoder, RawValue};
use crate::error::{Result, RuntimeError};
use crate::student::{Provenance, Student, softmax_in_place};

/// Largest weight magnitude in quantized units: symmetric ±127 (−128 unused, so the
/// range is the same on both sides of zero).
pub const WEIGHT_RANGE: f32 = 127.0;

/// Identifies the int8 artifact layout.
pub const INT8_FORMAT: &str = "distillery-student-int8/1";

/// How activation scales are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "method", content = "value")]
pub enum Calibration {
    /// Scale from the largest absolute activation seen.
    MinMax,
    /// Scale from this percentile (e.g. 99.99) of absolute activations, clipping outliers.
    Percentile(f32),
}

/// Reusable buffers for [`QuantizedStudent::predict_one_into`].
#[derive(Debug, Clone, Default)]
pub struct Int8Scratch {
    acc: Vec<i32>,
    a: Vec<f32>,
    b: Vec<f32>,
    q: Vec<i8>,
    /// The encoded row's non-zero quantized inputs, `(slot, value)` in slot order.
    active: Vec<(usize, i32)>,
}

/// One int8 layer.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedLayer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// `inputs × outputs` int8 weights, input-major.
    pub weight: Vec<i8>,
    /// One scale per output channel.
    pub weight_scale: Vec<f32>,
    /// Scale of this layer's input activations.
    pub input_scale: f32,
    /// f32 biases.
    pub bias: Vec<f32>,
}

/// A student whose dense layers run in int8.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedStudent {
    encoder: Encoder,
    classes: Vec<String>,
    layers: Vec<QuantizedLayer>,
    missing: Vec<String>,
    provenance: Provenance,
    calibration: Calibration,
}

#[derive(Serialize, Deserialize)]
struct Int8Header {
    format: String,
    encoder: Encoder,
    classes: Vec<String>,
    layers: Vec<[usize; 2]>,
    input_scales: Vec<f32>,
    calibration: Calibration,
    missing: Vec<String>,
    provenance: Provenance,
}

/// `saturate(round_half_even(x / scale))`, exactly ONNX QuantizeLinear's definition (a
/// division, not a multiplication by 1/scale: the two round differently at boundaries).
fn quantize(x: f32, scale: f32) -> i8 {
    // Clamping to integers first leaves the rounding unchanged and keeps the value small
    // enough for `round_half_even`.
    round_half_even((x / scale).clamp(-128.0, 127.0)) as i8
}

/// `x` rounded to the nearest integer, ties to even (as `rintf` in the default rounding
/// mode), exact for |x| ≤ 2²²: adding 1.5 · 2²³ pushes the fraction out of the mantissa, so
/// the addition itself rounds. Two instructions where libm's software `rintf` took a tenth
/// of an int8 single-row prediction. NaN stays NaN.
#[inline]
fn round_half_even(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0;
    (x + SHIFT) - SHIFT
}

fn scale_of(mut values: Vec<f32>, calibration: Calibration) -> f32 {
    let top = match calibration {
        Calibration::MinMax => values.iter().copied().fold(0.0, f32::max),
        Calibration::Percentile(p) => {
            if values.is_empty() {
                0.0
            } else {
                values.sort_by(f32::total_cmp);
                let rank = ((p / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f32) as usize;
                values[rank]
            }
        }
    };
    if top > 0.0 { top / 127.0 } else { 1.0 }
}

impl QuantizedStudent {
    /// Quantizes `student`, calibrating activation scales on `n` encoded rows `x`
    /// (`n × encoder width`, e.g. a sample of the training rows).
    pub fn quantize(
        student: &Student,
        x: &[f32],
        n: usize,
        calibration: Calibration,
    ) -> QuantizedStudent {
        let mut layers = Vec::with_capacity(student.layers.len());
        let mut act = x[..n * student.encoder.width()].to_vec();
        let last = student.layers.len() - 1;
        for (k, l) in student.layers.iter().enumerate() {
            let input_scale = scale_of(act.iter().map(|v| libm::fabsf(*v)).collect(), calibration);
            let mut weight_scale = vec![0.0f32; l.outputs];
            for row in l.weight.chunks_exact(l.outputs) {
                for (s, w) in weight_scale.iter_mut().zip(row) {
                    *s = s.max(libm::fabsf(*w));
                }
            }
            weight_scale
                .iter_mut()
                .for_each(|s| *s = if *s > 0.0 { *s / WEIGHT_RANGE } else { 1.0 });
            let weight = l
                .weight
                .chunks_exact(l.outputs)
                .flat_map(|row| row.iter().zip(&weight_scale).map(|(w, s)| quantize(*w, *s)))
                .collect();
            let q = QuantizedLayer {
                inputs: l.inputs,
                outputs: l.outputs,
                weight,
                weight_scale,
                input_scale,
                bias: l.bias.clone(),
            };
            let mut next = vec![0.0f32; n * l.outputs];
            for (row, out) in act
                .chunks_exact(l.inputs)
                .zip(next.chunks_exact_mut(l.outputs))
            {
                q.forward(row, out, &mut Vec::new(), &mut Vec::new(), k == 0);
                if k < last {
                    out.iter_mut().for_each(|v| *v = v.max(0.0));
                }
            }
            act = next;
            layers.push(q);
        }
        QuantizedStudent {
            encoder: student.encoder.clone(),
            classes: student.classes.clone(),
            layers,
            missing: student.missing.clone(),
            provenance: student.provenance.clone(),
            calibration,
        }
    }

    /// The feature encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Class names, in output order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The int8 layers.
    pub fn layers(&self) -> &[QuantizedLayer] {
        &self.layers
    }

    /// Lineage recorded at training time.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Cell values treated as missing.
    pub fn missing_tokens(&self) -> &[String] {
        &self.missing
    }

    /// Class probabilities for one raw row.
    ///
    /// # Errors
    /// See [`Encoder::encode_into`].
    pub fn predict_one(&self, row: &[RawValue<'_>]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.classes.len()];
        self.predict_one_into(row, &mut Int8Scratch::default(), &mut out)?;
        Ok(out)
    }

    /// Class probabilities for one raw row into `out`, allocation-free once `scratch` has
    /// been used. The first layer is fused with the encoder: only active inputs are
    /// quantized and accumulated, as in the fp32 path.
    ///
    /// # Errors
    /// See [`Encoder::encode_into`].
    pub fn predict_one_into(
        &self,
        row: &[RawValue<'_>],
        scratch: &mut Int8Scratch,
        out: &mut [f32],
    ) -> Result<()> {
        let first = &self.layers[0];
        let n = first.outputs;
        let Int8Scratch {
            acc,
            a,
            b,
            q,
            active,
        } = scratch;
        acc.clear();
        acc.resize(n, 0);
        let scale = first.input_scale;
        active.clear();
        self.encoder.for_each_active(row, |i, v| {
            let xq = i32::from(quantize(v, scale));
            if xq != 0 {
                active.push((i, xq));
            }
        })?;
        crate::kernels::matvec_i8(acc, active.iter().copied(), &first.weight);
        a.clear();
        a.extend(
            acc.iter()
                .zip(&first.weight_scale)
                .zip(&first.bias)
                .map(|((&s, &ws), &bias)| s as f32 * (first.input_scale * ws) + bias),
        );
        for layer in &self.layers[1..] {
            a.iter_mut().for_each(|v| *v = v.max(0.0));
            b.resize(layer.outputs, 0.0);
            layer.forward(a, b, q, acc, false);
            core::mem::swap(a, b);
        }
        out.copy_from_slice(a);
        softmax_in_place(out);
        Ok(())
    }

    /// Class probabilities for `n` encoded rows (`n × width`): an integer GEMM per layer
    /// where the CPU has AVX-512 VNNI (see the `batch_int8` module), row by row otherwise.
    /// Both give the same logits bit for bit.
    pub fn predict_encoded_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        if crate::batch_int8::available() {
            return self.predict_encoded_gemm(x, n);
        }
        self.predict_encoded_rows(x, n)
    }

    fn predict_encoded_gemm(&self, x: &[f32], n: usize) -> Vec<f32> {
        let last = self.layers.len() - 1;
        let mut input: Vec<f32> = Vec::new();
        let mut output: Vec<f32> = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            output.resize(n * layer.outputs, 0.0);
            let act: &[f32] = if i == 0 { x } else { &input };
            crate::batch_int8::dense(act, n, layer, i < last, &mut output);
            core::mem::swap(&mut input, &mut output);
        }
        input.truncate(n * self.classes.len());
        crate::batch::softmax_rows(&mut input, self.classes.len());
        input
    }

    fn predict_encoded_rows(&self, x: &[f32], n: usize) -> Vec<f32> {
        let k = self.classes.len();
        let mut out = vec![0.0f32; n * k];
        let (mut a, mut b, mut q, mut acc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let width = self.encoder.width();
        for (row, o) in x.chunks_exact(width).take(n).zip(out.chunks_exact_mut(k)) {
            a.clear();
            a.extend_from_slice(row);
            let last = self.layers.len() - 1;
            for (i, layer) in self.layers.iter().enumerate() {
                b.resize(layer.outputs, 0.0);
                layer.forward(&a, &mut b, &mut q, &mut acc, i == 0);
                if i < last {
                    b.iter_mut().for_each(|v| *v = v.max(0.0));
                }
                core::mem::swap(&mut a, &mut b);
            }
            o.copy_from_slice(&a);
            softmax_in_place(o);
        }
        out
    }

    /// Serialises to safetensors bytes (I8 weights, F32 scales and biases).
    ///
    /// # Errors
    /// Only if JSON serialisation fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Int8Header {
            format: INT8_FORMAT.into(),
            encoder: self.encoder.clone(),
            classes: self.classes.clone(),
            layers: self.layers.iter().map(|l| [l.inputs, l.outputs]).collect(),
            input_scales: self.layers.iter().map(|l| l.input_scale).collect(),
            calibration: self.calibration,
            missing: self.missing.clone(),
            provenance: self.provenance.clone(),
        };
        let json =
            serde_json::to_string(&header).map_err(|e| RuntimeError::Format(e.to_string()))?;
        let mut tensors = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            tensors.push((
                format!("layers.{k}.weight"),
                "I8",
                vec![l.inputs, l.outputs],
                l.weight.iter().map(|&w| w as u8).collect(),
            ));
            tensors.push((
                format!("layers.{k}.weight_scale"),
                "F32",
                vec![l.outputs],
                f32_bytes(&l.weight_scale),
            ));
            tensors.push((
                format!("layers.{k}.bias"),
                "F32",
                vec![l.outputs],
                f32_bytes(&l.bias),
            ));
        }
        crate::artifact::write_with_header(&json, tensors)
    }

    /// Parses an int8 student from safetensors bytes.
    ///
    /// # Errors
    /// Not an int8 distillery student, or inconsistent shapes.
    pub fn from_bytes(bytes: &[u8]) -> Result<QuantizedStudent> {
        let view = SafeTensorsView::parse(bytes)?;
        let json = view.header_json()?;
        let mut h: Int8Header =
            serde_json::from_str(&json).map_err(|e| RuntimeError::Format(e.to_string()))?;
        if h.format != INT8_FORMAT {
            return Err(RuntimeError::Format(format!(
                "format '{}', expected '{INT8_FORMAT}'",
                h.format
            )));
        }
        h.encoder.index();
        let mut layers = Vec::new();
        let mut width = h.encoder.width();
        for (k, &[inputs, outputs]) in h.layers.iter().enumerate() {
            if inputs != width {
                return Err(RuntimeError::Shape(format!(
                    "layer {k} takes {inputs} inputs but receives {width}"
                )));
            }
            width = outputs;
            layers.push(QuantizedLayer {
                inputs,
                outputs,
                weight: view
                    .tensor(&format!("layers.{k}.weight"), "I8", &[inputs, outputs])?
                    .iter()
                    .map(|&b| b as i8)
                    .collect(),
                weight_scale: f32s(view.tensor(
                    &format!("layers.{k}.weight_scale"),
                    "F32",
                    &[outputs],
                )?),
                input_scale: h.input_scales.get(k).copied().unwrap_or(1.0),
                bias: f32s(view.tensor(&format!("layers.{k}.bias"), "F32", &[outputs])?),
            });
        }
        if layers.is_empty() || width != h.classes.len() {
            return Err(RuntimeError::Shape(format!(
                "the last layer gives {width} outputs for {} classes",
                h.classes.len()
            )));
        }
        Ok(QuantizedStudent {
            encoder: h.encoder,
            classes: h.classes,
            layers,
            missing: h.missing,
            provenance: h.provenance,
            calibration: h.calibration,
        })
    }
}

impl QuantizedLayer {
    /// `y = dequant(Σ quant(x) · wq) + b` for one row; `q` and `acc` are scratch.
    fn forward(
        &self,
        x: &[f32],
        y: &mut [f32],
        q: &mut Vec<i8>,
        acc: &mut Vec<i32>,
        skip_zeros: bool,
    ) {
        q.clear();
        q.extend(x.iter().map(|&v| quantize(v, self.input_scale)));
        acc.clear();
        acc.resize(self.outputs, 0);
        // Skipping zeros pays on an encoded one-hot row; on hidden activations the branch
        // mispredicts more than the multiplications cost (integer sums are exact either way).
        let pairs = q
            .iter()
            .enumerate()
            .filter(|&(_, &v)| !skip_zeros || v != 0)
            .map(|(i, &v)| (i, i32::from(v)));
        crate::kernels::matvec_i8(acc, pairs, &self.weight);
        for j in 0..self.outputs {
            y[j] = acc[j] as f32 * (self.input_scale * self.weight_scale[j]) + self.bias[j];
        }
    }
}

#[cfg(feature = "std")]
impl QuantizedStudent {
    /// Loads an int8 student from a file.
    ///
    /// # Errors
    /// Unreadable file or any [`QuantizedStudent::from_bytes`] error.
    pub fn load(path: &std::path::Path) -> Result<QuantizedStudent> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        QuantizedStudent::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::student::tests::tiny;

    #[test]
    fn rounding_equals_libm_rint_over_the_quantized_range() {
        let mut x = -200.0f32;
        while x <= 200.0 {
            for v in [x, x + 0.5, x - 0.5, x + 0.499_999_97, x + 0.500_000_06] {
                let want = libm::rintf(v.clamp(-128.0, 127.0));
                assert_eq!(round_half_even(v.clamp(-128.0, 127.0)), want, "{v}");
            }
            x += 0.123_456_7;
        }
        assert!(round_half_even(f32::NAN).is_nan());
        assert_eq!(quantize(f32::NAN, 1.0), 0);
    }

    #[test]
    fn quantization_rounds_half_to_even_and_saturates() {
        assert_eq!(quantize(2.5, 1.0), 2);
        assert_eq!(quantize(3.5, 1.0), 4);
        assert_eq!(quantize(-2.5, 1.0), -2);
        assert_eq!(quantize(1000.0, 1.0), 127);
        assert_eq!(quantize(-1000.0, 1.0), -128);
    }

    /// A student wide enough to use every panel of the integer GEMM (70 outputs: 64 + a
    /// masked 6; 9 classes) with an input width that is not a multiple of four.
    fn wide() -> (Student, Vec<f32>) {
        use crate::AlignedF32;
        use crate::encoder::Encoder;
        let dense = |inputs: usize, outputs: usize, seed: usize| {
            let mut weight = AlignedF32::new();
            weight.resize(inputs * outputs, 0.0);
            for (i, w) in weight.iter_mut().enumerate() {
                *w = (((i + seed) * 7919) % 1013) as f32 / 1013.0 - 0.5;
            }
            crate::Dense {
                inputs,
                outputs,
                weight,
                bias: (0..outputs).map(|j| j as f32 * 0.01 - 0.2).collect(),
            }
        };
        let student = Student::new(
            Encoder::identity(37),
            (0..9).map(|c| c.to_string()).collect(),
            vec![dense(37, 70, 1), dense(70, 9, 2)],
            Vec::new(),
            Provenance::new(),
        )
        .unwrap();
        let x = (0..41 * 37)
            .map(|i| ((i * 31) % 29) as f32 / 7.0 - 2.0)
            .collect();
        (student, x)
    }

    #[test]
    fn integer_gemm_gives_the_row_paths_answers() {
        let (student, x) = wide();
        let q = QuantizedStudent::quantize(&student, &x, 41, Calibration::MinMax);
        let rows = q.predict_encoded_rows(&x, 41);
        let batch = q.predict_encoded_batch(&x, 41);
        assert_eq!(rows.len(), batch.len());
        for (a, b) in rows.iter().zip(&batch) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn int8_student_stays_close_to_fp32_and_round_trips() {
        let s = tiny();
        let x: Vec<f32> = (0..60)
            .flat_map(|i| {
                [
                    ((i % 7) as f32 - 3.0) / 2.0,
                    (i % 2) as f32,
                    ((i + 1) % 2) as f32,
                ]
            })
            .collect();
        let q = QuantizedStudent::quantize(&s, &x, 60, Calibration::MinMax);
        let fp = s.predict_encoded_batch(&x, 60);
        let int8 = q.predict_encoded_batch(&x, 60);
        for (a, b) in fp.iter().zip(&int8) {
            assert!((a - b).abs() < 0.05, "{a} vs {b}");
        }
        let rows = [
            [RawValue::Number(1.5), RawValue::Text("a")],
            [RawValue::Missing, RawValue::Text("zz")],
        ];
        for row in rows {
            let mut enc = vec![0.0; 3];
            s.encoder.encode_into(&row, &mut enc).unwrap();
            let batch = q.predict_encoded_batch(&enc, 1);
            let single = q.predict_one(&row).unwrap();
            for (a, b) in batch.iter().zip(&single) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "fused int8 path equals the batch path"
                );
            }
        }
        let back = QuantizedStudent::from_bytes(&q.to_bytes().unwrap()).unwrap();
        assert_eq!(back, q);
        let p = Calibration::Percentile(99.0);
        assert_ne!(
            QuantizedStudent::quantize(&s, &x, 60, p).layers[0].input_scale,
            0.0
        );
    }
}

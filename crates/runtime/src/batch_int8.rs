//! The int8 student's batch path: an integer GEMM on AVX-512 VNNI.
//!
//! Each layer quantizes its input rows to bytes (`xq = clamp(rint(x / sₓ), −128, 127)`,
//! exactly as the single-row path does, 16 lanes at a time), then accumulates
//! `Σᵢ xqᵢ · wqᵢⱼ` in i32 with `vpdpbusd`, which multiplies four unsigned bytes by four
//! signed bytes per lane. The activations go in shifted by 128 (so they are unsigned) and
//! the accumulators start at `−128 · Σᵢ wqᵢⱼ`, which cancels the shift exactly. Weights are
//! packed per call into the instruction's layout (four inputs × sixteen outputs per 64-byte
//! vector); for a student's layers that is a few kilobytes, negligible beside a batch.
//! The epilogue is the single-row path's `acc · (sₓ · s_wⱼ) + bⱼ`, a multiply then an add
//! (no fused multiply-add), so every logit is bit-identical to the per-row path.
//!
//! Without VNNI (or without `std`) the caller keeps its per-row loop.

use crate::quantized::QuantizedLayer;

/// True when this CPU runs the integer GEMM.
pub(crate) fn available() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        vnni::available()
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    {
        false
    }
}

/// `y = act(dequantize(quantize(x) · Wq) + b)` for `n` rows of `layer.inputs` floats;
/// only call when [`available`] is true.
pub(crate) fn dense(x: &[f32], n: usize, layer: &QuantizedLayer, relu: bool, y: &mut [f32]) {
    let (k, m) = (layer.inputs, layer.outputs);
    assert!(
        x.len() >= n * k && y.len() >= n * m && layer.weight.len() >= k * m,
        "int8 layer shapes"
    );
    assert!(
        layer.bias.len() >= m && layer.weight_scale.len() >= m,
        "int8 layer scales"
    );
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    vnni::dense(x, n, layer, relu, y);
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = (relu, y);
}

/// Inputs rounded up to whole groups of four (one `vpdpbusd` lane's worth).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
fn padded(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// The layer's weights in `vpdpbusd` order: for each group of four inputs `g` and each
/// output `j` (padded to a multiple of 16), the four bytes `wq[4g..4g+4][j]`; plus the
/// per-output shift correction `−128 · Σᵢ wqᵢⱼ`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
fn pack(layer: &QuantizedLayer) -> (Vec<i8>, Vec<i32>) {
    let (k, m) = (layer.inputs, layer.outputs);
    let m16 = m.div_ceil(16) * 16;
    let groups = padded(k) / 4;
    let mut packed = vec![0i8; groups * m16 * 4];
    let mut shift = vec![0i32; m16];
    for i in 0..k {
        let (g, t) = (i / 4, i % 4);
        for j in 0..m {
            let w = layer.weight[i * m + j];
            packed[(g * m16 + j) * 4 + t] = w;
            shift[j] -= 128 * i32::from(w);
        }
    }
    (packed, shift)
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    unsafe_code,
    reason = "AVX-512 VNNI intrinsics: raw-pointer loads and stores inside buffers sized \
              here, and target_feature functions called only after detection"
)]
mod vnni {
    use core::arch::x86_64::{
        __m512, __m512i, __mmask16, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
        _mm_mask_storeu_epi8, _mm512_add_epi32, _mm512_add_ps, _mm512_cvtepi32_epi8,
        _mm512_cvtepi32_ps, _mm512_cvtps_epi32, _mm512_div_ps, _mm512_dpbusd_epi32,
        _mm512_loadu_si512, _mm512_mask_storeu_ps, _mm512_maskz_loadu_epi32, _mm512_maskz_loadu_ps,
        _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps, _mm512_roundscale_ps, _mm512_set1_epi32,
        _mm512_set1_ps, _mm512_setzero_ps,
    };

    use crate::quantized::QuantizedLayer;

    static FEATURES: crate::cpu::Feature = crate::cpu::Feature::new();

    pub(super) fn available() -> bool {
        FEATURES.present(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
        })
    }

    /// One call's operands: quantized rows, packed weights and the epilogue's vectors.
    struct Operands {
        q: Vec<u8>,
        kp: usize,
        packed: Vec<i8>,
        m16: usize,
        shift: Vec<i32>,
        scale: Vec<f32>,
        bias: Vec<f32>,
    }

    pub(super) fn dense(x: &[f32], n: usize, layer: &QuantizedLayer, relu: bool, y: &mut [f32]) {
        let (k, m) = (layer.inputs, layer.outputs);
        let kp = super::padded(k);
        let (packed, shift) = super::pack(layer);
        let m16 = shift.len();
        let mut scale = vec![0.0f32; m16];
        let mut bias = vec![0.0f32; m16];
        for j in 0..m {
            scale[j] = layer.input_scale * layer.weight_scale[j];
            bias[j] = layer.bias[j];
        }
        // Padding inputs hold 128, the shifted zero; their weights are zero anyway.
        let mut q = vec![128u8; n * kp];
        // SAFETY: AVX-512F/BW/VNNI confirmed by `available()` (the only caller checks it);
        // `x` holds n×k floats (asserted by the caller) and `q` n×kp bytes.
        unsafe { quantize_rows(x, n, k, layer.input_scale, &mut q, kp) };
        let ops = Operands {
            q,
            kp,
            packed,
            m16,
            shift,
            scale,
            bias,
        };
        let mut j0 = 0;
        while j0 < m {
            let width = (m - j0).min(64);
            // SAFETY: as above; columns j0..j0+width < m, padded buffers hold m16.
            unsafe {
                match width.div_ceil(16) {
                    4 => panel::<6, 4>(&ops, n, m, j0, width, relu, y),
                    3 => panel::<8, 3>(&ops, n, m, j0, width, relu, y),
                    2 => panel::<12, 2>(&ops, n, m, j0, width, relu, y),
                    _ => panel::<12, 1>(&ops, n, m, j0, width, relu, y),
                }
            }
            j0 += width;
        }
    }

    /// `q[r][i] = clamp(rint(x[r][i] / scale), −128, 127) + 128`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn quantize_rows(x: &[f32], n: usize, k: usize, scale: f32, q: &mut [u8], kp: usize) {
        let s = _mm512_set1_ps(scale);
        let (lo, hi) = (_mm512_set1_ps(-128.0), _mm512_set1_ps(127.0));
        let offset = _mm512_set1_epi32(128);
        for r in 0..n {
            let mut i = 0;
            while i < k {
                let lanes = (k - i).min(16);
                let mask = ((1u32 << lanes) - 1) as __mmask16;
                // SAFETY: lanes past the row's end are masked off on load and store.
                unsafe {
                    let v = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(r * k + i));
                    let v = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                        _mm512_div_ps(v, s),
                    );
                    let v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                    let bytes =
                        _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), offset));
                    _mm_mask_storeu_epi8(q.as_mut_ptr().add(r * kp + i).cast(), mask, bytes);
                }
                i += 16;
            }
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a kernel panel: operands, shape, column range and epilogue"
    )]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn panel<const R: usize, const C: usize>(
        ops: &Operands,
        n: usize,
        m: usize,
        j0: usize,
        width: usize,
        relu: bool,
        y: &mut [f32],
    ) {
        let mask: [__mmask16; C] = core::array::from_fn(|c| {
            let lanes = width.saturating_sub(16 * c).min(16);
            ((1u32 << lanes) - 1) as __mmask16
        });
        // SAFETY: the epilogue vectors hold m16 ≥ j0 + 16·C entries (masked beyond width).
        let (shift, scale, bias) = unsafe {
            let at = |c: usize| j0 + 16 * c;
            let shift: [__m512i; C] = core::array::from_fn(|c| {
                _mm512_maskz_loadu_epi32(mask[c], ops.shift.as_ptr().add(at(c)))
            });
            let scale: [__m512; C] = core::array::from_fn(|c| {
                _mm512_maskz_loadu_ps(mask[c], ops.scale.as_ptr().add(at(c)))
            });
            let bias: [__m512; C] = core::array::from_fn(|c| {
                _mm512_maskz_loadu_ps(mask[c], ops.bias.as_ptr().add(at(c)))
            });
            (shift, scale, bias)
        };
        let mut i = 0;
        while i < n {
            let rows = if i + R <= n { R } else { 1 };
            // SAFETY: rows i..i+rows < n; groups < kp/4; packed holds kp/4 × m16 × 4 bytes.
            unsafe {
                if rows == R {
                    tile::<R, C>(ops, i, m, j0, &mask, &shift, &scale, &bias, relu, y);
                } else {
                    tile::<1, C>(ops, i, m, j0, &mask, &shift, &scale, &bias, relu, y);
                }
            }
            i += rows;
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a register tile: operands, position and epilogue vectors"
    )]
    #[inline(always)]
    unsafe fn tile<const R: usize, const C: usize>(
        ops: &Operands,
        i: usize,
        m: usize,
        j0: usize,
        mask: &[__mmask16; C],
        shift: &[__m512i; C],
        scale: &[__m512; C],
        bias: &[__m512; C],
        relu: bool,
        y: &mut [f32],
    ) {
        // SAFETY: see `panel`.
        unsafe {
            let mut acc = [*shift; R];
            for g in 0..ops.kp / 4 {
                let w = ops.packed.as_ptr().add((g * ops.m16 + j0) * 4);
                let wv: [__m512i; C] =
                    core::array::from_fn(|c| _mm512_loadu_si512(w.add(64 * c).cast()));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let at = ops.q.as_ptr().add((i + r) * ops.kp + 4 * g);
                    let a = _mm512_set1_epi32(i32::from_le_bytes(*at.cast::<[u8; 4]>()));
                    for c in 0..C {
                        acc_r[c] = _mm512_dpbusd_epi32(acc_r[c], a, wv[c]);
                    }
                }
            }
            let zero = _mm512_setzero_ps();
            for (r, acc_r) in acc.iter().enumerate() {
                let out = y.as_mut_ptr().add((i + r) * m + j0);
                for c in 0..C {
                    let v = _mm512_add_ps(
                        _mm512_mul_ps(_mm512_cvtepi32_ps(acc_r[c]), scale[c]),
                        bias[c],
                    );
                    let v = if relu { _mm512_max_ps(v, zero) } else { v };
                    _mm512_mask_storeu_ps(out.add(16 * c), mask[c], v);
                }
            }
        }
    }
}

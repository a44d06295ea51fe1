//! The batch path: a dense layer over many rows, `y = act(x · W + b)`, and a row-wise
//! softmax, at the speed of the CPU's widest vectors.
//!
//! With AVX-512 (detected at run time) the layer is one register-blocked kernel: each tile
//! keeps R rows × up to 64 outputs of accumulators in registers, starts them at the bias,
//! streams `W` row by row (input-major, as the student stores it, so no packing is needed
//! for the narrow layers students have), and applies ReLU as it stores — the bias and the
//! activation never take a second pass over memory. Output widths of 8 or less (the final
//! layer of most classifiers) use 8-lane registers so no half-empty 16-lane FMA is issued.
//! The softmax's exponentials are computed 16 at a time by a polynomial (Cephes' `expf`
//! coefficients, within 2 ulp of the C library's). Without AVX-512 the layer is
//! `matrixmultiply`'s GEMM (AVX2 + FMA where present) followed by the same epilogue.

use crate::student::Dense;

/// `y = x · W + b` for `n` rows (`x` is `n × layer.inputs`, `y` is `n × layer.outputs`,
/// both row-major), followed by ReLU when `relu` is set.
pub(crate) fn dense(x: &[f32], n: usize, layer: &Dense, relu: bool, y: &mut [f32]) {
    let (k, m) = (layer.inputs, layer.outputs);
    assert!(
        x.len() >= n * k && y.len() >= n * m && layer.weight.len() >= k * m,
        "dense layer shapes"
    );
    assert!(layer.bias.len() >= m, "dense layer bias");
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx512::available() {
            avx512::dense(x, n, k, &layer.weight, m, &layer.bias, relu, y);
            return;
        }
    }
    dense_portable(x, n, layer, relu, y);
}

fn dense_portable(x: &[f32], n: usize, layer: &Dense, relu: bool, y: &mut [f32]) {
    let m = layer.outputs;
    for row in y.chunks_exact_mut(m).take(n) {
        row.copy_from_slice(&layer.bias[..m]);
    }
    crate::student::gemm_acc(x, &layer.weight, y, n, layer.inputs, m);
    if relu {
        y[..n * m].iter_mut().for_each(|v| *v = v.max(0.0));
    }
}

/// Softmax of every `classes`-wide row of `logits`, in place.
pub(crate) fn softmax_rows(logits: &mut [f32], classes: usize) {
    if classes == 0 {
        return;
    }
    for row in logits.chunks_exact_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter_mut().for_each(|v| *v -= max);
    }
    exp_in_place(logits);
    for row in logits.chunks_exact_mut(classes) {
        let sum: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// `v[i] = e^v[i]` for every element.
fn exp_in_place(v: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx512::available() {
            avx512::exp_in_place(v);
            return;
        }
    }
    v.iter_mut().for_each(|x| *x = crate::math::exp(*x));
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    unsafe_code,
    reason = "AVX-512 intrinsics: raw-pointer loads and stores inside bounds asserted by the \
              safe callers, and target_feature functions called only after detection"
)]
mod avx512 {
    use core::arch::x86_64::{
        __m256, __m512, __mmask8, __mmask16, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
        _mm256_fmadd_ps, _mm256_mask_storeu_ps, _mm256_maskz_loadu_ps, _mm256_max_ps,
        _mm256_set1_ps, _mm256_setzero_ps, _mm512_add_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps,
        _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_max_ps,
        _mm512_min_ps, _mm512_mul_ps, _mm512_roundscale_ps, _mm512_scalef_ps, _mm512_set1_ps,
        _mm512_setzero_ps, _mm512_storeu_ps,
    };

    static FEATURES: crate::cpu::Feature = crate::cpu::Feature::new();

    #[inline]
    pub(super) fn available() -> bool {
        FEATURES.present(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
        })
    }

    /// The shapes of one call, shared by every tile.
    #[derive(Clone, Copy)]
    struct Shape {
        x: *const f32,
        n: usize,
        k: usize,
        w: *const f32,
        m: usize,
        bias: *const f32,
        relu: bool,
        y: *mut f32,
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a kernel entry point: matrices, their shapes and the epilogue"
    )]
    pub(super) fn dense(
        x: &[f32],
        n: usize,
        k: usize,
        w: &[f32],
        m: usize,
        bias: &[f32],
        relu: bool,
        y: &mut [f32],
    ) {
        let s = Shape {
            x: x.as_ptr(),
            n,
            k,
            w: w.as_ptr(),
            m,
            bias: bias.as_ptr(),
            relu,
            y: y.as_mut_ptr(),
        };
        // SAFETY: `available()` confirmed AVX-512F/VL; the caller asserted that `x`, `w`,
        // `bias` and `y` cover n×k, k×m, m and n×m elements, which is all the tiles address.
        unsafe { dense_avx512(s) }
    }

    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn dense_avx512(s: Shape) {
        let mut j0 = 0;
        while j0 < s.m {
            let width = (s.m - j0).min(64);
            // SAFETY (all arms): columns j0..j0+width lie inside the m outputs.
            unsafe {
                match width.div_ceil(16) {
                    4 => panel16::<6, 4>(s, j0, width),
                    3 => panel16::<8, 3>(s, j0, width),
                    2 => panel16::<12, 2>(s, j0, width),
                    _ if width > 8 => panel16::<12, 1>(s, j0, width),
                    _ => panel8::<16>(s, j0, width),
                }
            }
            j0 += width;
        }
    }

    /// Lane masks for `c` 16-lane vectors covering `width` columns.
    #[inline(always)]
    fn masks16<const C: usize>(width: usize) -> [__mmask16; C] {
        core::array::from_fn(|c| {
            let lanes = width.saturating_sub(16 * c).min(16);
            ((1u32 << lanes) - 1) as __mmask16
        })
    }

    /// Columns `j0..j0 + width` (width ≤ 16·C) of every row, R rows per tile.
    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn panel16<const R: usize, const C: usize>(s: Shape, j0: usize, width: usize) {
        let mask = masks16::<C>(width);
        // SAFETY: masked loads and stores touch only columns < j0 + width ≤ m.
        unsafe {
            let bias: [__m512; C] =
                core::array::from_fn(|c| _mm512_maskz_loadu_ps(mask[c], s.bias.add(j0 + 16 * c)));
            let mut i = 0;
            while i + R <= s.n {
                tile16::<R, C>(s, i, j0, &mask, &bias);
                i += R;
            }
            while i < s.n {
                tile16::<1, C>(s, i, j0, &mask, &bias);
                i += 1;
            }
        }
    }

    #[inline(always)]
    unsafe fn tile16<const R: usize, const C: usize>(
        s: Shape,
        i: usize,
        j0: usize,
        mask: &[__mmask16; C],
        bias: &[__m512; C],
    ) {
        // SAFETY: rows i..i+R < n, inputs < k, columns masked to < m.
        unsafe {
            let mut acc = [*bias; R];
            for kk in 0..s.k {
                let wrow = s.w.add(kk * s.m + j0);
                let wv: [__m512; C] =
                    core::array::from_fn(|c| _mm512_maskz_loadu_ps(mask[c], wrow.add(16 * c)));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_ps(*s.x.add((i + r) * s.k + kk));
                    for c in 0..C {
                        acc_r[c] = _mm512_fmadd_ps(xv, wv[c], acc_r[c]);
                    }
                }
            }
            let zero = _mm512_setzero_ps();
            for (r, acc_r) in acc.iter().enumerate() {
                let out = s.y.add((i + r) * s.m + j0);
                for c in 0..C {
                    let v = if s.relu {
                        _mm512_max_ps(acc_r[c], zero)
                    } else {
                        acc_r[c]
                    };
                    _mm512_mask_storeu_ps(out.add(16 * c), mask[c], v);
                }
            }
        }
    }

    /// Columns `j0..j0 + width` (width ≤ 8) of every row in 8-lane registers, R rows per tile.
    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn panel8<const R: usize>(s: Shape, j0: usize, width: usize) {
        let mask = ((1u32 << width) - 1) as __mmask8;
        // SAFETY: masked loads and stores touch only columns < j0 + width ≤ m.
        unsafe {
            let bias = _mm256_maskz_loadu_ps(mask, s.bias.add(j0));
            let mut i = 0;
            while i + R <= s.n {
                tile8::<R>(s, i, j0, mask, bias);
                i += R;
            }
            while i < s.n {
                tile8::<1>(s, i, j0, mask, bias);
                i += 1;
            }
        }
    }

    #[inline(always)]
    unsafe fn tile8<const R: usize>(s: Shape, i: usize, j0: usize, mask: __mmask8, bias: __m256) {
        // SAFETY: rows i..i+R < n, inputs < k, columns masked to < m.
        unsafe {
            let mut acc = [bias; R];
            for kk in 0..s.k {
                let wv = _mm256_maskz_loadu_ps(mask, s.w.add(kk * s.m + j0));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let xv = _mm256_set1_ps(*s.x.add((i + r) * s.k + kk));
                    *acc_r = _mm256_fmadd_ps(xv, wv, *acc_r);
                }
            }
            let zero = _mm256_setzero_ps();
            for (r, acc_r) in acc.iter().enumerate() {
                let v = if s.relu {
                    _mm256_max_ps(*acc_r, zero)
                } else {
                    *acc_r
                };
                _mm256_mask_storeu_ps(s.y.add((i + r) * s.m + j0), mask, v);
            }
        }
    }

    pub(super) fn exp_in_place(v: &mut [f32]) {
        // SAFETY: `available()` confirmed AVX-512F; the loop stays inside `v`.
        unsafe { exp_avx512(v) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn exp_avx512(v: &mut [f32]) {
        let p = v.as_mut_ptr();
        let mut i = 0;
        // SAFETY: full vectors at i + 16 ≤ len, then one masked tail.
        unsafe {
            while i + 16 <= v.len() {
                _mm512_storeu_ps(p.add(i), exp16(_mm512_loadu_ps(p.add(i))));
                i += 16;
            }
            if i < v.len() {
                let mask = ((1u32 << (v.len() - i)) - 1) as __mmask16;
                let x = _mm512_maskz_loadu_ps(mask, p.add(i));
                _mm512_mask_storeu_ps(p.add(i), mask, exp16(x));
            }
        }
    }

    /// e^x for 16 lanes: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by Cephes' degree-7
    /// polynomial, then scaled by 2^n (`scalef` handles underflow to zero).
    #[inline(always)]
    unsafe fn exp16(x: __m512) -> __m512 {
        // SAFETY: register-only intrinsics.
        unsafe {
            let x = _mm512_min_ps(
                _mm512_max_ps(x, _mm512_set1_ps(-104.0)),
                _mm512_set1_ps(88.72),
            );
            let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                _mm512_mul_ps(x, _mm512_set1_ps(core::f32::consts::LOG2_E)),
            );
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
            let mut q = _mm512_set1_ps(1.987_569_1e-4);
            for c in [
                1.398_199_9e-3,
                8.333_452e-3,
                4.166_579_6e-2,
                0.166_666_65,
                0.5,
            ] {
                q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(c));
            }
            let r2 = _mm512_mul_ps(r, r);
            let e = _mm512_add_ps(_mm512_fmadd_ps(q, r2, r), _mm512_set1_ps(1.0));
            _mm512_scalef_ps(e, n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlignedF32;

    fn layer(inputs: usize, outputs: usize) -> Dense {
        let mut weight = AlignedF32::new();
        weight.resize(inputs * outputs, 0.0);
        for (i, w) in weight.iter_mut().enumerate() {
            *w = ((i * 7919) % 1013) as f32 / 1013.0 - 0.5;
        }
        Dense {
            inputs,
            outputs,
            weight,
            bias: (0..outputs).map(|j| j as f32 * 0.01 - 0.1).collect(),
        }
    }

    #[test]
    fn kernel_matches_the_portable_gemm_on_every_tile_shape() {
        // Output widths hit every panel (8-lane, 1–4 16-lane vectors, more than 64) and
        // their masked tails; row counts hit full tiles and leftover rows.
        for (k, m) in [
            (54, 64),
            (64, 7),
            (5, 1),
            (13, 16),
            (9, 17),
            (30, 40),
            (7, 130),
        ] {
            for n in [1, 5, 6, 13, 40] {
                let l = layer(k, m);
                let x: Vec<f32> = (0..n * k).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
                for relu in [false, true] {
                    let mut fast = vec![f32::NAN; n * m];
                    let mut slow = vec![f32::NAN; n * m];
                    dense(&x, n, &l, relu, &mut fast);
                    dense_portable(&x, n, &l, relu, &mut slow);
                    for (a, b) in fast.iter().zip(&slow) {
                        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{k}×{m}, n {n}");
                    }
                }
            }
        }
    }

    #[test]
    fn vector_exp_stays_within_two_ulp_of_the_c_library() {
        let mut x: Vec<f32> = (0..4001).map(|i| -100.0 + i as f32 * 0.047).collect();
        x.extend([0.0, -0.0, -1e-30, -87.0, -103.0, -200.0, 88.0]);
        let mut fast = x.clone();
        exp_in_place(&mut fast);
        for (&xi, &f) in x.iter().zip(&fast) {
            let want = xi.exp();
            if want < f32::MIN_POSITIVE {
                assert!(f < 1e-37, "e^{xi}: {f}");
                continue;
            }
            let ulps = (f.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 2, "e^{xi}: {f} vs {want} ({ulps} ulp)");
        }
    }

    #[test]
    fn softmax_rows_equals_the_single_row_softmax() {
        let mut logits: Vec<f32> = (0..7 * 9)
            .map(|i| ((i * 13) % 23) as f32 * 0.7 - 6.0)
            .collect();
        logits[3] = -500.0;
        let mut want = logits.clone();
        softmax_rows(&mut logits, 7);
        for row in want.chunks_exact_mut(7) {
            crate::student::softmax_in_place(row);
        }
        for (a, b) in logits.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}

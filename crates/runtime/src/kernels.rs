//! The one hot loop of the single-row path, a layer `y += x · W` over the non-zero inputs,
//! with a wider instruction set when the CPU has it. Compiled for baseline x86-64 the loop
//! uses 4-wide SSE; the AVX2 copy is chosen at run time. Outputs are held in registers in
//! blocks of up to 64 across the input loop: against an axpy per input, this cut a
//! 54 → 64 → 7 single-row pass by ~40% (criterion: `cargo bench -p distillery-runtime`).
//! Both copies compute the same separate multiply and add per lane in the same order (no
//! FMA contraction), so results are bit-identical whichever runs.

/// `y[j] += Σ_i x[i] · w[i · y.len() + j]` over the inputs in order, skipping zero inputs:
/// a dense layer of the single-row path (`w` input-major). Blocks of up to 64 outputs stay
/// in registers for the whole input loop, where an axpy per input stores and reloads `y`
/// each time and pays a call per input (a 64 → 2 layer made 64 calls of two lanes). Each
/// lane does the same multiply, then add, in the same input order as an axpy per input, so
/// the result is bit-identical to that loop.
#[inline]
pub(crate) fn matvec(y: &mut [f32], x: &[f32], w: &[f32]) {
    matvec_active(
        y,
        x.iter().copied().enumerate().filter(|&(_, v)| v != 0.0),
        w,
    );
}

/// [`matvec`] without the skip: every input, zeros included, for a hidden layer's input.
/// After ReLU about half the inputs are zero in no pattern the branch predictor can learn,
/// and the skip's mispredictions cost more than the multiplications they save (54 → 64 →
/// 7: 0.73 → 0.57 µs a row, `cargo bench -p distillery-runtime -- single_row`). Adding
/// `0 · w` leaves every sum as it was (up to the sign of an exact zero, which compares
/// equal), since weights are finite.
#[inline]
pub(crate) fn matvec_dense(y: &mut [f32], x: &[f32], w: &[f32]) {
    matvec_active(y, x.iter().copied().enumerate(), w);
}

/// [`matvec`] over the listed `(input, value)` pairs only, in their order: the first layer
/// of a one-hot row, whose few active inputs the encoder lists.
#[inline]
pub(crate) fn matvec_sparse(y: &mut [f32], active: &[(usize, f32)], w: &[f32]) {
    matvec_active(y, active.iter().copied(), w);
}

/// [`matvec`] over any `(input, value)` pairs, with the AVX2 copy when the CPU has it.
#[inline]
fn matvec_active(y: &mut [f32], pairs: impl Iterator<Item = (usize, f32)> + Clone, w: &[f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx2::available() {
            avx2::matvec_pairs(y, pairs, w);
            return;
        }
    }
    matvec_pairs(y, pairs, w);
}

/// [`matvec`] for the int8 student: `acc[j] += Σ q · w[q's input · acc.len() + j]` in i32
/// over the listed `(input, quantized value)` pairs. Integer sums are exact, so the result
/// equals an axpy per input.
#[inline]
pub(crate) fn matvec_i8(
    acc: &mut [i32],
    pairs: impl Iterator<Item = (usize, i32)> + Clone,
    w: &[i8],
) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx2::available() {
            avx2::matvec_i8_pairs(acc, pairs, w);
            return;
        }
    }
    matvec_i8_pairs(acc, pairs, w);
}

#[inline(always)]
fn matvec_pairs(y: &mut [f32], pairs: impl Iterator<Item = (usize, f32)> + Clone, w: &[f32]) {
    blocked(y, pairs, w, |a: &mut f32, x: f32, r: f32| *a += x * r);
}

#[inline(always)]
fn matvec_i8_pairs(acc: &mut [i32], pairs: impl Iterator<Item = (usize, i32)> + Clone, w: &[i8]) {
    blocked(acc, pairs, w, |a: &mut i32, x: i32, r: i8| {
        *a += x * i32::from(r)
    });
}

/// Runs [`matvec_block`] over the outputs in blocks of 64, then 16, 8, 4, 2 and 1.
#[inline(always)]
fn blocked<A: Copy + Default, X: Copy, W: Copy>(
    y: &mut [A],
    pairs: impl Iterator<Item = (usize, X)> + Clone,
    w: &[W],
    mac: impl Fn(&mut A, X, W) + Copy,
) {
    let mut base = 0;
    while base < y.len() {
        let p = pairs.clone();
        base += match y.len() - base {
            64.. => matvec_block::<64, _, _, _>(y, p, w, base, mac),
            16.. => matvec_block::<16, _, _, _>(y, p, w, base, mac),
            8.. => matvec_block::<8, _, _, _>(y, p, w, base, mac),
            4.. => matvec_block::<4, _, _, _>(y, p, w, base, mac),
            2.. => matvec_block::<2, _, _, _>(y, p, w, base, mac),
            _ => matvec_block::<1, _, _, _>(y, p, w, base, mac),
        };
    }
}

/// Outputs `base..base + M` of [`matvec`], accumulated in a fixed-size block the compiler
/// keeps in registers; returns `M`.
#[inline(always)]
fn matvec_block<const M: usize, A: Copy + Default, X: Copy, W: Copy>(
    y: &mut [A],
    pairs: impl Iterator<Item = (usize, X)>,
    w: &[W],
    base: usize,
    mac: impl Fn(&mut A, X, W),
) -> usize {
    let n = y.len();
    let mut acc = [A::default(); M];
    acc.copy_from_slice(&y[base..base + M]);
    for (i, xi) in pairs {
        let row = &w[i * n + base..i * n + base + M];
        for (a, &r) in acc.iter_mut().zip(row) {
            mac(a, xi, r);
        }
    }
    y[base..base + M].copy_from_slice(&acc);
    M
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    unsafe_code,
    reason = "a target_feature function may only be called once the feature is known to be present"
)]
mod avx2 {

    static FEATURES: crate::cpu::Feature = crate::cpu::Feature::new();

    #[inline]
    pub(super) fn available() -> bool {
        FEATURES.present(|| std::arch::is_x86_feature_detected!("avx2"))
    }

    #[target_feature(enable = "avx2")]
    fn matvec_avx2(y: &mut [f32], pairs: impl Iterator<Item = (usize, f32)> + Clone, w: &[f32]) {
        super::matvec_pairs(y, pairs, w);
    }

    #[inline]
    pub(super) fn matvec_pairs(
        y: &mut [f32],
        pairs: impl Iterator<Item = (usize, f32)> + Clone,
        w: &[f32],
    ) {
        // SAFETY: only reached after `available()` confirmed AVX2 on this CPU.
        unsafe { matvec_avx2(y, pairs, w) }
    }

    #[target_feature(enable = "avx2")]
    fn matvec_i8_avx2(
        acc: &mut [i32],
        pairs: impl Iterator<Item = (usize, i32)> + Clone,
        w: &[i8],
    ) {
        super::matvec_i8_pairs(acc, pairs, w);
    }

    #[inline]
    pub(super) fn matvec_i8_pairs(
        acc: &mut [i32],
        pairs: impl Iterator<Item = (usize, i32)> + Clone,
        w: &[i8],
    ) {
        // SAFETY: only reached after `available()` confirmed AVX2 on this CPU.
        unsafe { matvec_i8_avx2(acc, pairs, w) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference for [`matvec`]: `y += a · x` per input, in input order.
    fn axpy_portable(y: &mut [f32], a: f32, x: &[f32]) {
        for (yj, &xj) in y.iter_mut().zip(x) {
            *yj += a * xj;
        }
    }

    /// The reference for [`matvec_i8`].
    fn axpy_i8_portable(acc: &mut [i32], a: i32, w: &[i8]) {
        for (s, &wj) in acc.iter_mut().zip(w) {
            *s += a * i32::from(wj);
        }
    }

    #[test]
    fn matvec_equals_an_axpy_per_input_bit_for_bit() {
        for (inputs, outputs) in [(1, 1), (9, 64), (64, 2), (37, 130), (16, 26), (5, 7)] {
            let x: Vec<f32> = (0..inputs)
                .map(|i| {
                    if i % 3 == 1 {
                        0.0
                    } else {
                        (i as f32 * 0.91).cos()
                    }
                })
                .collect();
            let w: Vec<f32> = (0..inputs * outputs)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let bias: Vec<f32> = (0..outputs).map(|j| j as f32 * 0.01 - 0.2).collect();
            let mut want = bias.clone();
            for (i, &xi) in x.iter().enumerate() {
                if xi != 0.0 {
                    axpy_portable(&mut want, xi, &w[i * outputs..(i + 1) * outputs]);
                }
            }
            let mut got = bias.clone();
            matvec(&mut got, &x, &w);
            assert_eq!(got, want, "{inputs} → {outputs}");
            let pairs = x.iter().copied().enumerate().filter(|&(_, v)| v != 0.0);
            let mut portable = bias.clone();
            matvec_pairs(&mut portable, pairs.clone(), &w);
            assert_eq!(portable, want, "{inputs} → {outputs}");
            let active: Vec<(usize, f32)> = pairs.collect();
            let mut dense = bias.clone();
            matvec_dense(&mut dense, &x, &w);
            assert_eq!(dense, want, "{inputs} → {outputs}: zeros included");
            let mut sparse = bias;
            matvec_sparse(&mut sparse, &active, &w);
            assert_eq!(sparse, want, "{inputs} → {outputs}");
            let wq: Vec<i8> = (0..inputs * outputs)
                .map(|i| (i as i32 * 37 % 255 - 127) as i8)
                .collect();
            let q: Vec<(usize, i32)> = (0..inputs)
                .filter(|i| i % 3 != 1)
                .map(|i| (i, i as i32 * 11 - 60))
                .collect();
            let mut want_q = vec![3i32; outputs];
            for &(i, v) in &q {
                axpy_i8_portable(&mut want_q, v, &wq[i * outputs..(i + 1) * outputs]);
            }
            let mut got_q = vec![3i32; outputs];
            matvec_i8(&mut got_q, q.iter().copied(), &wq);
            assert_eq!(got_q, want_q, "{inputs} → {outputs}");
        }
    }
}

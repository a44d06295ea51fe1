//! The one hot loop of the single-row path, `y += a · x`, with a wider instruction set when
//! the CPU has it. Compiled for baseline x86-64 the loop uses 4-wide SSE; the AVX2 copy,
//! chosen at run time, halves a 54→64→7 forward pass (criterion: `cargo bench -p
//! distillery-runtime`). Both copies compute the same separate multiply and add per lane
//! (no FMA contraction), so results are bit-identical whichever runs.

/// `y[j] += a · x[j]` for `j < y.len()` (`x` at least as long as `y`).
#[inline]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx2::available() {
            avx2::axpy(y, a, x);
            return;
        }
    }
    axpy_portable(y, a, x);
}

/// `acc[j] += a · w[j]` in i32 for int8 weights (the int8 student's inner loop).
#[inline]
pub(crate) fn axpy_i8(acc: &mut [i32], a: i32, w: &[i8]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if avx2::available() {
            avx2::axpy_i8(acc, a, w);
            return;
        }
    }
    axpy_i8_portable(acc, a, w);
}

#[inline(always)]
fn axpy_i8_portable(acc: &mut [i32], a: i32, w: &[i8]) {
    for (s, &wj) in acc.iter_mut().zip(w) {
        *s += a * i32::from(wj);
    }
}

#[inline(always)]
fn axpy_portable(y: &mut [f32], a: f32, x: &[f32]) {
    for (yj, &xj) in y.iter_mut().zip(x) {
        *yj += a * xj;
    }
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
    fn axpy_avx2(y: &mut [f32], a: f32, x: &[f32]) {
        super::axpy_portable(y, a, x);
    }

    #[inline]
    pub(super) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
        // SAFETY: only reached after `available()` confirmed AVX2 on this CPU.
        unsafe { axpy_avx2(y, a, x) }
    }

    #[target_feature(enable = "avx2")]
    fn axpy_i8_avx2(acc: &mut [i32], a: i32, w: &[i8]) {
        super::axpy_i8_portable(acc, a, w);
    }

    #[inline]
    pub(super) fn axpy_i8(acc: &mut [i32], a: i32, w: &[i8]) {
        // SAFETY: only reached after `available()` confirmed AVX2 on this CPU.
        unsafe { axpy_i8_avx2(acc, a, w) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_axpy_equals_the_portable_loop_bit_for_bit() {
        for n in [1, 7, 8, 64, 67, 130] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut a = vec![0.25f32; n];
            let mut b = a.clone();
            axpy(&mut a, 1.7, &x);
            axpy_portable(&mut b, 1.7, &x);
            assert_eq!(a, b);
            let w: Vec<i8> = (0..n).map(|i| (i as i32 * 37 % 255 - 127) as i8).collect();
            let mut p = vec![5i32; n];
            let mut q = p.clone();
            axpy_i8(&mut p, -93, &w);
            axpy_i8_portable(&mut q, -93, &w);
            assert_eq!(p, q);
        }
    }
}

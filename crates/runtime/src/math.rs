//! The few float functions the runtime needs, through `libm` so they are identical with
//! and without `std` (the same student gives the same bits on a server and on a device).

/// e^x.
pub(crate) fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// The fractional part of `x` (`x − trunc(x)`).
pub(crate) fn fract(x: f64) -> f64 {
    x - libm::trunc(x)
}

//! The few float functions the runtime needs. With `std` the exponential is the platform's
//! (glibc's `expf` is about 3× faster than `libm`'s port, which matters for softmax over
//! batches); without `std` everything goes through `libm`.

/// e^x.
#[cfg(feature = "std")]
pub(crate) fn exp(x: f32) -> f32 {
    x.exp()
}

/// e^x.
#[cfg(not(feature = "std"))]
pub(crate) fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// The fractional part of `x` (`x − trunc(x)`).
pub(crate) fn fract(x: f64) -> f64 {
    x - libm::trunc(x)
}

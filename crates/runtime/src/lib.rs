//! The distilled student as it runs in production: the bundled feature [`Encoder`] plus a
//! small MLP ([`Student`]), loaded from one safetensors file. Single rows take a
//! vectorised, allocation-free path ([`Student::predict_one_into`]); batches go through GEMM.
//!
//! This crate deliberately has no training code, no ONNX runtime and no async runtime, so
//! it can be embedded anywhere; training lives in `distillery-train`, teachers in
//! `distillery-teacher`. Without its default `std` feature it builds as `no_std` + `alloc`
//! (for microcontrollers and WASM hosts): everything but file I/O is available.
//!
//! ```
//! use distillery_runtime::{Dense, Encoder, FeatureEncoder, RawValue, Student, Provenance};
//! let encoder = Encoder::new(vec![FeatureEncoder::Numeric {
//!     name: "x".into(), mean: 0.0, scale: 1.0, missing_indicator: false, levels: vec![], bins: vec![],
//! }]);
//! let layer = Dense { inputs: 1, outputs: 2, weight: vec![1.0, -1.0].into(), bias: vec![0.0, 0.0] };
//! let student = Student::new(encoder, vec!["a".into(), "b".into()], vec![layer], vec![], Provenance::new())?;
//! let bytes = student.to_bytes()?;
//! let p = Student::from_bytes(&bytes)?.predict_one(&[RawValue::Number(1.0)])?;
//! assert!(p[0] > p[1]);
//! # Ok::<(), distillery_runtime::RuntimeError>(())
//! ```

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod aligned;
mod artifact;
mod batch;
mod batch_int8;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod cpu;
mod encoder;
mod error;
mod kernels;
mod math;
mod predict;
mod quantized;
mod student;
mod text;

pub use aligned::AlignedF32;
pub use artifact::FORMAT;
#[cfg(feature = "std")]
pub use artifact::write_atomic;
pub use encoder::{Encoder, FeatureEncoder, RawValue};
pub use error::{Result, RuntimeError};
pub use predict::Predict;
pub use quantized::{
    Calibration, INT8_FORMAT, Int8Scratch, QuantizedLayer, QuantizedStudent, WEIGHT_RANGE,
};
pub use student::{Dense, Provenance, Scratch, Student, gemm_acc, softmax_in_place};
pub use text::{TextHashing, WordVectors, tokens as text_tokens};

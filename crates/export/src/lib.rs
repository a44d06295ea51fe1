//! ONNX export of distillery students. The exported graph contains the feature encoder, so
//! it takes the same raw inputs as the native runtime (one `[N, 1]` input per feature,
//! `float32` for numeric and `string` for categorical features; `NaN` / `""` = missing) and
//! returns `probabilities` `[N, classes]`, the same numbers as
//! [`distillery_runtime::Student`] to float rounding (checked against onnxruntime and tract
//! in the tests).
//!
//! This crate only writes models; running ONNX is tract's (teachers) or the user's job.
//!
//! ```
//! use distillery_runtime::{Dense, Encoder, FeatureEncoder, Provenance, Student};
//! let encoder = Encoder::new(vec![FeatureEncoder::Numeric {
//!     name: "x".into(), mean: 0.0, scale: 1.0, missing_indicator: false, levels: vec![], bins: vec![],
//! }]);
//! let layer = Dense { inputs: 1, outputs: 2, weight: vec![1.0, -1.0].into(), bias: vec![0.0, 0.0] };
//! let student = Student::new(encoder, vec!["a".into(), "b".into()], vec![layer], vec![], Provenance::new()).unwrap();
//! let bytes = distillery_export::to_onnx(&student)?;
//! assert!(bytes.len() > 100);
//! # Ok::<(), distillery_export::ExportError>(())
//! ```

mod builder;
mod encoder;
mod trees;

pub use trees::{TreeTeacherMeta, gbdt_to_onnx};

use distillery_runtime::{QuantizedStudent, Student};
use prost::Message;

use builder::{Attr, Graph};

/// Export failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The student's metadata could not be serialised.
    #[error("cannot export: {0}")]
    Metadata(String),
}

/// The exported fp32 student as ONNX bytes (deterministic for equal students).
///
/// # Errors
/// Only if the provenance metadata cannot be serialised.
pub fn to_onnx(student: &Student) -> Result<Vec<u8>, ExportError> {
    let mut g = Graph::default();
    let mut x = encoder::encode(&mut g, student.encoder());
    let last = student.layers().len() - 1;
    for (k, layer) in student.layers().iter().enumerate() {
        let w = g.floats(
            "weight",
            &[layer.inputs as i64, layer.outputs as i64],
            &layer.weight,
        );
        x = affine(&mut g, &x, &w, &layer.bias, k < last);
    }
    finish(
        g,
        &x,
        "distillery_student",
        student.classes(),
        student.encoder(),
        student.provenance(),
    )
}

/// `relu?(x · w + b)`.
fn affine(g: &mut Graph, x: &str, w: &str, bias: &[f32], relu: bool) -> String {
    let b = g.floats("bias", &[bias.len() as i64], bias);
    let mm = g.node("MatMul", &[x, w], "", vec![]);
    let y = g.node("Add", &[&mm, &b], "", vec![]);
    if relu {
        g.node("Relu", &[&y], "", vec![])
    } else {
        y
    }
}

/// Softmax over the logits `x`, the `probabilities` output, metadata, and the bytes.
fn finish(
    mut g: Graph,
    x: &str,
    name: &str,
    classes: &[String],
    encoder: &distillery_runtime::Encoder,
    provenance: &distillery_runtime::Provenance,
) -> Result<Vec<u8>, ExportError> {
    let p = g.node("Softmax", &[x], "", vec![("axis", Attr::Int(-1))]);
    g.output("probabilities", &p, classes.len() as i64);
    let meta = metadata_of(classes, encoder, provenance)?;
    Ok(g.model(name, meta).encode_to_vec())
}

/// The int8 student as an ONNX QDQ model: every dense layer is
/// `QuantizeLinear → DequantizeLinear → MatMul` with int8 weights dequantized per output
/// channel (`DequantizeLinear`, axis 1), so onnxruntime and other engines can fuse it into
/// integer kernels. Same inputs and output as [`to_onnx`].
///
/// # Errors
/// Only if the provenance metadata cannot be serialised.
pub fn to_onnx_int8(student: &QuantizedStudent) -> Result<Vec<u8>, ExportError> {
    let mut g = Graph::default();
    let mut x = encoder::encode(&mut g, student.encoder());
    let last = student.layers().len() - 1;
    for (k, layer) in student.layers().iter().enumerate() {
        let (i, o) = (layer.inputs as i64, layer.outputs as i64);
        let sx = g.floats("input_scale", &[], &[layer.input_scale]);
        let zx = g.int8s("input_zero", &[], &[0]);
        let xq = g.node("QuantizeLinear", &[&x, &sx, &zx], "", vec![]);
        let xd = g.node("DequantizeLinear", &[&xq, &sx, &zx], "", vec![]);
        let wq = g.int8s("weight_int8", &[i, o], &layer.weight);
        let sw = g.floats("weight_scale", &[o], &layer.weight_scale);
        let zw = g.int8s("weight_zero", &[o], &vec![0; layer.outputs]);
        let wd = g.node(
            "DequantizeLinear",
            &[&wq, &sw, &zw],
            "",
            vec![("axis", Attr::Int(1))],
        );
        x = affine(&mut g, &xd, &wd, &layer.bias, k < last);
    }
    finish(
        g,
        &x,
        "distillery_student_int8",
        student.classes(),
        student.encoder(),
        student.provenance(),
    )
}

/// Class names, input order and provenance travel in `metadata_props`, so the ONNX file
/// is as self-describing as the safetensors one.
fn metadata_of(
    classes: &[String],
    encoder: &distillery_runtime::Encoder,
    provenance: &distillery_runtime::Provenance,
) -> Result<Vec<(String, String)>, ExportError> {
    let json = |v: serde_json::Value| {
        serde_json::to_string(&v).map_err(|e| ExportError::Metadata(e.to_string()))
    };
    Ok(vec![
        (
            "distillery.classes".into(),
            json(serde_json::json!(classes))?,
        ),
        (
            "distillery.inputs".into(),
            json(serde_json::json!(encoder.names()))?,
        ),
        (
            "distillery.provenance".into(),
            json(serde_json::Value::Object(provenance.clone()))?,
        ),
    ])
}

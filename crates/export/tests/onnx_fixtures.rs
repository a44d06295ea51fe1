//! The exported ONNX student against the native runtime, onnxruntime and tract.
//! Fixtures: `tools/make_export_fixtures.py` (onnxruntime 1.32.0), 206 Adult rows including
//! missing numbers, missing categories and unseen categories. Tolerance 1e-5: the graph
//! computes the encoder in f32 where the runtime uses f64 before rounding to f32.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::path::PathBuf;

use distillery_runtime::{RawValue, Student};
use tract_onnx::prelude::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/export")
}

struct Fixture {
    columns: Vec<String>,
    kinds: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
    probabilities: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("onnxruntime.json")).unwrap()).unwrap();
    Fixture {
        columns: serde_json::from_value(v["columns"].clone()).unwrap(),
        kinds: serde_json::from_value(v["kinds"].clone()).unwrap(),
        rows: serde_json::from_value(v["rows"].clone()).unwrap(),
        probabilities: serde_json::from_value(v["probabilities"].clone()).unwrap(),
    }
}

fn raw(row: &[serde_json::Value]) -> Vec<RawValue<'_>> {
    row.iter()
        .map(|v| match v {
            serde_json::Value::Number(n) => RawValue::Number(n.as_f64().unwrap()),
            serde_json::Value::String(s) => RawValue::Text(s),
            _ => RawValue::Missing,
        })
        .collect()
}

#[test]
fn export_is_deterministic_and_matches_the_committed_model() {
    let student = Student::load(&dir().join("student.safetensors")).unwrap();
    let bytes = distillery_export::to_onnx(&student).unwrap();
    assert_eq!(bytes, distillery_export::to_onnx(&student).unwrap());
    assert_eq!(
        bytes,
        std::fs::read(dir().join("student.onnx")).unwrap(),
        "regenerate with tools/make_export_fixtures.py"
    );
}

#[test]
fn native_runtime_matches_onnxruntime_on_the_exported_model() {
    let student = Student::load(&dir().join("student.safetensors")).unwrap();
    let f = fixture();
    assert_eq!(student.encoder().names(), f.columns);
    let mut worst = 0.0f32;
    for (row, want) in f.rows.iter().zip(&f.probabilities) {
        let got = student.predict_one(&raw(row)).unwrap();
        for (a, b) in got.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst < 1e-5, "max |native − onnxruntime| = {worst}");
}

#[test]
fn tract_runs_the_exported_model_and_matches() {
    let student = Student::load(&dir().join("student.safetensors")).unwrap();
    let f = fixture();
    let n = f.rows.len();
    let mut model = tract_onnx::onnx()
        .model_for_path(dir().join("student.onnx"))
        .unwrap();
    for (i, kind) in f.kinds.iter().enumerate() {
        let fact = if kind == "string" {
            String::fact([n, 1])
        } else {
            f32::fact([n, 1])
        };
        model.set_input_fact(i, fact.into()).unwrap();
    }
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let inputs: TVec<TValue> = f
        .kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let t: Tensor = if kind == "string" {
                let v: Vec<String> = f
                    .rows
                    .iter()
                    .map(|r| r[i].as_str().unwrap_or("").to_string())
                    .collect();
                tract_ndarray::Array2::from_shape_vec((n, 1), v)
                    .unwrap()
                    .into()
            } else {
                let v: Vec<f32> = f
                    .rows
                    .iter()
                    .map(|r| r[i].as_f64().map_or(f32::NAN, |x| x as f32))
                    .collect();
                tract_ndarray::Array2::from_shape_vec((n, 1), v)
                    .unwrap()
                    .into()
            };
            t.into()
        })
        .collect();
    let out = plan.run(inputs).unwrap();
    let probs = out[0].to_plain_array_view::<f32>().unwrap();
    let k = student.classes().len();
    let flat: Vec<f32> = probs.iter().copied().collect();
    let mut worst = 0.0f32;
    for (r, row) in f.rows.iter().enumerate() {
        let native = student.predict_one(&raw(row)).unwrap();
        for j in 0..k {
            worst = worst.max((native[j] - flat[r * k + j]).abs());
        }
    }
    assert!(worst < 1e-5, "max |native − tract| = {worst}");
}

//! The in-house boosted teacher written as ONNX (`distillery-export`) and read back by our
//! tree evaluator gives the probabilities of the trained model itself.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

use std::collections::BTreeMap;
use std::path::Path;

use distillery_export::{TreeTeacherMeta, gbdt_to_onnx};
use distillery_teacher::{OnnxModel, OnnxOptions};
use distillery_train::{GbdtParams, GbdtRows, fit_gbdt};

/// Rows with a numeric column, a coded category and missing values; `classes` labels.
fn rows(n: usize, classes: u32) -> (Vec<f32>, Vec<u32>) {
    let mut state = 99u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let a = next() * 10.0 - 5.0;
        let code = (next() * 4.0).floor();
        let b = if i % 5 == 0 { f32::NAN } else { code };
        let noise = (next() * 1.3) as u32;
        y.push(((a + 5.0) as u32 / 3 + noise + code as u32) % classes);
        x.extend([a, b]);
    }
    (x, y)
}

fn roundtrip(classes: u32) {
    let (x, y) = rows(800, classes);
    let model = fit_gbdt(
        &GbdtRows {
            x: &x,
            width: 2,
            labels: &y,
        },
        None,
        classes as usize,
        &GbdtParams {
            iterations: 60,
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<String> = (0..classes).map(|c| format!("c{c}")).collect();
    let inputs = vec!["amount".to_string(), "colour".to_string()];
    let mut categories = BTreeMap::new();
    categories.insert(
        "colour".to_string(),
        vec!["blue".into(), "green".into(), "red".into(), "white".into()],
    );
    let meta = TreeTeacherMeta {
        classes: &names,
        inputs: &inputs,
        categories: &categories,
        extra: vec![],
    };
    let bytes = gbdt_to_onnx(&model, &meta).unwrap();
    let onnx =
        OnnxModel::from_bytes(&bytes, Path::new("teacher.onnx"), &OnnxOptions::default()).unwrap();
    assert_eq!(onnx.input_names.as_deref(), Some(inputs.as_slice()));
    assert_eq!(onnx.categories["colour"].len(), 4);
    assert_eq!(onnx.class_labels.as_deref(), Some(names.as_slice()));
    let ours = onnx.predict_proba(&x, 800).unwrap();
    let reference = model.predict_proba(&x, 800);
    let worst = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 2e-5,
        "{classes} classes: largest difference {worst}"
    );
    assert_eq!(
        gbdt_to_onnx(&model, &meta).unwrap(),
        bytes,
        "deterministic bytes"
    );
}

#[test]
fn a_binary_boosted_teacher_survives_export() {
    roundtrip(2);
}

#[test]
fn a_multiclass_boosted_teacher_survives_export() {
    roundtrip(3);
}

//! Teacher outputs against onnxruntime's, on fixtures made by
//! `tools/make_teacher_fixtures.py` (onnxruntime 1.32.0; models from scikit-learn 1.9.1,
//! LightGBM 4.7.0, XGBoost 3.2.0 via skl2onnx 1.20.0 / onnxmltools 1.16.0). Inputs include
//! missing values (NaN) so missing-value routing is checked too. Tolerance 1e-5 absolute:
//! the engines sum the same f32 leaf weights in possibly different orders.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::path::PathBuf;

use distillery_teacher::{OnnxModel, OnnxOptions};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/teachers")
}

fn check(name: &str, expected_engine: &str) {
    let dir = fixtures();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let rows: Vec<Vec<f32>> = json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().map_or(f32::NAN, |f| f as f32))
                .collect()
        })
        .collect();
    let expected: Vec<Vec<f32>> = serde_json::from_value(json["probabilities"].clone()).unwrap();
    let teacher =
        OnnxModel::load(&dir.join(format!("{name}.onnx")), &OnnxOptions::default()).unwrap();
    assert_eq!(teacher.engine(), expected_engine, "{name}");
    let width = rows[0].len();
    assert_eq!(teacher.input_width(), width);
    let x: Vec<f32> = rows.concat();
    let batch = teacher.predict_proba(&x, rows.len()).unwrap();
    let k = teacher.n_classes();
    assert_eq!(k, expected[0].len(), "{name}: class count");
    let mut worst = 0.0f32;
    for (r, want) in expected.iter().enumerate() {
        let single = teacher.predict_proba(&rows[r], 1).unwrap();
        for j in 0..k {
            worst = worst.max((batch[r * k + j] - want[j]).abs());
            assert!(
                (single[j] - batch[r * k + j]).abs() < 1e-6,
                "{name}: single vs batch row {r}"
            );
        }
    }
    assert!(worst < 1e-5, "{name}: max |ours − onnxruntime| = {worst}");
}

const TREES: &str = "tree-ensemble evaluator (ours)";

#[test]
fn random_forest_binary_matches_onnxruntime() {
    check("rf_binary", TREES);
}

#[test]
fn random_forest_multiclass_matches_onnxruntime() {
    check("rf_multiclass", TREES);
}

#[test]
fn gradient_boosting_binary_matches_onnxruntime() {
    check("gb_binary", TREES);
}

#[test]
fn gradient_boosting_multiclass_matches_onnxruntime() {
    check("gb_multiclass", TREES);
}

#[test]
fn lightgbm_binary_matches_onnxruntime() {
    check("lgbm_binary", TREES);
}

#[test]
fn lightgbm_multiclass_matches_onnxruntime() {
    check("lgbm_multiclass", TREES);
}

#[test]
fn xgboost_binary_matches_onnxruntime() {
    check("xgb_binary", TREES);
}

#[test]
fn xgboost_multiclass_matches_onnxruntime() {
    check("xgb_multiclass", TREES);
}

#[cfg(feature = "tract")]
#[test]
fn mlp_binary_matches_onnxruntime_through_tract() {
    check("mlp_binary", "tract");
}

#[cfg(feature = "tract")]
#[test]
fn mlp_multiclass_matches_onnxruntime_through_tract() {
    check("mlp_multiclass", "tract");
}

#[test]
fn a_file_that_is_not_onnx_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("distillery-bad-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.onnx");
    std::fs::write(&p, b"hello").unwrap();
    let err = OnnxModel::load(&p, &OnnxOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not an ONNX model"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// The converters' defaults end in ZipMap (a sequence of {class: probability} maps); the
// probabilities are read from the tensor ZipMap zips, in its class-label order.

#[test]
fn gradient_boosting_with_zipmap_matches_onnxruntime() {
    check("gb_zipmap_binary", TREES);
    check("gb_zipmap_multiclass", TREES);
}

#[test]
fn lightgbm_with_zipmap_matches_onnxruntime() {
    check("lgbm_zipmap_binary", TREES);
    check("lgbm_zipmap_multiclass", TREES);
}

#[test]
fn an_mlp_with_zipmap_matches_onnxruntime_through_tract() {
    check("mlp_zipmap_binary", "tract");
    check("mlp_zipmap_multiclass", "tract");
}

#[test]
fn zipmap_class_labels_are_read() {
    let dir = fixtures();
    let model = OnnxModel::load(
        &dir.join("mlp_zipmap_multiclass.onnx"),
        &OnnxOptions::default(),
    )
    .unwrap();
    assert_eq!(
        model.class_labels.as_deref(),
        Some(["A", "B", "C", "D", "E"].map(String::from).as_slice())
    );
}

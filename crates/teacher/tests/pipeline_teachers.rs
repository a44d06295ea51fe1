//! scikit-learn Pipelines exported the usual way — one input per column (strings for
//! categories, floats with NaN for numbers), the ai.onnx.ml preprocessing operators, a tree
//! ensemble and a ZipMap — run on our interpreter and answer what onnxruntime answers, on
//! fixtures made by `tools/make_pipeline_fixtures.py` (scikit-learn 1.9.1, skl2onnx 1.20.0,
//! onnxruntime 1.32.0; rows include a missing number, a missing category and an unseen one).
//! Tolerance 1e-5 absolute.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::path::PathBuf;

use distillery_data::{Column, MISSING, Schema, SchemaOptions, Table};
use distillery_teacher::{ColumnKind, OnnxModel, OnnxOptions, OnnxTeacher, Teacher};

fn teachers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/teachers")
}

/// The fixture's rows as a table the way the reader builds one (missing text = missing).
fn table(json: &serde_json::Value) -> Table {
    let columns = json["columns"].as_object().unwrap();
    let mut names = Vec::new();
    let mut built = Vec::new();
    for (name, values) in columns {
        let values = values.as_array().unwrap();
        let column = if values.iter().any(serde_json::Value::is_string) {
            let mut levels: Vec<String> = Vec::new();
            let codes = values
                .iter()
                .map(|v| match v.as_str().unwrap_or_default() {
                    "" => MISSING,
                    s => {
                        if !levels.iter().any(|l| l == s) {
                            levels.push(s.to_string());
                        }
                        levels.iter().position(|l| l == s).unwrap() as u32
                    }
                })
                .collect();
            Column::Text { levels, codes }
        } else {
            Column::Numeric(
                values
                    .iter()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect(),
            )
        };
        names.push(name.clone());
        built.push(column);
    }
    names.push("income-per-year".into());
    built.push(Column::Text {
        levels: vec!["<=50K".into()],
        codes: vec![0; 64],
    });
    Table::from_columns("fixture.csv".into(), names, built).unwrap()
}

fn check(name: &str) {
    let dir = teachers();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let classes: Vec<String> = serde_json::from_value(json["classes"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(json["probabilities"].clone()).unwrap();
    let model =
        OnnxModel::load(&dir.join(format!("{name}.onnx")), &OnnxOptions::default()).unwrap();
    let inputs = model.columns.clone().unwrap();
    assert_eq!(inputs.len(), 14, "{name}");
    assert!(inputs.iter().any(|i| i.kind == ColumnKind::Text));
    assert_eq!(model.class_labels.as_deref(), Some(classes.as_slice()));
    let t = table(&json);
    let schema = Schema::infer(
        &t,
        &SchemaOptions {
            target: "income-per-year".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let teacher = OnnxTeacher::new(model, &classes, None, &schema, Some(&t)).unwrap();
    // `education-num` feeds the input skl2onnx named `education_num`.
    assert!(teacher.feed.columns.iter().any(|c| c == "education-num"));
    let rows: Vec<usize> = (0..64).collect();
    let ours = teacher.label(&t, &rows).unwrap();
    let mut worst = 0.0f32;
    for (r, want) in expected.iter().enumerate() {
        for (j, w) in want.iter().enumerate() {
            worst = worst.max((ours[r * classes.len() + j] - w).abs());
        }
    }
    assert!(worst < 1e-5, "{name}: max |ours − onnxruntime| = {worst}");
    // One row at a time answers the same.
    let single = teacher.label(&t, &[7]).unwrap();
    assert!((single[0] - ours[7 * classes.len()]).abs() < 1e-6);
}

#[test]
fn a_sklearn_pipeline_with_one_hot_imputer_scaler_and_boosting_matches_onnxruntime() {
    check("pipeline_gb");
}

#[test]
fn a_sklearn_pipeline_with_label_encoder_binarizer_normalizer_and_forest_matches_onnxruntime() {
    check("pipeline_rf");
}

//! The one `Teacher` trait over table rows: an ONNX model fed from columns answers exactly
//! what the model answers on the same floats, in the caller's class order; soft-label
//! columns are read for any table that carries them.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::path::PathBuf;

use distillery_data::{Column, ColumnSchema, Kind, ReadOptions, Schema, Table};
use distillery_teacher::{
    ColumnsTeacher, OnnxModel, OnnxOptions, OnnxTeacher, OutputKind, Teacher,
};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

#[test]
fn an_onnx_teacher_on_table_rows_answers_like_its_model_in_the_callers_order() {
    let dir = data().join("teachers");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("lgbm_binary.json")).unwrap()).unwrap();
    let rows: Vec<Vec<f64>> = json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let width = rows[0].len();
    let path = dir.join("lgbm_binary.onnx");
    let model = OnnxModel::load(&path, &OnnxOptions::default()).unwrap();
    // The columns the model's metadata names, else f0, f1, ….
    let names: Vec<String> = model
        .input_names
        .clone()
        .unwrap_or_else(|| (0..width).map(|j| format!("f{j}")).collect());
    let columns = (0..width)
        .map(|j| Column::Numeric(rows.iter().map(|r| r[j]).collect()))
        .collect();
    let table = Table::from_columns("fixture.csv".into(), names.clone(), columns).unwrap();
    let schema = Schema {
        columns: names
            .iter()
            .map(|n| ColumnSchema {
                name: n.clone(),
                kind: Kind::Numeric,
                reason: "test".into(),
            })
            .collect(),
    };
    let x: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    let direct = model.predict_proba(&x, rows.len()).unwrap();
    let labels = model
        .class_labels
        .clone()
        .expect("the fixture names its classes");
    let reversed: Vec<String> = labels.iter().rev().cloned().collect();
    let teacher = OnnxTeacher::new(model, &reversed, None, &schema, Some(&table)).unwrap();
    let all: Vec<usize> = (0..rows.len()).collect();
    let p = teacher.label(&table, &all).unwrap();
    assert_eq!(teacher.classes(), reversed.as_slice());
    assert_eq!(p.len(), direct.len());
    for (got, want) in p.chunks_exact(2).zip(direct.chunks_exact(2)) {
        assert_eq!(
            got,
            [want[1], want[0]],
            "same values, the caller's class order"
        );
    }
    let wrong = OnnxModel::load(&path, &OnnxOptions::default()).unwrap();
    let three = ["a".to_string(), "b".into(), "c".into()];
    let err = OnnxTeacher::new(wrong, &three, None, &schema, Some(&table))
        .err()
        .unwrap();
    assert!(err.to_string().contains("predicts 2 classes"), "{err}");
}

#[test]
fn a_columns_teacher_reads_the_soft_labels_of_any_table_that_has_them() {
    let table = Table::read(&data().join("adult_soft.csv"), &ReadOptions::default()).unwrap();
    let classes = ["<=50K".to_string(), ">50K".into()];
    let teacher = ColumnsTeacher::new("teacher_p_", &classes, OutputKind::Auto);
    let p = teacher.label(&table, &[0, 1]).unwrap();
    assert!(
        (p[0] - 0.993_277_7).abs() < 1e-6,
        "first row's first class: {}",
        p[0]
    );
    assert!((p[0] + p[1] - 1.0).abs() < 1e-5);
    let plain = Table::read(&data().join("adult_sample.csv"), &ReadOptions::default()).unwrap();
    let err = teacher.label(&plain, &[0]).unwrap_err().to_string();
    assert!(err.contains("teacher_p_"), "{err}");
}

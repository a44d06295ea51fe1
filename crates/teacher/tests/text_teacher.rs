//! The transformer teacher run in Rust (tokenizers + tract) gives onnxruntime's
//! probabilities within 1e-4. `DISTILLERY_TEXT_TEACHER` names a folder written by
//! `tools/text_teacher.py` (teacher.onnx, tokenizer.json, fixture.json with 32 texts and
//! onnxruntime's answers); `.ci/run` builds one from `tests/data/spam_sample.csv` and sets
//! `DISTILLERY_REQUIRE_TEXT_TEACHER=1`, so CI cannot skip this. Elsewhere it skips, saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use distillery_data::{Column, Table};
use distillery_teacher::{Teacher, TextTeacher};

#[test]
fn the_rust_transformer_teacher_matches_onnxruntime() {
    let Some(dir) = std::env::var_os("DISTILLERY_TEXT_TEACHER").map(PathBuf::from) else {
        assert!(
            std::env::var_os("DISTILLERY_REQUIRE_TEXT_TEACHER").is_none(),
            "DISTILLERY_REQUIRE_TEXT_TEACHER is set but DISTILLERY_TEXT_TEACHER is not"
        );
        eprintln!("SKIPPED: set DISTILLERY_TEXT_TEACHER to a folder from tools/text_teacher.py");
        return;
    };
    let fixture: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fixture.json")).unwrap()).unwrap();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let classes: Vec<String> = serde_json::from_value(fixture["classes"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["probabilities"].clone()).unwrap();
    let n = texts.len() as u32;
    let table = Table::from_columns(
        "fixture".into(),
        vec!["text".into()],
        vec![Column::Text {
            levels: texts,
            codes: (0..n).collect(),
        }],
    )
    .unwrap();
    // The caller's class order reversed: the teacher must answer in it.
    let reversed: Vec<String> = classes.iter().rev().cloned().collect();
    let teacher = TextTeacher::load(
        &dir.join("teacher.onnx"),
        &dir.join("tokenizer.json"),
        "text",
        &reversed,
    )
    .unwrap();
    let rows: Vec<usize> = (0..n as usize).collect();
    let got = teacher.label(&table, &rows).unwrap();
    let k = classes.len();
    let mut worst = 0f32;
    for (r, want) in expected.iter().enumerate() {
        for (c, &w) in want.iter().enumerate() {
            let g = got[r * k + (k - 1 - c)];
            worst = worst.max((g - w).abs());
        }
    }
    eprintln!("largest difference from onnxruntime over {n} texts: {worst:e}");
    assert!(worst < 1e-4, "largest difference {worst}");
    // One text alone gives what it gives in a batch (padding changes nothing).
    let alone = teacher.label(&table, &[3]).unwrap();
    for c in 0..k {
        assert!((alone[c] - got[3 * k + c]).abs() < 1e-4);
    }
}

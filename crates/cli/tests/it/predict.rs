//! `distillery predict` with a student from a real run.

use crate::util::{data, setup, stderr};

#[test]
fn predict_scores_every_row_with_probabilities_and_a_class() {
    let s = setup();
    let model = s.trained_student();
    let input = data("adult_sample.csv");
    let out = s.cmd(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        "scored.csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(s.path("scored.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    assert!(header.iter().any(|h| h == "prob_>50K") && header.iter().any(|h| h == "prediction"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1200);
    let (p0, p1) = (header.len() - 3, header.len() - 2);
    let target = header.iter().position(|h| h == "income-per-year").unwrap();
    let mut right = 0;
    for r in &rows {
        let a: f64 = r[p0].parse().unwrap();
        let b: f64 = r[p1].parse().unwrap();
        assert!((a + b - 1.0).abs() < 1e-5);
        right += usize::from(r[header.len() - 1] == r[target]);
    }
    assert!(right as f64 / rows.len() as f64 > 0.75);
}

#[test]
fn predict_names_a_missing_feature_column() {
    let s = setup();
    let model = s.trained_student();
    let input = s.write("few.csv", "age,sex\n30,Male\n");
    let out = s.cmd(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        "o.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'workclass'"), "{}", stderr(&out));
}

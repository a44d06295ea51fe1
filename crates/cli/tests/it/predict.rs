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

#[test]
fn predict_streams_parquet_and_csv_alike_and_copies_the_chosen_columns() {
    // Issue #15: predict streams (CSV or Parquet in, CSV or Parquet out) and --columns
    // chooses what is copied from the input. The same rows give the same probabilities
    // whatever the formats.
    let s = setup();
    let model = s.trained_student();
    let model = model.to_str().unwrap();
    let score = |input: &str, output: &str, columns: Option<&str>| {
        let mut args = vec![
            "predict", "--model", model, "--input", input, "--output", output,
        ];
        if let Some(c) = columns {
            args.extend(["--columns", c]);
        }
        let out = s.cmd(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    let csv_in = data("adult_sample.csv");
    let parquet_in = data("adult_sample.parquet");
    score(csv_in.to_str().unwrap(), "a.csv", Some("none"));
    score(parquet_in.to_str().unwrap(), "b.parquet", Some("age,sex"));
    let read = |name: &str| read_scored(&s.path(name));
    let (a_names, a) = read("a.csv");
    let (b_names, b) = read("b.parquet");
    assert_eq!(a_names, ["prob_<=50K", "prob_>50K", "prediction"]);
    assert_eq!(
        b_names,
        ["age", "sex", "prob_<=50K", "prob_>50K", "prediction"]
    );
    assert_eq!(a.len(), 1200);
    assert_eq!(b.len(), 1200);
    for (x, y) in a.iter().zip(&b) {
        let p: f64 = x[0].parse().unwrap();
        let q: f64 = y[2].parse().unwrap();
        assert!((p - q).abs() < 2e-6, "{p} vs {q}");
        assert_eq!(x[2], y[4]);
    }
    let bad = s.cmd(&[
        "predict",
        "--model",
        model,
        "--input",
        csv_in.to_str().unwrap(),
        "--output",
        "c.csv",
        "--columns",
        "agee",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("did you mean 'age'"),
        "{}",
        stderr(&bad)
    );
    // Text in a numeric feature names the line, and leaves no output behind.
    let text = std::fs::read_to_string(&csv_in).unwrap();
    let broken = text.replacen("\n3", "\nthirty-", 1);
    let broken_path = s.write("broken.csv", &broken);
    let out = s.cmd(&[
        "predict",
        "--model",
        model,
        "--input",
        broken_path.to_str().unwrap(),
        "--output",
        "d.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line "), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a number"), "{}", stderr(&out));
    assert!(!s.path("d.csv").exists());
    let leftovers = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count();
    assert_eq!(leftovers, 0, "no temporary file left");
}

/// Every row of a scored file (CSV or Parquet) as text, with the header.
fn read_scored(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = distillery_data::stream::RowReader::open(path).unwrap();
    let names = reader.names().to_vec();
    let mut rows = distillery_data::stream::Rows::default();
    let mut all = Vec::new();
    while reader.next_chunk(500, &mut rows).unwrap() > 0 {
        for r in 0..rows.len() {
            all.push(
                (0..names.len())
                    .map(|c| rows.cell(r, c).unwrap_or("").to_string())
                    .collect(),
            );
        }
    }
    (names, all)
}

#[test]
fn predict_scores_with_the_int8_student_too() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &crate::util::adult_recipe(
            &data("adult_sample.csv"),
            &crate::util::onnx_line(),
            "\n[quantize]\nint8 = true\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--no-register"]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    let run = s.runs()[0].clone();
    let input = data("adult_sample.csv");
    for (model, output) in [
        ("student.safetensors", "fp32.csv"),
        ("student.int8.safetensors", "int8.csv"),
    ] {
        let out = s.cmd(&[
            "predict",
            "--model",
            run.join(model).to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output,
            "--columns",
            "none",
        ]);
        assert_eq!(out.status.code(), Some(0), "{model}: {}", stderr(&out));
    }
    let (_, fp32) = read_scored(&s.path("fp32.csv"));
    let (_, int8) = read_scored(&s.path("int8.csv"));
    assert_eq!(fp32.len(), int8.len());
    let agree = fp32.iter().zip(&int8).filter(|(a, b)| a[2] == b[2]).count();
    assert!(
        agree * 100 >= fp32.len() * 95,
        "the int8 student agrees on {agree} of {}",
        fp32.len()
    );
}

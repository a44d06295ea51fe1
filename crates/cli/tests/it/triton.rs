//! Issue #7 acceptance: NVIDIA's Triton HTTP client (`tritonclient[http]`, Python) speaks
//! to `distillery serve` unchanged — health, metadata, readiness and inference with its
//! default binary tensors — and its probabilities match `distillery predict`.
//!
//! `.ci/run` installs the client and sets `DISTILLERY_REQUIRE_TRITON=1`, so CI cannot skip
//! this test; elsewhere it skips, saying so, when the client is missing.

use std::process::Command;

use crate::serve::serve_with;
use crate::util::{data, python, python_has, repo, setup, stderr};

#[test]
fn the_triton_http_client_gets_what_distillery_predict_gets() {
    if !python_has("tritonclient.http, numpy") {
        return;
    }
    let s = setup();
    let student = s.trained_student();
    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    // 40 complete rows (the client cannot send a missing BYTES cell).
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let mut rows = vec![lines.next().unwrap().to_string()];
    rows.extend(
        lines
            .filter(|l| !l.contains('?'))
            .take(40)
            .map(String::from),
    );
    let rows_csv = s.write("rows.csv", &(rows.join("\n") + "\n"));

    let server = serve_with(s.dir.path(), &["--no-log"]);
    let address = server.base.trim_start_matches("http://").to_string();
    let out = Command::new(python())
        .arg(repo().join("tests/clients/triton_infer.py"))
        .args([address.as_str(), "r", rows_csv.to_str().unwrap(), "40"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["live", "ready", "model_ready"] {
        assert_eq!(got[key], true, "{key}: {got}");
    }
    assert_eq!(got["server"], "distillery");
    assert_eq!(got["inputs"], 14);
    assert_eq!(got["id"], "triton-1");

    let predicted = s.cmd(&[
        "predict",
        "--model",
        student.to_str().unwrap(),
        "--input",
        "rows.csv",
        "--output",
        "scored.csv",
    ]);
    assert_eq!(predicted.status.code(), Some(0), "{}", stderr(&predicted));
    let scored = std::fs::read_to_string(s.path("scored.csv")).unwrap();
    let mut scored = scored.lines();
    let header: Vec<&str> = scored.next().unwrap().split(',').collect();
    let p1 = header.iter().position(|h| *h == "prob_>50K").unwrap();
    let label = header.iter().position(|h| *h == "prediction").unwrap();
    let probabilities = got["probabilities"].as_array().unwrap();
    let labels = got["labels"].as_array().unwrap();
    assert_eq!(probabilities.len(), 40);
    for (i, line) in scored.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let want: f64 = cells[p1].parse().unwrap();
        let have = probabilities[i][1].as_f64().unwrap();
        // predict writes 6 decimals.
        assert!(
            (want - have).abs() <= 6e-7,
            "row {i}: predict {want}, triton {have}"
        );
        assert_eq!(labels[i], cells[label], "row {i}");
    }
}

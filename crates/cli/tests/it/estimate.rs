//! Issue #8: `distillery estimate`, accuracy without labels (CBPE) on a file or the
//! prediction log, and non-finite answers set aside (issue #15).

use crate::traffic::log_traffic;
use crate::util::{Setup, data, json, setup, stderr};

#[test]
fn estimate_tracks_realized_accuracy_without_labels() {
    let s = setup();
    s.trained_student();
    let run = s.runs()[0].clone();
    let out = s.cmd(&[
        "estimate",
        "--reference",
        run.to_str().unwrap(),
        "--current",
        data("adult_sample.csv").to_str().unwrap(),
        "--chunk-size",
        "100",
        "--target",
        "income-per-year",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["f1"], "class >50K");
    let chunks = r["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 12, "1,200 rows in chunks of 100");
    let (mut estimated, mut realized) = (0.0, 0.0);
    for c in chunks {
        estimated += c["accuracy"].as_f64().unwrap();
        realized += c["realized"][0].as_f64().unwrap();
        let band = c["accuracy_band"].as_array().unwrap();
        assert!(band[0].as_f64().unwrap() < c["accuracy"].as_f64().unwrap());
    }
    // Averaged over the file, the label-free estimate is close to the truth.
    assert!(
        (estimated - realized).abs() / 12.0 < 0.03,
        "estimated {estimated} vs realized {realized}"
    );

    // From the prediction log: the answers the server gave.
    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    log_traffic(&s, "log", 0..600, 0.0);
    let on_log = |reference: &str, chunk_size: &str| estimate_on_log(&s, reference, chunk_size);
    let run = run.to_str().unwrap();
    let logged = on_log(run, "100");
    assert_eq!(logged.status.code(), Some(0), "{}", stderr(&logged));
    let chunks = json(&logged)["chunks"].as_array().unwrap().clone();
    assert_eq!(chunks.len(), 6);
    assert!(
        chunks.iter().all(|c| c["realized"].is_null()),
        "no labels in the log"
    );

    let by_version = on_log("r/1", "100");
    assert_eq!(by_version.status.code(), Some(0), "{}", stderr(&by_version));
    assert_eq!(
        json(&by_version)["chunks"],
        serde_json::Value::Array(chunks)
    );

    for (chunk_size, needle) in [
        ("1000", "at least two reference chunks"),
        ("0", "the chunk size must be at least 1 row"),
    ] {
        let bad = on_log(run, chunk_size);
        assert_eq!(bad.status.code(), Some(2));
        assert!(stderr(&bad).contains(needle), "{}", stderr(&bad));
    }
}

/// `distillery estimate --json` of the prediction log in `log/` against `reference`.
fn estimate_on_log(s: &Setup, reference: &str, chunk_size: &str) -> std::process::Output {
    s.cmd(&[
        "estimate",
        "--reference",
        reference,
        "--current",
        "log",
        "--chunk-size",
        chunk_size,
        "--json",
    ])
}

#[test]
fn one_anonymous_request_blinds_the_monitors() {
    // Issue #15: a record whose answer was NaN (written as null, by a server that let
    // 1e300 through) is set aside and counted; estimate and drift go on with the other
    // rows and say what they left out, instead of panicking or scoring NaN as no drift.
    let s = setup();
    s.trained_student();
    let run = s.runs()[0].clone();
    let run = run.to_str().unwrap();
    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    log_traffic(&s, "log", 0..600, 0.0);
    let on_log = |reference: &str, chunk_size: &str| estimate_on_log(&s, reference, chunk_size);
    let first = std::fs::read_dir(s.path("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".jsonl"))
        .unwrap();
    let line = std::fs::read_to_string(&first)
        .unwrap()
        .lines()
        .find(|l| l.contains("\"status\":200"))
        .unwrap()
        .to_string();
    let mut record: serde_json::Value = serde_json::from_str(&line).unwrap();
    let rows = record["rows"].as_u64().unwrap() as usize;
    for o in record["outputs"].as_array_mut().unwrap() {
        if o["name"] == "probabilities" {
            o["data"] = serde_json::json!(vec![serde_json::Value::Null; rows * 2]);
        }
    }
    // And an age that is not a finite number, as an older server logged it.
    for i in record["inputs"].as_array_mut().unwrap() {
        if i["name"] == "age" {
            i["data"][0] = serde_json::json!("inf");
        }
    }
    std::fs::write(
        s.path("log/predictions-99999999.jsonl"),
        format!("{record}\n"),
    )
    .unwrap();
    let blinded = on_log(run, "100");
    assert_eq!(blinded.status.code(), Some(0), "{}", stderr(&blinded));
    let blinded = json(&blinded);
    assert_eq!(blinded["non_finite"]["probability_rows"], rows);
    assert!(
        blinded["warnings"][0]
            .as_str()
            .unwrap()
            .contains("set aside non-finite values"),
        "{blinded}"
    );
    assert_eq!(blinded["chunks"].as_array().unwrap().len(), 6);
    let drift = s.cmd(&["drift", "--reference", run, "--current", "log", "--json"]);
    assert_eq!(drift.status.code(), Some(0), "{}", stderr(&drift));
    let drift = json(&drift);
    assert!(
        drift["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("set aside non-finite values")),
        "{drift}"
    );
    let detect = s.cmd(&["detect", "--data", "log", "--column", "age", "--json"]);
    assert_eq!(detect.status.code(), Some(0), "{}", stderr(&detect));
    assert_eq!(
        json(&detect)["non_finite"]["inputs"],
        1,
        "the infinite age is counted"
    );
    assert!(
        drift["prediction"][1]["statistic"].as_f64().is_some(),
        "the probabilities are still scored, without the NaN rows: {drift}"
    );
}

//! Issue #8: `distillery drift` on real data files and on the server's prediction log,
//! against the reference profile a run records.

use crate::serve::{post, serve_with};
use crate::traffic::log_traffic;
use crate::util::{Setup, data, json, setup, stderr};

/// Rows of the car-loan sample whose `period` (and id range) match, as a CSV file.
fn car_loan_subset(s: &Setup, name: &str, keep: impl Fn(&str, i64) -> bool) -> String {
    let text = std::fs::read_to_string(data("drift/car_loan_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut out = format!("{header}\n");
    for line in lines {
        let id: i64 = line.split(',').next().unwrap().parse().unwrap();
        let period = line.rsplit(',').next().unwrap();
        if keep(period, id) {
            out.push_str(line);
            out.push('\n');
        }
    }
    s.write(name, &out).to_str().unwrap().to_string()
}

const NOT_FEATURES: &str = "id,repaid,timestamp,y_pred_proba,y_pred,period";

#[test]
fn car_loan_drift_is_flagged_in_the_drifted_period_only() {
    let s = setup();
    let reference = car_loan_subset(&s, "ref.csv", |p, _| p == "reference");
    let late = car_loan_subset(&s, "late.csv", |p, id| p == "analysis" && id >= 75_000);
    let early = car_loan_subset(&s, "early.csv", |p, id| p == "analysis" && id < 70_000);
    let html = s.path("drift.html");
    let drifted = s.cmd(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &late,
        "--ignore",
        NOT_FEATURES,
        "--json",
        "--fail-on-drift",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        drifted.status.code(),
        Some(1),
        "a drifted dataset fails the gate: {}",
        stderr(&drifted)
    );
    let r = json(&drifted);
    assert_eq!(r["dataset_drift"], true);
    assert_eq!(r["columns_compared"], 7);
    let column = crate::util::drift_column;
    // 1,200 reference rows: distances, as Evidently picks them.
    let car_value = column(&r, "car_value");
    assert_eq!(car_value["test"], "wasserstein");
    assert_eq!(car_value["drifted"], true);
    assert!(car_value["score"].as_f64().unwrap() > 0.5, "{car_value}");
    assert_eq!(column(&r, "salary_range")["test"], "jensenshannon");
    assert_eq!(column(&r, "debt_to_income_ratio")["drifted"], false);
    assert!(car_value["psi"].as_f64().unwrap() > 0.25);

    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("<svg").count(),
        7,
        "one distribution plot per column"
    );
    assert!(page.contains("dataset drift") && page.contains("id=\"col-car-value\""));

    let stable = s.cmd(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &early,
        "--ignore",
        NOT_FEATURES,
        "--json",
        "--fail-on-drift",
    ]);
    assert_eq!(stable.status.code(), Some(0), "{}", stderr(&stable));
    let r = json(&stable);
    assert_eq!(r["dataset_drift"], false);
    assert_eq!(column(&r, "car_value")["drifted"], false);
    assert!(r.get("warnings").is_none(), "{r}");

    // A handful of current rows: the verdict comes with a warning.
    let few = car_loan_subset(&s, "few.csv", |p, id| p == "analysis" && id < 50_600);
    let out = s.cmd(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &few,
        "--ignore",
        NOT_FEATURES,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("current rows: drift tests have little power"),
        "{text}"
    );

    // The joint distribution: MMD and the domain classifier agree with the columns.
    for (current, expected) in [(&late, true), (&early, false)] {
        let out = s.cmd(&[
            "drift",
            "--reference",
            &reference,
            "--current",
            current,
            "--ignore",
            NOT_FEATURES,
            "--json",
            "--multivariate",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let m = json(&out)["multivariate"].clone();
        assert_eq!(m["drifted"], expected, "{m}");
        assert_eq!(m["reference_rows"], 1000, "subsampled to 1,000 rows");
        let auc = m["classifier_auc"].as_f64().unwrap();
        assert!(if expected { auc > 0.7 } else { auc < 0.6 }, "{m}");
    }

    // Overrides: a forced test and a threshold, shown as such.
    let forced = s.cmd(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &early,
        "--ignore",
        NOT_FEATURES,
        "--json",
        "--test",
        "car_value=ks",
        "--threshold",
        "ks=0.01",
    ]);
    let c = column(&json(&forced), "car_value");
    assert_eq!(
        (
            c["test"].as_str(),
            c["chosen_by"].as_str(),
            c["threshold"].as_f64()
        ),
        (Some("ks"), Some("override"), Some(0.01))
    );
    assert!(c["p_value"].as_f64().unwrap() > 0.01);
}

#[test]
fn bad_drift_requests_say_what_is_wrong() {
    let s = setup();
    let reference = car_loan_subset(&s, "ref.csv", |p, _| p == "reference");
    for (args, needle) in [
        (vec!["--current", "nowhere.csv"], "nowhere.csv"),
        (
            vec![
                "--current",
                reference.as_str(),
                "--test",
                "car_value=t-test",
            ],
            "unknown drift test `t-test`",
        ),
        (
            vec!["--current", reference.as_str(), "--test", "nope=psi"],
            "`nope`",
        ),
        (
            vec!["--current", reference.as_str(), "--threshold", "ks=-1"],
            "non-negative",
        ),
        (
            vec!["--current", reference.as_str(), "--drift-share", "0"],
            "--drift-share",
        ),
        (
            vec!["--current", reference.as_str(), "--test", "salary_range=ks"],
            "does not apply",
        ),
    ] {
        let mut full = vec!["drift", "--reference", reference.as_str()];
        full.extend(args);
        let out = s.cmd(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}");
        assert!(stderr(&out).contains(needle), "{full:?}: {}", stderr(&out));
    }
    let out = s.cmd(&["drift", "--reference", "nowhere", "--current", &reference]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--reference nowhere does not exist; give a run directory"),
        "{}",
        stderr(&out)
    );
    let missing = s.write("missing.csv", "car_value\n1\n");
    let out = s.cmd(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        missing.to_str().unwrap(),
        "--ignore",
        NOT_FEATURES,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("lacks the reference column(s)")
            && stderr(&out).contains("salary_range"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_run_records_a_profile_and_drift_reads_the_prediction_log() {
    let s = setup();
    s.trained_student();
    let run = s.runs()[0].clone();
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("profile.json")).unwrap()).unwrap();
    assert_eq!(profile["schema_version"], 1);
    assert_eq!(
        profile["columns"].as_array().unwrap().len(),
        14,
        "every feature of the recipe"
    );
    assert_eq!(
        profile["prediction"]["classes"].as_array().unwrap().len(),
        2
    );
    assert!(
        profile["student"].as_str().unwrap().len() == 64,
        "tied to the student's hash"
    );
    let shown = s.cmd(&["registry", "show", "r/1", "--json"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("profile.json"),
        "registered with the version"
    );

    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    log_traffic(&s, "log-stable", 0..400, 0.0);
    log_traffic(&s, "log-older", 400..800, 25.0);
    let drift = |log: &str| {
        let out = s.cmd(&[
            "drift",
            "--reference",
            run.to_str().unwrap(),
            "--current",
            log,
            "--model",
            "r",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)
    };
    let age_of = |r: &serde_json::Value| {
        r["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == "age")
            .unwrap()
            .clone()
    };
    let stable = drift("log-stable");
    assert_eq!(stable["current_rows"], 400);
    assert_eq!(age_of(&stable)["drifted"], false, "{}", age_of(&stable));
    assert_eq!(stable["dataset_drift"], false);
    let older = drift("log-older");
    // The registered version's stored profile gives the same report.
    let by_alias = s.cmd(&[
        "drift",
        "--reference",
        "r@production",
        "--current",
        "log-older",
        "--model",
        "r",
        "--json",
    ]);
    assert_eq!(by_alias.status.code(), Some(0), "{}", stderr(&by_alias));
    assert_eq!(json(&by_alias)["columns"], older["columns"]);
    let age = age_of(&older);
    assert_eq!(age["drifted"], true, "{age}");
    assert_eq!(
        age["reference_exact"], true,
        "age has few distinct values: kept exactly"
    );
    // The student's answers are compared too: older people earn more, so it predicts
    // >50K more often than on the reference.
    let prediction = older["prediction"].as_array().unwrap();
    assert_eq!(
        prediction.len(),
        3,
        "the predicted class and both probabilities"
    );
    assert_eq!(prediction[0]["column"], "prediction");
    assert_eq!(
        prediction[1]["reference_rows"], 300,
        "the reference predictions are the held-out rows'"
    );
    assert_eq!(prediction[1]["current_rows"], 400);
}

#[test]
fn requests_sent_as_one_matrix_are_read_column_by_column() {
    let s = setup();
    s.promoted_student();
    // 120 rows as one [n, 14] tensor in schema order; age (the first feature) is 20 + i.
    let rows = 120;
    let data: Vec<f64> = (0..rows)
        .flat_map(|i| (0..14).map(move |f| if f == 0 { 20.0 + i as f64 } else { 0.0 }))
        .collect();
    let body = serde_json::json!({"inputs": [
        {"name": "x", "datatype": "FP64", "shape": [rows, 14], "data": data}
    ]});
    let server = serve_with(s.dir.path(), &["--log-dir", "log"]);
    let (status, r) = post(
        &format!("{}/v2/models/r/infer", server.base),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{r}");
    server.stop();

    let run = s.runs()[0].clone();
    let drift = s.cmd(&[
        "drift",
        "--reference",
        run.to_str().unwrap(),
        "--current",
        "log",
        "--json",
    ]);
    assert_eq!(drift.status.code(), Some(0), "{}", stderr(&drift));
    let age = json(&drift)["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "age")
        .unwrap()
        .clone();
    assert_eq!(age["current_rows"], rows, "{age}");
    assert_eq!(age["current_missing_share"], 0.0, "{age}");

    let detect = |extra: &[&str]| {
        let mut args = vec!["detect", "--data", "log", "--column", "age", "--json"];
        args.extend(extra);
        s.cmd(&args)
    };
    let read = detect(&["--reference", "r/1"]);
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
    assert_eq!(json(&read)["values"], rows);
    let blind = detect(&[]);
    assert_eq!(blind.status.code(), Some(2));
    assert!(
        stderr(&blind).contains("holds no numbers"),
        "{}",
        stderr(&blind)
    );
}

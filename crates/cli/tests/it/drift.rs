//! Issue #8: `distillery drift` on real data files and on the server's prediction log,
//! against the reference profile a run records.

use crate::serve::{post, serve_with};
use crate::util::{Setup, data, eventually, json, setup, stderr};

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

/// Serves the production student with its prediction log in `log`, sends the Adult
/// sample's rows `rows` in batches of 100 (ages moved by `older` years), and stops the
/// server so every record is on disk.
fn log_traffic(s: &Setup, log: &str, rows: std::ops::Range<usize>, older: f64) {
    let server = serve_with(s.dir.path(), &["--log-dir", log]);
    for from in rows.step_by(100) {
        let (status, r) = post(
            &format!("{}/v2/models/r/infer", server.base),
            &adult_batch(from, 100, older),
        );
        assert_eq!(status, 200, "{r}");
    }
    server.stop();
}

/// Serves with `serve.toml` set to `config`, where `TEACHER` stands for the demo teacher's
/// path, and the admin token `s3cret` (for the rollback and redistill actions).
pub(crate) fn serve_watched(s: &Setup, config: &str, extra: &[&str]) -> crate::serve::Server {
    let teacher = format!("{:?}", crate::util::demo_teacher().display().to_string());
    s.write("serve.toml", &config.replace("TEACHER", &teacher));
    let mut args = vec!["--config", "serve.toml"];
    args.extend(extra);
    crate::serve::serve_env(s.dir.path(), &args, &[("DISTILLERY_ADMIN_TOKEN", "s3cret")])
}

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
    let column = |r: &serde_json::Value, name: &str| {
        r["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .unwrap()
            .clone()
    };
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

/// A request of `n` Adult-sample rows starting at `from`, with `age` moved by `age_shift`.
pub(crate) fn adult_batch(from: usize, n: usize, age_shift: f64) -> String {
    adult_batch_moved(from, n, "age", age_shift)
}

/// A request of `n` Adult-sample rows starting at `from`, with `column` moved by `shift`.
fn adult_batch_moved(from: usize, n: usize, column: &str, shift: f64) -> String {
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .skip(from)
        .take(n)
        .map(|l| l.split(',').collect())
        .collect();
    let inputs: Vec<serde_json::Value> = header[..14]
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let numeric = rows.iter().all(|r| r[j].parse::<f64>().is_ok());
            let cells: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| match (numeric, r[j].parse::<f64>()) {
                    (true, Ok(x)) if *name == column => serde_json::json!(x + shift),
                    (true, Ok(x)) => serde_json::json!(x),
                    _ if r[j] == "?" => serde_json::Value::Null,
                    _ => serde_json::json!(r[j]),
                })
                .collect();
            let datatype = if numeric { "FP64" } else { "BYTES" };
            serde_json::json!({"name": name, "shape": [rows.len()], "datatype": datatype, "data": cells})
        })
        .collect();
    serde_json::json!({ "inputs": inputs }).to_string()
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
fn detect_finds_a_shift_in_a_stream_and_refuses_what_it_cannot_watch() {
    let s = setup();
    // 3,000 uniform values (a 64-bit LCG), the mean moving up by 0.5 at row 1,500.
    let mut state: u64 = 9;
    let mut csv = String::from("t,x,err\n");
    for i in 0..3000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let x = u + if i >= 1500 { 0.5 } else { 0.0 };
        let err = u8::from(u < if i >= 1500 { 0.4 } else { 0.1 });
        csv.push_str(&format!("{i},{x},{err}\n"));
    }
    let data = s.write("stream.csv", &csv);
    let out = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "x",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["values"], 3000);
    let hits = |name: &str| -> Vec<u64> {
        r["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["detector"] == name)
            .unwrap()["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    let adwin = hits("adwin");
    assert_eq!(adwin.len(), 1, "{adwin:?}");
    assert!(
        (1500..1700).contains(&adwin[0]),
        "ADWIN fires soon after the shift: {adwin:?}"
    );
    assert!(
        hits("page-hinkley")
            .iter()
            .any(|&i| (1500..1800).contains(&i))
    );
    assert!(
        r["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["detector"] != "ddm"),
        "not a bit stream"
    );

    let scaled = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "x",
        "--standardize",
        "100",
        "--detector",
        "adwin",
        "--json",
    ]);
    assert_eq!(scaled.status.code(), Some(0), "{}", stderr(&scaled));
    let scaled_hits = json(&scaled)["detectors"][0]["detections"].clone();
    assert!(
        scaled_hits
            .as_array()
            .unwrap()
            .iter()
            .any(|i| (1500..1700).contains(&i.as_u64().unwrap())),
        "{scaled_hits}"
    );

    let errors = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "err",
        "--detector",
        "ddm",
        "--json",
    ]);
    let ddm: Vec<u64> = json(&errors)["detectors"][0]["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(
        ddm.iter().any(|&i| (1500..1700).contains(&i)),
        "DDM catches the error rate rising: {ddm:?}"
    );

    for (args, needle) in [
        (vec!["--column", "x", "--detector", "ddm"], "0 and 1"),
        (
            vec!["--column", "x", "--detector", "cusum"],
            "unknown detector `cusum`",
        ),
        (vec!["--column", "nope"], "nope"),
    ] {
        let mut full = vec!["detect", "--data", data.to_str().unwrap()];
        full.extend(args);
        let out = s.cmd(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}");
        assert!(stderr(&out).contains(needle), "{full:?}: {}", stderr(&out));
    }
}

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
    assert!(
        drift["prediction"][1]["statistic"].as_f64().is_some(),
        "the probabilities are still scored, without the NaN rows: {drift}"
    );
}

#[test]
fn a_fidelity_alert_redistils_registers_and_deploys_a_better_canary() {
    let s = setup();
    s.promoted_student();
    let server = serve_watched(
        &s,
        "[log]\ndir = \"log\"\n\n[monitor]\nwindow = 200\nteacher = TEACHER\nteacher_fraction = 1.0\nmin_fidelity = 0.85\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"log\"\n\n[[monitor.actions]]\nkind = \"redistill\"\nrecipe = \"r.toml\"\ncanary_weight = 20\nrows = 1000\n",
        &[],
    );
    let b = server.base.clone();
    let monitor = || {
        let (status, text) = crate::serve::get(&format!("{b}/monitor"));
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"]["r/1"].clone()
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| eventually(what, || done().then_some(()));
    // Ordinary traffic: two windows in which student and teacher agree; no alert.
    for from in (0..400).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    wait_for("two windows", &|| monitor()["windows"] == 2);
    let calm = monitor();
    assert!(calm["alerts"].as_array().unwrap().is_empty(), "{calm}");
    let fidelity = calm["history"][1]["fidelity"].as_f64().unwrap();
    assert!(fidelity >= 0.85, "ordinary traffic: fidelity {fidelity}");

    // Capital gains jump by 5,000: the student extrapolates where the teacher's trees do not.
    for from in (400..1000).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch_moved(from, 100, "capital-gain", 5000.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    wait_for("an alert", &|| {
        !monitor()["alerts"].as_array().unwrap().is_empty()
    });
    let alert = monitor()["alerts"][0].clone();
    assert!(
        alert["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("fidelity"),
        "{alert}"
    );
    assert!(
        alert["summary"]["drifted_columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "capital-gain"),
        "{alert}"
    );

    // The alert launched `distillery redistill`, which reports when it is done.
    let window = alert["window"].as_u64().unwrap();
    let report_path = s.path(&format!("log/redistill-window-{window}.json"));
    wait_for("the re-distillation report", &|| {
        std::fs::read(&report_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some()
    });
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["new_version"], 2, "{report}");
    let (before, after) = (
        report["fidelity_before"].as_f64().unwrap(),
        report["fidelity_after"].as_f64().unwrap(),
    );
    assert!(
        after > before + 0.05,
        "held-out fidelity {before} → {after}"
    );
    assert!(
        report["deployed"].as_str().unwrap().contains("20% canary"),
        "{report}"
    );

    // The server now routes 20% to version 2, and the registry and its audit log say why.
    let (_, metrics) = crate::serve::get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_canary_weight{model=\"r\",version=\"2\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("distillery_monitor_alerts_total 1"),
        "{metrics}"
    );
    if let Some(families) = crate::serve::scrape(&b) {
        let r = |version: &str| serde_json::json!({"model": "r", "version": version});
        let weight = crate::serve::sample(&families, "distillery_canary_weight", r("2"));
        assert_eq!(weight, 20.0);
        let fidelity = crate::serve::sample(&families, "distillery_monitor_fidelity", r("1"));
        assert!((0.0..=1.0).contains(&fidelity), "{fidelity}");
        let alerts = &families["distillery_monitor_alerts"];
        assert_eq!(alerts["type"], "counter");
        assert_eq!(alerts["samples"][0]["value"], 1.0);
    }
    let audit = json(&s.cmd(&["registry", "audit", "--json"]));
    let whys: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["why"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        whys.iter()
            .any(|w| w.contains("monitoring alert on r/1 at window")
                && w.contains("re-distilled on")),
        "{whys:?}"
    );

    // The canary is watched on its own, against its own profile from the registry.
    for from in (0..200).step_by(10) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 10, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    let all = || {
        let (_, text) = crate::serve::get(&format!("{b}/monitor"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"].clone()
    };
    wait_for("the canary's monitor", &|| {
        all()["r/2"]["rows"].as_u64().is_some_and(|n| n > 0)
    });
    assert_eq!(all()["r/2"]["version"], 2);

    // The same state as a page for people.
    let (status, page) = crate::serve::get(&format!("{b}/monitor/page"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<h2 id=\"v-r-1\">r/1</h2>") && page.contains("<h2 id=\"v-r-2\">r/2</h2>"),
        "{page}"
    );
    assert!(
        page.matches("<polyline").count() >= 2,
        "fidelity and drift lines"
    );
    assert!(
        page.contains("<h3>Alerts</h3>") && page.contains("fidelity 0."),
        "{page}"
    );
    drop(server);
}

#[test]
fn bad_monitor_settings_are_refused_before_serving() {
    let s = setup();
    s.promoted_student();
    for (body, needle) in [
        ("[monitor]\nwindow = 5\n", "too small"),
        ("[monitor]\nmin_fidelity = 0.9\n", "needs a teacher"),
        ("[monitor]\nteacher_fraction = 2\n", "between 0 and 1"),
        ("[monitor]\nsample = 0\n", "sample 0 must be a share"),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"page\"\n",
            "kind 'page' is unknown",
        ),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"redistill\"\nrecipe = \"missing.toml\"\n",
            "does not exist",
        ),
        ("[monitor]\nteacher = \"nope.onnx\"\n", "nope.onnx"),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"command\"\nrun = [\"page-oncall-typo\"]\n",
            "program \"page-oncall-typo\" is not an executable file and is not on PATH",
        ),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"webhook\"\nurl = \"alerts.internal/hook\"\n",
            "must start with http:// or https://",
        ),
    ] {
        s.write("bad.toml", body);
        let out = s.cmd(&["serve", "--port", "0", "--config", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        assert!(stderr(&out).contains(needle), "{body}: {}", stderr(&out));
    }
}

#[test]
fn fidelity_can_come_from_a_remote_teacher_over_the_open_inference_protocol() {
    let s = setup();
    s.promoted_student();
    // Another server plays the teacher: the same student, so agreement must be perfect.
    let teacher = serve_with(s.dir.path(), &["--no-log"]);
    s.write(
        "serve.toml",
        &format!(
            "[log]\ndir = \"log\"\n\n[monitor]\nsample = 0.5\nwindow = 100\nteacher_url = \"{}/v2/models/r\"\nteacher_fraction = 0.5\n",
            teacher.base
        ),
    );
    let server = serve_with(s.dir.path(), &["--config", "serve.toml"]);
    let send = |rows: std::ops::Range<usize>| {
        for from in rows.step_by(100) {
            let (status, r) = post(
                &format!("{}/v2/models/r/infer", server.base),
                &adult_batch(from, 100, 0.0),
            );
            assert_eq!(status, 200, "{r}");
        }
    };
    let after_windows = |n: u64| {
        eventually("the monitor's windows", || {
            let (_, text) = crate::serve::get(&format!("{}/monitor", server.base));
            let state =
                serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"]["r/1"].clone();
            (state["windows"] == n).then_some(state)
        })
    };
    // Half the requests are sampled: four requests of 100 rows make two windows.
    send(0..400);
    let state = after_windows(2);
    assert_eq!(
        state["rows"], 200,
        "half of the 400 rows were handed to the monitor"
    );
    for w in state["history"].as_array().unwrap() {
        assert_eq!(w["fidelity"], 1.0, "{w}");
        let seen = w["teacher_rows"].as_u64().unwrap();
        assert!(
            (30..=70).contains(&seen),
            "about half the rows go to the teacher: {seen}"
        );
        assert!(w.get("teacher_error").is_none(), "{w}");
    }
    let (_, metrics) = crate::serve::get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_monitor_fidelity{model=\"r\",version=\"1\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("distillery_monitor_windows_total{model=\"r\",version=\"1\"} 2"),
        "{metrics}"
    );

    // The teacher goes away: windows go on, without fidelity, and the failures are counted.
    teacher.stop();
    send(400..600);
    let state = after_windows(3);
    assert_eq!(state["teacher_errors"], 1, "{state}");
    let last = &state["history"][2];
    assert!(last["fidelity"].is_null(), "{last}");
    assert!(
        last["teacher_error"]
            .as_str()
            .unwrap()
            .contains("teacher at"),
        "{last}"
    );
    let (_, metrics) = crate::serve::get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_monitor_teacher_errors_total{model=\"r\",version=\"1\"} 1"),
        "{metrics}"
    );
}

#[test]
fn alerts_reach_a_webhook_and_a_command() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = setup();
    s.promoted_student();
    // A one-shot HTTP endpoint that keeps the body it is sent.
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    let received = std::thread::spawn(move || {
        let (stream, _) = hook.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8(body).unwrap()
    });
    // A drift share of 0 is always reached: the first window fires.
    s.write(
        "serve.toml",
        &format!(
            "[log]\ndir = \"log\"\n\n[monitor]\nwindow = 100\nmax_drift_share = 0.0\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"webhook\"\nurl = \"{hook_url}\"\n\n[[monitor.actions]]\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"printf '%s' \\\"$DISTILLERY_ALERT\\\" > alert.json\"]\n"
        ),
    );
    let server = serve_with(s.dir.path(), &["--config", "serve.toml"]);
    let (status, r) = post(
        &format!("{}/v2/models/r/infer", server.base),
        &adult_batch(0, 100, 0.0),
    );
    assert_eq!(status, 200, "{r}");
    let body: serde_json::Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert_eq!(body["kind"], "distillery.monitor.alert");
    assert_eq!(body["alert"]["model"], "r");
    assert_eq!(body["alert"]["window"], 1);
    let written = s.path("alert.json");
    let by_command: serde_json::Value = eventually("the alert command's file", || {
        serde_json::from_slice(&std::fs::read(&written).ok()?).ok()
    });
    assert_eq!(by_command["alert"]["reasons"], body["alert"]["reasons"]);
}

#[test]
fn a_canary_that_disagrees_with_the_teacher_is_rolled_back_by_the_monitor() {
    let s = setup();
    crate::serve_deploy::three_versions(&s);
    let server = serve_watched(
        &s,
        "[canary]\nmodel = \"r/3\"\nweight = 50\n\n[monitor]\nwindow = 100\nteacher = TEACHER\nteacher_fraction = 1.0\nmin_fidelity = 0.85\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"rollback\"\n",
        &[],
    );
    let b = server.base.clone();
    // Requests without an id alternate between stable (r/1) and the bad canary (r/3).
    for from in (0..800).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    eventually("the canary's rollback", || {
        let (_, metrics) = crate::serve::get(&format!("{b}/metrics"));
        (!metrics.contains("distillery_canary_weight{model=\"r\"")).then_some(())
    });
    // The stable version's windows are published once the monitor has read them.
    let state: serde_json::Value = eventually("the stable version's first window", || {
        let (_, text) = crate::serve::get(&format!("{b}/monitor"));
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        state["models"]["r/1"]["windows"]
            .as_u64()
            .is_some_and(|w| w >= 1)
            .then_some(state)
    });
    assert!(
        !state["models"]["r/3"]["alerts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{state}"
    );
    assert!(
        state["models"]["r/1"]["alerts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the stable version agrees with the teacher: {state}"
    );
    let audit = json(&s.cmd(&["registry", "audit", "--json"]));
    let rollback = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "canary rollback")
        .unwrap_or_else(|| panic!("no rollback in {audit}"));
    assert!(
        rollback["why"]
            .as_str()
            .unwrap()
            .starts_with("monitoring alert on r/3"),
        "{rollback}"
    );
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

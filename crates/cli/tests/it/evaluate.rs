//! Issue #3: the evaluation evidence of `distillery run` and `distillery eval`: slices,
//! the weak-slice search, cross-validation, the ablation table, gates and the three
//! report files.

use crate::util::{adult_recipe, data, demo_teacher, json, onnx_line, setup, stderr};

const EVALUATE: &str = r#"
[evaluate]
slices = ["sex", "age:quantile(4)", "workclass × sex"]
cv_folds = 3
feature_groups = { demographics = ["age", "sex", "race"] }

[sweep]
hidden = [[4], [16]]

[gates]
min_fidelity = 0.5
max_ece = 0.5
max_bytes = 100000000
max_latency_us = 100000
"#;

#[test]
fn a_run_reports_slices_cross_validation_ablations_and_gates() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), EVALUATE),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["schema"], "distillery-report/1");
    let n = r["dataset"]["test_rows"].as_u64().unwrap();
    assert_eq!(n, 300);

    // Fidelity: the disagreement matrix covers every row, its diagonal is the agreement.
    let m: Vec<Vec<u64>> = serde_json::from_value(r["fidelity"]["disagreement"].clone()).unwrap();
    assert_eq!(m.iter().flatten().sum::<u64>(), n);
    let agree = (m[0][0] + m[1][1]) as f64 / n as f64;
    assert!((agree - r["student"]["fidelity"].as_f64().unwrap()).abs() < 1e-12);

    // Declared slices partition the test rows.
    let declared = r["slices"]["declared"].as_array().unwrap();
    assert_eq!(declared.len(), 3);
    for group in declared {
        let rows: u64 = group["slices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(rows, n, "{} covers every row once", group["feature"]);
    }
    assert_eq!(declared[0]["feature"], "sex");
    // Per-slice mean KL averages back to the overall mean KL.
    let kl: f64 = declared[0]["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mean_kl"].as_f64().unwrap() * s["rows"].as_f64().unwrap())
        .sum::<f64>()
        / n as f64;
    assert!((kl - r["fidelity"]["mean_kl"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(declared[1]["slices"].as_array().unwrap().len(), 4);
    let cross = declared[2]["slices"][0]["name"].as_str().unwrap();
    assert!(
        cross.starts_with("workclass = ") && cross.contains(" ∧ sex = "),
        "{cross}"
    );
    // The gap is the largest teacher-minus-student drop among slices with enough rows.
    let min_rows = r["slices"]["min_rows"].as_u64().unwrap();
    let gap = r["slices"]["gap"]["gap"].as_f64().unwrap();
    let single = r["slices"]["discovery"]["single"].as_array().unwrap();
    let max = declared
        .iter()
        .flat_map(|g| g["slices"].as_array().unwrap())
        .chain(single)
        .filter(|s| s["labelled"].as_u64().unwrap() >= min_rows)
        .map(|s| s["gap"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(gap, max);
    assert!(
        r["slices"]["discovery"]["tested_accuracy"]
            .as_u64()
            .unwrap()
            > 20
    );

    // Cross-validation: 3 folds over the 1,200 labelled rows, out-of-fold file kept.
    let cv = &r["cross_validation"];
    let folds = cv["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let held: u64 = folds.iter().map(|f| f["test_rows"].as_u64().unwrap()).sum();
    assert_eq!(held, 1200);
    let accs: Vec<f64> = folds
        .iter()
        .map(|f| f["student"]["accuracy"].as_f64().unwrap())
        .collect();
    let mean = accs.iter().sum::<f64>() / 3.0;
    assert!((cv["student"]["accuracy"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!(mean > 0.7, "{accs:?}");
    assert_eq!(
        cv["teacher_out_of_fold"], false,
        "an ONNX teacher saw every row"
    );
    let run = &s.runs()[0];
    let oof = std::fs::read_to_string(run.join("cv_probabilities.csv")).unwrap();
    assert_eq!(oof.lines().count(), 1201);
    assert!(oof.starts_with("row,fold,label,teacher_<=50K,teacher_>50K,student_<=50K"));
    // Confident learning on the students' out-of-fold probabilities.
    let issues = std::fs::read_to_string(run.join("label_issues.csv")).unwrap();
    assert!(issues.starts_with("row,label,likely_label,self_confidence"));
    let finding = r["checks"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "label_issues")
        .expect("a label_issues finding");
    assert_eq!(
        finding["count"].as_u64().unwrap() as usize,
        issues.lines().count() - 1
    );
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("student out-of-fold")
    );

    // Ablation: teacher, student, scratch, one sweep row ([16] is the recipe's own) and
    // one feature group; the pick is a passing sweep or recipe student on the size front.
    let a = &r["ablation"];
    let kinds: Vec<&str> = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["teacher", "student", "scratch", "sweep", "feature_group"]
    );
    let picked = &a["rows"][a["picked"].as_u64().unwrap() as usize];
    assert_eq!(picked["pareto_bytes"], true);
    assert_eq!(picked["meets_gates"], true);
    assert_eq!(a["rows"][3]["hidden"], serde_json::json!([4]));
    assert!(a["rows"][3]["bytes"].as_u64() < a["rows"][1]["bytes"].as_u64());

    let gates: Vec<&str> = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(
        gates,
        ["min_fidelity", "max_ece", "max_latency_us", "max_bytes"]
    );

    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    let acc = format!("{:.4}", r["student"]["accuracy"].as_f64().unwrap());
    assert!(html.contains(&format!("id=\"student-accuracy\">{acc}<")));
    for section in [
        "id=\"gates\"",
        "id=\"slices\"",
        "id=\"ablation\"",
        "id=\"cross-validation\"",
        "<svg",
    ] {
        assert!(html.contains(section), "{section} missing");
    }
    for remote in ["<script", "src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(remote), "self-contained: found {remote}");
    }
    let card = std::fs::read_to_string(run.join("model_card.md")).unwrap();
    for section in [
        "## Model details",
        "## Intended use",
        "## Factors",
        "## Metrics",
        "## Evaluation data",
        "## Training data",
        "## Quantitative analyses",
        "## Ethical considerations",
        "## Caveats and recommendations",
        "sex = Female",
        r["dataset"]["fingerprint"].as_str().unwrap(),
    ] {
        assert!(
            card.contains(section),
            "{section} missing from the model card"
        );
    }
}

#[test]
fn a_failed_slice_gap_gate_exits_1_names_the_slice_and_keeps_the_report() {
    let s = setup();
    let extra = "\n[evaluate]\nslices = [\"sex\"]\n\n[gates]\nmax_slice_gap = 0.0\n";
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), extra),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("gate max_slice_gap:"), "{stdout}");
    assert!(
        stdout.contains("FAILED ("),
        "the failing slice is named: {stdout}"
    );
    let html = std::fs::read_to_string(s.runs()[0].join("report.html")).unwrap();
    assert!(html.contains("GATE FAILED"));
}

#[test]
fn bad_evaluate_settings_exit_2_before_training() {
    let s = setup();
    for (extra, fragment) in [
        (
            "\n[evaluate]\nslices = [\"age:deciles\"]\n",
            "use column:quantile(4)",
        ),
        ("\n[evaluate]\nslices = [\"sexx\"]\n", "did you mean 'sex'?"),
        ("\n[evaluate]\ncv_folds = 1\n", "cv_folds = 1"),
        (
            "\n[evaluate]\nfeature_groups = { g = [\"agee\"] }\n",
            "did you mean 'age'?",
        ),
        ("\n[sweep]\ntemperature = [0]\n", "[sweep]"),
    ] {
        let recipe = s.write(
            "r.toml",
            &adult_recipe(&data("adult_sample.csv"), &onnx_line(), extra),
        );
        let out = s.cmd(&["run", recipe.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra}: {err}");
        assert!(
            err.contains(fragment),
            "{extra}: expected {fragment:?} in {err}"
        );
        assert!(s.runs().is_empty());
    }
}

#[test]
fn eval_writes_the_same_report_for_any_student_and_file() {
    let s = setup();
    let model = s.trained_student();
    let input = data("adult_sample.parquet");
    let eval = |target: &str, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            input.to_str().unwrap(),
            "--target",
            target,
        ];
        args.extend(extra);
        s.cmd(&args)
    };
    let teacher = demo_teacher();
    let out = eval(
        "income-per-year",
        &[
            "--teacher",
            teacher.to_str().unwrap(),
            "--slice",
            "race",
            "--json",
            "--out",
            "evals",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["kind"], "eval");
    assert_eq!(r["dataset"]["test_rows"], 1200);
    assert!(r["student"]["accuracy"].as_f64().unwrap() > 0.75);
    assert!(r["teacher"]["accuracy"].as_f64().unwrap() > 0.8);
    assert!(r["student"]["fidelity"].as_f64().unwrap() > 0.85);
    assert_eq!(r["slices"]["declared"][0]["feature"], "race");
    let dirs: Vec<_> = std::fs::read_dir(s.path("evals")).unwrap().collect();
    assert_eq!(dirs.len(), 1);
    let dir = dirs[0].as_ref().unwrap().path();
    for f in ["report.json", "report.html", "model_card.md"] {
        assert!(dir.join(f).exists(), "{f}");
    }

    // A slice on a column the file lacks, or a text slice on numbers: exit 2, in words that
    // fit a flag as well as a recipe.
    for (slice, fragment) in [
        ("rase", "slice column 'rase' is not in"),
        ("age:words", "slice column 'age' holds numbers"),
    ] {
        let out = eval("income-per-year", &["--slice", slice]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(fragment) && !err.contains("[evaluate]"),
            "{err}"
        );
    }

    // Without a teacher: no fidelity, no gap, and the slices still carry accuracy.
    let out = eval("income-per-year", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert!(r.get("teacher").is_none() && r.get("fidelity").is_none());
    assert!(r["slices"]["gap"].is_null());
    assert!(r["slices"]["discovery"]["single"][0]["student_accuracy"].is_number());

    let bad = eval("sex", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("not one of the student's classes"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn cross_validation_trains_an_in_house_teacher_per_fold() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            "train = { hidden = [16], epochs = 5 }",
            "\n[evaluate]\ncv_folds = 2\ndiscover = false\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let cv = &r["cross_validation"];
    assert_eq!(cv["teacher_out_of_fold"], true);
    assert_eq!(cv["folds"].as_array().unwrap().len(), 2);
    for f in cv["folds"].as_array().unwrap() {
        assert!(f["teacher"]["accuracy"].as_f64().unwrap() > 0.7, "{f}");
        assert!(f["student"]["fidelity"].as_f64().unwrap() > 0.7, "{f}");
    }
    assert!(
        r["slices"].get("discovery").is_none(),
        "discover = false skips the search"
    );
}

#[test]
fn a_multiclass_run_reports_every_class() {
    let s = setup();
    let recipe = adult_recipe(
        &data("adult_sample.csv"),
        "train = { hidden = [32], epochs = 8 }",
        "\n[evaluate]\nslices = [\"sex\"]\n",
    )
    .replace("target = \"income-per-year\"", "target = \"race\"");
    let path = s.write("r.toml", &recipe);
    let out = s.cmd(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let k = r["dataset"]["classes"].as_array().unwrap().len();
    assert_eq!(k, 5, "{}", r["dataset"]["classes"]);
    let n = r["dataset"]["test_rows"].as_u64().unwrap();
    for m in [
        &r["student"]["quality"]["confusion"],
        &r["fidelity"]["disagreement"],
    ] {
        let m: Vec<Vec<u64>> = serde_json::from_value(m.clone()).unwrap();
        assert_eq!((m.len(), m[0].len()), (k, k));
        assert_eq!(m.iter().flatten().sum::<u64>(), n);
    }
    let per_class = r["student"]["quality"]["classes"]["per_class"]
        .as_array()
        .unwrap();
    assert_eq!(per_class.len(), k);
    let html = std::fs::read_to_string(s.runs()[0].join("report.html")).unwrap();
    assert!(
        html.contains("Amer-Indian-Eskimo"),
        "every class is labelled"
    );
}

#[test]
fn the_int8_student_is_compared_with_fp32_slice_by_slice_and_gated() {
    let s = setup();
    let extra = "\n[evaluate]\nslices = [\"sex\", \"race\"]\n\n[quantize]\nint8 = true\n\n[gates]\nmax_int8_drop = 0.5\n";
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), extra),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let sl = &r["int8_slices"];
    let sex = &sl["declared"][0]["slices"];
    for slice in sex.as_array().unwrap() {
        // The reference of these slices is the fp32 student.
        let fp32 = slice["teacher_accuracy"].as_f64().unwrap();
        let int8 = slice["student_accuracy"].as_f64().unwrap();
        assert!((slice["gap"].as_f64().unwrap() - (fp32 - int8)).abs() < 1e-12);
    }
    let fp32_sex: Vec<f64> = r["slices"]["declared"][0]["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["student_accuracy"].as_f64().unwrap())
        .collect();
    let ref_sex: Vec<f64> = sex
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["teacher_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(
        fp32_sex, ref_sex,
        "the int8 slices' reference is the fp32 student"
    );
    let gate = &r["gates"][0];
    assert_eq!(gate["gate"], "max_int8_drop");
    let overall =
        r["student"]["accuracy"].as_f64().unwrap() - r["int8"]["accuracy"].as_f64().unwrap();
    let slice_drop = sl["gap"]["gap"].as_f64().unwrap_or(f64::NEG_INFINITY);
    assert_eq!(gate["value"].as_f64().unwrap(), overall.max(slice_drop));
    assert_eq!(gate["passed"], true);
    let html = std::fs::read_to_string(s.runs()[0].join("report.html")).unwrap();
    assert!(html.contains("id=\"int8\""), "the int8 section is rendered");
}

#[test]
fn value_levels_train_and_must_name_numeric_columns() {
    let s = setup();
    let default = adult_recipe(&data("adult_sample.csv"), &onnx_line(), "");
    let base = default.replace("hidden = [16]", "hidden = [16]\npoint_mass_levels = false");
    let with = |cols: &str| {
        base.replace(
            "hidden = [16]",
            &format!("hidden = [16]\nvalue_levels = [{cols}]"),
        )
    };
    let path = s.write("r.toml", &with("\"capital-gain\", \"capital-loss\""));
    let out = s.cmd(&["run", path.to_str().unwrap(), "--json", "--no-register"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plain = s.write("p.toml", &base);
    let p = s.cmd(&[
        "run",
        plain.to_str().unwrap(),
        "--json",
        "--no-register",
        "--out",
        "plain",
    ]);
    let (a, b) = (json(&out), json(&p));
    assert!(
        a["dataset"]["encoded_width"].as_u64() > b["dataset"]["encoded_width"].as_u64(),
        "the capital columns' frequent values got slots"
    );
    // Point-mass levels wait for 10,000 training rows: on the 1,200-row sample the default
    // encodes the capital columns as one number each, as point_mass_levels = false does.
    let auto = s.write("d.toml", &default);
    let d = s.cmd(&[
        "run",
        auto.to_str().unwrap(),
        "--json",
        "--no-register",
        "--out",
        "d",
    ]);
    assert_eq!(d.status.code(), Some(0), "{}", stderr(&d));
    assert_eq!(
        json(&d)["dataset"]["encoded_width"],
        b["dataset"]["encoded_width"],
        "too few rows for point-mass levels"
    );
    let bad = s.write("b.toml", &with("\"sex\""));
    let out = s.cmd(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'sex' is not a numeric feature"),
        "{}",
        stderr(&out)
    );
}

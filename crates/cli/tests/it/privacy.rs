//! Issue #16: `distillery privacy`, the DP-SGD accountant, against Opacus' numbers.

use crate::util::{json, repo, setup, stderr};

#[test]
fn privacy_epsilon_and_noise_print_opacus_numbers_and_refuse_bad_input() {
    let s = setup();
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/data/privacy/opacus_rdp.json")).unwrap(),
    )
    .unwrap();
    let case = fixture["epsilon"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sample_rate"] == 0.01 && c["noise_multiplier"] == 1.0 && c["steps"] == 3000)
        .unwrap()
        .clone();
    let arg = |k: &str| case[k].to_string();
    let out = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        &arg("sample_rate"),
        "--noise-multiplier",
        &arg("noise_multiplier"),
        "--steps",
        &arg("steps"),
        "--delta",
        &arg("delta"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let (got, want) = (
        r["epsilon"].as_f64().unwrap(),
        case["epsilon"].as_f64().unwrap(),
    );
    assert!((got - want).abs() < 1e-6 * want, "{got} vs Opacus {want}");
    assert_eq!(r["order"], case["order"]);

    let noise = &fixture["noise_multiplier"][0];
    let out = s.cmd(&[
        "privacy",
        "noise",
        "--epsilon",
        &noise["target_epsilon"].to_string(),
        "--sample-rate",
        &noise["sample_rate"].to_string(),
        "--steps",
        &noise["steps"].to_string(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sigma = json(&out)["noise_multiplier"].as_f64().unwrap();
    let want = noise["noise_multiplier"].as_f64().unwrap();
    assert!(
        (sigma - want).abs() < 1e-6 * want,
        "{sigma} vs Opacus {want}"
    );

    // Bad input: exit 2 with what was wrong.
    let bad = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        "1.5",
        "--noise-multiplier",
        "1",
        "--steps",
        "10",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("not a probability"),
        "{}",
        stderr(&bad)
    );
    let impossible = s.cmd(&[
        "privacy",
        "noise",
        "--epsilon",
        "0.00001",
        "--sample-rate",
        "1",
        "--steps",
        "100000",
    ]);
    assert_eq!(impossible.status.code(), Some(2));
    assert!(
        stderr(&impossible).contains("raise ε or δ"),
        "{}",
        stderr(&impossible)
    );
}

#[test]
fn a_private_run_spends_at_most_its_epsilon_and_refuses_what_it_cannot_account_for() {
    use crate::util::{adult_recipe, data, onnx_line};
    let s = setup();
    let recipe = s.write(
        "dp.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "augment = \"none\"\n\n[privacy]\nepsilon = 2.0\ndelta = 1e-4\nmax_grad_norm = 0.5\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let p = &report["privacy"];
    let eps = p["epsilon"].as_f64().unwrap();
    assert!(eps > 0.5 && eps <= 2.0, "ε spent {eps}");
    assert_eq!(p["max_grad_norm"], 0.5);
    assert!(p["covers"].as_str().unwrap().contains("validation rows"));
    // The report's ε is the accountant's for the reported schedule.
    let again = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        &p["sample_rate"].to_string(),
        "--noise-multiplier",
        &p["noise_multiplier"].to_string(),
        "--steps",
        &p["steps"].to_string(),
        "--delta",
        "1e-4",
        "--json",
    ]);
    let check = json(&again)["epsilon"].as_f64().unwrap();
    assert!((check - eps).abs() < 1e-9, "{check} vs {eps}");
    // The model card states the guarantee, the membership attacks and the governance map.
    let card = std::fs::read_to_string(s.runs()[0].join("model_card.md")).unwrap();
    for section in [
        "Trained with DP-SGD",
        "| student | loss |",
        "## Governance map (NIST AI RMF 1.0)",
        "MEASURE (TEVV)",
    ] {
        assert!(card.contains(section), "{section} missing from:\n{card}");
    }
    assert!(report["membership"]["attacks"].as_array().unwrap().len() == 6);

    // A searched student, a sweep or cross-validation would train on the private rows
    // outside the budget: refused before training, exit 2.
    let searched = adult_recipe(
        &data("adult_sample.csv"),
        &onnx_line(),
        "\n[privacy]\nepsilon = 2.0\n",
    )
    .replace("hidden = [16]", "size = \"auto\"");
    let bad = s.write("searched.toml", &searched);
    let out = s.cmd(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pin the student"), "{}", stderr(&out));
    let cv = s.write(
        "cv.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "\n[evaluate]\ncv_folds = 3\n\n[privacy]\nepsilon = 2.0\n",
        ),
    );
    let out = s.cmd(&["run", cv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cv_folds = 0"), "{}", stderr(&out));
}

#[test]
fn the_extraction_curve_measures_clones_against_the_student() {
    use crate::util::{adult_recipe, data, onnx_line};
    let s = setup();
    let recipe = s.write(
        "ext.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "\n[evaluate]\nextraction = true\nsensitive = [\"sex\"]\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    // Attribute inference: both attackers scored on the same held-out rows.
    let a = &report["attribute_inference"][0];
    assert_eq!(a["column"], "sex");
    for key in ["majority", "without_outputs", "with_outputs", "p_value"] {
        let v = a[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(a["without_outputs"].as_f64().unwrap() >= a["majority"].as_f64().unwrap() - 0.1);
    let e = &report["extraction"];
    let points = e["points"].as_array().unwrap();
    assert_eq!(points.len(), 10, "{e}");
    let fidelity = |strategy: &str, q: u64| {
        points
            .iter()
            .find(|p| p["strategy"] == strategy && p["queries"] == q)
            .unwrap()["fidelity"]
            .as_f64()
            .unwrap()
    };
    let baseline = e["constant_baseline"].as_f64().unwrap();
    assert!((0.5..1.0).contains(&baseline), "{baseline}");
    // Ten thousand queries from data like the training data copy the student better than
    // a constant answer does.
    assert!(fidelity("public sample", 10_000) > baseline, "{e}");
    if let Some(q) = e["queries_for_90"].as_u64() {
        assert_eq!(e["recommended_quota"].as_u64(), Some((q / 10).max(1)));
    }
    // Both land in the report page and the model card, which no longer calls them unmeasured.
    let run = &s.runs()[0];
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"privacy\""),
        "the page has a privacy section"
    );
    assert!(html.contains("<h3>Attribute inference</h3>") && html.contains("<h3>Extraction</h3>"));
    assert!(html.contains("<h3>Membership inference</h3>"));
    let card = std::fs::read_to_string(run.join("model_card.md")).unwrap();
    assert!(card.contains("| sex |"), "{card}");
    assert!(card.contains("| public sample | 10000 |"), "{card}");
    assert!(
        !card.contains("attribute inference (`[evaluate] sensitive`)"),
        "{card}"
    );
}

#[test]
fn a_sensitive_column_that_is_not_in_the_data_is_refused() {
    use crate::util::{adult_recipe, data, onnx_line};
    let s = setup();
    let recipe = s.write(
        "bad.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "\n[evaluate]\nsensitive = [\"gender\"]\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("'gender'"), "{}", stderr(&out));
}

#[test]
fn lira_finds_the_members_of_an_over_fitted_student_that_a_loss_threshold_misses() {
    let s = setup();
    let sample = crate::util::data("adult_sample.csv");
    let recipe = |shadows: usize| {
        format!(
            "[data]\ntrain = {:?}\ntarget = \"income-per-year\"\ntest_fraction = 0.5\nvalidation_fraction = 0.0\n\n[teacher]\ntrain = {{ kind = \"gbdt\" }}\n\n[student]\nhidden = [128, 128]\n\n[distill]\nepochs = 200\npatience = 0\naugment = \"none\"\nsoft_weight = 0.0\n\n[evaluate]\nshadow_models = {shadows}\ndiscover = false\n",
            sample.display()
        )
    };
    let path = s.write("over.toml", &recipe(8));
    let out = s.cmd(&["run", path.to_str().unwrap(), "--json", "--no-register"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let attacks = r["membership"]["attacks"].as_array().unwrap();
    let find = |attack: &str| {
        attacks
            .iter()
            .find(|a| a["model"] == "student" && a["attack"] == attack)
            .unwrap_or_else(|| panic!("no student {attack} attack in {attacks:?}"))
    };
    let (lira, loss) = (find("lira (8 shadows)"), find("loss"));
    let auc = |a: &serde_json::Value| a["auc"].as_f64().unwrap();
    let tpr = |a: &serde_json::Value| a["tpr_at_1_pct_fpr"].as_f64().unwrap();
    eprintln!(
        "LiRA AUC {:.3}, TPR {:.3} at 1% FPR; loss attack AUC {:.3}, TPR {:.3}",
        auc(lira),
        tpr(lira),
        auc(loss),
        tpr(loss)
    );
    assert!(auc(lira) > 0.6, "LiRA AUC {}", auc(lira));
    assert!(
        auc(lira) > auc(loss) + 0.05,
        "LiRA {} vs loss {}",
        auc(lira),
        auc(loss)
    );
    assert!(
        tpr(lira) > tpr(loss),
        "at 1% FPR: LiRA {} vs loss {}",
        tpr(lira),
        tpr(loss)
    );
    assert!(lira["members"].as_u64().unwrap() > 500 && lira["non_members"].as_u64().unwrap() > 500);
    // Too few shadows to have both sides for every row is refused.
    let few = s.write("few.toml", &recipe(2));
    let out = s.cmd(&["run", few.to_str().unwrap(), "--no-register"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("shadow_models"), "{}", stderr(&out));
}

#[test]
fn pate_labels_public_rows_by_noisy_vote_within_its_epsilon() {
    let s = setup();
    // The first 900 rows of the adult sample are the private data; the last 300, without
    // their labels, are the public rows the teachers label.
    let text = std::fs::read_to_string(crate::util::data("adult_sample.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let private = s.write("private.csv", &(lines[..901].join("\n") + "\n"));
    let unlabelled: Vec<String> = lines[901..]
        .iter()
        .chain(&lines[..1])
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    let (header, rows) = unlabelled.split_last().unwrap();
    s.write("public.csv", &format!("{header}\n{}\n", rows.join("\n")));
    let recipe = |privacy: &str| {
        format!(
            "[data]\ntrain = {:?}\ntarget = \"income-per-year\"\ntest_fraction = 0.25\n\n[student]\nhidden = [16]\n\n[distill]\naugment = \"none\"\nepochs = 40\nseed = 3\n\n[privacy]\nmode = \"pate\"\npublic = \"public.csv\"\n{privacy}",
            private.display()
        )
    };
    let path = s.write("pate.toml", &recipe("epsilon = 20.0\nteachers = 10\n"));
    let out = s.cmd(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let p = &report["privacy"];
    let pate = &p["pate"];
    assert_eq!(pate["teachers"], 10);
    assert_eq!(
        pate["queries"], 300,
        "fewer public rows than the default 2,000"
    );
    assert!(
        pate["public_label_accuracy"].is_null(),
        "the public file has no labels"
    );
    let eps = p["epsilon"].as_f64().unwrap();
    assert!(eps > 19.9 && eps <= 20.0, "ε spent {eps}");
    // The report's ε is the accountant's for 300 Gaussian queries of noise σ/√2.
    let sigma = pate["sigma"].as_f64().unwrap();
    let again = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        "1",
        "--noise-multiplier",
        &(sigma / std::f64::consts::SQRT_2).to_string(),
        "--steps",
        "300",
        "--json",
    ]);
    let check = json(&again)["epsilon"].as_f64().unwrap();
    assert!((check - eps).abs() < 1e-6, "{check} vs {eps}");
    let agreement = pate["agreement"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&agreement), "{agreement}");
    // The student learnt something from noisy labels alone: above always answering the
    // majority class of the test rows (at ε = 3 with 20 teachers of 30 rows it did not).
    let support: Vec<f64> = report["student"]["quality"]["classes"]["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["support"].as_f64().unwrap())
        .collect();
    let majority = support.iter().copied().fold(0.0, f64::max) / support.iter().sum::<f64>();
    let student = report["student"]["accuracy"].as_f64().unwrap();
    eprintln!("PATE student {student}, majority class {majority}, σ {sigma}");
    assert!(
        student > majority,
        "student accuracy {student}, majority class {majority}"
    );
    assert!(
        report["teacher"]["kind"]
            .as_str()
            .unwrap()
            .starts_with("PATE ensemble: 10")
    );
    let card = std::fs::read_to_string(s.runs()[0].join("model_card.md")).unwrap();
    assert!(card.contains("Trained with PATE"), "{card}");
    let page = std::fs::read_to_string(s.runs()[0].join("report.html")).unwrap();
    assert!(page.contains("Trained with PATE"));
    // The same recipe and seed give the same noisy labels and the same student.
    let rerun = json(&s.cmd(&["run", path.to_str().unwrap(), "--json"]));
    assert_eq!(rerun["privacy"], report["privacy"]);
    assert_eq!(rerun["student"]["accuracy"], report["student"]["accuracy"]);

    // What PATE cannot do is refused before any training, with exit 2.
    for (privacy, says) in [
        ("epsilon = 3.0\nteachers = 500\n", "lower teachers"),
        ("epsilon = 3.0\nteachers = 1\n", "teachers ≥ 2"),
    ] {
        let bad = s.write("bad.toml", &recipe(privacy));
        let out = s.cmd(&["run", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{privacy}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{privacy}: {}", stderr(&out));
    }
    let no_public = s.write(
        "nopublic.toml",
        &recipe("epsilon = 3.0\n").replace("public = \"public.csv\"\n", ""),
    );
    let out = s.cmd(&["run", no_public.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("public = \\\"public.csv\\\"")
            || stderr(&out).contains("public = \"public.csv\""),
        "{}",
        stderr(&out)
    );
    let with_teacher = s.write(
        "teacher.toml",
        &recipe("epsilon = 3.0\n").replace(
            "[student]",
            "[teacher]\ntrain = { kind = \"gbdt\" }\n\n[student]",
        ),
    );
    let out = s.cmd(&["run", with_teacher.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("remove the [teacher] source"),
        "{}",
        stderr(&out)
    );
}

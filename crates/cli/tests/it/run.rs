//! `distillery run` and `distillery demo` on real data.

use crate::util::{adult_recipe, data, json, onnx_line, setup, stderr};

#[test]
fn onnx_teacher_run_writes_a_complete_run_directory() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), ""),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["dataset"]["test_rows"], 300);
    assert!(
        summary["teacher"]["kind"]
            .as_str()
            .unwrap()
            .contains("tree-ensemble")
    );
    let student = &summary["student"];
    assert!(student["accuracy"].as_f64().unwrap() > 0.75, "{student}");
    assert!(student["fidelity"].as_f64().unwrap() > 0.85, "{student}");
    assert!(summary["scratch"]["accuracy"].as_f64().unwrap() > 0.6);
    assert!(summary["teacher"]["latency_us"].as_f64().unwrap() > 0.0);
    let q = &student["quality"];
    let acc = student["accuracy"].as_f64().unwrap();
    let (lo, hi) = (
        q["accuracy_ci"]["lo"].as_f64().unwrap(),
        q["accuracy_ci"]["hi"].as_f64().unwrap(),
    );
    assert!(
        lo < acc && acc < hi && hi - lo < 0.2,
        "CI [{lo}, {hi}] around {acc}"
    );
    assert!(q["roc_auc"].as_f64().unwrap() > 0.8, "{q}");
    assert!((0.0..0.2).contains(&q["ece"].as_f64().unwrap()), "{q}");
    let confusion: Vec<Vec<u64>> = serde_json::from_value(q["confusion"].clone()).unwrap();
    assert_eq!(
        confusion.iter().flatten().sum::<u64>(),
        300,
        "every test row is counted once"
    );
    let macro_f1 = q["classes"]["macro_avg"]["f1"].as_f64().unwrap();
    assert!((macro_f1 - student["macro_f1"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(q["reliability"].as_array().unwrap().len(), 15);
    let runs = s.runs();
    assert_eq!(runs.len(), 1);
    for f in [
        "student.safetensors",
        "scratch.safetensors",
        "report.json",
        "report.html",
        "model_card.md",
        "recipe.toml",
        "schema.json",
        "history.json",
    ] {
        assert!(runs[0].join(f).exists(), "{f} missing");
    }
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk, summary, "--json prints report.json");
}

#[test]
fn two_runs_with_one_seed_give_identical_students() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "augment = \"munge\"\n",
        ),
    );
    for _ in 0..2 {
        let out = s.cmd(&["run", recipe.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let runs = s.runs();
    assert_eq!(runs.len(), 2);
    let a = std::fs::read(runs[0].join("student.safetensors")).unwrap();
    let b = std::fs::read(runs[1].join("student.safetensors")).unwrap();
    assert_eq!(a, b, "same recipe and seed must give the same bytes");
}

#[test]
fn parquet_and_csv_of_the_same_rows_give_the_same_student() {
    let s = setup();
    let csv = s.write(
        "c.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), ""),
    );
    let pq = s.write(
        "p.toml",
        &adult_recipe(&data("adult_sample.parquet"), &onnx_line(), ""),
    );
    let a = json(&s.cmd(&["run", csv.to_str().unwrap(), "--json"]));
    let b = json(&s.cmd(&["run", pq.to_str().unwrap(), "--json"]));
    assert_eq!(a["dataset"]["fingerprint"], b["dataset"]["fingerprint"]);
    assert_eq!(a["student"]["accuracy"], b["student"]["accuracy"]);
}

#[test]
fn precomputed_soft_label_columns_are_a_teacher() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_soft.csv"), "columns = \"teacher_p_\"", ""),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(
        summary["dataset"]["features"], 14,
        "soft-label columns are not features"
    );
    assert!(summary["teacher"]["accuracy"].as_f64().unwrap() > 0.8);
    assert!(summary["student"]["fidelity"].as_f64().unwrap() > 0.85);
}

#[test]
fn in_house_mlp_teacher_is_trained_and_kept() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            "train = { hidden = [64, 64], epochs = 10 }",
            "",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert!(
        summary["teacher"]["parameters"].as_u64().unwrap()
            > summary["student"]["parameters"].as_u64().unwrap()
    );
    assert!(s.runs()[0].join("teacher.safetensors").exists());
}

#[test]
fn in_house_gbdt_teacher_is_cross_fitted_kept_as_onnx_and_reusable() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), "train = { kind = \"gbdt\" }", ""),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    let kind = summary["teacher"]["kind"].as_str().unwrap();
    assert!(
        kind.contains("GBDT") && kind.contains("5-fold cross-fitted"),
        "{kind}"
    );
    // With max_depth unset on a small set, depths 6 and 3 are cross-fitted and the lower
    // out-of-fold log-loss wins: "depth 3 by out-of-fold log-loss (0.41 at depth 6, 0.40 at
    // depth 3)".
    let choice = kind
        .split("; depth ")
        .nth(1)
        .unwrap_or_else(|| panic!("no depth choice in {kind}"));
    let chosen: usize = choice.split(' ').next().unwrap().parse().unwrap();
    let losses: Vec<(f64, usize)> = choice
        .split('(')
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .split(", ")
        .map(|t| {
            let (loss, depth) = t.split_once(" at depth ").unwrap();
            (loss.parse().unwrap(), depth.parse().unwrap())
        })
        .collect();
    assert_eq!(
        losses.iter().map(|l| l.1).collect::<Vec<_>>(),
        [6, 3],
        "{kind}"
    );
    // The chosen depth's loss is the lowest (printed to 4 places, so a tie may go either way).
    let chosen_loss = losses.iter().find(|l| l.1 == chosen).unwrap().0;
    assert!(losses.iter().all(|l| chosen_loss <= l.0), "{kind}");
    let teacher_acc = summary["teacher"]["accuracy"].as_f64().unwrap();
    assert!(teacher_acc > 0.8, "teacher accuracy {teacher_acc}");
    let teacher = s.runs()[0].join("teacher.onnx");
    assert!(teacher.exists());
    // The saved teacher is an ordinary ONNX teacher: a second run reads it and gets the same
    // test accuracy (same rows, same trees, same evaluator).
    let reuse = s.write(
        "reuse.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &format!("onnx = {:?}", teacher.to_str().unwrap()),
            "",
        ),
    );
    let again = s.cmd(&["run", reuse.to_str().unwrap(), "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        json(&again)["teacher"]["accuracy"],
        summary["teacher"]["accuracy"]
    );
    // Same seed, same trees, same student.
    let third = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let runs = s.runs();
    let bytes = |i: usize, f: &str| std::fs::read(runs[i].join(f)).unwrap();
    let fresh = (0..runs.len())
        .find(|&i| runs[i].join("teacher.onnx").exists() && runs[i] != runs[0])
        .expect("the third run keeps its teacher");
    assert_eq!(bytes(0, "teacher.onnx"), bytes(fresh, "teacher.onnx"));
    assert_eq!(
        bytes(0, "student.safetensors"),
        bytes(fresh, "student.safetensors")
    );
    // A depth the recipe writes is kept as written.
    let pinned = s.write(
        "pinned.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            "train = { kind = \"gbdt\", max_depth = 4 }",
            "",
        ),
    );
    let out = s.cmd(&["run", pinned.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pinned_kind = json(&out)["teacher"]["kind"].as_str().unwrap().to_string();
    assert!(
        pinned_kind.contains("GBDT") && !pinned_kind.contains("out-of-fold"),
        "{pinned_kind}"
    );
}

#[test]
fn gbdt_teacher_settings_that_belong_to_the_mlp_are_refused() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            "train = { kind = \"gbdt\", hidden = [8] }",
            "",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not read hidden"),
        "{}",
        stderr(&out)
    );
    let folds = s.write(
        "f.toml",
        &adult_recipe(&data("adult_sample.csv"), "train = { folds = 1 }", ""),
    );
    let out = s.cmd(&["run", folds.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("folds = 1"), "{}", stderr(&out));
}

#[test]
fn interrupted_training_resumes_to_the_same_student() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), "patience = 0\n"),
    );
    let r = recipe.to_str().unwrap();
    let stopped = s.cmd_env(&["run", r], &[("DISTILLERY_STOP_AFTER_EPOCH", "3")]);
    assert_eq!(stopped.status.code(), Some(2));
    assert!(
        stderr(&stopped).contains("--resume"),
        "{}",
        stderr(&stopped)
    );
    assert!(
        s.runs().is_empty(),
        "an interrupted run leaves no run directory"
    );
    let resumed = s.cmd(&["run", r, "--resume", "--json"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(json(&resumed)["student"]["training"]["resumed_after"], 3);
    let fresh = s.cmd(&["run", r]);
    assert_eq!(fresh.status.code(), Some(0));
    let runs = s.runs();
    let a = std::fs::read(runs[0].join("student.safetensors")).unwrap();
    let b = std::fs::read(runs[1].join("student.safetensors")).unwrap();
    assert_eq!(a, b, "resumed training is bit-exact");
}

#[test]
fn a_failed_gate_exits_1_and_still_writes_the_run() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "[gates]\nmin_fidelity = 0.99999\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("gate min_fidelity"));
    assert_eq!(s.runs().len(), 1);
}

#[test]
fn demo_runs_with_zero_arguments_and_passes_its_gates() {
    let s = setup();
    let out = s.cmd(&["demo", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert!(summary["student"]["fidelity"].as_f64().unwrap() >= 0.95);
    assert!(s.path("distillery-demo/recipe.toml").exists());
}

/// A recipe for the Adult sample with no `[student] hidden`, so the run searches.
fn search_recipe(student: &str) -> String {
    crate::util::adult_recipe(&data("adult_sample.csv"), &onnx_line(), "").replace(
        "[student]\nhidden = [16]\n",
        &format!("[student]\n{student}\n"),
    )
}

#[test]
fn a_recipe_without_hidden_searches_for_its_student_under_the_byte_budget() {
    let s = setup();
    let recipe = s.write("r.toml", &search_recipe("max_bytes = 20000"));
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    let search = &summary["search"];
    let candidates = search["candidates"].as_array().unwrap();
    assert_eq!(
        candidates.len(),
        24,
        "8 architectures × 3 (T, soft weight) pairs"
    );
    let winner = &candidates[search["winner"].as_u64().unwrap() as usize];
    assert!(winner["within_budget"].as_bool().unwrap());
    assert!(winner["bytes"].as_u64().unwrap() <= 20_000);
    for c in candidates {
        let trained = c["steps"].as_u64().unwrap() > 0;
        assert_eq!(
            trained,
            c["within_budget"].as_bool().unwrap(),
            "exactly the candidates within the budget are trained: {c}"
        );
    }
    // The shipped student is the winner, within the budget, and its file is that size.
    assert_eq!(summary["student"]["training"]["hidden"], winner["hidden"]);
    let bytes = std::fs::metadata(s.runs()[0].join("student.safetensors"))
        .unwrap()
        .len();
    assert_eq!(
        bytes,
        winner["bytes"].as_u64().unwrap(),
        "measured bytes are the shipped bytes"
    );
    assert!(!search["pareto"].as_array().unwrap().is_empty());
    assert!(stderr(&out).is_empty() || !stderr(&out).contains("panicked"));
    // The same recipe and seed choose the same student, byte for byte.
    let again = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let runs = s.runs();
    let a = std::fs::read(runs[0].join("student.safetensors")).unwrap();
    let b = std::fs::read(runs[1].join("student.safetensors")).unwrap();
    assert_eq!(a, b);
    let html = std::fs::read_to_string(runs[0].join("report.html")).unwrap();
    assert!(
        html.contains("id=\"search\""),
        "the report shows the search"
    );
}

#[test]
fn with_no_budget_the_student_gets_a_twentieth_of_the_teachers_bytes() {
    let s = setup();
    let recipe = s.write("r.toml", &search_recipe("size = \"auto\""));
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    let teacher = summary["teacher"]["bytes"].as_u64().unwrap();
    let search = &summary["search"];
    let reason = search["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("1/20 of the teacher's {teacher} bytes")),
        "{reason}"
    );
    let max = search["max_bytes"].as_u64().unwrap();
    assert_eq!(max, teacher / 20, "{search}");
    for c in search["candidates"].as_array().unwrap() {
        let fits = c["bytes"].as_u64().unwrap() <= max;
        assert_eq!(c["within_budget"].as_bool().unwrap(), fits, "{c}");
    }
    let bytes = std::fs::metadata(s.runs()[0].join("student.safetensors"))
        .unwrap()
        .len();
    assert!(
        bytes <= max && teacher >= 20 * bytes,
        "{bytes} of {teacher}"
    );
}

#[test]
fn cross_validation_trains_the_search_winner_not_the_recipe_default() {
    let s = setup();
    let text = crate::util::adult_recipe(
        &data("adult_sample.csv"),
        &onnx_line(),
        "\n[evaluate]\ncv_folds = 2\ndiscover = false\n",
    )
    .replace(
        "[student]\nhidden = [16]\n",
        "[student]\nmax_bytes = 20000\n",
    );
    let recipe = s.write("r.toml", &text);
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let winner = &r["search"]["candidates"][r["search"]["winner"].as_u64().unwrap() as usize];
    let folds = &r["cross_validation"]["student_params"];
    assert_eq!(folds["hidden"], winner["hidden"], "{folds} vs {winner}");
    assert_eq!(folds["temperature"], winner["temperature"]);
    assert_eq!(folds["soft_weight"], winner["soft_weight"]);
    assert_eq!(r["cross_validation"]["folds"].as_array().unwrap().len(), 2);
}

#[test]
fn a_search_budget_only_8_fits_searches_8_and_one_nothing_fits_is_refused_as_is_a_budget_beside_hidden()
 {
    let s = setup();
    let tiny = s.write("tiny.toml", &search_recipe("max_bytes = 1000"));
    let out = s.cmd(&["run", tiny.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no student of the search family fits"),
        "{}",
        stderr(&out)
    );
    // Between [8]'s size and [16]'s (the refusal names both): the family fits nothing, and
    // the narrower [8] is searched instead of refusing.
    let err = stderr(&out);
    let size = |hidden: &str| -> u64 {
        err.split(&format!("{hidden} takes "))
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no size of {hidden} in: {err}"))
    };
    let (sixteen, eight) = (size("[16]"), size("[8]"));
    assert!(eight < sixteen, "{err}");
    let narrow = s.write(
        "narrow.toml",
        &search_recipe(&format!("max_bytes = {}", (sixteen + eight) / 2)),
    );
    let out = s.cmd(&["run", narrow.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let search = &json(&out)["search"];
    let candidates = search["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 27, "the family's 24, then [8]'s 3");
    let winner = &candidates[search["winner"].as_u64().unwrap() as usize];
    assert_eq!(winner["hidden"], serde_json::json!([8]), "{search}");
    assert!(winner["bytes"].as_u64().unwrap() < sixteen);
    assert!(
        search["reason"]
            .as_str()
            .unwrap()
            .contains("the narrower [8] does"),
        "{search}"
    );
    let both = s.write(
        "both.toml",
        &search_recipe("hidden = [16]\nmax_bytes = 20000"),
    );
    let out = s.cmd(&["run", both.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pins the architecture"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_sklearn_pipeline_exported_with_one_input_per_column_is_a_teacher() {
    let s = setup();
    let teacher = data("teachers/pipeline_gb.onnx");
    let recipe = s.write(
        "r.toml",
        &crate::util::adult_recipe(
            &data("adult_sample.csv"),
            &format!("onnx = {:?}", teacher.to_str().unwrap()),
            "augment = \"munge\"\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert!(
        summary["teacher"]["accuracy"].as_f64().unwrap() > 0.8,
        "{}",
        summary["teacher"]
    );
    // The teacher labelled MUNGE's synthetic rows through the same per-column inputs.
    assert!(summary["dataset"]["augmented_rows"].as_u64().unwrap() > 0);
    assert!(summary["student"]["fidelity"].as_f64().unwrap() > 0.85);
}

#[test]
fn gibbs_sampled_transfer_rows_are_labelled_by_the_teacher_and_seeded() {
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &crate::util::adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "augment = \"gibbs\"\naugment_factor = 3\n",
        ),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    let real = summary["dataset"]["train_rows"].as_u64().unwrap();
    assert_eq!(
        summary["dataset"]["augmented_rows"].as_u64().unwrap(),
        3 * real
    );
    assert!(summary["student"]["fidelity"].as_f64().unwrap() > 0.85);
    let again = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let runs = s.runs();
    let a = std::fs::read(runs[0].join("student.safetensors")).unwrap();
    let b = std::fs::read(runs[1].join("student.safetensors")).unwrap();
    assert_eq!(a, b, "same seed, same synthetic rows, same student");
}

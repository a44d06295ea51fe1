//! `distillery init` writes a recipe that runs.

use crate::util::{data, demo_teacher, json, setup, stderr};

#[test]
fn init_infers_the_schema_and_writes_a_runnable_recipe() {
    let s = setup();
    let d = data("adult_sample.csv");
    let out = s.cmd(&[
        "init",
        d.to_str().unwrap(),
        "--target",
        "income-per-year",
        "--teacher",
        demo_teacher().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let review = String::from_utf8_lossy(&out.stdout);
    assert!(
        review.contains("workclass") && review.contains("categorical"),
        "{review}"
    );
    let recipe = std::fs::read_to_string(s.path("recipe.toml")).unwrap();
    assert!(recipe.contains("\"native-country\""), "{recipe}");
    let again = s.cmd(&["init", d.to_str().unwrap(), "--target", "income-per-year"]);
    assert_eq!(again.status.code(), Some(2), "refuses to overwrite");
    assert!(
        !recipe.contains("epochs"),
        "init trains by the step budget: {recipe}"
    );
    let edited = recipe.replace("[distill]", "[distill]\nepochs = 5");
    std::fs::write(s.path("recipe.toml"), edited).unwrap();
    let run = s.cmd(&["run", "recipe.toml", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(json(&run)["student"]["accuracy"].as_f64().unwrap() > 0.7);
}

#[test]
fn init_without_a_teacher_writes_the_boosted_teacher_and_its_temperature() {
    let s = setup();
    let letter = data("datasets/letter.csv");
    let out = s.cmd(&[
        "init",
        letter.to_str().unwrap(),
        "--target",
        "lettr",
        "--output",
        "letter.toml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recipe = std::fs::read_to_string(s.path("letter.toml")).unwrap();
    assert!(recipe.contains("train = { kind = \"gbdt\" }"), "{recipe}");
    assert!(recipe.contains("temperature = 1.0"), "26 classes: {recipe}");
    let run = s.cmd(&["run", "letter.toml", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let summary = json(&run);
    assert!(
        summary["teacher"]["kind"]
            .as_str()
            .unwrap()
            .contains("GBDT"),
        "{}",
        summary["teacher"]
    );
    assert!(
        summary["distillation_gain"]["test"]["verdict"].is_string(),
        "the summary says how distillation did against scratch"
    );
    let adult = data("adult_sample.csv");
    let out = s.cmd(&[
        "init",
        adult.to_str().unwrap(),
        "--target",
        "income-per-year",
        "--output",
        "adult.toml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recipe = std::fs::read_to_string(s.path("adult.toml")).unwrap();
    assert!(
        recipe.contains("temperature = 4.0"),
        "two classes: {recipe}"
    );
}

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
    let edited = recipe.replace("epochs = 30", "epochs = 5");
    std::fs::write(s.path("recipe.toml"), edited).unwrap();
    let run = s.cmd(&["run", "recipe.toml", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(json(&run)["student"]["accuracy"].as_f64().unwrap() > 0.7);
}

//! Issue #19 (first part): free text. A sample of the SpamAssassin corpus with a MiniLM
//! teacher's soft labels (`tests/data/spam_sample.csv`, from `tools/text_teacher.py`):
//! `init` reads the body as text, a run distils a hashed n-gram student from the soft
//! labels, `predict` scores texts it never saw, and the served student takes raw text as
//! an Open Inference Protocol `BYTES` input.

use crate::serve::{post, serve_with};
use crate::util::{data, json, setup, stderr};

#[test]
fn a_text_student_is_distilled_from_soft_labels_and_serves_raw_text() {
    let s = setup();
    let sample = data("spam_sample.csv");
    std::fs::copy(&sample, s.path("spam.csv")).unwrap();

    // `init` sees free text and the soft labels already in the file.
    let init = s.cmd(&["init", "spam.csv", "--target", "label"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let recipe = std::fs::read_to_string(s.path("recipe.toml")).unwrap();
    assert!(recipe.contains("text = [\"text\"]"), "{recipe}");
    assert!(recipe.contains("columns = \"teacher_p_\""), "{recipe}");

    // A pinned student, so the test is quick; the defaults are measured in bench/text.
    let recipe = s.write(
        "text.toml",
        "name = \"spam\"\n[data]\ntrain = \"spam.csv\"\ntarget = \"label\"\ntext = [\"text\"]\n[teacher]\ncolumns = \"teacher_p_\"\n[student]\nhidden = [16]\n[distill]\nseed = 3\n",
    );
    let run = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = json(&run);
    let student = &report["student"];
    let accuracy = student["accuracy"].as_f64().unwrap();
    let fidelity = student["fidelity"].as_f64().unwrap();
    assert!(
        accuracy > 0.85,
        "text student accuracy {accuracy}: {student}"
    );
    assert!(fidelity > 0.85, "agreement with the teacher {fidelity}");

    // Texts the student never saw: an obvious spam and an obvious ham.
    let model = s.runs()[0].join("student.safetensors");
    s.write(
        "new.csv",
        "text\n\"FREE!!! Click here to claim your cash prize now, limited offer, buy viagra\"\n\"Hi Bob, the meeting moved to Tuesday; I attached the minutes of the last one.\"\n",
    );
    let out = s.cmd(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        "new.csv",
        "--output",
        "scored.csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let scored = std::fs::read_to_string(s.path("scored.csv")).unwrap();
    let predictions: Vec<&str> = scored
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(predictions, ["spam", "ham"], "{scored}");

    // Served: the text goes in as BYTES.
    let promote = s.cmd(&["registry", "promote", "spam/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    let server = serve_with(s.dir.path(), &["--no-log"]);
    let body = serde_json::json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
        "data": ["WIN a FREE iPhone!!! click the link to claim your prize", "Thanks for the review comments, I pushed a fix to the branch."]}]});
    let (status, answer) = post(
        &format!("{}/v2/models/spam/infer", server.base),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let labels = answer["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["datatype"] == "BYTES")
        .unwrap()["data"]
        .clone();
    assert_eq!(labels, serde_json::json!(["spam", "ham"]), "{answer}");
    let (_, meta) = crate::serve::get(&format!("{}/v2/models/spam", server.base));
    assert!(meta.contains("\"BYTES\""), "text is a BYTES input: {meta}");
    server.stop();
}

//! Issue #19: the transformer teacher in Rust, end to end. A folder from
//! `tools/text_teacher.py` (MiniLM-L6 + a logistic head, with its tokenizer; `.ci/run`
//! builds one) labels the spam sample inside `run`, gives the student word vectors from its
//! encoder, serves as the live teacher for fidelity on real traffic, and labels the logged
//! traffic for a re-distillation. Skipped without `DISTILLERY_TEXT_TEACHER`, required in CI.

use crate::serve::{post, serve_with};
use crate::util::{data, json, setup, stderr};

#[test]
fn a_run_labels_text_with_the_transformer_teacher_in_process() {
    // A folder from tools/text_teacher.py (`.ci/run` builds one; see the teacher crate's
    // text_teacher test for the skip rule).
    let Some(teacher) = std::env::var_os("DISTILLERY_TEXT_TEACHER").map(std::path::PathBuf::from)
    else {
        assert!(
            std::env::var_os("DISTILLERY_REQUIRE_TEXT_TEACHER").is_none(),
            "DISTILLERY_REQUIRE_TEXT_TEACHER is set but DISTILLERY_TEXT_TEACHER is not"
        );
        eprintln!("SKIPPED: set DISTILLERY_TEXT_TEACHER to a folder from tools/text_teacher.py");
        return;
    };
    let s = setup();
    // The sample's texts: 300 with their labels, 60 more without (a transfer set the
    // teacher labels), the last 40 kept for traffic.
    let text = std::fs::read_to_string(data("spam_sample.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut writer = csv::Writer::from_path(s.path("mail.csv")).unwrap();
    let mut extra = csv::Writer::from_path(s.path("more.csv")).unwrap();
    writer.write_record(["text", "label"]).unwrap();
    extra.write_record(["text"]).unwrap();
    let mut traffic = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.unwrap();
        match i {
            0..300 => writer.write_record([&r[0], &r[1]]).unwrap(),
            300..360 => extra.write_record([&r[0]]).unwrap(),
            _ => traffic.push(r[0].to_string()),
        }
    }
    writer.flush().unwrap();
    extra.flush().unwrap();
    let onnx = teacher.join("teacher.onnx").display().to_string();
    let tokenizer = teacher.join("tokenizer.json").display().to_string();
    let recipe = s.write(
        "mail.toml",
        &format!(
            "name = \"mail\"\n[data]\ntrain = \"mail.csv\"\nunlabelled = \"more.csv\"\ntarget = \"label\"\ntext = [\"text\"]\n[teacher]\nonnx = {onnx:?}\ntokenizer = {tokenizer:?}\n[student]\nhidden = [16]\n[distill]\nseed = 3\naugment = \"tokens\"\n",
        ),
    );
    let run = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = json(&run);
    let t = &report["teacher"];
    assert!(t["kind"].as_str().unwrap().contains("transformer"), "{t}");
    let (teacher_acc, student_acc) = (
        t["accuracy"].as_f64().unwrap(),
        report["student"]["accuracy"].as_f64().unwrap(),
    );
    assert!(
        teacher_acc > 0.85,
        "the transformer teacher's accuracy {teacher_acc}"
    );
    assert!(student_acc > 0.8, "the student's {student_acc}");
    // With a transformer run here, the student gets word vectors from its encoder by
    // default: 16,384 hashed slots plus the vector dimensions kept (256 of the encoder's
    // 384).
    let student =
        distillery_runtime::Student::load(&s.runs()[0].join("student.safetensors")).unwrap();
    assert_eq!(
        student.encoder().width(),
        16384 + distillery_pipeline::recipe::TEACHER_VECTOR_DIMS
    );
    let speedup =
        t["latency_us"].as_f64().unwrap() / report["student"]["latency_us"].as_f64().unwrap();
    assert!(
        speedup > 100.0,
        "the student is {speedup:.0}× faster per document"
    );
    // The unlabelled texts joined the training rows, and every training text got one copy
    // with words dropped and swapped, labelled by the teacher.
    let d = &report["dataset"];
    assert_eq!(d["unlabelled_rows"], 60, "{d}");
    assert_eq!(d["augmented_rows"], d["train_rows"], "{d}");

    // Served with the transformer as the live teacher: fidelity on real traffic.
    let promote = s.cmd(&["registry", "promote", "mail/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    s.write(
        "serve.toml",
        &format!(
            "[monitor]\nwindow = 40\nteacher = {onnx:?}\ntokenizer = {tokenizer:?}\nteacher_fraction = 1.0\n"
        ),
    );
    let server = serve_with(
        s.dir.path(),
        &["--config", "serve.toml", "--log-dir", "log"],
    );
    for chunk in traffic.chunks(10) {
        send_mail(&server, chunk);
    }
    let state = crate::util::eventually("a monitored window", || {
        let (_, text) = crate::serve::get(&format!("{}/monitor", server.base));
        let state =
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"]["mail/1"].clone();
        (state["windows"] == 1).then_some(state)
    });
    let w = &state["history"][0];
    assert!(w.get("teacher_error").is_none(), "{w}");
    assert_eq!(w["teacher_rows"], 40, "{w}");
    let fidelity = w["fidelity"].as_f64().unwrap();
    assert!(
        fidelity >= 0.7,
        "the student agrees with its transformer on live texts: {w}"
    );
    // Live texts are later mail of the same lists: some new threads' words, nothing like
    // the garbled texts of the drift test (KS statistic above 0.9 there).
    let unseen = w["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "text: unseen words")
        .unwrap();
    assert!(unseen["statistic"].as_f64().unwrap() < 0.4, "{w}");
    // More mail, so the log holds enough rows to re-distil on.
    let more = std::fs::read_to_string(s.path("more.csv")).unwrap();
    let later: Vec<String> = csv::Reader::from_reader(more.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    for chunk in later.chunks(20) {
        send_mail(&server, chunk);
    }
    server.stop();
    redistill_with_the_transformer(&s, &recipe);

    // Under the default `augment = "auto"`, a student with word vectors gets no token
    // copies (they cost accuracy there; the explicit `tokens` run above still makes them).
    let auto = std::fs::read_to_string(&recipe)
        .unwrap()
        .replace("augment = \"tokens\"\n", "")
        .replace("unlabelled = \"more.csv\"\n", "");
    let with_vectors = s.write("auto.toml", &auto);
    let run = s.cmd(&[
        "run",
        with_vectors.to_str().unwrap(),
        "--json",
        "--no-register",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(json(&run)["dataset"]["augmented_rows"], 0);
}

/// Sends `texts` to the served `mail` model as one BYTES tensor; expects 200.
fn send_mail(server: &crate::serve::Server, texts: &[String]) {
    let body = serde_json::json!({"inputs": [{"name": "text", "shape": [texts.len()],
        "datatype": "BYTES", "data": texts}]});
    let (status, answer) = post(
        &format!("{}/v2/models/mail/infer", server.base),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
}

/// The loop closed on text: the logged mail is labelled by the transformer, and a new
/// student (with word vectors from the transformer, as the recipe's default gives) is
/// distilled on it with the same recipe. 75 mails teach less than the 360 production
/// learned from, so the new student agrees with the teacher less on the held-out mail:
/// it is neither registered nor deployed.
fn redistill_with_the_transformer(s: &crate::util::Setup, recipe: &std::path::Path) {
    let out = s.cmd(&[
        "redistill",
        "--model",
        "mail",
        "--recipe",
        recipe.to_str().unwrap(),
        "--log-dir",
        "log",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let done = json(&out);
    assert_eq!(done["rows"], 100, "{done}");
    assert_eq!(done["fit_rows"], 75, "{done}");
    assert_eq!(done["gates_passed"], true, "{done}");
    assert_eq!(done["not_worse"], false, "{done}");
    assert!(done.get("new_version").is_none(), "{done}");
    let (before, after) = (
        done["fidelity_before"].as_f64().unwrap(),
        done["fidelity_after"].as_f64().unwrap(),
    );
    assert!(before > after && before >= 0.8, "{done}");
    assert!(
        done["deployed"].as_str().unwrap().starts_with("nothing"),
        "{done}"
    );
    let versions = s.cmd(&["registry", "ls", "mail", "--json"]);
    assert_eq!(
        crate::util::json(&versions).as_array().unwrap().len(),
        1,
        "nothing registered"
    );
    // The recipe's relative `unlabelled` file and its token copies were dropped (the
    // traffic is the transfer set now), and the vectors came from the transformer through
    // a file in the work folder.
    let run = s.dir.path().join(done["run_dir"].as_str().unwrap());
    let work = run.parent().unwrap().parent().unwrap();
    let vec = std::fs::read_to_string(work.join("words.vec")).unwrap();
    let dims = distillery_pipeline::recipe::TEACHER_VECTOR_DIMS;
    assert!(
        vec.lines().next().unwrap().ends_with(&format!(" {dims}")),
        "a {dims}-dim .vec header"
    );
    let student = distillery_runtime::Student::load(&run.join("student.safetensors")).unwrap();
    assert_eq!(student.encoder().width(), 16384 + dims);
    let adapted = std::fs::read_to_string(work.join("recipe.toml")).unwrap();
    assert!(
        !adapted.contains("unlabelled") && !adapted.contains("augment"),
        "{adapted}"
    );
}

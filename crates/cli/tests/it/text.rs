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
        "name = \"spam\"\n[data]\ntrain = \"spam.csv\"\ntarget = \"label\"\ntext = [\"text\"]\n[teacher]\ncolumns = \"teacher_p_\"\n[student]\nhidden = [16]\n[distill]\nseed = 3\n[evaluate]\nslices = [\"text:language\", \"text:contains(click here, remove)\", \"text:words(100, 300)\"]\n",
    );
    let run = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = json(&run);
    text_slices(&s.runs()[0].join("report.json"));
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
        "text\n\"FREE!!! Click here to claim your cash prize now, limited offer, buy viagra\"\n\"Re: [SAdev] 2.40 release: I ran the new rules over my mail archive last night and the false positives on the list digests are gone; the patch is attached, please review it before the release.\"\n",
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
    let mut reader = csv::Reader::from_reader(scored.as_bytes());
    let spam_column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "prob_spam")
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let p_spam = |r: usize| rows[r][spam_column].parse::<f64>().unwrap();
    assert_eq!(&rows[0][rows[0].len() - 1], "spam", "{scored}");
    assert!(
        p_spam(0) > p_spam(1) + 0.2,
        "the spam reads as spammier: {scored}"
    );

    // Served: the text goes in as BYTES.
    let promote = s.cmd(&["registry", "promote", "spam/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    let server = serve_with(s.dir.path(), &["--no-log"]);
    let body = serde_json::json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
        "data": ["WIN a FREE iPhone!!! click the link to claim your prize", "Re: [SAdev] 2.40 release: I ran the new rules over my mail archive last night and the false positives on the list digests are gone; the patch is attached, please review it before the release."]}]});
    let (status, answer) = post(
        &format!("{}/v2/models/spam/infer", server.base),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let outputs = answer["outputs"].as_array().unwrap();
    let labels = &outputs.iter().find(|o| o["datatype"] == "BYTES").unwrap()["data"];
    assert_eq!(labels[0], "spam", "{answer}");
    let p = &outputs
        .iter()
        .find(|o| o["name"] == "probabilities")
        .unwrap()["data"];
    let (first, second) = (p[1].as_f64().unwrap(), p[3].as_f64().unwrap());
    assert!(
        first > second + 0.2,
        "P(spam) {first} vs {second}: {answer}"
    );
    let (_, meta) = crate::serve::get(&format!("{}/v2/models/spam", server.base));
    assert!(meta.contains("\"BYTES\""), "text is a BYTES input: {meta}");
    server.stop();
}

#[test]
fn word_vectors_join_the_hashed_text_inputs_and_bad_vector_files_are_refused() {
    let s = setup();
    std::fs::copy(data("spam_sample.csv"), s.path("spam.csv")).unwrap();
    std::fs::copy(data("spam_words.vec"), s.path("words.vec")).unwrap();
    let recipe = |extra: &str| {
        format!(
            "name = \"spam\"\n[data]\ntrain = \"spam.csv\"\ntarget = \"label\"\ntext = [\"text\"]\n[teacher]\ncolumns = \"teacher_p_\"\n[student]\nhidden = [16]\n[student.text]\nbuckets = 4096\n{extra}[distill]\nseed = 3\n"
        )
    };
    let with = s.write("with.toml", &recipe("vectors = \"words.vec\"\n"));
    let run = s.cmd(&["run", with.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = json(&run);
    let accuracy = report["student"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.85, "{}", report["student"]);
    // The encoder carries the vectors: 4,096 hashed slots plus 8 vector dimensions, in the
    // student file, its ONNX export and what `predict` computes.
    let dir = s.runs()[0].clone();
    let student = distillery_runtime::Student::load(&dir.join("student.safetensors")).unwrap();
    assert_eq!(student.encoder().width(), 4096 + 8);
    let onnx = std::fs::read(dir.join("student.onnx")).unwrap();
    assert!(!onnx.is_empty());
    let without = s.write("without.toml", &recipe(""));
    let plain = s.cmd(&["run", without.to_str().unwrap(), "--json"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    let plain_dir = s.runs().into_iter().find(|d| *d != dir).unwrap();
    let plain_student =
        distillery_runtime::Student::load(&plain_dir.join("student.safetensors")).unwrap();
    assert_eq!(plain_student.encoder().width(), 4096);
    // A word the hashed student never saw still moves the vector student: its vector sits
    // near words it did see.
    let row = [distillery_runtime::RawValue::Text(
        "congratulations winner exclusive bonus",
    )];
    let a = student.predict_one(&row).unwrap();
    let b = plain_student.predict_one(&row).unwrap();
    assert_ne!(a, b);

    // Bad files are refused before training, naming what is wrong.
    s.write("ragged.vec", "2 3\nfree 1 2 3\nmoney 1 2\n");
    let ragged = s.write("ragged.toml", &recipe("vectors = \"ragged.vec\"\n"));
    let out = s.cmd(&["run", ragged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    s.write("foreign.vec", "zzqx 1 2\nqqzx 3 4\n");
    let foreign = s.write("foreign.toml", &recipe("vectors = \"foreign.vec\"\n"));
    let out = s.cmd(&["run", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("none of the 2 words"),
        "{}",
        stderr(&out)
    );
    let no_transformer = s.write("teacher.toml", &recipe("vectors = \"teacher\"\n"));
    let out = s.cmd(&["run", no_transformer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[teacher] onnx and tokenizer"),
        "{}",
        stderr(&out)
    );
    let missing = s.write("missing.toml", &recipe("vectors = \"nowhere.vec\"\n"));
    let out = s.cmd(&["run", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nowhere.vec"), "{}", stderr(&out));
}

/// The committed sample split in three CSV files: the first `labelled` rows as they are
/// (`mail.csv`), the next `extra` without their label (and, unless `soft`, without the
/// teacher's columns: `unlabelled.csv`), the rest as text only (`later.csv`).
fn split_sample(s: &crate::util::Setup, labelled: usize, extra: usize, soft: bool) {
    let text = std::fs::read_to_string(data("spam_sample.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let mut train = csv::Writer::from_path(s.path("mail.csv")).unwrap();
    let mut unlabelled = csv::Writer::from_path(s.path("unlabelled.csv")).unwrap();
    let mut later = csv::Writer::from_path(s.path("later.csv")).unwrap();
    train.write_record(&header).unwrap();
    later.write_record(["text"]).unwrap();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] == *"text" || (soft && header[i].starts_with("teacher_p_")))
        .collect();
    unlabelled
        .write_record(keep.iter().map(|&i| &header[i]))
        .unwrap();
    for (i, r) in reader.records().enumerate() {
        let r = r.unwrap();
        if i < labelled {
            train.write_record(&r).unwrap();
        } else if i < labelled + extra {
            unlabelled
                .write_record(keep.iter().map(|&i| &r[i]))
                .unwrap();
        } else {
            later.write_record([&r[0]]).unwrap();
        }
    }
    train.flush().unwrap();
    unlabelled.flush().unwrap();
    later.flush().unwrap();
}

#[test]
fn unlabelled_texts_join_the_transfer_set_and_drift_reads_what_the_texts_say() {
    let s = setup();
    let recipe = "name = \"mail\"\n[data]\ntrain = \"mail.csv\"\nunlabelled = \"unlabelled.csv\"\ntarget = \"label\"\ntext = [\"text\"]\n[teacher]\ncolumns = \"teacher_p_\"\n[student]\nhidden = [16]\n[distill]\nseed = 3\n";
    // Without the soft-label columns nobody can label the extra rows: a clear refusal.
    split_sample(&s, 260, 60, false);
    let path = s.write("mail.toml", recipe);
    let refused = s.cmd(&["run", path.to_str().unwrap(), "--no-register"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("unlabelled.csv") && err.contains("teacher_p_") && err.contains("soft-label"),
        "{err}"
    );
    // MUNGE cannot make texts; the refusal names what can.
    split_sample(&s, 260, 60, true);
    let munge = s.write("munge.toml", &format!("{recipe}augment = \"munge\"\n"));
    let refused = s.cmd(&["run", munge.to_str().unwrap(), "--no-register"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("tokens"), "{}", stderr(&refused));

    let run = s.cmd(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = json(&run);
    let d = &report["dataset"];
    assert_eq!(d["unlabelled_rows"], 60, "{d}");
    assert!(
        d["unlabelled_file"]
            .as_str()
            .unwrap()
            .ends_with("unlabelled.csv")
    );
    assert!(d["train_rows"].as_u64().unwrap() > 60 + 150, "{d}");
    let card = std::fs::read_to_string(s.runs()[0].join("model_card.md")).unwrap();
    assert!(card.contains("unlabelled.csv"), "{card}");

    // Drift on text: the profile knows the training texts' words. Later mail the run never
    // saw reads like the training texts; the same texts with every word garbled do not,
    // though their lengths in words are the same.
    let run_dir = s.runs()[0].to_str().unwrap().to_string();
    let drift = |current: &str| {
        let out = s.cmd(&[
            "drift",
            "--reference",
            &run_dir,
            "--current",
            current,
            "--json",
        ]);
        assert!(out.status.code().unwrap() <= 1, "{}", stderr(&out));
        json(&out)
    };
    let column = crate::util::drift_column;
    let same = drift(s.path("later.csv").to_str().unwrap());
    for name in ["text", "text: embedding 1", "text: embedding 2"] {
        assert_eq!(column(&same, name)["drifted"], false, "{name}: {same}");
    }
    // Later mail brings some new threads' words; garbled mail brings nothing but.
    let statistic = |r: &serde_json::Value| {
        column(r, "text: unseen words")["statistic"]
            .as_f64()
            .unwrap()
    };
    assert!(statistic(&same) < 0.3, "{same}");
    let text = std::fs::read_to_string(s.path("later.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut garbled = csv::Writer::from_path(s.path("garbled.csv")).unwrap();
    garbled.write_record(["text"]).unwrap();
    for r in reader.records() {
        let words: Vec<String> = r.unwrap()[0]
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| format!("zq{}x{i}", w.len()))
            .collect();
        garbled.write_record([words.join(" ")]).unwrap();
    }
    garbled.flush().unwrap();
    let moved = drift(s.path("garbled.csv").to_str().unwrap());
    assert_eq!(
        column(&moved, "text")["drifted"],
        false,
        "same lengths: {moved}"
    );
    assert_eq!(
        column(&moved, "text: unseen words")["drifted"],
        true,
        "{moved}"
    );
    assert!(statistic(&moved) > 0.9, "{moved}");
    let embedded = (1..=4)
        .filter(|d| column(&moved, &format!("text: embedding {d}"))["drifted"] == true)
        .count();
    assert!(embedded >= 2, "the embedding moves: {moved}");
}

/// The run's slices cut the mail by what it says: declared language, keyword and length
/// slices, and the search's own keyword slices.
fn text_slices(report: &std::path::Path) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let slices = &report["slices"];
    let declared = slices["declared"].as_array().unwrap();
    let names = |group: &serde_json::Value| -> Vec<String> {
        group["slices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let language = names(&declared[0]);
    assert!(
        language.contains(&"text language = English".to_string()),
        "{language:?}"
    );
    let keyword = names(&declared[1]);
    assert_eq!(
        keyword,
        [
            "text ∋ \"click here\" or \"remove\"",
            "text ∌ \"click here\" nor \"remove\""
        ]
    );
    assert_eq!(names(&declared[2])[0], "text words ≤ 100");
    // Every test row falls in exactly one level of each declared slice.
    let rows = |group: &serde_json::Value| -> u64 {
        group["slices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rows"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(rows(&declared[0]), rows(&declared[1]));
    assert_eq!(rows(&declared[1]), rows(&declared[2]));
    let searched: Vec<String> = slices["discovery"]["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        searched.iter().any(|n| n.starts_with("text ∋ \"")),
        "the search tries the mail's common words: {searched:?}"
    );
}

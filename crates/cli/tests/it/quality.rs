//! Issue #5: the data checks through the real binary.

use crate::util::{Setup, adult_recipe, data, json, onnx_line, setup, stderr};

#[test]
fn missing_counts_match_pandas() {
    let fixture: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("quality_missing.json")).unwrap()).unwrap();
    for (file, target) in [
        ("adult_sample.csv", "income-per-year"),
        ("credit_sample.csv", "Status"),
    ] {
        let s = setup();
        let recipe = format!(
            "[data]\ntrain = {:?}\ntarget = \"{target}\"\n[teacher]\ntrain = {{ hidden = [8], epochs = 1 }}\n",
            data(file).display().to_string()
        );
        let path = s.write("r.toml", &recipe);
        let out = s.cmd(&["check", path.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let report = json(&out);
        let theirs = fixture[file]["missing"].as_object().unwrap();
        let ours = report["missing"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{file}");
        for m in ours {
            let column = m["column"].as_str().unwrap();
            assert_eq!(
                theirs[column].as_u64(),
                m["count"].as_u64(),
                "{file}: {column}"
            );
        }
        assert!(
            theirs.values().any(|v| v.as_u64() > Some(0)),
            "{file} has missing cells"
        );
    }
}

/// 16-digit numbers with a valid (or, when `valid` is false, a wrong) Luhn check digit.
fn card(i: usize, valid: bool) -> String {
    let body = format!("{:015}", 400_000_000_000_000u64 + i as u64 * 7_919);
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            if k % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    let check = if valid { check } else { (check + 1) % 10 };
    let n = format!("{body}{check}");
    format!("{} {} {} {}", &n[0..4], &n[4..8], &n[8..12], &n[12..16])
}

/// The Adult sample split into train and test files, with a leaking column (the label
/// under another name), a strong but honest sensor (right on 99.5% of rows), a column of
/// Luhn-valid card numbers, one of invalid ones, and 10 training rows copied into the test.
fn planted(s: &Setup) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header = format!("{},leak,sensor,card,bad_card", lines.next().unwrap());
    let rows: Vec<String> = lines
        .enumerate()
        .map(|(i, l)| {
            let label = l.rsplit(',').next().unwrap();
            let high = (label == ">50K") != (i % 200 == 7);
            let sensor = u8::from(high) * 10 + (i % 2) as u8;
            format!("{l},L{label},{sensor},{},{}", card(i, true), card(i, false))
        })
        .collect();
    let train: Vec<&String> = rows[..900].iter().collect();
    let test: Vec<&String> = rows[900..].iter().chain(rows[..10].iter()).collect();
    let write = |name: &str, body: &[&String]| {
        let joined: Vec<&str> = body.iter().map(|s| s.as_str()).collect();
        s.write(name, &format!("{header}\n{}\n", joined.join("\n")))
    };
    (write("train.csv", &train), write("test.csv", &test))
}

#[test]
fn planted_leakage_overlap_and_card_numbers_block_training_until_acknowledged() {
    let s = setup();
    let (train, test) = planted(&s);
    let recipe = |extra: &str| {
        adult_recipe(&train, &onnx_line(), extra).replace(
            "test_fraction = 0.25",
            &format!("test = {:?}", test.display().to_string()),
        )
    };
    let path = s.write("r.toml", &recipe(""));
    let report = json(&s.cmd(&["check", path.to_str().unwrap(), "--json"]));
    let keys: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["key"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    // Honest data is not blocked: a strong sensor and a few repeated rows only warn.
    for want in [
        ("leakage:leak", "block"),
        ("leakage:sensor", "warn"),
        ("overlap", "warn"),
        ("pii:card", "block"),
    ] {
        assert!(keys.contains(&want), "{want:?} not in {keys:?}");
    }
    assert!(
        !keys.iter().any(|(k, _)| *k == "pii:bad_card"),
        "an invalid checksum is not a card: {keys:?}"
    );
    let card_finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "pii:card")
        .unwrap();
    assert!(
        card_finding["examples"][0]
            .as_str()
            .unwrap()
            .starts_with("**** **** ****")
    );

    let out = s.cmd(&["run", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for key in ["[leakage:leak]", "[pii:card]", "[quality] acknowledge"] {
        assert!(err.contains(key), "{key} not in {err}");
    }
    assert!(!err.contains("[overlap]"), "overlap warns only: {err}");
    assert!(
        !err.contains("[leakage:sensor]"),
        "a strong sensor warns only: {err}"
    );
    assert!(s.runs().is_empty(), "nothing trained");

    let accepted = recipe("\n[quality]\nacknowledge = [\"leakage:leak\"]\n").replace(
        "[teacher]",
        "ignore = [\"card\", \"bad_card\"]\n\n[teacher]",
    );
    let path = s.write("r.toml", &accepted);
    let out = s.cmd(&["run", path.to_str().unwrap(), "--json", "--no-register"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = &s.runs()[0];
    assert!(run.join("check.json").exists() && run.join("data_card.md").exists());
    let card = std::fs::read_to_string(run.join("data_card.md")).unwrap();
    assert!(card.contains("acknowledged in the recipe"), "{card}");
    let summary = json(&out);
    assert!(summary["checks"]["findings"].is_array());
    // The 10 repeated test rows: scores on the de-duplicated rows next to the full ones.
    let dedup = &summary["deduplicated_test"];
    assert_eq!(dedup["repeated_rows"], 10, "{dedup}");
    assert_eq!(dedup["rows"], 300, "{dedup}");
    assert!(dedup["student"]["accuracy"].as_f64().is_some(), "{dedup}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"checks\"") && html.contains("leakage:leak"),
        "the report shows the checks"
    );
}

#[test]
fn a_test_file_that_is_the_training_file_blocks() {
    let s = setup();
    let (train, _) = planted(&s);
    let recipe = adult_recipe(&train, &onnx_line(), "").replace(
        "test_fraction = 0.25",
        &format!("test = {:?}", train.display().to_string()),
    );
    let path = s.write("r.toml", &recipe);
    let out = s.cmd(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[test_is_train]"), "{}", stderr(&out));
}

#[test]
fn later_data_is_checked_against_the_runs_schema_contract() {
    let s = setup();
    let model = s.trained_student();
    let run = model.parent().unwrap();
    assert!(run.join("contract.json").exists());
    let same = s.cmd(&[
        "check",
        "--against",
        run.to_str().unwrap(),
        "--data",
        data("adult_sample.csv").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert_eq!(
        json(&same)["findings"].as_array().unwrap().len(),
        0,
        "the training file meets its own contract"
    );

    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let race = header.iter().position(|h| *h == "race").unwrap();
    let keep = |cells: Vec<String>| -> String {
        let mut c = cells;
        c.remove(race);
        c.push("x".into());
        c.join(",")
    };
    let mut out =
        vec![keep(header.iter().map(|h| h.to_string()).collect()).replace(",x", ",extra")];
    for (i, l) in lines.take(100).enumerate() {
        let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
        if i < 3 {
            cells[1] = "Space-force".into(); // workclass
        }
        if i == 5 {
            cells[0] = "250".into(); // age
        }
        out.push(keep(cells));
    }
    let later = s.write("later.csv", &(out.join("\n") + "\n"));
    let checked = s.cmd(&[
        "check",
        "--against",
        run.to_str().unwrap(),
        "--data",
        later.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        checked.status.code(),
        Some(1),
        "a missing column blocks: {}",
        stderr(&checked)
    );
    let r = json(&checked);
    let found: Vec<(String, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in [
        ("missing_column:race".to_string(), 100),
        ("new_category:workclass".to_string(), 3),
        ("out_of_range:age".to_string(), 1),
        ("extra_column:extra".to_string(), 100),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:?}");
    }
}

#[test]
fn label_issues_can_be_dropped_or_downweighted_in_training() {
    let s = setup();
    let student = |mode: &str| -> (Vec<u8>, serde_json::Value) {
        let extra = format!(
            "\n[evaluate]\ncv_folds = 3\ndiscover = false\n\n[quality]\nlabel_issues = \"{mode}\"\n"
        );
        let path = s.write(
            "r.toml",
            &adult_recipe(&data("adult_sample.csv"), &onnx_line(), &extra),
        );
        let out = s.cmd(&[
            "run",
            path.to_str().unwrap(),
            "--json",
            "--no-register",
            "--out",
            mode,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let run = std::fs::read_dir(s.path(mode))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .unwrap();
        (
            std::fs::read(run.join("student.safetensors")).unwrap(),
            json(&out),
        )
    };
    let (report_bytes, r) = student("report");
    let finding = |r: &serde_json::Value| -> String {
        r["checks"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "label_issues")
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        r["checks"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "label_issues")
            .unwrap()["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (drop_bytes, d) = student("drop");
    assert!(finding(&d).contains("dropped"), "{}", finding(&d));
    let (down_bytes, w) = student("downweight");
    assert!(finding(&w).contains("soft labels only"), "{}", finding(&w));
    assert_ne!(
        report_bytes, drop_bytes,
        "dropping rows changes the student"
    );
    assert_ne!(
        report_bytes, down_bytes,
        "down-weighting changes the student"
    );

    let path = s.write(
        "bad.toml",
        &adult_recipe(
            &data("adult_sample.csv"),
            &onnx_line(),
            "\n[quality]\nlabel_issues = \"drop\"\n",
        ),
    );
    let out = s.cmd(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cv_folds"), "{}", stderr(&out));
}

#[test]
fn check_label_issues_writes_the_file_it_names() {
    let s = setup();
    let path = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), ""),
    );
    let out = s.cmd(&["check", path.to_str().unwrap(), "--label-issues", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let check_into = |out: &str| {
        s.cmd(&[
            "check",
            path.to_str().unwrap(),
            "--label-issues",
            "--out",
            out,
        ])
    };
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "label_issues")
        .expect("label issues reported");
    assert!(f["count"].as_u64().unwrap() > 0);
    assert!(
        f["message"].as_str().unwrap().contains("of 1200 labels"),
        "{}",
        f["message"]
    );
    assert!(s.runs().is_empty(), "checking trains nothing that stays");
    // Issue #15: the file the message names exists next to
    // the recipe, lists every flagged row as --json does, and its rows are the CSV's data
    // rows counted from 1 (header not counted).
    let flagged = r["label_issues"].as_array().unwrap();
    assert_eq!(flagged.len() as u64, f["count"].as_u64().unwrap());
    let written = std::fs::read_to_string(s.path("label_issues.csv")).unwrap();
    assert_eq!(written.lines().count(), flagged.len() + 1, "{written}");
    let source = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    for row in flagged {
        let n = row["row"].as_u64().unwrap() as usize;
        let label = lines[n].rsplit(',').next().unwrap();
        assert_eq!(
            row["label"],
            label,
            "data row {n} is line {} of the CSV",
            n + 1
        );
    }
    let elsewhere = check_into("issues/flagged.csv");
    assert_eq!(
        elsewhere.status.code(),
        Some(2),
        "the folder does not exist"
    );
    std::fs::create_dir(s.path("issues")).unwrap();
    let elsewhere = check_into("issues/flagged.csv");
    assert_eq!(elsewhere.status.code(), Some(0), "{}", stderr(&elsewhere));
    assert_eq!(
        std::fs::read_to_string(s.path("issues/flagged.csv")).unwrap(),
        written
    );
}

#[test]
fn a_column_mixing_numbers_and_text_is_a_blocking_finding() {
    let s = setup();
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let age = lines[40].split(',').next().unwrap().to_string();
    lines[40] = lines[40].replacen(&age, "forty", 1);
    let d = s.write("bad.csv", &lines.join("\n"));
    let path = s.write("r.toml", &adult_recipe(&d, &onnx_line(), ""));
    let out = s.cmd(&["check", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["findings"][0]["key"], "mixed_types:age");
    assert_eq!(r["findings"][0]["examples"][0], "row 40: forty");
}

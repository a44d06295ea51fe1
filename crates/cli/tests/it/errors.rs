//! Every bad input of issue #2 exits 2 with a message that names the file, column or row,
//! and never leaves a run directory that looks complete.

use crate::util::{Setup, adult_recipe, data, onnx_line, repo, setup, stderr};

/// Runs the recipe and checks exit code 2, the message fragments and that no run was written.
fn fails(s: &Setup, recipe: &str, fragments: &[&str]) {
    let path = s.write("r.toml", recipe);
    let out = s.cmd(&["run", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for f in fragments {
        assert!(err.contains(f), "expected {f:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(s.runs().is_empty(), "no run directory after a failure");
}

#[test]
fn missing_data_file() {
    let s = setup();
    fails(
        &s,
        &adult_recipe(&s.path("nope.csv"), &onnx_line(), ""),
        &["cannot read", "nope.csv"],
    );
}

#[test]
fn unknown_target_column_suggests_the_nearest() {
    let s = setup();
    let r = adult_recipe(&data("adult_sample.csv"), &onnx_line(), "")
        .replace("income-per-year", "income_per_year");
    fails(
        &s,
        &r,
        &["'income_per_year'", "did you mean 'income-per-year'"],
    );
}

#[test]
fn target_with_one_class() {
    let s = setup();
    let mut body = String::from("a,b,y\n");
    for i in 0..50 {
        body.push_str(&format!("{i},{},same\n", i % 3));
    }
    let d = s.write("one.csv", &body);
    let r = adult_recipe(&d, "train = { hidden = [8] }", "").replace("income-per-year", "y");
    fails(&s, &r, &["target 'y' has 1 class", "one.csv"]);
}

#[test]
fn text_in_a_numeric_column_names_the_row() {
    let s = setup();
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[40] = lines[40].replacen(
        &lines[40].split(',').next().unwrap().to_string(),
        "forty",
        1,
    );
    let d = s.write("bad.csv", &lines.join("\n"));
    fails(
        &s,
        &adult_recipe(&d, &onnx_line(), ""),
        &["column 'age'", "row 40", "'forty'"],
    );
}

#[test]
fn onnx_teacher_with_the_wrong_input_width() {
    let s = setup();
    let teacher = format!(
        "{}\ninputs = [\"age\", \"fnlwgt\", \"hours-per-week\"]",
        onnx_line()
    );
    fails(
        &s,
        &adult_recipe(&data("adult_sample.csv"), &teacher, ""),
        &["takes 14 inputs", "3 columns"],
    );
}

#[test]
fn onnx_teacher_with_the_wrong_class_count() {
    let s = setup();
    // 16 numeric columns and a binary target, fed to a 5-class letter teacher.
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("tests/data/teachers/gb_multiclass.json")).unwrap(),
    )
    .unwrap();
    let names = "x_box,y_box,width,high,onpix,x_bar,y_bar,x2bar,y2bar,xybar,x2ybr,xy2br,x_ege,xegvy,y_ege,yegvx";
    let mut body = format!("{names},y\n");
    for (i, row) in fixture["inputs"].as_array().unwrap().iter().enumerate() {
        let cells: Vec<String> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().map_or(String::new(), |f| f.to_string()))
            .collect();
        body.push_str(&format!("{},{}\n", cells.join(","), i % 2));
    }
    let d = s.write("letters.csv", &body);
    let teacher = format!(
        "onnx = {:?}",
        repo()
            .join("tests/data/teachers/gb_multiclass.onnx")
            .display()
            .to_string()
    );
    let r = adult_recipe(&d, &teacher, "").replace("income-per-year", "y");
    fails(&s, &r, &["predicts 5 classes", "target has 2"]);
}

#[test]
fn soft_labels_that_do_not_sum_to_one_name_the_row() {
    let s = setup();
    let text = std::fs::read_to_string(data("adult_soft.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[7].split(',').map(String::from).collect();
    let n = cells.len();
    cells[n - 1] = "0.9".into();
    cells[n - 2] = "0.9".into();
    lines[7] = cells.join(",");
    let d = s.write("soft.csv", &lines.join("\n"));
    let r = adult_recipe(
        &d,
        "columns = \"teacher_p_\"\nscores = \"probabilities\"",
        "",
    )
    .replace(
        "test_fraction = 0.25",
        "test_fraction = 0.25\nvalidation_fraction = 0.0",
    );
    let path = s.write("r.toml", &r);
    let out = s.cmd(&["run", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("row 7") && err.contains("sum to 1.8"), "{err}");
}

#[test]
fn empty_file() {
    let s = setup();
    let d = s.write("empty.csv", "");
    fails(
        &s,
        &adult_recipe(&d, &onnx_line(), ""),
        &["empty.csv", "no data rows"],
    );
    let d = s.write("header.csv", "age,income-per-year\n");
    fails(
        &s,
        &adult_recipe(&d, &onnx_line(), ""),
        &["header.csv", "no data rows"],
    );
}

#[test]
fn unknown_recipe_key_suggests_the_nearest() {
    let s = setup();
    let r = adult_recipe(
        &data("adult_sample.csv"),
        &onnx_line(),
        "soft_wieght = 0.5\n",
    );
    fails(
        &s,
        &r,
        &[
            "unknown key 'soft_wieght' in [distill]",
            "did you mean 'soft_weight'",
        ],
    );
}

#[test]
fn missing_recipe_and_bad_usage_exit_2() {
    let s = setup();
    let out = s.cmd(&["run", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.toml"));
    assert_eq!(s.cmd(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(s.cmd(&["--help"]).status.code(), Some(0));
}

#[test]
fn a_file_that_is_not_onnx() {
    let s = setup();
    let fake = s.write("t.onnx", "not a model");
    let teacher = format!("onnx = {:?}", fake.display().to_string());
    fails(
        &s,
        &adult_recipe(&data("adult_sample.csv"), &teacher, ""),
        &["t.onnx", "not an ONNX model"],
    );
}

#[test]
fn unbounded_memory_from_a_recipe_is_refused_up_front() {
    // Issue #15: `hidden = [100000000]` grew to tens of GB until the kernel killed it.
    let s = setup();
    let r = adult_recipe(&data("adult_sample.csv"), &onnx_line(), "")
        .replace("hidden = [16]", "hidden = [100000000]");
    fails(&s, &r, &["hidden", "each 1 to 65536 wide"]);
    #[cfg(unix)]
    {
        let link = s.path("endless.csv");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        fails(
            &s,
            &adult_recipe(&link, &onnx_line(), ""),
            &["endless.csv is not a regular file"],
        );
    }
}

#[test]
fn duplicate_csv_header_names_are_refused() {
    let s = setup();
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let doubled = text.replacen("fnlwgt", "age", 1);
    let d = s.write("doubled.csv", &doubled);
    fails(
        &s,
        &adult_recipe(&d, &onnx_line(), ""),
        &["column 'age' appears twice in the header (columns 1 and 3)"],
    );
}

#[test]
fn predict_refuses_to_overwrite_its_input_and_logs_carry_no_colour_codes() {
    let s = setup();
    let student = s.trained_student();
    let rows = s.write(
        "rows.csv",
        &std::fs::read_to_string(data("adult_sample.csv")).unwrap(),
    );
    let before = std::fs::read(&rows).unwrap();
    let out = s.cmd(&[
        "predict",
        "--model",
        student.to_str().unwrap(),
        "--input",
        "rows.csv",
        "--output",
        "./rows.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is the input file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&rows).unwrap(), before, "the input is intact");
    // stderr is a pipe here: no ANSI escape codes, whatever the log level.
    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    let logged = s.cmd_env(
        &["serve", "--port", "0", "--host", "no-such-host.invalid"],
        &[("DISTILLERY_LOG", "debug")],
    );
    assert_eq!(logged.status.code(), Some(2));
    let err = stderr(&logged);
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe: {err:?}");
    assert!(
        err.contains("the host name no-such-host.invalid does not resolve"),
        "a DNS failure is not 'is the port taken?': {err}"
    );
}

#[test]
fn a_reader_that_closes_the_pipe_early_is_not_an_error() {
    // `distillery registry ls --json | head -1`: the JSON goes straight to a closed stdout.
    let s = setup();
    s.trained_student();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_distillery"))
        .args(["registry", "ls", "--json"])
        .current_dir(s.dir.path())
        .envs(crate::util::backend_env(s.dir.path()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

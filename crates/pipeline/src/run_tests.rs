//! Each stage of a run, in-process, on the committed Adult sample with precomputed soft
//! labels (`teacher_p_*` columns), so the stages are tested without spawning the binary.

use std::sync::Mutex;

use super::*;
use crate::progress::{EpochProgress, JobProgress, Silent};

/// A small recipe on `tests/data/adult_soft.csv`; `extra` is appended.
fn recipe(extra: &str) -> ValidRecipe {
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/adult_soft.csv"
    );
    let text = format!(
        "name = \"stages\"\n[data]\ntrain = \"{data}\"\ntarget = \"income-per-year\"\n\
         [teacher]\ncolumns = \"teacher_p_\"\n[student]\nhidden = [8]\n\
         [distill]\nepochs = 4\n{extra}"
    );
    Recipe::parse(&text, std::path::Path::new("stages.toml"))
        .and_then(Recipe::check)
        .unwrap()
}

fn options(out: &std::path::Path) -> RunOptions<'_> {
    RunOptions::new(out, &Silent)
}

#[test]
fn check_splits_the_rows_and_keys_the_job_by_recipe_and_data() {
    let out = tempfile::tempdir().unwrap();
    let r = recipe("");
    let checked = check(&r, "text", &options(out.path())).unwrap();
    let d = &checked.data;
    assert_eq!(d.labels.classes, ["<=50K", ">50K"]);
    let split = d.train_rows.len() + d.val_rows.len() + d.test_rows.len();
    assert_eq!(split, 1200, "every labelled row lands in exactly one split");
    assert!(checked.checks.is_some(), "the data checks ran");
    assert!(checked.job_key.ends_with(&d.fingerprint));
    let other = check(&r, "other text", &options(out.path())).unwrap();
    assert_ne!(
        other.job_key, checked.job_key,
        "the recipe's text is part of the key"
    );
}

#[test]
fn check_refuses_a_slice_on_a_missing_column_before_any_training() {
    let out = tempfile::tempdir().unwrap();
    let r = recipe("[evaluate]\nslices = [\"nonexistent\"]\n");
    let e = match check(&r, "t", &options(out.path())) {
        Err(e) => e,
        Ok(_) => panic!("a slice on a missing column must be refused"),
    };
    assert!(e.is_bad_input(), "{e}");
    assert!(e.to_string().contains("nonexistent"), "{e}");
}

#[test]
fn label_then_fit_gives_the_same_student_bit_for_bit() {
    let out = tempfile::tempdir().unwrap();
    let r = recipe("");
    let students = (0..2).map(|_| {
        let checked = check(&r, "t", &options(out.path())).unwrap();
        let labelled = label(&r, checked, &options(out.path())).unwrap();
        let n = labelled.checked.data.train_rows.len();
        assert_eq!(
            labelled.teacher.train.len(),
            n * 2,
            "two classes per training row"
        );
        assert_eq!(labelled.transfer.real, n);
        let fitted = fit(&r, &labelled, &options(out.path())).unwrap();
        labelled.checkpoints.remove();
        fitted.student.to_bytes().unwrap()
    });
    let students: Vec<Vec<u8>> = students.collect();
    assert_eq!(
        students[0], students[1],
        "same recipe and seed, same student"
    );
}

#[test]
fn evaluate_builds_one_report_with_every_model_and_gate() {
    let out = tempfile::tempdir().unwrap();
    let r = recipe("[gates]\nmin_fidelity = 0.5\n[quantize]\nint8 = true\n");
    let o = options(out.path());
    let labelled = label(&r, check(&r, "t", &o).unwrap(), &o).unwrap();
    let fitted = fit(&r, &labelled, &o).unwrap();
    let evaluated = evaluate(&r, &labelled, &fitted, &o).unwrap();
    let report = &evaluated.report;
    assert_eq!(report.kind, "run");
    assert_eq!(
        report.dataset.test_rows,
        labelled.checked.data.test_rows.len()
    );
    assert!(report.teacher.is_some() && report.scratch.is_some() && report.int8.is_some());
    let fidelity = report.fidelity.as_ref().unwrap();
    assert!((0.0..=1.0).contains(&fidelity.agreement));
    assert_eq!(report.gates.len(), 1);
    assert_eq!(report.gates[0].passed, report.student.fidelity >= 0.5);
    assert!(!evaluated.student_bytes.is_empty());
    let gain = report
        .distillation_gain
        .as_ref()
        .expect("distillation vs scratch");
    assert_eq!(gain.test.rows as usize, report.dataset.test_rows);
    assert_eq!(
        gain.validation.rows as usize,
        report.dataset.validation_rows
    );
    assert!((gain.test.accuracy - report.student.accuracy).abs() < 1e-12);
    assert!(
        (gain.test.baseline_accuracy - report.scratch.as_ref().unwrap().accuracy).abs() < 1e-12
    );
    assert!((0.0..=1.0).contains(&gain.test.p_value));
    let discordant = gain.test.only_model_right as f64 - gain.test.only_baseline_right as f64;
    let delta = (gain.test.accuracy - gain.test.baseline_accuracy) * gain.test.rows as f64;
    assert!(
        (discordant - delta).abs() < 1e-6,
        "the accuracy gap is the discordant rows' difference"
    );
}

/// Records the stages announced, as a notebook's callback would.
#[derive(Default)]
struct Stages(Mutex<Vec<String>>);

impl Progress for Stages {
    fn stage(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
    fn epochs(&self, _what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
        Box::new(Silent)
    }
    fn jobs(&self, _what: &str, _total: usize) -> Box<dyn JobProgress + '_> {
        Box::new(Silent)
    }
}

#[test]
fn a_run_reports_its_stages_and_writes_its_directory_whole() {
    let out = tempfile::tempdir().unwrap();
    let stages = Stages::default();
    let r = recipe("[quantize]\nint8 = true\n");
    let outcome = run(&r, "recipe text", &RunOptions::new(out.path(), &stages)).unwrap();
    let seen = stages.0.lock().unwrap().clone();
    let order = [
        "reading",
        "checking",
        "labelling",
        "evaluating on",
        "quantizing",
        "evaluating slices",
    ];
    let mut at = 0;
    for want in order {
        let found = seen[at..].iter().position(|s| s.starts_with(want));
        at += found.unwrap_or_else(|| panic!("stage '{want}' missing or out of order in {seen:?}"))
            + 1;
    }
    for file in [
        "student.safetensors",
        "student.onnx",
        "student.int8.onnx",
        "report.json",
        "profile.json",
        "recipe.toml",
    ] {
        assert!(outcome.run_dir.join(file).is_file(), "{file} missing");
    }
    let kept = std::fs::read_to_string(outcome.run_dir.join("recipe.toml")).unwrap();
    assert_eq!(kept, "recipe text");
    let hidden: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(
        hidden.is_empty(),
        "no temporary run folder left: {hidden:?}"
    );
}

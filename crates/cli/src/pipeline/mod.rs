//! `distillery run`: validate → teacher → distill (and the scratch baseline) → evaluate →
//! write `runs/<run-id>/`. Everything is written into a hidden temporary directory that is
//! renamed into place at the very end, so a crash never leaves a run that looks complete.

mod ablation;
mod checkpoint_dir;
pub(crate) mod cv;
mod data;
mod distill;
pub(crate) mod evaluate;
pub(crate) mod feed;
pub(crate) mod latency;
mod memory;
pub(crate) mod quality;
mod run_dir;
pub(crate) mod teacher;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use distillery_eval::{Scores, fidelity, mean_kl};
use distillery_runtime::{Provenance, QuantizedStudent, RawValue, Scratch, Student};
use distillery_train::{FitOutcome, raw_value};

use crate::progress::Progress;
use crate::recipe::Recipe;
use distillery_eval::run_report::{DatasetSummary, ModelSummary, Quality, Report, ReportHeader};

/// How to run a recipe.
pub(crate) struct RunOptions {
    /// Parent of the run directory (default `runs`).
    pub(crate) out_dir: PathBuf,
    /// Continue interrupted training from checkpoints.
    pub(crate) resume: bool,
    pub(crate) progress: Progress,
}

/// A finished run.
pub(crate) struct RunOutcome {
    pub(crate) report: Report,
    pub(crate) run_dir: PathBuf,
}

/// Runs a recipe end to end.
pub(crate) fn run(recipe: &Recipe, recipe_text: &str, options: &RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    let progress = options.progress;
    let params = recipe.distill_params()?;
    progress.stage(&format!("reading {}", recipe.data.train.display()));
    memory::check_file(&recipe.data.train)?;
    let prepared = data::prepare(recipe)?;
    let classes = prepared.labels.n_classes();
    let networks = std::iter::once(("the student", &params.hidden)).chain(
        recipe
            .teacher
            .train
            .iter()
            .map(|t| ("the in-house teacher", &t.hidden)),
    );
    for (what, hidden) in networks {
        let need =
            memory::training_bytes(prepared.encoder.width(), hidden, classes, params.batch_size);
        memory::check_fits(&format!("{what} (hidden = {hidden:?})"), need)?;
    }
    evaluate::check_columns(&recipe.evaluate, &prepared)?;
    let checks = if recipe.quality.checks {
        progress.stage("checking the data");
        let report = quality::check(recipe, &prepared);
        quality::refuse_blocking(&report)?;
        Some(report)
    } else {
        None
    };
    let k = prepared.labels.n_classes();
    let recipe_hash = blake3::hash(recipe_text.as_bytes()).to_hex().to_string();
    let job_key = format!("{recipe_hash}:{}", prepared.fingerprint);
    let checkpoint_owner = checkpoint_dir::CheckpointDir::claim(
        &options.out_dir.join(".checkpoints"),
        &job_key,
        options.resume,
    )?;
    let checkpoints = checkpoint_owner.path().to_path_buf();

    progress.stage("labelling the transfer set with the teacher");
    let teacher = teacher::build(recipe, &prepared, &params, &checkpoints, options)?;

    // Cross-validation runs before the final student so that its label issues can shape
    // the transfer set (`[quality] label_issues = "drop" | "downweight"`).
    let cross_validation = if recipe.evaluate.cv_folds >= 2 {
        Some(cv::run(
            recipe,
            &prepared,
            &params,
            &checkpoints,
            &job_key,
            options,
        )?)
    } else {
        None
    };
    let mut transfer = distill::transfer(recipe, &prepared, &teacher, options)?;
    if let Some(cv) = &cross_validation {
        transfer.apply_label_issues(
            &prepared,
            &cv.label_issues.rows,
            recipe.quality.label_issues,
        );
    }
    let checkpoint_dir = checkpoints;
    let checkpoints = distill::Checkpoints {
        dir: &checkpoint_dir,
        job_key: &job_key,
    };
    let job = |role: &str, target| distill::Job {
        role: role.into(),
        params: &params,
        target,
        mask: None,
        verbose: true,
    };
    let student_fit = distill::train(
        &prepared,
        &transfer,
        &teacher,
        &job("student", distill::Target::Teacher),
        &checkpoints,
        options,
    )?;
    let scratch_fit = distill::train(
        &prepared,
        &transfer,
        &teacher,
        &job("scratch", distill::Target::LabelsOnly),
        &checkpoints,
        options,
    )?;
    let augmented = transfer.augmented;
    let width = prepared.encoder.width();

    let mut provenance = Provenance::new();
    provenance.insert("recipe_hash".into(), recipe_hash.clone().into());
    provenance.insert(
        "dataset_fingerprint".into(),
        prepared.fingerprint.clone().into(),
    );
    provenance.insert("teacher".into(), teacher.identity.clone().into());
    provenance.insert("seed".into(), params.seed.into());
    provenance.insert("tool_version".into(), env!("CARGO_PKG_VERSION").into());
    let student = distill::student(recipe, &prepared, &student_fit, &provenance, "distilled")?;
    let scratch = distill::student(recipe, &prepared, &scratch_fit, &provenance, "scratch")?;

    progress.stage("evaluating on the test rows");
    let test_y: Vec<Option<u32>> = prepared.test_labels.clone();
    let n_test = test_y.len();
    let student_p = student.predict_encoded_batch(&prepared.test_x, n_test);
    let scratch_p = scratch.predict_encoded_batch(&prepared.test_x, n_test);
    let student_bytes = student.to_bytes()?;
    let scratch_bytes = scratch.to_bytes()?;
    let raw_rows = test_raw_rows(&prepared);
    let student_latency = student_latency_of(&student, &raw_rows);
    let scratch_latency = student_latency_of(&scratch, &raw_rows);
    let model =
        |kind: &str, p: &[f32], student: &Student, bytes: usize, latency: f64, fit: &FitOutcome| {
            evaluate::student_summary(
                &evaluate::Measured {
                    kind,
                    p,
                    parameters: student.parameters(),
                    bytes,
                    latency_us: latency,
                    fit,
                    hidden: &params.hidden,
                },
                &teacher.test,
                k,
                &test_y,
                params.seed,
            )
        };
    let teacher_scores = Scores::of(&teacher.test, k, &test_y);
    let teacher_summary = ModelSummary {
        kind: teacher.kind.clone(),
        accuracy: teacher_scores.accuracy,
        macro_f1: teacher_scores.macro_f1,
        log_loss: teacher_scores.log_loss,
        fidelity: 1.0,
        mean_kl: 0.0,
        parameters: teacher.parameters,
        bytes: teacher.bytes,
        latency_us: teacher.latency_us,
        quality: Quality::of(&teacher.test, k, &test_y, None, params.seed),
        training: None,
    };
    let student_summary = model(
        "distilled MLP",
        &student_p,
        &student,
        student_bytes.len(),
        student_latency,
        &student_fit,
    );
    let scratch_summary = model(
        "MLP on labels only",
        &scratch_p,
        &scratch,
        scratch_bytes.len(),
        scratch_latency,
        &scratch_fit,
    );
    let int8 = if recipe.quantize.int8 {
        progress.stage("quantizing the student to int8");
        Some(quantize(
            recipe,
            &prepared,
            &student,
            &teacher.test,
            &test_y,
            &raw_rows,
        )?)
    } else {
        None
    };
    progress.stage("evaluating slices");
    let slices = evaluate::slices(
        &recipe.evaluate,
        &evaluate::SliceInput {
            table: prepared.test_table(),
            rows: &prepared.test_rows,
            features: &prepared.features,
            student: &student_p,
            teacher: Some(&teacher.test),
            k,
            y: &test_y,
        },
        true,
    )?;
    // The int8 student per slice, against the fp32 student it was quantized from.
    let int8_slices = match &int8 {
        Some(q) => Some(evaluate::slices(
            &recipe.evaluate,
            &evaluate::SliceInput {
                table: prepared.test_table(),
                rows: &prepared.test_rows,
                features: &prepared.features,
                student: &q.p,
                teacher: Some(&student_p),
                k,
                y: &test_y,
            },
            false,
        )?),
        None => None,
    };
    let gates = distillery_eval::gate::verdicts(
        &recipe.gates,
        &distillery_eval::gate::GateInputs {
            teacher: Some(&teacher_summary),
            student: &student_summary,
            slices: Some(&slices),
            int8: int8.as_ref().map(|q| &q.summary).zip(int8_slices.as_ref()),
        },
    );
    let ablation = if ablation::wanted(recipe) {
        Some(ablation::run(&ablation::Context {
            recipe,
            params: &params,
            prepared: &prepared,
            transfer: &transfer,
            teacher: &teacher,
            checkpoints: &checkpoints,
            options,
            provenance: &provenance,
            raw_rows: &raw_rows,
            teacher_summary: &teacher_summary,
            student_summary: &student_summary,
            scratch_summary: &scratch_summary,
            student_slices: &slices,
        })?)
    } else {
        None
    };
    let mut checks = checks;
    if let (Some(c), Some(cv)) = (checks.as_mut(), &cross_validation) {
        quality::add_label_issues(
            c,
            &prepared,
            &cv.label_issues,
            recipe.quality.label_issues,
            "label_issues.csv in the run directory",
        );
    }
    let deduplicated_test = deduplicated_test(
        &prepared,
        &DedupScores {
            teacher: Some(&teacher.test),
            student: &student_p,
            scratch: Some(&scratch_p),
        },
    );
    let run_id = run_id(recipe.name(), &recipe_hash);
    let header = ReportHeader {
        kind: "run".into(),
        run_id: run_id.clone(),
        name: recipe.name().to_string(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: now_rfc3339(),
        recipe_hash,
        seed: params.seed,
    };
    let dataset = DatasetSummary {
        train_file: recipe.data.train.display().to_string(),
        test_file: recipe.data.test.as_ref().map(|p| p.display().to_string()),
        fingerprint: prepared.fingerprint.clone(),
        target: Some(recipe.data.target.clone()),
        classes: prepared.labels.classes.clone(),
        features: prepared.encoder.features.len(),
        encoded_width: width,
        train_rows: prepared.train_rows.len(),
        unlabelled_rows: prepared
            .train_rows
            .iter()
            .filter(|&&r| prepared.labels.y[r].is_none())
            .count(),
        augmented_rows: augmented,
        validation_rows: prepared.val_rows.len(),
        test_rows: n_test,
    };
    let mut report = Report::new(header, dataset, student_summary);
    report.teacher = Some(teacher_summary);
    report.scratch = Some(scratch_summary);
    report.int8 = int8.as_ref().map(|q| q.summary.clone());
    report.int8_slices = int8_slices;
    report.fidelity = Some(evaluate::fidelity(&student_p, &teacher.test, k));
    report.slices = Some(slices);
    report.cross_validation = cross_validation.as_ref().map(|cv| cv.summary.clone());
    report.checks = checks.as_ref().map(serde_json::to_value).transpose()?;
    report.ablation = ablation;
    report.deduplicated_test = deduplicated_test;
    report.distill = serde_json::to_value(&recipe.distill)?;
    report.gates = gates;
    report.seconds = started.elapsed().as_secs_f64();

    let dir = run_dir::RunDir::create(&options.out_dir, &run_id)?;
    let write = |name: &str, bytes: &[u8]| dir.write(name, bytes);
    write("student.safetensors", &student_bytes)?;
    write("student.onnx", &distillery_export::to_onnx(&student)?)?;
    write("scratch.safetensors", &scratch_bytes)?;
    if let Some(q) = &int8 {
        write("student.int8.safetensors", &q.bytes)?;
        write(
            "student.int8.onnx",
            &distillery_export::to_onnx_int8(&q.student)?,
        )?;
    }
    if let Some(t) = &teacher.in_house {
        write("teacher.safetensors", &t.to_bytes()?)?;
    }
    if let Some(cv) = &cross_validation {
        write(cv::PROBABILITIES_FILE, &cv.probabilities_csv)?;
        write(
            "label_issues.csv",
            &quality::label_issues_csv(&prepared, &cv.label_issues)?,
        )?;
    }
    let mut contract_columns: Vec<String> =
        prepared.features.iter().map(|(n, _)| n.clone()).collect();
    contract_columns.push(recipe.data.target.clone());
    let contract = distillery_quality::Contract::of(
        &prepared.train_table,
        &contract_columns,
        &recipe.data.missing,
    );
    write("contract.json", &serde_json::to_vec_pretty(&contract)?)?;
    write(
        "profile.json",
        &serde_json::to_vec(&reference_profile(&prepared, &student_p, &student_bytes)?)?,
    )?;
    if let Some(c) = &checks {
        write("check.json", &serde_json::to_vec_pretty(c)?)?;
        write(
            "data_card.md",
            quality::data_card(recipe, &prepared, c).as_bytes(),
        )?;
    }
    write("recipe.toml", recipe_text.as_bytes())?;
    write("schema.json", &serde_json::to_vec_pretty(&prepared.schema)?)?;
    let history =
        serde_json::json!({ "student": student_fit.history, "scratch": scratch_fit.history });
    write("history.json", &serde_json::to_vec_pretty(&history)?)?;
    dir.write_reports(&report)?;
    let run_dir = dir.finish()?;
    checkpoint_owner.remove();
    Ok(RunOutcome { report, run_dir })
}

/// Probabilities on the test rows, per model, for [`deduplicated_test`].
pub(crate) struct DedupScores<'a> {
    pub(crate) teacher: Option<&'a [f32]>,
    pub(crate) student: &'a [f32],
    pub(crate) scratch: Option<&'a [f32]>,
}

/// The test scores without the test rows whose features repeat a training or validation
/// row exactly; `None` when no test row does.
pub(crate) fn deduplicated_test(
    prepared: &data::Prepared,
    p: &DedupScores<'_>,
) -> Option<distillery_eval::run_report::DeduplicatedTest> {
    let features: Vec<String> = prepared.features.iter().map(|(n, _)| n.clone()).collect();
    let seen: Vec<usize> = prepared
        .train_rows
        .iter()
        .chain(&prepared.val_rows)
        .copied()
        .collect();
    let repeated: std::collections::HashSet<usize> = distillery_quality::overlapping_test_rows(
        &prepared.train_table,
        &seen,
        prepared.test_table(),
        &prepared.test_rows,
        &features,
    )
    .into_iter()
    .collect();
    if repeated.is_empty() {
        return None;
    }
    let k = prepared.labels.n_classes();
    let keep: Vec<usize> = (0..prepared.test_rows.len())
        .filter(|&i| !repeated.contains(&prepared.test_rows[i]))
        .collect();
    let y: Vec<Option<u32>> = keep.iter().map(|&i| prepared.test_labels[i]).collect();
    let scores = |q: &[f32]| {
        let rows: Vec<f32> = keep
            .iter()
            .flat_map(|&i| q[i * k..(i + 1) * k].iter().copied())
            .collect();
        Scores::of(&rows, k, &y)
    };
    Some(distillery_eval::run_report::DeduplicatedTest {
        repeated_rows: repeated.len(),
        rows: keep.len(),
        teacher: p.teacher.map(scores),
        student: scores(p.student),
        scratch: p.scratch.map(scores),
    })
}

/// Held-out rows kept in a profile for label-free performance estimation.
const LABELLED_ROWS: usize = 20_000;

/// The reference profile monitoring compares live traffic with: the training rows'
/// features, and the student's predictions on the held-out rows (predictions on training
/// rows would be over-confident), tied to the student by its hash.
fn reference_profile(
    prepared: &data::Prepared,
    student_p: &[f32],
    student_bytes: &[u8],
) -> Result<distillery_monitor::Profile> {
    let train = prepared.train_table.take(&prepared.train_rows);
    let classes = &prepared.labels.classes;
    let probabilities: Vec<Vec<f64>> = student_p
        .chunks(classes.len().max(1))
        .map(|row| row.iter().map(|&p| f64::from(p)).collect())
        .collect();
    let mut profile = distillery_monitor::Profile::from_table(&train, &prepared.features)?
        .with_predictions(classes, &probabilities)
        .with_sample(&train, &prepared.features, 7)?
        .sketched();
    profile.student = Some(blake3::hash(student_bytes).to_hex().to_string());
    // At most LABELLED_ROWS held-out rows (an evenly spaced subset, order kept), so the
    // profile stays small for large test sets.
    let step = probabilities.len().div_ceil(LABELLED_ROWS).max(1);
    let (labelled, truth): (Vec<Vec<f64>>, Vec<usize>) = probabilities
        .iter()
        .zip(&prepared.test_labels)
        .step_by(step)
        .filter_map(|(p, y)| Some((p.clone(), (*y)? as usize)))
        .unzip();
    profile.labelled = Some(distillery_monitor::profile::LabelledReference {
        classes: classes.clone(),
        probabilities: labelled,
        truth,
    });
    Ok(profile)
}

/// Raw cells of (up to) 256 test rows, for latency measurement through the full path.
fn test_raw_rows(prepared: &data::Prepared) -> Vec<Vec<RawValue<'_>>> {
    let columns: Vec<_> = prepared
        .encoder
        .names()
        .iter()
        .filter_map(|n| prepared.test_table().column(n).ok())
        .collect();
    prepared
        .test_rows
        .iter()
        .take(256)
        .map(|&r| columns.iter().map(|c| raw_value(c, r)).collect())
        .collect()
}

pub(crate) fn student_latency_of(student: &Student, rows: &[Vec<RawValue<'_>>]) -> f64 {
    let mut scratch = Scratch::default();
    let mut out = vec![0.0; student.classes().len()];
    latency::median_us(5000, |i| {
        let row = &rows[i % rows.len()];
        // Errors cannot occur here: the rows were encoded successfully for evaluation.
        let _ = student.predict_one_into(row, &mut scratch, &mut out);
        std::hint::black_box(&out);
    })
}

/// The int8 student and its measurements.
struct Int8 {
    student: QuantizedStudent,
    summary: ModelSummary,
    bytes: Vec<u8>,
    /// Test probabilities.
    p: Vec<f32>,
}

/// Quantizes the student (calibrated on training rows) and measures it like the others.
fn quantize(
    recipe: &Recipe,
    prepared: &data::Prepared,
    student: &Student,
    teacher_test: &[f32],
    test_y: &[Option<u32>],
    raw_rows: &[Vec<RawValue<'_>>],
) -> Result<Int8> {
    let width = prepared.encoder.width();
    let n = prepared.train_rows.len();
    let take = recipe.quantize.calibration_rows.clamp(1, n);
    let stride = n / take;
    let calibration: Vec<f32> = (0..take)
        .flat_map(|i| {
            prepared.train_x[i * stride * width..(i * stride + 1) * width]
                .iter()
                .copied()
        })
        .collect();
    let q = QuantizedStudent::quantize(student, &calibration, take, recipe.quantize.calibration()?);
    let k = student.classes().len();
    let p = q.predict_encoded_batch(&prepared.test_x, test_y.len());
    let s = Scores::of(&p, k, test_y);
    let bytes = q.to_bytes()?;
    let mut scratch = distillery_runtime::Int8Scratch::default();
    let mut out = vec![0.0; k];
    let latency = latency::median_us(5000, |i| {
        let _ = q.predict_one_into(&raw_rows[i % raw_rows.len()], &mut scratch, &mut out);
        std::hint::black_box(&out);
    });
    let summary = ModelSummary {
        kind: format!(
            "int8 ({:?} calibration on {take} training rows)",
            recipe.quantize.calibration()?
        ),
        accuracy: s.accuracy,
        macro_f1: s.macro_f1,
        log_loss: s.log_loss,
        fidelity: fidelity(&p, teacher_test, k),
        mean_kl: mean_kl(&p, teacher_test, k),
        parameters: Some(student.parameters()),
        bytes: Some(bytes.len() as u64),
        latency_us: Some(latency),
        quality: Quality::of(&p, k, test_y, Some(teacher_test), recipe.distill.seed),
        training: None,
    };
    Ok(Int8 {
        student: q,
        summary,
        bytes,
        p,
    })
}

/// Reads, types, splits and (with `encode`) encodes a recipe's data (the first stage of every run).
pub(crate) fn prepare_data(recipe: &Recipe, encode: bool) -> Result<data::Prepared> {
    data::prepare_with(recipe, encode)
}

/// Writes a report-only directory `out/id/` (`distillery eval`), whole or not at all.
pub(crate) fn write_report_dir(
    out: &std::path::Path,
    id: &str,
    report: &Report,
) -> Result<PathBuf> {
    let dir = run_dir::RunDir::create(out, id)?;
    dir.write_reports(report)?;
    dir.finish()
}

/// The current time as RFC 3339 UTC, to the second.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

pub(crate) fn run_id(name: &str, recipe_hash: &str) -> String {
    let now = std::time::SystemTime::now();
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let salt =
        blake3::hash(format!("{recipe_hash}{nanos}{}", std::process::id()).as_bytes()).to_hex();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{stamp}-{}", &salt[..6])
}

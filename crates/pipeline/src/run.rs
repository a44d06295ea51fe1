//! `distillery run` as a chain of typed stages, each a function from one value to the next:
//! [`Checked`] data → [`Labelled`] by the teacher → [`Fitted`] students → [`Evaluated`] report
//! → a run directory written whole. Everything is written into a hidden temporary directory
//! renamed into place at the very end, so a crash never leaves a run that looks complete.

use std::path::PathBuf;
use std::time::Instant;

use distillery_eval::run_report::{
    DatasetSummary, DistillationGain, ModelSummary, Quality, Report, ReportHeader, SliceReport,
};
use distillery_eval::{Scores, compare_paired};
use distillery_quality::CheckReport;
use distillery_runtime::{Provenance, Student};
use distillery_train::FitOutcome;

use crate::checkpoint_dir::CheckpointDir;
use crate::cv::{self, CvOutcome};
use crate::data::Prepared;
use crate::dedup::{DedupScores, deduplicated_test};
use crate::distill::{self, Checkpoints, Target, Transfer};
use crate::error::Result;
use crate::evaluate::{self, SliceInput};
use crate::measure::{self, Int8};
use crate::progress::Progress;
use crate::recipe::{Recipe, ValidRecipe};
use crate::run_dir::{RunDir, now_rfc3339, run_id};
use crate::teacher::{self, TeacherOutputs};
use crate::{ablation, memory, profile, quality};

/// How to run a recipe.
pub struct RunOptions<'a> {
    /// Parent of the run directory (default `runs`).
    pub out_dir: PathBuf,
    /// Continue interrupted training from checkpoints.
    pub resume: bool,
    /// Where feedback goes.
    pub progress: &'a dyn Progress,
    /// Stop training after this epoch as if interrupted (for testing `resume`).
    pub stop_after_epoch: Option<usize>,
}

impl<'a> RunOptions<'a> {
    /// Runs into `out_dir`, fresh (no resume), reporting to `progress`.
    pub fn new(out_dir: impl Into<PathBuf>, progress: &'a dyn Progress) -> RunOptions<'a> {
        RunOptions {
            out_dir: out_dir.into(),
            resume: false,
            progress,
            stop_after_epoch: None,
        }
    }
}

/// A finished run.
pub struct RunOutcome {
    /// What `report.json` holds.
    pub report: Report,
    /// Where the run directory landed (`runs/<run-id>/`).
    pub run_dir: PathBuf,
}

/// Runs a recipe end to end; `recipe_text` is kept in the run and hashed into its id.
pub fn run(
    recipe: &ValidRecipe,
    recipe_text: &str,
    options: &RunOptions<'_>,
) -> Result<RunOutcome> {
    let started = Instant::now();
    let checked = check(recipe, recipe_text, options)?;
    let mut labelled = label(recipe, checked, options)?;
    let (searched_recipe, search_report) = search(recipe, &labelled, options)?.unzip();
    let recipe = searched_recipe.as_ref().unwrap_or(recipe);
    cross_validate(recipe, &mut labelled, options)?;
    let fitted = fit(recipe, &labelled, options)?;
    let mut evaluated = evaluate(recipe, &labelled, &fitted, options)?;
    evaluated.report.search = search_report;
    evaluated.report.privacy.clone_from(&fitted.privacy);
    if !recipe.evaluate.sensitive.is_empty() {
        options
            .progress
            .stage("attribute inference on the sensitive columns");
        evaluated.report.attribute_inference = crate::attribute::report(
            &labelled.checked.data,
            &fitted.student,
            &recipe.evaluate.sensitive,
            recipe.params.seed,
        )?;
    }
    if recipe.evaluate.extraction {
        options
            .progress
            .stage("extraction risk: training clones from queries");
        evaluated.report.extraction =
            crate::extraction::curve(&labelled.checked.data, &fitted.student, recipe.params.seed)?;
    }
    evaluated.report.membership = crate::membership::report(
        &labelled.checked.data,
        &labelled.teacher,
        &fitted.student,
        &fitted.scratch,
    );
    let shadows = recipe.evaluate.shadow_models;
    if shadows > 0 {
        options.progress.stage(&format!(
            "membership inference: training {shadows} shadow students (LiRA)"
        ));
        let lira = crate::lira::attack(
            recipe,
            &labelled.checked.data,
            &labelled.teacher,
            &fitted.student,
            fitted.student_fit.best_epoch,
            shadows,
        )?;
        if let (Some(report), Some(attack)) = (&mut evaluated.report.membership, lira) {
            report.attacks.push(attack);
        }
    }
    evaluated.report.seconds = started.elapsed().as_secs_f64();
    let run_dir = write(recipe, recipe_text, &labelled, &fitted, &evaluated, options)?;
    labelled.checkpoints.remove();
    Ok(RunOutcome {
        report: evaluated.report,
        run_dir,
    })
}

/// Stage 1: the data read, split, encoded and checked, and the run's identity.
pub(crate) struct Checked {
    pub(crate) data: Prepared,
    /// The data checks' findings (`[quality] checks = false`: none).
    pub(crate) checks: Option<CheckReport>,
    pub(crate) recipe_hash: String,
    /// The recipe and the data together: what checkpoints are keyed by.
    pub(crate) job_key: String,
}

/// Reads the data and refuses, before any training, what would fail later: networks too
/// big for memory, slices naming missing columns, blocking data-quality findings.
pub(crate) fn check(
    recipe: &ValidRecipe,
    recipe_text: &str,
    options: &RunOptions<'_>,
) -> Result<Checked> {
    let progress = options.progress;
    progress.stage(&format!("reading {}", recipe.data.train.display()));
    memory::check_file(&recipe.data.train)?;
    if let Some(path) = &recipe.data.unlabelled {
        memory::check_file(path)?;
    }
    let data = crate::data::prepare(recipe)?;
    let classes = data.labels.n_classes();
    let teacher_hidden = recipe
        .teacher
        .train
        .iter()
        .filter(|t| t.model() == crate::recipe::TeacherModel::Mlp)
        .map(|t| t.mlp_hidden())
        .collect::<Vec<_>>();
    let networks = std::iter::once(("the student", &recipe.params.hidden))
        .chain(teacher_hidden.iter().map(|h| ("the in-house teacher", h)));
    for (what, hidden) in networks {
        let need = memory::training_bytes(
            data.encoder.width(),
            hidden,
            classes,
            recipe.params.batch_size,
        );
        memory::check_fits(&format!("{what} (hidden = {hidden:?})"), need)?;
    }
    evaluate::check_columns(&recipe.evaluate, &data)?;
    let checks = if recipe.quality.checks {
        progress.stage("checking the data");
        let report = quality::check(recipe, &data);
        quality::refuse_blocking(&report)?;
        Some(report)
    } else {
        None
    };
    let recipe_hash = blake3::hash(recipe_text.as_bytes()).to_hex().to_string();
    let job_key = format!("{recipe_hash}:{}", data.fingerprint);
    Ok(Checked {
        data,
        checks,
        recipe_hash,
        job_key,
    })
}

/// Stage 2: the teacher's probabilities on every split, the transfer set the students learn
/// from and, once [`cross_validate`] has run, the cross-validation (whose label issues can
/// shape the transfer set).
pub(crate) struct Labelled {
    pub(crate) checked: Checked,
    /// This run's own checkpoint folder, locked while the run lives.
    pub(crate) checkpoints: CheckpointDir,
    pub(crate) teacher: TeacherOutputs,
    pub(crate) cross_validation: Option<CvOutcome>,
    pub(crate) transfer: Transfer,
    /// PATE's guarantee, when the noisy votes labelled the transfer set.
    pub(crate) pate: Option<distillery_eval::privacy::PrivacyReport>,
}

impl Labelled {
    fn checkpoints(&self) -> Checkpoints<'_> {
        Checkpoints {
            dir: self.checkpoints.path(),
            job_key: &self.checked.job_key,
        }
    }
}

/// Labels the transfer set with the teacher (running, reading or training it).
pub(crate) fn label(
    recipe: &ValidRecipe,
    checked: Checked,
    options: &RunOptions<'_>,
) -> Result<Labelled> {
    let checkpoints = CheckpointDir::claim(
        &options.out_dir.join(".checkpoints"),
        &checked.job_key,
        options.resume,
    )?;
    let data = &checked.data;
    if let Some(section) = recipe
        .privacy
        .as_ref()
        .filter(|p| p.mode == crate::privacy::PrivacyMode::Pate)
    {
        options
            .progress
            .stage("PATE: teachers on disjoint partitions label the public rows by noisy vote");
        let pate = crate::pate::label(recipe, section, data, options)?;
        return Ok(Labelled {
            checked,
            checkpoints,
            teacher: pate.teacher,
            cross_validation: None,
            transfer: pate.transfer,
            pate: Some(pate.privacy),
        });
    }
    options
        .progress
        .stage("labelling the transfer set with the teacher");
    let teacher = teacher::build(recipe, data, &recipe.params, checkpoints.path(), options)?;
    let transfer = distill::transfer(recipe, data, &teacher, options)?;
    Ok(Labelled {
        checked,
        checkpoints,
        teacher,
        cross_validation: None,
        transfer,
        pate: None,
    })
}

/// Stage 2¾: with `[evaluate] cv_folds`, the recipe cross-validated as it will ship — after
/// the student search, with the winner's architecture, temperature and soft weight — and
/// its label issues applied to the transfer set before the final students train.
pub(crate) fn cross_validate(
    recipe: &ValidRecipe,
    labelled: &mut Labelled,
    options: &RunOptions<'_>,
) -> Result<()> {
    if recipe.evaluate.cv_folds < 2 {
        return Ok(());
    }
    let data = &labelled.checked.data;
    let cv = cv::run(
        recipe,
        data,
        &recipe.params,
        labelled.checkpoints.path(),
        &labelled.checked.job_key,
        options,
    )?;
    labelled
        .transfer
        .apply_label_issues(data, &cv.label_issues.rows, recipe.quality.label_issues);
    labelled.cross_validation = Some(cv);
    Ok(())
}

/// Stage 3: the distilled student and the scratch baseline (same network, labels only).
pub(crate) struct Fitted {
    pub(crate) student_fit: FitOutcome,
    pub(crate) scratch_fit: FitOutcome,
    pub(crate) student: Student,
    pub(crate) scratch: Student,
    /// What every artifact of this run records about where it came from.
    pub(crate) provenance: Provenance,
    /// DP-SGD's guarantee, under `[privacy]`.
    pub(crate) privacy: Option<distillery_eval::privacy::PrivacyReport>,
}

/// Trains both students on the transfer set.
pub(crate) fn fit(
    recipe: &ValidRecipe,
    labelled: &Labelled,
    options: &RunOptions<'_>,
) -> Result<Fitted> {
    let data = &labelled.checked.data;
    // Both students train on the real rows alone under [privacy] (no synthetic rows).
    let plan = match &recipe.privacy {
        Some(section) if section.mode == crate::privacy::PrivacyMode::DpSgd => Some(
            crate::privacy::plan(section, &recipe.params, labelled.transfer.real)?,
        ),
        _ => None,
    };
    let adversarial = match &recipe.distill.adversarial {
        Some(section) => Some(crate::adversarial::plan(section, data)?),
        None => None,
    };
    let train = |role: &str, target| {
        let job = distill::Job {
            role: role.into(),
            params: &recipe.params,
            target,
            mask: None,
            verbose: true,
            privacy: plan.map(|p| p.dp),
            adversarial: adversarial.as_ref().map(|(attack, constraints)| {
                distillery_train::Adversarial {
                    attack: *attack,
                    constraints,
                }
            }),
        };
        let checkpoints = labelled.checkpoints();
        distill::train(
            data,
            &labelled.transfer,
            &labelled.teacher,
            &job,
            &checkpoints,
            options,
        )
    };
    // Under PATE the teachers' only output is a noisy label per public row, so the
    // student learns it as a label, as the scratch baseline does.
    let student_target = if labelled.pate.is_some() {
        Target::LabelsOnly
    } else {
        Target::Teacher
    };
    let student_fit = train("student", student_target)?;
    let scratch_fit = train("scratch", Target::LabelsOnly)?;
    let provenance = provenance_of(recipe, labelled);
    let student = distill::student(recipe, data, &student_fit, &provenance, "distilled")?;
    let scratch = distill::student(recipe, data, &scratch_fit, &provenance, "scratch")?;
    let privacy = plan
        .map(|p| p.report(&student_fit, &scratch_fit, recipe.teacher.train.is_some()))
        .or_else(|| labelled.pate.clone());
    Ok(Fitted {
        student_fit,
        scratch_fit,
        student,
        scratch,
        provenance,
        privacy,
    })
}

/// What every student of the run records about where it came from.
fn provenance_of(recipe: &ValidRecipe, labelled: &Labelled) -> Provenance {
    let mut provenance = Provenance::new();
    provenance.insert(
        "recipe_hash".into(),
        labelled.checked.recipe_hash.clone().into(),
    );
    provenance.insert(
        "dataset_fingerprint".into(),
        labelled.checked.data.fingerprint.clone().into(),
    );
    provenance.insert("teacher".into(), labelled.teacher.identity.clone().into());
    provenance.insert("seed".into(), recipe.params.seed.into());
    provenance.insert("tool_version".into(), env!("CARGO_PKG_VERSION").into());
    provenance
}

/// Stage 2½: the student search, when the recipe leaves `[student] hidden` open; returns the
/// recipe with the winner's parameters and the search's record.
fn search(
    recipe: &ValidRecipe,
    labelled: &Labelled,
    options: &RunOptions<'_>,
) -> Result<Option<(ValidRecipe, distillery_eval::search::StudentSearch)>> {
    let Some(budget) = recipe.search else {
        return Ok(None);
    };
    let checkpoints = labelled.checkpoints();
    let searched = crate::search::run(&crate::search::Inputs {
        recipe,
        budget,
        prepared: &labelled.checked.data,
        transfer: &labelled.transfer,
        teacher: &labelled.teacher,
        checkpoints: &checkpoints,
        options,
        provenance: &provenance_of(recipe, labelled),
    })?;
    Ok(Some((recipe.with_params(searched.params), searched.report)))
}

/// Stage 4: every model measured on the test rows and the report built.
pub(crate) struct Evaluated {
    pub(crate) report: Report,
    pub(crate) student_bytes: Vec<u8>,
    pub(crate) scratch_bytes: Vec<u8>,
    /// The student's test probabilities (the monitoring profile keeps them).
    pub(crate) student_p: Vec<f32>,
    pub(crate) int8: Option<Int8>,
    /// The data checks with the label issues cross-validation found.
    pub(crate) checks: Option<CheckReport>,
}

/// The three models' scores, and the int8 student's.
struct Scored {
    teacher: ModelSummary,
    student: ModelSummary,
    scratch: ModelSummary,
    student_p: Vec<f32>,
    scratch_p: Vec<f32>,
    /// Both students on the validation rows, for the paired comparison.
    distillation_gain: DistillationGain,
    student_bytes: Vec<u8>,
    scratch_bytes: Vec<u8>,
    int8: Option<Int8>,
}

/// Scores the teacher, both students and (when asked) the int8 student on the test rows.
fn score(
    recipe: &ValidRecipe,
    labelled: &Labelled,
    fitted: &Fitted,
    options: &RunOptions<'_>,
) -> Result<Scored> {
    let (data, teacher) = (&labelled.checked.data, &labelled.teacher);
    let k = data.labels.n_classes();
    let test_y = &data.test_labels;
    let raw_rows = measure::test_raw_rows(data);
    let summary = |kind: &str, student: &Student, fit: &FitOutcome| -> Result<_> {
        let p = student.predict_encoded_batch(&data.test_x, test_y.len());
        let bytes = student.to_bytes()?;
        let measured = evaluate::Measured {
            kind,
            p: &p,
            parameters: student.parameters(),
            bytes: bytes.len(),
            latency_us: measure::student_latency_of(student, &raw_rows),
            fit,
            hidden: &recipe.params.hidden,
        };
        let s = evaluate::student_summary(&measured, &teacher.test, k, test_y, recipe.params.seed);
        Ok((s, p, bytes))
    };
    let (student, student_p, student_bytes) =
        summary("distilled MLP", &fitted.student, &fitted.student_fit)?;
    let (scratch, scratch_p, scratch_bytes) =
        summary("MLP on labels only", &fitted.scratch, &fitted.scratch_fit)?;
    let int8 = if recipe.quantize.int8 {
        options.progress.stage("quantizing the student to int8");
        let q = measure::quantize(
            recipe,
            data,
            &fitted.student,
            &teacher.test,
            test_y,
            &raw_rows,
        );
        Some(q?)
    } else {
        None
    };
    let val_y: Vec<Option<u32>> = data.val_rows.iter().map(|&r| data.labels.y[r]).collect();
    let on_validation = |s: &Student| s.predict_encoded_batch(&data.val_x, val_y.len());
    let distillation_gain = DistillationGain {
        validation: compare_paired(
            &on_validation(&fitted.student),
            &on_validation(&fitted.scratch),
            k,
            &val_y,
        ),
        test: compare_paired(&student_p, &scratch_p, k, test_y),
    };
    Ok(Scored {
        teacher: teacher_summary(teacher, k, test_y, recipe.params.seed),
        student,
        scratch,
        student_p,
        scratch_p,
        distillation_gain,
        student_bytes,
        scratch_bytes,
        int8,
    })
}

/// The teacher's own scores (its fidelity to itself is 1 by definition).
fn teacher_summary(
    teacher: &TeacherOutputs,
    k: usize,
    y: &[Option<u32>],
    seed: u64,
) -> ModelSummary {
    let scores = Scores::of(&teacher.test, k, y);
    ModelSummary {
        kind: teacher.kind.clone(),
        accuracy: scores.accuracy,
        macro_f1: scores.macro_f1,
        log_loss: scores.log_loss,
        fidelity: 1.0,
        mean_kl: 0.0,
        parameters: teacher.parameters,
        bytes: teacher.bytes,
        latency_us: teacher.latency_us,
        quality: Quality::of(&teacher.test, k, y, None, seed),
        training: None,
    }
}

/// The student per slice against the teacher, and the int8 student per slice against
/// the fp32 student it was quantized from.
fn slices(
    recipe: &Recipe,
    labelled: &Labelled,
    scored: &Scored,
) -> Result<(SliceReport, Option<SliceReport>)> {
    let data = &labelled.checked.data;
    let student = evaluate::slices(
        &recipe.evaluate,
        &slice_input(data, &scored.student_p, &labelled.teacher.test),
        true,
    )?;
    let int8 = match &scored.int8 {
        Some(q) => Some(evaluate::slices(
            &recipe.evaluate,
            &slice_input(data, &q.p, &scored.student_p),
            false,
        )?),
        None => None,
    };
    Ok((student, int8))
}

/// The test rows with one model's probabilities and the reference it is compared with.
fn slice_input<'a>(data: &'a Prepared, student: &'a [f32], reference: &'a [f32]) -> SliceInput<'a> {
    SliceInput {
        table: data.test_table(),
        rows: &data.test_rows,
        features: &data.features,
        student,
        teacher: Some(reference),
        k: data.labels.n_classes(),
        y: &data.test_labels,
    }
}

/// Scores, slices, gates, the ablation and the checks' label issues, into one report.
pub(crate) fn evaluate(
    recipe: &ValidRecipe,
    labelled: &Labelled,
    fitted: &Fitted,
    options: &RunOptions<'_>,
) -> Result<Evaluated> {
    options.progress.stage("evaluating on the test rows");
    let scored = score(recipe, labelled, fitted, options)?;
    options.progress.stage("evaluating slices");
    let (slices, int8_slices) = slices(recipe, labelled, &scored)?;
    let gates = distillery_eval::gate::verdicts(
        &recipe.gates,
        &distillery_eval::gate::GateInputs {
            teacher: Some(&scored.teacher),
            student: &scored.student,
            slices: Some(&slices),
            int8: scored
                .int8
                .as_ref()
                .map(|q| &q.summary)
                .zip(int8_slices.as_ref()),
        },
    );
    let ablation = if ablation::wanted(recipe) {
        let raw_rows = measure::test_raw_rows(&labelled.checked.data);
        Some(ablation::run(&ablation::Context {
            recipe,
            prepared: &labelled.checked.data,
            transfer: &labelled.transfer,
            teacher: &labelled.teacher,
            checkpoints: &labelled.checkpoints(),
            options,
            provenance: &fitted.provenance,
            raw_rows: &raw_rows,
            teacher_summary: &scored.teacher,
            student_summary: &scored.student,
            scratch_summary: &scored.scratch,
            student_slices: &slices,
        })?)
    } else {
        None
    };
    let checks = checks_with_label_issues(recipe, labelled);
    let mut report = report(recipe, labelled, &scored, checks.as_ref())?;
    report.int8_slices = int8_slices;
    report.slices = Some(slices);
    report.gates = gates;
    report.ablation = ablation;
    Ok(Evaluated {
        report,
        student_bytes: scored.student_bytes,
        scratch_bytes: scored.scratch_bytes,
        student_p: scored.student_p,
        int8: scored.int8,
        checks,
    })
}

/// The report's header, dataset, models, fidelity, cross-validation, checks and the
/// deduplicated test scores (slices, gates and the ablation are added by the caller).
fn report(
    recipe: &ValidRecipe,
    labelled: &Labelled,
    scored: &Scored,
    checks: Option<&CheckReport>,
) -> Result<Report> {
    let checked = &labelled.checked;
    let data = &checked.data;
    let k = data.labels.n_classes();
    let cv = labelled.cross_validation.as_ref();
    let header = ReportHeader {
        kind: "run".into(),
        run_id: run_id(recipe.name(), &checked.recipe_hash),
        name: recipe.name().to_string(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: now_rfc3339(),
        recipe_hash: checked.recipe_hash.clone(),
        seed: recipe.params.seed,
    };
    let mut report = Report::new(
        header,
        dataset_summary(recipe, labelled),
        scored.student.clone(),
    );
    report.teacher = Some(scored.teacher.clone());
    report.scratch = Some(scored.scratch.clone());
    report.int8 = scored.int8.as_ref().map(|q| q.summary.clone());
    report.fidelity = Some(evaluate::fidelity(
        &scored.student_p,
        &labelled.teacher.test,
        k,
    ));
    report.cross_validation = cv.map(|cv| cv.summary.clone());
    report.checks = checks.map(serde_json::to_value).transpose()?;
    report.deduplicated_test = deduplicated_test(
        data,
        &DedupScores {
            teacher: Some(&labelled.teacher.test),
            student: &scored.student_p,
            scratch: Some(&scored.scratch_p),
        },
    );
    report.distillation_gain = Some(scored.distillation_gain.clone());
    report.distill = serde_json::to_value(&recipe.distill)?;
    Ok(report)
}

/// The data checks' findings, with the label issues cross-validation found added.
fn checks_with_label_issues(recipe: &Recipe, labelled: &Labelled) -> Option<CheckReport> {
    let mut checks = labelled.checked.checks.clone()?;
    if let Some(cv) = &labelled.cross_validation {
        quality::add_label_issues(
            &mut checks,
            &labelled.checked.data,
            &cv.label_issues,
            recipe.quality.label_issues,
            "label_issues.csv in the run directory",
        );
    }
    Some(checks)
}

/// What the report says about the data: files, fingerprint, classes and row counts.
fn dataset_summary(recipe: &Recipe, labelled: &Labelled) -> DatasetSummary {
    let data = &labelled.checked.data;
    DatasetSummary {
        train_file: recipe.data.train.display().to_string(),
        test_file: recipe.data.test.as_ref().map(|p| p.display().to_string()),
        unlabelled_file: recipe
            .data
            .unlabelled
            .as_ref()
            .map(|p| p.display().to_string()),
        fingerprint: data.fingerprint.clone(),
        target: Some(recipe.data.target.clone()),
        classes: data.labels.classes.clone(),
        features: data.encoder.features.len(),
        encoded_width: data.encoder.width(),
        train_rows: data.train_rows.len(),
        unlabelled_rows: data
            .train_rows
            .iter()
            .filter(|&&r| data.labels.y[r].is_none())
            .count(),
        augmented_rows: labelled.transfer.augmented,
        validation_rows: data.val_rows.len(),
        test_rows: data.test_rows.len(),
        text_columns: data
            .features
            .iter()
            .filter(|(_, k)| *k == distillery_data::Kind::Text)
            .map(|(n, _)| n.clone())
            .collect(),
    }
}

/// Stage 5: the run directory, written by its one writer and moved into place whole.
fn write(
    recipe: &ValidRecipe,
    recipe_text: &str,
    labelled: &Labelled,
    fitted: &Fitted,
    evaluated: &Evaluated,
    options: &RunOptions<'_>,
) -> Result<PathBuf> {
    let data = &labelled.checked.data;
    let dir = RunDir::create(&options.out_dir, &evaluated.report.run_id)?;
    dir.write("student.safetensors", &evaluated.student_bytes)?;
    dir.write(
        "student.onnx",
        &distillery_export::to_onnx(&fitted.student)?,
    )?;
    dir.write("scratch.safetensors", &evaluated.scratch_bytes)?;
    if let Some(q) = &evaluated.int8 {
        dir.write("student.int8.safetensors", &q.bytes)?;
        dir.write(
            "student.int8.onnx",
            &distillery_export::to_onnx_int8(&q.student)?,
        )?;
    }
    match &labelled.teacher.in_house {
        Some(teacher::InHouse::Mlp(t)) => dir.write("teacher.safetensors", &t.to_bytes()?)?,
        Some(teacher::InHouse::Gbdt(onnx)) => dir.write("teacher.onnx", onnx)?,
        None => {}
    }
    if let Some(cv) = &labelled.cross_validation {
        dir.write(cv::PROBABILITIES_FILE, &cv.probabilities_csv)?;
        let issues = quality::label_issues_csv(data, &cv.label_issues)?;
        dir.write("label_issues.csv", &issues)?;
    }
    let mut contract_columns: Vec<String> = data.features.iter().map(|(n, _)| n.clone()).collect();
    contract_columns.push(recipe.data.target.clone());
    let contract = distillery_quality::Contract::of(
        &data.train_table,
        &contract_columns,
        &recipe.data.missing,
    );
    dir.write("contract.json", &serde_json::to_vec_pretty(&contract)?)?;
    let profile = profile::reference_profile(data, &evaluated.student_p, &evaluated.student_bytes)?;
    dir.write("profile.json", &serde_json::to_vec(&profile)?)?;
    if let Some(c) = &evaluated.checks {
        dir.write("check.json", &serde_json::to_vec_pretty(c)?)?;
        dir.write(
            "data_card.md",
            quality::data_card(recipe, data, c).as_bytes(),
        )?;
    }
    dir.write("recipe.toml", recipe_text.as_bytes())?;
    dir.write("schema.json", &serde_json::to_vec_pretty(&data.schema)?)?;
    let history = serde_json::json!({
        "student": fitted.student_fit.history,
        "scratch": fitted.scratch_fit.history,
    });
    dir.write("history.json", &serde_json::to_vec_pretty(&history)?)?;
    dir.write_reports(&evaluated.report)?;
    dir.finish()
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;

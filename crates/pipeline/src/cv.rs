//! Stratified k-fold cross-validation of the whole recipe: for each fold the training file
//! is re-split, the encoder refitted, the teacher run (or, for an in-house teacher,
//! trained on the fold: its probabilities are then truly out of fold), the transfer set
//! rebuilt and the student and scratch baseline distilled; all are scored on the held-out
//! fold. Folds run in parallel on the available cores. The per-row out-of-fold
//! probabilities are kept for label-error detection.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use distillery_eval::{CrossValidation, CvStudent, Fold, FoldModel, FoldSummary, Scores};
use distillery_train::ValidDistillParams;

use crate::RunOptions;
use crate::data::Prepared;
use crate::distill::{self, Checkpoints, Job, Target};
use crate::error::{Context, Result, data_error};
use crate::progress::WithoutEpochs;
use crate::recipe::Recipe;
use crate::teacher;

/// File (in the run directory) with the out-of-fold probabilities.
pub const PROBABILITIES_FILE: &str = "cv_probabilities.csv";

/// One fold's out-of-fold rows.
struct FoldResult {
    fold: Fold,
    rows: Vec<usize>,
    teacher: Vec<f32>,
    student: Vec<f32>,
}

/// Runs the cross-validation; returns the summary, the CSV of per-row out-of-fold
/// probabilities and the label issues found in them.
pub fn run(
    recipe: &Recipe,
    prepared: &Prepared,
    params: &ValidDistillParams,
    checkpoint_dir: &Path,
    job_key: &str,
    options: &RunOptions<'_>,
) -> Result<CvOutcome> {
    let k_folds = recipe.evaluate.cv_folds;
    let folds = distillery_data::stratified_folds(&prepared.labels.y, k_folds, params.seed)
        .context("[evaluate] cv_folds")?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(k_folds);
    options.progress.stage(&format!(
        "{k_folds}-fold cross-validation on {threads} threads"
    ));
    let quiet = RunOptions {
        out_dir: options.out_dir.clone(),
        resume: options.resume,
        progress: &WithoutEpochs(options.progress),
        stop_after_epoch: options.stop_after_epoch,
    };
    let bar = options.progress.jobs("cross-validation", k_folds);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<FoldResult>>>> =
        folds.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let f = next.fetch_add(1, Ordering::SeqCst);
                    let Some(held) = folds.get(f) else { break };
                    let dir = checkpoint_dir.join(format!("cv-{f}"));
                    let out = std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))
                        .and_then(|()| {
                            one_fold(recipe, prepared, params, f, held, &dir, job_key, &quiet)
                        })
                        .with_context(|| format!("cross-validation fold {f}"));
                    bar.done(&format!("fold {f}"));
                    if let Ok(mut slot) = results[f].lock() {
                        *slot = Some(out);
                    }
                }
            });
        }
    });
    bar.finish();
    let results: Vec<FoldResult> = results
        .into_iter()
        .enumerate()
        .map(|(f, slot)| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(data_error!("fold {f} did not finish")))
        })
        .collect::<Result<_>>()?;
    let csv = probabilities_csv(prepared, &results)?;
    let issues = label_issues(prepared, &results, recipe.teacher.train.is_some());
    let summary = |pick: fn(&Fold) -> FoldModel| {
        FoldSummary::of(&results.iter().map(|r| pick(&r.fold)).collect::<Vec<_>>())
    };
    let cv = CrossValidation {
        teacher: summary(|f| f.teacher),
        student: summary(|f| f.student),
        scratch: summary(|f| f.scratch),
        folds: results.into_iter().map(|r| r.fold).collect(),
        teacher_out_of_fold: recipe.teacher.train.is_some(),
        probabilities_file: PROBABILITIES_FILE.into(),
        student_params: Some(CvStudent {
            hidden: params.hidden.clone(),
            temperature: params.temperature,
            soft_weight: params.soft_weight,
        }),
    };
    Ok(CvOutcome {
        summary: cv,
        probabilities_csv: csv,
        label_issues: issues,
    })
}

/// What cross-validation leaves behind.
pub struct CvOutcome {
    /// The per-fold scores of teacher, student and scratch, with their spread.
    pub summary: CrossValidation,
    /// Every labelled row's out-of-fold probabilities, as CSV (kept in the run).
    pub probabilities_csv: Vec<u8>,
    /// The labels those probabilities disagree with.
    pub label_issues: LabelIssueRows,
}

/// Label issues over the training file's labelled rows.
pub struct LabelIssueRows {
    /// Data rows (0-based) of the flagged labels, least self-confident first.
    pub rows: Vec<usize>,
    /// The issues as the quality crate reports them (counts, rate, rule).
    pub found: distillery_quality::LabelIssues,
    /// Whose out-of-fold probabilities were used.
    pub source: &'static str,
    /// Labelled rows examined.
    pub examined: usize,
}

/// Confident learning on the out-of-fold probabilities: the teacher's when it was trained
/// per fold, else the student's (each fold's student never saw its held-out labels).
fn label_issues(prepared: &Prepared, results: &[FoldResult], teacher_oof: bool) -> LabelIssueRows {
    let k = prepared.labels.n_classes();
    let mut rows: Vec<(usize, Vec<f64>, usize)> = Vec::new();
    for r in results {
        let p = if teacher_oof { &r.teacher } else { &r.student };
        for (i, &row) in r.rows.iter().enumerate() {
            if let Some(y) = prepared.labels.y[row] {
                let probs = p[i * k..(i + 1) * k]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                rows.push((row, probs, y as usize));
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    let p: Vec<f64> = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
    let labels: Vec<usize> = rows.iter().map(|r| r.2).collect();
    let found = distillery_quality::find_label_issues(&p, k, &labels);
    LabelIssueRows {
        rows: found.rows.iter().map(|&i| rows[i].0).collect(),
        found,
        source: if teacher_oof { "teacher" } else { "student" },
        examined: rows.len(),
    }
}

#[allow(clippy::too_many_arguments)] // one fold needs the whole run's context
fn one_fold(
    recipe: &Recipe,
    prepared: &Prepared,
    params: &ValidDistillParams,
    f: usize,
    held: &[usize],
    dir: &Path,
    job_key: &str,
    options: &RunOptions<'_>,
) -> Result<FoldResult> {
    let data = prepared.fold(held, recipe.data.validation_fraction, params.seed)?;
    let teacher = teacher::build(recipe, &data, params, dir, options)?;
    let transfer = distill::transfer(recipe, &data, &teacher, options)?;
    let job_key = format!("{job_key}:fold{f}");
    let checkpoints = Checkpoints {
        dir,
        job_key: &job_key,
    };
    let fit = |role: &str, target| {
        distill::train(
            &data,
            &transfer,
            &teacher,
            &Job {
                role: role.into(),
                params,
                target,
                mask: None,
                verbose: false,
                privacy: None,
                adversarial: None,
            },
            &checkpoints,
            options,
        )
    };
    let student_fit = fit("student", Target::Teacher)?;
    let scratch_fit = fit("scratch", Target::LabelsOnly)?;
    let provenance = distillery_runtime::Provenance::new();
    let k = data.labels.n_classes();
    let n = held.len();
    let y = &data.test_labels;
    let predict = |fit| -> Result<Vec<f32>> {
        let s = distill::student(recipe, &data, fit, &provenance, "cv")?;
        Ok(s.predict_encoded_batch(&data.test_x, n))
    };
    let student = predict(&student_fit)?;
    let scratch = predict(&scratch_fit)?;
    let score = |p: &[f32]| {
        let s = Scores::of(p, k, y);
        FoldModel {
            accuracy: s.accuracy,
            macro_f1: s.macro_f1,
            log_loss: s.log_loss,
            fidelity: distillery_eval::fidelity(p, &teacher.test, k),
        }
    };
    Ok(FoldResult {
        fold: Fold {
            fold: f,
            train_rows: data.train_rows.len(),
            test_rows: n,
            teacher: score(&teacher.test),
            student: score(&student),
            scratch: score(&scratch),
        },
        rows: held.to_vec(),
        teacher: teacher.test,
        student,
    })
}

/// `row,fold,label,teacher_<class>…,student_<class>…`, one line per labelled row of the
/// training file (row = 1-based data row), in file order.
fn probabilities_csv(prepared: &Prepared, results: &[FoldResult]) -> Result<Vec<u8>> {
    let classes = &prepared.labels.classes;
    let k = classes.len();
    let mut lines: Vec<(usize, usize, usize)> = results
        .iter()
        .enumerate()
        .flat_map(|(f, r)| r.rows.iter().enumerate().map(move |(i, &row)| (row, f, i)))
        .collect();
    lines.sort_unstable();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "fold".into(), "label".into()];
    header.extend(classes.iter().map(|c| format!("teacher_{c}")));
    header.extend(classes.iter().map(|c| format!("student_{c}")));
    w.write_record(&header)?;
    for (row, f, i) in lines {
        let r = &results[f];
        let label = prepared.labels.y[row].map_or("", |c| classes[c as usize].as_str());
        let mut record = vec![(row + 1).to_string(), f.to_string(), label.to_string()];
        record.extend(r.teacher[i * k..(i + 1) * k].iter().map(|v| v.to_string()));
        record.extend(r.student[i * k..(i + 1) * k].iter().map(|v| v.to_string()));
        w.write_record(&record)?;
    }
    w.into_inner()
        .map_err(|e| data_error!("writing {PROBABILITIES_FILE}: {e}"))
}

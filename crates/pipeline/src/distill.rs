//! Training students: the transfer set (training rows plus optional MUNGE neighbours, all
//! labelled by the teacher) is built once, then any number of students are fitted on it —
//! the recipe's student, the scratch baseline, sweep variants, feature-group ablations and
//! cross-validation folds all go through [`train`].

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use distillery_runtime::{Provenance, Student};
use distillery_train::{FitOptions, FitOutcome, TransferSet, ValidDistillParams, fit, soften};

use crate::RunOptions;
use crate::data::Prepared;
use crate::error::{Context, Result, data_error, refuse};
use crate::recipe::{
    AUTO_MAX_FACTOR, AUTO_TEXT_MAX_FACTOR, AUTO_TEXT_ROWS, AUTO_TEXT_SECONDS, AUTO_TRANSFER_ROWS,
    Augment, LabelIssueMode, Recipe,
};
use crate::teacher::{self, Generator, TeacherOutputs};

/// Everything a student learns from.
pub(crate) struct Transfer {
    /// Encoded inputs: the training rows, then the synthetic ones.
    pub x: Vec<f32>,
    /// Teacher probabilities (temperature 1) for every row of `x`.
    pub p: Vec<f32>,
    /// Hard labels (`None` for unlabelled and synthetic rows).
    pub y: Vec<Option<u32>>,
    /// Synthetic rows appended.
    pub augmented: usize,
    /// Real training rows at the front of `x` (the rest are synthetic).
    pub real: usize,
}

impl Transfer {
    /// Acts on suspected label errors (data rows of the training file): `Drop` removes the
    /// rows from training, `Downweight` keeps them but trains on the teacher's soft labels
    /// alone (their hard labels get weight 0), `Report` changes nothing.
    pub(crate) fn apply_label_issues(
        &mut self,
        prepared: &Prepared,
        rows: &[usize],
        mode: LabelIssueMode,
    ) {
        if mode == LabelIssueMode::Report || rows.is_empty() {
            return;
        }
        let flagged: std::collections::HashSet<usize> = rows.iter().copied().collect();
        let hit: Vec<bool> = prepared
            .train_rows
            .iter()
            .map(|r| flagged.contains(r))
            .collect();
        match mode {
            LabelIssueMode::Downweight => {
                for (y, &h) in self.y.iter_mut().zip(&hit) {
                    if h {
                        *y = None;
                    }
                }
            }
            LabelIssueMode::Drop => {
                let width = self.x.len() / self.y.len().max(1);
                let k = self.p.len() / self.y.len().max(1);
                let keep: Vec<bool> = (0..self.y.len())
                    .map(|i| !hit.get(i).copied().unwrap_or(false))
                    .collect();
                let filter = |v: &[f32], w: usize| -> Vec<f32> {
                    v.chunks_exact(w)
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .flat_map(|(c, _)| c.iter().copied())
                        .collect()
                };
                self.x = filter(&self.x, width);
                self.p = filter(&self.p, k);
                self.y = self
                    .y
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(y, _)| *y)
                    .collect();
                self.real -= hit.iter().filter(|h| **h).count();
            }
            LabelIssueMode::Report => {}
        }
        tracing::info!(
            "label issues: {} training rows {}",
            hit.iter().filter(|h| **h).count(),
            if mode == LabelIssueMode::Drop {
                "dropped"
            } else {
                "trained on soft labels only"
            }
        );
    }
}

/// The training rows plus MUNGE neighbours when the recipe asks for them.
pub(crate) fn transfer(
    recipe: &Recipe,
    prepared: &Prepared,
    teacher: &TeacherOutputs,
    options: &RunOptions<'_>,
) -> Result<Transfer> {
    let k = prepared.labels.n_classes();
    let mut t = Transfer {
        x: prepared.train_x.clone(),
        p: teacher.train.clone(),
        y: prepared
            .train_rows
            .iter()
            .map(|&r| prepared.labels.y[r])
            .collect(),
        augmented: 0,
        real: prepared.train_rows.len(),
    };
    let auto = recipe.distill.augment == Augment::Auto;
    // MUNGE and Gibbs draw new values column by column; a text is not such a value, so a
    // recipe with text columns gets token dropout / swap instead, and a recipe without
    // them cannot ask for it.
    let has_text = prepared
        .features
        .iter()
        .any(|(_, k)| *k == distillery_data::Kind::Text);
    let plan: Vec<(usize, Generator)> = if has_text {
        if matches!(
            recipe.distill.augment,
            Augment::Munge | Augment::Gibbs | Augment::Mixed
        ) {
            refuse!(
                "[distill] augment = munge/gibbs/mixed draws new rows column by column and cannot make new texts; use augment = \"tokens\" (words dropped and swapped) or leave the default"
            );
        }
        // A student with word vectors already generalises across words; token copies then
        // taught it the teacher's view of broken sentences (Rotten Tomatoes, teacher in
        // Rust: 0.7581 with copies against 0.7734 without, in twice the time).
        let vectors = prepared.encoder.features.iter().any(|f| {
            matches!(
                f,
                distillery_runtime::FeatureEncoder::Text {
                    vectors: Some(_),
                    ..
                }
            )
        });
        if auto && vectors {
            return Ok(t);
        }
        let Some(factor) = augment_factor(recipe, prepared.train_rows.len(), teacher, true) else {
            return Ok(t);
        };
        options.progress.stage(&format!(
            "generating {factor} text copies per training row (words dropped and swapped)"
        ));
        vec![(factor, Generator::Tokens)]
    } else {
        if recipe.distill.augment == Augment::Tokens {
            refuse!(
                "[distill] augment = \"tokens\" changes the words of text columns, and this recipe has none; use munge, gibbs, mixed or auto"
            );
        }
        let Some(factor) = augment_factor(recipe, prepared.train_rows.len(), teacher, false) else {
            return Ok(t);
        };
        // "auto" mixes both generators: over the five smaller shared sets the mix gave the
        // best mean student accuracy and +0.5 pp mean fidelity over MUNGE alone (README,
        // "The defaults").
        let (munge, gibbs) = match recipe.distill.augment {
            Augment::Gibbs => (0, factor),
            Augment::Mixed | Augment::Auto => (factor.div_ceil(2), factor / 2),
            _ => (factor, 0),
        };
        options.progress.stage(&format!(
            "generating synthetic rows per training row: {munge} MUNGE, {gibbs} Gibbs-sampled"
        ));
        vec![(munge, Generator::Munge), (gibbs, Generator::Gibbs)]
    };
    let made = plan
        .into_iter()
        .filter(|&(f, _)| f > 0)
        .map(|(f, g)| teacher::synthesize(recipe, prepared, teacher, f, g))
        .collect::<Result<Vec<_>>>()
        .map(|parts| {
            parts
                .into_iter()
                .fold((Vec::new(), Vec::new()), |(mut x, mut p), (px, pp)| {
                    x.extend(px);
                    p.extend(pp);
                    (x, p)
                })
        });
    let (x, p) = match made {
        Ok(found) => found,
        // "auto" only adds rows when it can; the recipe did not ask for them.
        Err(e) if auto && e.is_bad_input() => {
            tracing::warn!("no synthetic transfer rows: {e}");
            return Ok(t);
        }
        Err(e) => return Err(e),
    };
    t.augmented = p.len() / k;
    t.x.extend_from_slice(&x);
    t.p.extend_from_slice(&p);
    t.y.extend(std::iter::repeat_n(None, t.augmented));
    Ok(t)
}

/// Synthetic rows per training row: the recipe's when it names a generator, sized by the
/// training set under `auto` (none when the teacher cannot label new rows, has no weight
/// (`soft_weight = 0`), or the set is large). Text has its own, smaller target: each new
/// text costs a transformer's forward pass.
fn augment_factor(
    recipe: &Recipe,
    train_rows: usize,
    teacher: &TeacherOutputs,
    text: bool,
) -> Option<usize> {
    let (rows, most) = if text {
        (AUTO_TEXT_ROWS, AUTO_TEXT_MAX_FACTOR)
    } else {
        (AUTO_TRANSFER_ROWS, AUTO_MAX_FACTOR)
    };
    match recipe.distill.augment {
        Augment::None => None,
        // Rows drawn from the private rows would be trained on outside the ε budget.
        Augment::Auto if recipe.privacy.is_some() => None,
        Augment::Munge | Augment::Gibbs | Augment::Mixed | Augment::Tokens => {
            Some(recipe.distill.augment_factor)
        }
        // No teacher to ask, or a recipe that gives the teacher no weight.
        Augment::Auto if !teacher.can_label() || recipe.distill.soft_weight <= 0.0 => None,
        Augment::Auto => {
            let mut factor = rows.div_ceil(train_rows.max(1)).saturating_sub(1).min(most);
            // A transformer labels tens of texts a second: the new texts may take it as
            // long as the data did, or AUTO_TEXT_SECONDS if that is longer, no more.
            if let (true, Some(rate)) = (text, teacher.text_rate) {
                let data_seconds = train_rows as f64 / rate.max(1e-9);
                let affordable = AUTO_TEXT_SECONDS.max(data_seconds) * rate;
                factor = factor.min((affordable / train_rows.max(1) as f64) as usize);
            }
            (factor > 0).then_some(factor)
        }
    }
}

/// What a training job learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The teacher's softened probabilities weighted against the hard labels.
    Teacher,
    /// Hard labels of the real training rows only (the scratch baseline).
    LabelsOnly,
}

/// One student to fit.
pub(crate) struct Job<'a> {
    pub role: String,
    pub params: &'a ValidDistillParams,
    pub target: Target,
    /// Encoded columns held at zero (their training mean, or "unknown level"): the inputs
    /// of a feature group left out.
    pub mask: Option<&'a [bool]>,
    /// Per-epoch bars and log lines (off for jobs run in parallel).
    pub verbose: bool,
    /// DP-SGD settings, under `[privacy]`.
    pub privacy: Option<distillery_train::DpSgd>,
    /// Adversarial training, under `[distill] adversarial`.
    pub adversarial: Option<distillery_train::Adversarial<'a>>,
}

/// Where checkpoints go and which job they belong to.
pub(crate) struct Checkpoints<'a> {
    pub dir: &'a Path,
    pub job_key: &'a str,
}

/// Fits one student.
pub(crate) fn train(
    prepared: &Prepared,
    transfer: &Transfer,
    teacher: &TeacherOutputs,
    job: &Job<'_>,
    checkpoints: &Checkpoints<'_>,
    options: &RunOptions<'_>,
) -> Result<FitOutcome> {
    let k = prepared.labels.n_classes();
    let width = prepared.encoder.width();
    let masked = |x: &[f32]| job.mask.map(|m| masked(x, width, m));
    let val_y: Vec<Option<u32>> = prepared
        .val_rows
        .iter()
        .map(|&r| prepared.labels.y[r])
        .collect();
    let t = job.params.temperature;
    let (train_x, train_y, soft_train) = match job.target {
        Target::Teacher => (
            &transfer.x[..],
            &transfer.y[..],
            Some(soften(&transfer.p, k, t)),
        ),
        Target::LabelsOnly => {
            let n = transfer.real;
            (&transfer.x[..n * width], &transfer.y[..n], None)
        }
    };
    let soft_val = (job.target == Target::Teacher).then(|| soften(&teacher.validation, k, t));
    let train_masked = masked(train_x);
    let val_masked = masked(&prepared.val_x);
    let train_set = TransferSet {
        x: train_masked.as_deref().unwrap_or(train_x),
        width,
        soft: soft_train.as_deref(),
        labels: train_y,
        classes: k,
    };
    let val_set = TransferSet {
        x: val_masked.as_deref().unwrap_or(&prepared.val_x),
        width,
        soft: soft_val.as_deref(),
        labels: &val_y,
        classes: k,
    };
    let epochs = job.params.epochs_for(train_y.len());
    let bar = job
        .verbose
        .then(|| options.progress.epochs(&job.role, epochs));
    let on_epoch = |r: &distillery_train::EpochRecord| {
        if let Some(b) = &bar {
            b.epoch(r);
        }
    };
    let fit_options = FitOptions {
        privacy: job.privacy,
        checkpoint: Some(checkpoints.dir.join(format!("{}.ckpt", job.role))),
        resume: options.resume,
        job_key: checkpoints.job_key.to_string(),
        on_epoch: Some(&on_epoch),
        stop_after: options.stop_after_epoch,
        adversarial: job.adversarial,
    };
    let out = fit(job.params, &train_set, Some(&val_set), &fit_options)
        .with_context(|| format!("training the {}", job.role))?;
    if let Some(b) = &bar {
        b.finish();
    }
    if fit_options
        .stop_after
        .is_some_and(|s| out.history.len() < epochs && !out.stopped_early && out.history.len() == s)
    {
        refuse!(
            "stopped after epoch {} as DISTILLERY_STOP_AFTER_EPOCH asked; rerun with --resume to continue",
            out.history.len()
        );
    }
    Ok(out)
}

/// Wraps fitted layers with the encoder and classes into a student artifact.
pub(crate) fn student(
    recipe: &Recipe,
    prepared: &Prepared,
    fit: &FitOutcome,
    provenance: &Provenance,
    role: &str,
) -> Result<Student> {
    let mut p = provenance.clone();
    p.insert("role".into(), role.into());
    Ok(Student::new(
        prepared.encoder.clone(),
        prepared.labels.classes.clone(),
        fit.layers.clone(),
        recipe.data.missing.clone(),
        p,
    )?)
}

/// A copy of `x` (rows of `width`) with the columns where `mask` is true set to zero.
pub(crate) fn masked(x: &[f32], width: usize, mask: &[bool]) -> Vec<f32> {
    let mut x = x.to_vec();
    for row in x.chunks_exact_mut(width) {
        row.iter_mut()
            .zip(mask)
            .filter(|(_, m)| **m)
            .for_each(|(v, _)| *v = 0.0);
    }
    x
}

/// The encoded columns that belong to `columns` (by feature name).
pub(crate) fn column_mask(prepared: &Prepared, columns: &[String]) -> Vec<bool> {
    prepared
        .encoder
        .features
        .iter()
        .flat_map(|f| std::iter::repeat_n(columns.iter().any(|c| c == f.name()), f.width()))
        .collect()
}

/// Threads for jobs trained side by side: one per core (each fit is single-threaded and
/// seeded, so results do not depend on the count).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Fits every job, [`threads`] at a time, telling `bar` each one's name as it finishes;
/// results in job order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_many(
    prepared: &Prepared,
    transfer: &Transfer,
    teacher: &TeacherOutputs,
    jobs: &[Job<'_>],
    names: &[&str],
    checkpoints: &Checkpoints<'_>,
    options: &RunOptions<'_>,
    bar: &dyn crate::progress::JobProgress,
) -> Result<Vec<FitOutcome>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<FitOutcome>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads().min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let fit = train(prepared, transfer, teacher, job, checkpoints, options);
                    bar.done(names.get(i).copied().unwrap_or(&job.role));
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(fit);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .zip(jobs)
        .map(|(slot, job)| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(data_error!("training {} did not finish", job.role)))
        })
        .collect()
}

//! `[teacher] train = { kind = "gbdt" }`: gradient-boosted trees trained in the run.
//!
//! The training rows' soft labels come from K-fold cross-fitting: each fold's rows are
//! labelled by a booster trained on the other folds, so the student never learns from a
//! teacher grading its own homework (in-sample GBDT probabilities are overconfident and
//! would teach the student the training set's noise). The final booster, trained on every
//! training row, labels the validation, test and synthetic rows; it is written as an ONNX
//! TreeEnsembleClassifier, reloaded through the same path as a user's ONNX teacher, and kept
//! in the run directory as `teacher.onnx`.
//!
//! When the recipe leaves `max_depth` unset and the training set is small, the cross-fitting
//! runs at two depths and the one with the lower out-of-fold log-loss is kept: the folds
//! are trained anyway, so their held-out rows choose the teacher's depth without a
//! separate validation split.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use distillery_data::{Column, Kind, format_number};
use distillery_teacher::{OnnxModel, OnnxOptions, OnnxTeacher, TeacherFeed};
use distillery_train::{GbdtModel, GbdtParams, GbdtRows, fit_gbdt};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::RunOptions;
use crate::data::Prepared;
use crate::error::{Context, Result};
use crate::recipe::{Recipe, TeacherTraining};

/// Depths tried when the recipe does not set `max_depth`: the booster's default 6 first
/// (kept on a tie; XGBoost's and CatBoost's default too), and the shallower 3 that small,
/// noisy tables often prefer.
const DEPTHS: [usize; 2] = [GbdtParams::DEFAULT_MAX_DEPTH, 3];

/// Above this many training rows × boosters (one for two classes, one per class otherwise)
/// only the first of [`DEPTHS`] is trained: the choice costs a second cross-fitting, which
/// on large or many-class sets is the run's longest step (letter's 26 boosters doubled its
/// run, 135 → 273 s, to keep depth 6).
const DEPTH_CHOICE_MAX_WORK: usize = 50_000;

/// The trained teacher and what the run keeps of it.
pub(crate) struct Trained {
    /// The final booster, ready to label.
    pub(crate) teacher: OnnxTeacher,
    /// The training rows' cross-fitted probabilities.
    pub(crate) train_p: Vec<f32>,
    /// The teacher as ONNX bytes.
    pub(crate) onnx: Vec<u8>,
    /// For the report: "in-house GBDT (312 trees; 5-fold cross-fitted labels)".
    pub(crate) description: String,
}

/// Trains the cross-fitting folds and the final booster.
pub(crate) fn train(
    recipe: &Recipe,
    training: &TeacherTraining,
    data: &Prepared,
    options: &RunOptions<'_>,
) -> Result<Trained> {
    let mut params = training.gbdt_params(recipe.distill.seed);
    let folds = training.cross_fit_folds();
    let fed = inputs(data)?;
    let (feed, width) = (&fed.feed, fed.width);
    let x = feed.build(&data.train_table, &data.train_rows)?;
    let labels: Vec<Option<u32>> = data.train_rows.iter().map(|&r| data.labels.y[r]).collect();
    let val_rows = fed.validation();
    let k = data.labels.n_classes();
    let boosters = if k == 2 { 1 } else { k };
    let depths: Vec<usize> =
        if training.max_depth.is_some() || labels.len() * boosters > DEPTH_CHOICE_MAX_WORK {
            vec![params.max_depth]
        } else {
            DEPTHS.to_vec()
        };
    let jobs = options.progress.jobs(
        "boosted teacher (cross-fitting folds + final)",
        folds * depths.len() + 1,
    );
    let fold_of = assign_folds(data.train_rows.len(), folds, recipe.distill.seed);
    // (depth, out-of-fold log-loss, cross-fitted probabilities) per depth tried.
    let mut tried: Vec<(usize, f64, Vec<f32>)> = Vec::new();
    for &depth in &depths {
        params.max_depth = depth;
        let mut train_p = vec![0.0f32; data.train_rows.len() * k];
        for fold in 0..folds {
            let outside: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != fold).collect();
            let (fx, fy) = labelled(gather(&x, &outside, width), pick(&labels, &outside), width);
            let model = fit(&fx, &fy, width, val_rows.as_ref(), k, &params)
                .with_context(|| format!("training the boosted teacher for fold {}", fold + 1))?;
            let inside: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == fold).collect();
            let p = model.predict_proba(&gather(&x, &inside, width), inside.len());
            for (j, &i) in inside.iter().enumerate() {
                train_p[i * k..(i + 1) * k].copy_from_slice(&p[j * k..(j + 1) * k]);
            }
            jobs.done(&format!("depth {depth}, fold {}/{folds}", fold + 1));
        }
        let loss = out_of_fold_log_loss(&train_p, &labels, k);
        tried.push((depth, loss, train_p));
    }
    let losses: Vec<String> = tried
        .iter()
        .map(|(depth, loss, _)| format!("{loss:.4} at depth {depth}"))
        .collect();
    // The lowest loss; the first depth tried (6) on a tie.
    let Some((depth, _, train_p)) = tried
        .into_iter()
        .reduce(|a, b| if b.1 < a.1 { b } else { a })
    else {
        unreachable!("at least one depth is tried")
    };
    params.max_depth = depth;
    let choice = if losses.len() > 1 {
        format!(
            "; depth {depth} by out-of-fold log-loss ({})",
            losses.join(", ")
        )
    } else {
        String::new()
    };
    let all: Vec<usize> = (0..labels.len()).collect();
    let (ax, ay) = labelled(x, pick(&labels, &all), width);
    let model = fit(&ax, &ay, width, val_rows.as_ref(), k, &params)
        .context("training the boosted teacher")?;
    jobs.done(&format!("final ({} trees)", model.n_trees()));
    jobs.finish();
    let bytes = export(&model, data, &fed.columns, &fed.levels)?;
    let onnx = OnnxModel::from_bytes(&bytes, Path::new("teacher.onnx"), &OnnxOptions::default())
        .context("reloading the boosted teacher")?;
    let teacher = OnnxTeacher::new(
        onnx,
        &data.labels.classes,
        None,
        &data.schema,
        Some(&data.train_table),
    )
    .context("feeding the boosted teacher")?;
    Ok(Trained {
        teacher,
        train_p,
        onnx: bytes,
        description: format!(
            "in-house GBDT ({} trees; {folds}-fold cross-fitted labels{choice})",
            model.n_trees()
        ),
    })
}

/// Mean −ln p(label) of the cross-fitted probabilities over the labelled training rows
/// (probabilities floored at 1e-7).
fn out_of_fold_log_loss(p: &[f32], labels: &[Option<u32>], k: usize) -> f64 {
    let (sum, n) = labels
        .iter()
        .enumerate()
        .filter_map(|(i, y)| y.map(|y| f64::from(p[i * k + y as usize].max(1e-7)).ln()))
        .fold((0.0, 0usize), |(s, n), l| (s - l, n + 1));
    sum / n.max(1) as f64
}

/// What every booster of a run is fed: the feature columns, their category levels, the
/// feed that turns table rows into inputs, and the labelled validation rows that stop
/// boosting early.
struct Inputs {
    columns: Vec<String>,
    levels: HashMap<String, Vec<String>>,
    feed: TeacherFeed,
    width: usize,
    val: (Vec<f32>, Vec<u32>),
}

impl Inputs {
    /// The validation rows for early stopping (`None` without labelled ones).
    fn validation(&self) -> Option<GbdtRows<'_>> {
        (!self.val.1.is_empty()).then(|| GbdtRows {
            x: &self.val.0,
            width: self.width,
            labels: &self.val.1,
        })
    }
}

fn inputs(data: &Prepared) -> Result<Inputs> {
    let columns: Vec<String> = data.features.iter().map(|(n, _)| n.clone()).collect();
    let levels = category_levels(data)?;
    let feed = TeacherFeed::with_levels(columns.clone(), &levels);
    let width = columns.len();
    let val = labelled(
        feed.build(&data.train_table, &data.val_rows)?,
        data.val_rows.iter().map(|&r| data.labels.y[r]).collect(),
        width,
    );
    Ok(Inputs {
        columns,
        levels,
        feed,
        width,
        val,
    })
}

fn fit(
    x: &[f32],
    y: &[u32],
    width: usize,
    validation: Option<&GbdtRows<'_>>,
    classes: usize,
    params: &GbdtParams,
) -> Result<GbdtModel> {
    let rows = GbdtRows {
        x,
        width,
        labels: y,
    };
    Ok(fit_gbdt(&rows, validation, classes, params)?)
}

/// The teacher as ONNX bytes with its inputs, category codes and classes in the metadata.
fn export(
    model: &GbdtModel,
    data: &Prepared,
    columns: &[String],
    levels: &HashMap<String, Vec<String>>,
) -> Result<Vec<u8>> {
    let categories: BTreeMap<String, Vec<String>> =
        levels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let meta = distillery_export::TreeTeacherMeta {
        classes: &data.labels.classes,
        inputs: columns,
        categories: &categories,
        extra: vec![(
            "distillery.provenance".into(),
            serde_json::json!({"role": "teacher", "dataset_fingerprint": data.fingerprint})
                .to_string(),
        )],
    };
    Ok(distillery_export::gbdt_to_onnx(model, &meta)?)
}

/// Codes for every categorical feature: the distinct values among the training rows, sorted
/// (a value first met later is unseen → missing, which the trees route like any missing).
fn category_levels(data: &Prepared) -> Result<HashMap<String, Vec<String>>> {
    let mut out = HashMap::new();
    for (name, kind) in &data.features {
        let column = data.train_table.column(name)?;
        let text = matches!(column, Column::Text { .. });
        if *kind != Kind::Categorical && !text {
            continue;
        }
        let values: Vec<String> = data
            .train_rows
            .iter()
            .filter_map(|&r| value(column, r))
            .collect::<std::collections::BTreeSet<String>>()
            .into_iter()
            .collect();
        out.insert(name.clone(), values);
    }
    Ok(out)
}

fn value(column: &Column, row: usize) -> Option<String> {
    match column {
        Column::Text { .. } => column.text(row).map(str::to_string),
        Column::Numeric(_) => column.number(row).map(format_number),
    }
}

/// A fold index for each of `n` rows: a seeded shuffle dealt round-robin, so folds differ in
/// size by at most one row.
fn assign_folds(n: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6764_6274);
    let _: u64 = rng.random();
    order.shuffle(&mut rng);
    let mut fold_of = vec![0; n];
    for (i, &r) in order.iter().enumerate() {
        fold_of[r] = i % folds;
    }
    fold_of
}

fn gather(x: &[f32], rows: &[usize], width: usize) -> Vec<f32> {
    rows.iter()
        .flat_map(|&r| &x[r * width..(r + 1) * width])
        .copied()
        .collect()
}

fn pick(labels: &[Option<u32>], rows: &[usize]) -> Vec<Option<u32>> {
    rows.iter().map(|&r| labels[r]).collect()
}

/// Keeps the rows that have a label.
fn labelled(x: Vec<f32>, y: Vec<Option<u32>>, width: usize) -> (Vec<f32>, Vec<u32>) {
    if y.iter().all(Option::is_some) {
        return (x, y.into_iter().flatten().collect());
    }
    let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i].is_some()).collect();
    (
        gather(&x, &keep, width),
        keep.iter().filter_map(|&i| y[i]).collect(),
    )
}

/// PATE's teachers: one booster per disjoint part of the training rows (rows of the training
/// table), each early-stopped on the validation rows, with the feed that turns any table's
/// rows into their inputs.
pub(crate) fn train_partitions(
    params: &GbdtParams,
    data: &Prepared,
    parts: &[Vec<usize>],
    options: &RunOptions<'_>,
) -> Result<(Vec<GbdtModel>, TeacherFeed)> {
    let fed = inputs(data)?;
    let val_rows = fed.validation();
    let k = data.labels.n_classes();
    let jobs = options
        .progress
        .jobs("PATE teachers (one per partition)", parts.len());
    let mut models = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let (x, y) = labelled(
            fed.feed.build(&data.train_table, part)?,
            part.iter().map(|&r| data.labels.y[r]).collect(),
            fed.width,
        );
        let model = fit(&x, &y, fed.width, val_rows.as_ref(), k, params)
            .with_context(|| format!("training PATE teacher {} of {}", i + 1, parts.len()))?;
        models.push(model);
        jobs.done(&format!("teacher {}/{}", i + 1, parts.len()));
    }
    jobs.finish();
    Ok((models, fed.feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_cover_every_row_once_and_evenly() {
        let f = assign_folds(103, 5, 7);
        let mut counts = [0; 5];
        for &i in &f {
            counts[i] += 1;
        }
        assert!(counts.iter().all(|&c| c == 20 || c == 21), "{counts:?}");
        assert_eq!(f, assign_folds(103, 5, 7));
        assert_ne!(f, assign_folds(103, 5, 8));
    }

    #[test]
    fn out_of_fold_log_loss_skips_unlabelled_rows_and_floors_zero() {
        let p = [0.5, 0.5, 0.2, 0.8, 1.0, 0.0];
        let loss = out_of_fold_log_loss(&p, &[Some(0), None, Some(1)], 2);
        let want = -(0.5f64.ln() + 1e-7f64.ln()) / 2.0;
        assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
    }

    #[test]
    fn unlabelled_rows_are_left_out_of_fitting() {
        let (x, y) = labelled(vec![1.0, 2.0, 3.0, 4.0], vec![Some(1), None], 2);
        assert_eq!((x, y), (vec![1.0, 2.0], vec![1]));
    }
}

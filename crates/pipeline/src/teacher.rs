//! Getting soft labels from the recipe's teacher for the training, validation and test rows.

use std::path::Path;

use distillery_runtime::{Provenance, Scratch, Student};
use distillery_teacher::{
    ColumnsTeacher, MlpTeacher, OnnxModel, OnnxOptions, OnnxTeacher, RemoteOptions, RemoteTeacher,
    Teacher,
};
use distillery_train::{
    DistillParams, FitOptions, GibbsParams, MungeParams, TokenParams, TransferSet,
    ValidDistillParams, encode_rows, fit, gibbs as gibbs_rows, munge as munge_rows, token_rows,
};

use crate::RunOptions;
use crate::data::Prepared;
use crate::error::{Context, Result, data_error, refuse};
use crate::latency;
use crate::recipe::{Recipe, TeacherModel};

/// The teacher's probabilities on every split plus what the summary reports about it.
pub struct TeacherOutputs {
    /// Probabilities on the training rows, `n × k`, in the target's class order.
    pub train: Vec<f32>,
    /// Probabilities on the validation rows.
    pub validation: Vec<f32>,
    /// Probabilities on the test rows.
    pub test: Vec<f32>,
    /// What the report calls the teacher ("ONNX model", "in-house MLP").
    pub kind: String,
    /// What provenance records: the model file's hash, or the soft-label columns.
    pub identity: String,
    /// The teacher's size in parameters, when known.
    pub parameters: Option<usize>,
    /// The teacher's size on disk, when known.
    pub bytes: Option<u64>,
    /// Median latency of one row through the teacher, when it runs here.
    pub latency_us: Option<f64>,
    /// The teacher trained by the run (`[teacher] train`), kept in the run directory.
    pub in_house: Option<InHouse>,
    /// The teacher itself, to label MUNGE's synthetic rows (`None`: soft-label columns,
    /// which cannot label new rows).
    pub(crate) labeller: Option<Box<dyn Teacher>>,
    /// Texts a second the transformer teacher labelled the data at (`None` for other
    /// teachers): what sizes the token-augmented transfer set under `augment = "auto"`.
    pub(crate) text_rate: Option<f64>,
}

/// A teacher the run trained, as it is saved in the run directory.
pub enum InHouse {
    /// The MLP, saved as `teacher.safetensors`.
    Mlp(Student),
    /// The boosted trees, saved as `teacher.onnx` (a TreeEnsembleClassifier).
    Gbdt(Vec<u8>),
}

impl TeacherOutputs {
    /// True when the teacher can label rows it was not given (MUNGE needs it).
    pub fn can_label(&self) -> bool {
        self.labeller.is_some()
    }
}

/// Runs (or trains) the teacher.
pub fn build(
    recipe: &Recipe,
    data: &Prepared,
    params: &ValidDistillParams,
    checkpoints: &Path,
    options: &RunOptions<'_>,
) -> Result<TeacherOutputs> {
    let k = data.labels.n_classes();
    let t = &recipe.teacher;
    if let (Some(path), Some(tokenizer)) = (&t.onnx, &t.tokenizer) {
        return from_text(path, tokenizer, t, data);
    }
    if let Some(path) = &t.onnx {
        let onnx_options = OnnxOptions {
            output: t.output.clone(),
            output_kind: t.scores,
            width_hint: t.inputs.as_ref().map(Vec::len),
        };
        let model = OnnxModel::load(path, &onnx_options)
            .with_context(|| format!("loading teacher {}", path.display()))?;
        let teacher = OnnxTeacher::new(
            model,
            &data.labels.classes,
            t.inputs.as_deref(),
            &data.schema,
            Some(&data.train_table),
        )
        .with_context(|| format!("feeding teacher {}", path.display()))?;
        return from_onnx(teacher, data, None);
    }
    if let Some(url) = &t.url {
        return from_remote(url, t, data);
    }
    if let Some(prefix) = &t.columns {
        let teacher = ColumnsTeacher::new(prefix, &data.labels.classes, t.scores);
        let train = teacher.label(&data.train_table, &data.train_rows)?;
        let validation = teacher.label(&data.train_table, &data.val_rows)?;
        let test = teacher.label(data.test_table(), &data.test_rows)
            .context("the test rows need the teacher's soft-label columns too (fidelity is measured against them)")?;
        return Ok(TeacherOutputs {
            train,
            validation,
            test,
            kind: teacher.describe(),
            identity: format!("columns:{prefix}"),
            parameters: None,
            bytes: None,
            latency_us: None,
            in_house: None,
            labeller: None,
            text_rate: None,
        });
    }
    let Some(training) = &t.train else {
        refuse!("[teacher] has no source");
    };
    if training.model() == TeacherModel::Gbdt {
        let trained = crate::gbdt_teacher::train(recipe, training, data, options)?;
        let mut out = from_onnx(trained.teacher, data, Some(trained.train_p))?;
        out.kind = trained.description;
        out.identity = format!("gbdt:{}", blake3::hash(&trained.onnx).to_hex());
        out.in_house = Some(InHouse::Gbdt(trained.onnx));
        return Ok(out);
    }
    let teacher_params = DistillParams {
        hidden: training.mlp_hidden(),
        epochs: training.epochs.unwrap_or(params.epochs),
        // Explicit teacher epochs replace the student's step budget.
        steps: if training.epochs.is_some() {
            None
        } else {
            params.steps
        },
        learning_rate: training.learning_rate.unwrap_or(0.001),
        soft_weight: 0.0,
        ..(**params).clone()
    }
    .check()
    .map_err(|e| data_error!("invalid [teacher] train settings: {e:?}"))?;
    let width = data.encoder.width();
    let y: Vec<Option<u32>> = data.train_rows.iter().map(|&r| data.labels.y[r]).collect();
    let vy: Vec<Option<u32>> = data.val_rows.iter().map(|&r| data.labels.y[r]).collect();
    let train_set = TransferSet {
        x: &data.train_x,
        width,
        soft: None,
        labels: &y,
        classes: k,
    };
    let val_set = TransferSet {
        x: &data.val_x,
        width,
        soft: None,
        labels: &vy,
        classes: k,
    };
    let bar = options
        .progress
        .epochs("teacher", teacher_params.epochs_for(data.train_rows.len()));
    let on_epoch = |r: &distillery_train::EpochRecord| bar.epoch(r);
    let fit_options = FitOptions {
        checkpoint: Some(checkpoints.join("teacher.ckpt")),
        resume: options.resume,
        job_key: format!("teacher:{}", data.fingerprint),
        on_epoch: Some(&on_epoch),
        ..FitOptions::default()
    };
    let outcome = fit(&teacher_params, &train_set, Some(&val_set), &fit_options)
        .context("training the in-house teacher")?;
    bar.finish();
    let mut provenance = Provenance::new();
    provenance.insert("role".into(), "teacher".into());
    provenance.insert(
        "dataset_fingerprint".into(),
        data.fingerprint.clone().into(),
    );
    let student = Student::new(
        data.encoder.clone(),
        data.labels.classes.clone(),
        outcome.layers,
        recipe.data.missing.clone(),
        provenance,
    )?;
    let bytes = student.to_bytes()?.len() as u64;
    let teacher = MlpTeacher(student.clone());
    let train = teacher.predict_proba(&data.train_x, data.train_rows.len())?;
    let validation = teacher.predict_proba(&data.val_x, data.val_rows.len())?;
    let test = teacher.predict_proba(&data.test_x, data.test_rows.len())?;
    let mut scratch = Scratch::default();
    let mut out = vec![0.0; k];
    let n = data.test_rows.len().min(256);
    let latency = latency::median_us(2000, |i| {
        let r = i % n;
        student.predict_encoded_one(
            &data.test_x[r * width..(r + 1) * width],
            &mut scratch,
            &mut out,
        );
        std::hint::black_box(&out);
    });
    Ok(TeacherOutputs {
        train,
        validation,
        test,
        kind: teacher.describe(),
        identity: format!("mlp:{}", blake3::hash(&student.to_bytes()?).to_hex()),
        parameters: Some(student.parameters()),
        bytes: Some(bytes),
        latency_us: Some(latency),
        in_house: Some(InHouse::Mlp(student)),
        labeller: Some(Box::new(teacher)),
        text_rate: None,
    })
}

/// Labels every split with an ONNX teacher (the training rows' probabilities given in
/// `train` when the caller has them already, e.g. from cross-fitting) and times one row.
fn from_onnx(
    teacher: OnnxTeacher,
    data: &Prepared,
    train: Option<Vec<f32>>,
) -> Result<TeacherOutputs> {
    let label = |table: &distillery_data::Table, rows: &[usize]| teacher.label(table, rows);
    let train = match train {
        Some(p) => p,
        None => label(&data.train_table, &data.train_rows)?,
    };
    let validation = label(&data.train_table, &data.val_rows)?;
    let test = label(data.test_table(), &data.test_rows)?;
    // Like the student's, the teacher's latency runs from a raw row: category codes are
    // looked up and the float input built inside the timed call.
    let table = data.test_table();
    let sample: Vec<usize> = data.test_rows.iter().take(256).copied().collect();
    let latency = latency::median_us(1000, |i| {
        let row = [sample[i % sample.len()]];
        let _ = std::hint::black_box(teacher.label(table, &row));
    });
    Ok(TeacherOutputs {
        train,
        validation,
        test,
        kind: format!("ONNX ({})", teacher.model.engine()),
        identity: format!("onnx:{}", teacher.model.file_hash),
        parameters: None,
        bytes: Some(teacher.model.bytes),
        latency_us: Some(latency),
        in_house: None,
        labeller: Some(Box::new(teacher)),
        text_rate: None,
    })
}

/// A teacher behind an Open Inference Protocol endpoint, asked in batches with retries.
/// The teacher's probabilities for the training, validation and test rows, the rows
/// labelled, and the rate (rows per second) it labelled them at.
type SplitLabels = (Vec<f32>, Vec<f32>, Vec<f32>, usize, f64);

/// Labels the training, validation and test rows with `teacher`, timed.
fn label_splits(teacher: &dyn Teacher, data: &Prepared) -> Result<SplitLabels> {
    let started = std::time::Instant::now();
    let train = teacher.label(&data.train_table, &data.train_rows)?;
    let validation = teacher.label(&data.train_table, &data.val_rows)?;
    let test = teacher.label(data.test_table(), &data.test_rows)?;
    let rows = data.train_rows.len() + data.val_rows.len() + data.test_rows.len();
    let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
    Ok((train, validation, test, rows, rate))
}

/// The median time, in µs, of the teacher labelling one test row alone, over five rows.
fn single_row_latency(teacher: &dyn Teacher, data: &Prepared) -> Option<f64> {
    let table = data.test_table();
    let mut times: Vec<f64> = data
        .test_rows
        .iter()
        .take(5)
        .map(|&r| {
            let t = std::time::Instant::now();
            let _ = std::hint::black_box(teacher.label(table, &[r]));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied()
}

/// A transformer teacher (`onnx` + `tokenizer`) over the recipe's text column.
fn from_text(
    path: &Path,
    tokenizer: &Path,
    t: &crate::recipe::TeacherSection,
    data: &Prepared,
) -> Result<TeacherOutputs> {
    let texts: Vec<&str> = data
        .features
        .iter()
        .filter(|(_, k)| *k == distillery_data::Kind::Text)
        .map(|(n, _)| n.as_str())
        .collect();
    let column = match (t.inputs.as_deref(), texts.as_slice()) {
        (Some([one]), _) => one.clone(),
        (Some(_), _) => refuse!(
            "[teacher] inputs: a transformer teacher reads exactly one text column; name it, e.g. inputs = [\"body\"]"
        ),
        (None, [one]) => (*one).to_string(),
        (None, []) => refuse!(
            "[teacher] tokenizer is set but the data has no text column; add it with [data] text = [\"…\"]"
        ),
        (None, many) => refuse!(
            "[teacher] the data has several text columns ({}); say which the teacher reads with inputs = [\"…\"]",
            many.join(", ")
        ),
    };
    let teacher =
        distillery_teacher::TextTeacher::load(path, tokenizer, &column, &data.labels.classes)
            .with_context(|| format!("loading teacher {}", path.display()))?;
    let (train, validation, test, rows, rate) = label_splits(&teacher, data)?;
    tracing::info!(
        rows,
        docs_per_second = rate,
        "the transformer teacher labelled the data"
    );
    // One document at a time, as it would be served.
    let latency = single_row_latency(&teacher, data);
    let bytes = std::fs::metadata(path).map(|m| m.len()).ok();
    let identity = std::fs::read(path)
        .map(|b| blake3::hash(&b).to_hex().to_string())
        .unwrap_or_default();
    Ok(TeacherOutputs {
        train,
        validation,
        test,
        kind: format!("{} ({rate:.1} docs/s)", teacher.describe()),
        identity: format!("onnx:{identity}"),
        parameters: None,
        bytes,
        latency_us: latency,
        in_house: None,
        labeller: Some(Box::new(teacher)),
        text_rate: Some(rate),
    })
}

fn from_remote(
    url: &str,
    t: &crate::recipe::TeacherSection,
    data: &Prepared,
) -> Result<TeacherOutputs> {
    let defaults = RemoteOptions {
        batch_rows: 1024,
        concurrency: 4,
        retries: 4,
    };
    let teacher = RemoteTeacher::new(url, data.features.clone(), &data.labels.classes)
        .with_options(RemoteOptions {
            batch_rows: t.batch_rows.unwrap_or(defaults.batch_rows),
            concurrency: t.concurrency.unwrap_or(defaults.concurrency),
            retries: t.retries.unwrap_or(defaults.retries),
        });
    let (train, validation, test, rows, rate) = label_splits(&teacher, data)?;
    tracing::info!(%url, rows, rows_per_second = rate, "remote teacher labelled the data");
    // One row per request, as a client would ask: the network's cost is part of it. Five
    // calls, not thousands: the teacher is someone's server.
    let latency = single_row_latency(&teacher, data).unwrap_or(f64::NAN);
    Ok(TeacherOutputs {
        train,
        validation,
        test,
        kind: format!("Open Inference Protocol teacher at {url} ({rate:.0} rows/s)"),
        identity: format!("url:{url}"),
        parameters: None,
        bytes: None,
        latency_us: Some(latency),
        in_house: None,
        labeller: Some(Box::new(teacher)),
        text_rate: None,
    })
}

/// How synthetic transfer rows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// MUNGE neighbours (Buciluǎ et al. 2006).
    Munge,
    /// Gibbs-style resampling of one column at a time from its neighbours.
    Gibbs,
    /// Text columns with words dropped and swapped (Tang et al. 2019).
    Tokens,
}

impl Generator {
    /// The recipe's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Generator::Munge => "munge",
            Generator::Gibbs => "gibbs",
            Generator::Tokens => "tokens",
        }
    }
}

/// `factor` synthetic rows per training row from `generator`, encoded, with the teacher's
/// probabilities.
pub fn synthesize(
    recipe: &Recipe,
    data: &Prepared,
    teacher: &TeacherOutputs,
    factor: usize,
    generator: Generator,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let names: Vec<String> = data.features.iter().map(|(n, _)| n.clone()).collect();
    let d = &recipe.distill;
    let synthetic = match generator {
        Generator::Gibbs => {
            let params = GibbsParams {
                factor,
                neighbours: 10,
                share: d.munge_probability,
                seed: d.seed,
            };
            gibbs_rows(
                &data.train_table,
                &names,
                &data.train_rows,
                &data.train_x,
                data.encoder.width(),
                &params,
            )?
        }
        Generator::Munge => {
            let params = MungeParams {
                factor,
                probability: d.munge_probability,
                spread: d.munge_spread,
                seed: d.seed,
            };
            munge_rows(
                &data.train_table,
                &names,
                &data.train_rows,
                &data.train_x,
                data.encoder.width(),
                &params,
            )?
        }
        Generator::Tokens => {
            let text: Vec<String> = data
                .features
                .iter()
                .filter(|(_, k)| *k == distillery_data::Kind::Text)
                .map(|(n, _)| n.clone())
                .collect();
            token_rows(
                &data.train_table,
                &names,
                &text,
                &data.train_rows,
                &TokenParams::new(factor, d.seed),
            )?
        }
    };
    let all: Vec<usize> = (0..synthetic.n_rows()).collect();
    let x = encode_rows(&data.encoder, &synthetic, &all)?;
    let Some(labeller) = &teacher.labeller else {
        refuse!(
            "augment = \"{}\" needs a teacher that can label new rows; precomputed soft-label columns cannot",
            generator.name()
        );
    };
    let p = labeller.label(&synthetic, &all).map_err(|e| match e {
        distillery_teacher::TeacherError::Feed(m) => data_error!(
            "synthetic rows need every teacher input to be a feature: {m}; drop it from [teacher] inputs or turn augmentation off"
        ),
        other => other.into(),
    })?;
    Ok((x, p))
}

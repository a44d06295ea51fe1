//! Re-distillation on served traffic, the step that closes the loop: the most recent logged
//! inputs are labelled by the recipe's teacher (never by the student, which would only
//! teach it its own mistakes), a new student is distilled with the same recipe on them,
//! and old and new students are compared with the teacher on a held-out share of the same
//! traffic. Registering and deploying the new student is the caller's (the CLI's) job.

use std::path::{Path, PathBuf};

use distillery_data::{Kind, Table};
use distillery_runtime::Student;
use distillery_teacher::Teacher;
use distillery_train::encode_rows;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{Context, Result, data_error, recipe_error};
use crate::recipe::Recipe;
use crate::run::{RunOptions, RunOutcome};

/// What to re-distil on, and with what.
pub struct Redistill<'a> {
    /// The recipe's text: the same student, distillation and gates are kept.
    pub recipe_text: &'a str,
    /// The recipe's label column (the teacher's argmax fills it for the traffic).
    pub target: &'a str,
    /// The served model's name (the new run's name).
    pub model: &'a str,
    /// The logged traffic, one row per request row, with the profile's feature columns.
    pub traffic: &'a Table,
    /// The feature columns, in the student's order.
    pub features: &'a [(String, Kind)],
    /// Labels the traffic.
    pub teacher: &'a dyn Teacher,
    /// The student now in production, to compare with.
    pub old: &'a Student,
    /// Share of the traffic held out for the comparison (0.05–0.5).
    pub holdout: f64,
    /// Seed of the hold-out draw.
    pub seed: u64,
    /// Where the labelled traffic, the adapted recipe and the run go.
    pub work: &'a Path,
    /// The recipe as loaded from its file: its files (word vectors) and its transformer
    /// teacher (word vectors from the encoder) are found through it.
    pub recipe: &'a Recipe,
}

/// A finished re-distillation.
pub struct Redistilled {
    /// The run of the adapted recipe (its report holds the gate verdicts).
    pub run: RunOutcome,
    /// Traffic rows the new student trained on.
    pub fit_rows: usize,
    /// Traffic rows held out for the comparison.
    pub holdout_rows: usize,
    /// The old student's agreement with the teacher on the held-out rows.
    pub fidelity_before: f64,
    /// The new student's.
    pub fidelity_after: f64,
    /// Both students' agreement with the teacher, slice by slice, worst loss first.
    pub slices: Vec<crate::redistill_evidence::SliceChange>,
}

/// Labels the traffic with the teacher, distils a new student on it with the recipe, and
/// measures both students against the teacher on the held-out rows.
pub fn redistill(job: &Redistill<'_>, options: &RunOptions<'_>) -> Result<Redistilled> {
    let table = job.traffic;
    let n = table.n_rows();
    let all: Vec<usize> = (0..n).collect();
    let classes = job.teacher.classes().to_vec();
    let k = classes.len().max(1);
    let teacher_p: Vec<Vec<f64>> = job
        .teacher
        .label(table, &all)?
        .chunks_exact(k)
        .map(|row| row.iter().map(|&p| f64::from(p)).collect())
        .collect();
    let mut order = all;
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(job.seed));
    let held = ((n as f64) * job.holdout).round() as usize;
    let (mut hold, mut fit) = (order[..held].to_vec(), order[held..].to_vec());
    hold.sort_unstable();
    fit.sort_unstable();
    std::fs::create_dir_all(job.work)
        .with_context(|| format!("creating {}", job.work.display()))?;
    let train_csv = job.work.join("traffic.csv");
    let labelled = |path: &Path, rows: &[usize]| {
        write_labelled(
            path,
            table,
            job.features,
            rows,
            &teacher_p,
            &classes,
            job.target,
        )
    };
    labelled(&train_csv, &fit)?;
    labelled(&job.work.join("holdout.csv"), &hold)?;
    let recipe_path = job.work.join("recipe.toml");
    let train_abs = std::fs::canonicalize(&train_csv)
        .with_context(|| format!("resolving {}", train_csv.display()))?;
    let vectors = teacher_vectors(job, &fit)?;
    let text = adapted_recipe(job, &train_abs, vectors.as_deref())?;
    distillery_runtime::write_atomic(&recipe_path, text.as_bytes())
        .with_context(|| format!("writing {}", recipe_path.display()))?;
    let recipe = Recipe::parse(&text, &recipe_path)?.check()?;
    let run = crate::run(&recipe, &text, options)?;
    let new = Student::load(&run.run_dir.join("student.safetensors"))?;
    let hold_table = table.take(&hold);
    let hold_teacher: Vec<usize> = hold.iter().map(|&r| argmax(&teacher_p[r])).collect();
    let before = agreement(job.old, &hold_table, &hold_teacher)?;
    let after = agreement(&new, &hold_table, &hold_teacher)?;
    let share = |v: &[bool]| v.iter().filter(|&&a| a).count() as f64 / v.len().max(1) as f64;
    Ok(Redistilled {
        fidelity_before: share(&before),
        fidelity_after: share(&after),
        slices: crate::redistill_evidence::slice_changes(
            &hold_table,
            job.features,
            &classes,
            &hold_teacher,
            &before,
            &after,
        ),
        run,
        fit_rows: fit.len(),
        holdout_rows: hold.len(),
    })
}

/// The rows `rows` of `table` with the teacher's argmax as the label and its probabilities
/// as `teacher_p_<class>` soft-label columns.
fn write_labelled(
    path: &Path,
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
    teacher_p: &[Vec<f64>],
    classes: &[String],
    target: &str,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();
    header.push(target.to_string());
    header.extend(classes.iter().map(|c| format!("teacher_p_{c}")));
    w.write_record(&header)?;
    let columns: Vec<&distillery_data::Column> = features
        .iter()
        .map(|(n, _)| table.column(n))
        .collect::<std::result::Result<_, _>>()?;
    for &r in rows {
        let mut record: Vec<String> = columns
            .iter()
            .map(|c| {
                c.text(r)
                    .map(str::to_string)
                    .or_else(|| c.number(r).map(distillery_data::format_number))
                    .unwrap_or_default()
            })
            .collect();
        let p = &teacher_p[r];
        record.push(classes[argmax(p)].clone());
        record.extend(p.iter().map(|v| format!("{v}")));
        w.write_record(&record)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| data_error!("writing {}: {e}", path.display()))?;
    distillery_runtime::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// When the recipe's student takes word vectors from its transformer teacher (the default
/// with `[teacher] onnx` and `tokenizer`), derives them from the traffic's texts and writes
/// them to `words.vec` in the work folder: the adapted recipe's teacher is soft-label
/// columns, which has no encoder to take them from. Returns the file's absolute path.
fn teacher_vectors(job: &Redistill<'_>, rows: &[usize]) -> Result<Option<PathBuf>> {
    let (Some(onnx), Some(tokenizer)) = (&job.recipe.teacher.onnx, &job.recipe.teacher.tokenizer)
    else {
        return Ok(None);
    };
    let choice = job.recipe.student.text.vectors.as_deref();
    if choice.is_some_and(|v| v != Path::new(crate::recipe::VECTORS_FROM_TEACHER)) {
        return Ok(None);
    }
    let texts: Vec<&str> = job
        .features
        .iter()
        .filter(|(_, k)| *k == Kind::Text)
        .map(|(n, _)| n.as_str())
        .collect();
    if texts.is_empty() {
        return Ok(None);
    }
    let vectors = crate::text_vectors::teacher_vectors(onnx, tokenizer, &texts, job.traffic, rows)?;
    let path = job.work.join("words.vec");
    distillery_runtime::write_atomic(&path, vectors.to_vec_text().as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(absolute(&path)?))
}

/// `path` made absolute against the working directory, so a recipe written elsewhere still
/// finds it.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// The recipe with the traffic as its training data and the teacher's soft labels as its
/// teacher; everything else (student, distillation, gates) kept. The original
/// `[data] unlabelled` file and `[distill] augment` are dropped (soft-label columns cannot
/// label new rows; the traffic is the transfer set now), and a word-vector file is named
/// by its absolute path, since the adapted recipe lives in the work folder.
fn adapted_recipe(job: &Redistill<'_>, train: &Path, vectors: Option<&Path>) -> Result<String> {
    let mut doc: toml::Table = toml::from_str(job.recipe_text)
        .map_err(|e| recipe_error!("the recipe is not valid TOML: {e}"))?;
    doc.insert("name".into(), toml::Value::String(job.model.to_string()));
    let vectors = match (vectors, job.recipe.student.text.vectors.as_deref()) {
        (Some(derived), _) => Some(derived.to_path_buf()),
        (None, Some(v))
            if v != Path::new(crate::recipe::VECTORS_OFF)
                && v != Path::new(crate::recipe::VECTORS_FROM_TEACHER) =>
        {
            Some(absolute(v)?)
        }
        _ => None,
    };
    if let Some(v) = vectors {
        let student = section(&mut doc, "student")?;
        section(student, "text")?.insert(
            "vectors".into(),
            toml::Value::String(v.display().to_string()),
        );
    }
    let data = section(&mut doc, "data")?;
    data.insert(
        "train".into(),
        toml::Value::String(train.display().to_string()),
    );
    data.remove("test");
    data.remove("unlabelled");
    data.entry("test_fraction")
        .or_insert(toml::Value::Float(0.2));
    let mut teacher = toml::Table::new();
    teacher.insert("columns".into(), toml::Value::String("teacher_p_".into()));
    doc.insert("teacher".into(), toml::Value::Table(teacher));
    // Synthetic rows need a teacher to label them, which soft-label columns are not; the
    // default (`auto`) makes none with such a teacher.
    if let Some(d) = doc.get_mut("distill").and_then(toml::Value::as_table_mut) {
        d.remove("augment");
        d.remove("augment_factor");
    }
    doc.remove("sweep");
    if let Some(e) = doc.get_mut("evaluate").and_then(toml::Value::as_table_mut) {
        e.remove("cv_folds");
    }
    toml::to_string(&doc).map_err(|e| recipe_error!("writing the adapted recipe: {e}"))
}

/// The table `[name]` of `doc`, created empty when absent.
fn section<'t>(doc: &'t mut toml::Table, name: &str) -> Result<&'t mut toml::Table> {
    doc.entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or_else(|| recipe_error!("[{name}] in the recipe is not a table"))
}

/// Index of the largest value (the first of ties).
fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i)
}

/// Per row, whether the student's most probable class is the teacher's.
fn agreement(student: &Student, table: &Table, teacher: &[usize]) -> Result<Vec<bool>> {
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let x = encode_rows(student.encoder(), table, &rows)?;
    let p = student.predict_encoded_batch(&x, rows.len());
    let k = student.classes().len();
    Ok(rows
        .iter()
        .map(|&r| {
            let s: Vec<f64> = p[r * k..(r + 1) * k]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            argmax(&s) == teacher[r]
        })
        .collect())
}

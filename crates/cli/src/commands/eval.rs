//! `distillery eval --model student.safetensors --data labelled.csv --target y`: the
//! student's metrics on any labelled file, as JSON on stdout.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_data::Labels;
use distillery_eval::Scores;
use distillery_runtime::Student;
use serde::Serialize;

use crate::cli::EvalArgs;
use crate::exit::ExitStatus;
use distillery_eval::run_report::Quality;

#[derive(Serialize)]
struct Evaluation {
    model: String,
    data: String,
    rows: usize,
    unlabelled_rows: usize,
    classes: Vec<String>,
    #[serde(flatten)]
    scores: Scores,
    quality: Quality,
}

pub(crate) fn run(args: &EvalArgs) -> Result<ExitStatus> {
    let student = Student::load(&args.model)
        .with_context(|| format!("loading student {}", args.model.display()))?;
    let table = super::predict::read_for(&student, &args.data)?;
    let target = table.column(&args.target)?;
    let labels = Labels::from_column(target, Some(student.classes())).map_err(|v| {
        anyhow::anyhow!(
            "{}: label '{v}' in column '{}' is not one of the student's classes {:?}",
            args.data.display(),
            args.target,
            student.classes()
        )
    })?;
    let rows: Vec<usize> = (0..table.n_rows())
        .filter(|&r| labels.y[r].is_some())
        .collect();
    if rows.is_empty() {
        bail!(
            "{}: column '{}' has no labelled rows to evaluate on",
            args.data.display(),
            args.target
        );
    }
    let y: Vec<Option<u32>> = rows.iter().map(|&r| labels.y[r]).collect();
    let x = distillery_train::encode_rows(student.encoder(), &table, &rows)?;
    let k = student.classes().len();
    let p = student.predict_encoded_batch(&x, rows.len());
    let evaluation = Evaluation {
        model: args.model.display().to_string(),
        data: args.data.display().to_string(),
        rows: rows.len(),
        unlabelled_rows: table.n_rows() - rows.len(),
        classes: student.classes().to_vec(),
        scores: Scores::of(&p, k, &y),
        quality: Quality::of(&p, k, &y, args.seed),
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &evaluation)?;
    writeln!(stdout)?;
    Ok(ExitStatus::Ok)
}

//! `distillery predict --model student.safetensors --input rows.csv --output scored.csv`:
//! scores a file of any size chunk by chunk (CSV, CSV.gz or Parquet in; CSV or Parquet
//! out) in constant memory.

use std::collections::HashSet;

use anyhow::{Context, Result};
use distillery_data::stream::{RowReader, Rows, Scored, ScoredWriter};
use distillery_data::{ReadOptions, Table};
use distillery_runtime::{FeatureEncoder, RawValue, Student};

use crate::cli::PredictArgs;
use crate::exit::ExitStatus;

/// Reads a file the way `student` was trained to read data (its missing tokens, its
/// categorical columns kept as text), checking that every feature column is there.
pub(crate) fn read_for(student: &Student, path: &std::path::Path) -> Result<Table> {
    let keep_text: HashSet<String> = student
        .encoder()
        .features
        .iter()
        .filter(|f| matches!(f, FeatureEncoder::Categorical { .. }))
        .map(|f| f.name().to_string())
        .collect();
    let options = ReadOptions {
        missing: student.missing_tokens().to_vec(),
        keep_text,
    };
    let table = Table::read(path, &options)?;
    for name in student.encoder().names() {
        table
            .index_of(name)
            .with_context(|| format!("{} lacks a feature the student needs", path.display()))?;
    }
    Ok(table)
}

/// Whether two paths name one file (through links and `..` too).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Input files up to this many columns have them all copied to the output by default.
const COPY_ALL_UP_TO: usize = 32;

/// Rows scored at a time: memory stays constant whatever the file's size.
const CHUNK_ROWS: usize = 16_384;

pub(crate) fn run(args: &PredictArgs) -> Result<ExitStatus> {
    if same_file(&args.input, &args.output) {
        anyhow::bail!(
            "--output {} is the input file; writing it would overwrite the rows being scored: choose another --output",
            args.output.display()
        );
    }
    let student = Student::load(&args.model)
        .with_context(|| format!("loading student {}", args.model.display()))?;
    let mut reader = RowReader::open(&args.input)?;
    let names = reader.names().to_vec();
    // Each feature's column in the file, and whether the student reads it as a number.
    let mut features = Vec::new();
    for f in &student.encoder().features {
        let at = names.iter().position(|n| n == f.name()).with_context(|| {
            format!(
                "{} lacks the feature column '{}' the student needs{}",
                args.input.display(),
                f.name(),
                distillery_data::nearest(f.name(), &names)
                    .map(|n| format!(" (did you mean '{n}'?)"))
                    .unwrap_or_default()
            )
        })?;
        features.push((at, matches!(f, FeatureEncoder::Numeric { .. })));
    }
    let copy = copied_columns(args.columns.as_deref(), &names)?;
    let copied: Vec<&str> = copy.iter().map(|&c| names[c].as_str()).collect();
    let classes = student.classes();
    let mut writer = ScoredWriter::create(&args.output, &copied, classes)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let missing: HashSet<&str> = student
        .missing_tokens()
        .iter()
        .map(String::as_str)
        .collect();
    let width = student.encoder().width();
    let k = classes.len();
    let mut rows = Rows::default();
    let mut x = vec![0.0f32; CHUNK_ROWS * width];
    let mut scored = 0usize;
    while reader.next_chunk(CHUNK_ROWS, &mut rows)? > 0 {
        let n = rows.len();
        let mut raw: Vec<RawValue<'_>> = Vec::with_capacity(features.len());
        for r in 0..n {
            raw.clear();
            for &(column, numeric) in &features {
                raw.push(match rows.cell(r, column) {
                    None => RawValue::Missing,
                    Some(t) if missing.contains(t) => RawValue::Missing,
                    Some(t) if numeric => match t.parse::<f64>() {
                        Ok(v) if v.is_finite() => RawValue::Number(v),
                        _ => anyhow::bail!(
                            "{} line {}: column '{}' holds '{t}', not a number, but the student reads it as numeric; fix the cell, or list the token as missing in the recipe's [data] missing and retrain",
                            args.input.display(),
                            rows.line(r),
                            names[column]
                        ),
                    },
                    Some(t) => RawValue::Text(t),
                });
            }
            student
                .encoder()
                .encode_into(&raw, &mut x[r * width..(r + 1) * width])
                .with_context(|| format!("{} line {}", args.input.display(), rows.line(r)))?;
        }
        let p = student.predict_encoded_batch(&x[..n * width], n);
        let labels: Vec<&str> = p
            .chunks_exact(k.max(1))
            .map(|q| classes[distillery_eval::argmax(q)].as_str())
            .collect();
        writer.write(&Scored {
            rows: &rows,
            copy: &copy,
            probabilities: &p,
            labels: &labels,
        })?;
        scored += n;
    }
    if scored == 0 {
        anyhow::bail!("{} has no data rows to score", args.input.display());
    }
    writer.finish()?;
    eprintln!("scored {scored} rows → {}", args.output.display());
    Ok(ExitStatus::Ok)
}

/// The input columns `--columns` copies to the output, by position.
fn copied_columns(spec: Option<&str>, names: &[String]) -> Result<Vec<usize>> {
    match spec.map(str::trim) {
        None if names.len() <= COPY_ALL_UP_TO => Ok((0..names.len()).collect()),
        None => {
            tracing::info!(
                columns = names.len(),
                "the input has more than {COPY_ALL_UP_TO} columns: the output holds the probabilities and the label only (--columns all copies every input column)"
            );
            Ok(Vec::new())
        }
        Some("all") => Ok((0..names.len()).collect()),
        Some("none" | "") => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(|c| {
                let c = c.trim();
                names.iter().position(|n| n == c).with_context(|| {
                    format!(
                        "--columns: '{c}' is not a column of the input{}",
                        distillery_data::nearest(c, names)
                            .map(|n| format!(" (did you mean '{n}'?)"))
                            .unwrap_or_default()
                    )
                })
            })
            .collect(),
    }
}

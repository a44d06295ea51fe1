//! `distillery predict --model student.safetensors --input rows.csv --output scored.csv`:
//! scores a file of any size chunk by chunk (CSV, CSV.gz or Parquet in; CSV or Parquet
//! out) in constant memory.

use std::collections::HashSet;

use anyhow::{Context, Result};
use distillery_data::stream::{RowReader, Rows, Scored, ScoredWriter};
use distillery_runtime::{FeatureEncoder, Predict, QuantizedStudent, RawValue, Student};

use crate::cli::PredictArgs;
use crate::exit::ExitStatus;

/// Whether two paths name one file (through links and `..` too).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The fp32 or the int8 student in `path`, whichever the file holds.
fn load_student(path: &std::path::Path) -> Result<Box<dyn Predict + Sync>> {
    match Student::load(path) {
        Ok(s) => Ok(Box::new(s)),
        Err(fp32) => match QuantizedStudent::load(path) {
            Ok(q) => Ok(Box::new(q)),
            Err(_) => Err(fp32).with_context(|| format!("loading student {}", path.display())),
        },
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
    let student = load_student(&args.model)?;
    let student = student.as_ref();
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
    let mut x = vec![0.0f32; CHUNK_ROWS * width];
    let mut scored = 0usize;
    // One thread reads and splits the next chunk while this one scores and writes the
    // last: on two cores, parsing no longer waits on scoring. Chunk buffers go back to the
    // reader to be refilled, so memory stays at a few chunks.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<distillery_data::Result<Rows>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Rows>();
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            loop {
                let mut rows = empty_rx.try_recv().unwrap_or_default();
                let sent = match reader.next_chunk(CHUNK_ROWS, &mut rows) {
                    Ok(0) => break,
                    Ok(_) => full_tx.send(Ok(rows)),
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                };
                if sent.is_err() {
                    break; // the scorer stopped (an error): stop reading
                }
            }
        });
        for chunk in full_rx {
            let rows = chunk?;
            score_chunk(Chunk {
                student,
                features: &features,
                missing: &missing,
                names: &names,
                input: &args.input,
                rows: &rows,
                x: &mut x,
                copy: &copy,
                writer: &mut writer,
            })?;
            scored += rows.len();
            let _ = empty_tx.send(rows);
        }
        Ok(())
    })?;
    if scored == 0 {
        anyhow::bail!("{} has no data rows to score", args.input.display());
    }
    writer.finish()?;
    eprintln!("scored {scored} rows → {}", args.output.display());
    Ok(ExitStatus::Ok)
}

/// One chunk to score and what scoring it needs.
struct Chunk<'a> {
    student: &'a (dyn Predict + Sync),
    /// Each feature's column in the input, and whether it is numeric.
    features: &'a [(usize, bool)],
    missing: &'a HashSet<&'a str>,
    names: &'a [String],
    input: &'a std::path::Path,
    rows: &'a Rows,
    /// Encoded rows, reused from chunk to chunk.
    x: &'a mut Vec<f32>,
    copy: &'a [usize],
    writer: &'a mut ScoredWriter,
}

/// Encodes, scores and writes one chunk.
fn score_chunk(c: Chunk<'_>) -> Result<()> {
    let (rows, width) = (c.rows, c.student.encoder().width());
    let classes = c.student.classes();
    let n = rows.len();
    let mut raw: Vec<RawValue<'_>> = Vec::with_capacity(c.features.len());
    for r in 0..n {
        raw.clear();
        for &(column, numeric) in c.features {
            raw.push(match rows.cell(r, column) {
                None => RawValue::Missing,
                Some(t) if c.missing.contains(t) => RawValue::Missing,
                Some(t) if numeric => match t.parse::<f64>() {
                    Ok(v) if v.is_finite() => RawValue::Number(v),
                    _ => anyhow::bail!(
                        "{} line {}: column '{}' holds '{t}', not a number, but the student reads it as numeric; fix the cell, or list the token as missing in the recipe's [data] missing and retrain",
                        c.input.display(),
                        rows.line(r),
                        c.names[column]
                    ),
                },
                Some(t) => RawValue::Text(t),
            });
        }
        c.student
            .encoder()
            .encode_into(&raw, &mut c.x[r * width..(r + 1) * width])
            .with_context(|| format!("{} line {}", c.input.display(), rows.line(r)))?;
    }
    let p = c.student.predict_encoded_batch(&c.x[..n * width], n);
    let labels: Vec<&str> = p
        .chunks_exact(classes.len().max(1))
        .map(|q| classes[distillery_eval::argmax(q)].as_str())
        .collect();
    c.writer.write(&Scored {
        rows,
        copy: c.copy,
        probabilities: &p,
        labels: &labels,
    })?;
    Ok(())
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

//! `distillery estimate --reference runs/<id> --current <file|log dir>`: label-free
//! accuracy and F1 per chunk (CBPE), fitted on the run's labelled held-out rows.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_data::Kind;
use distillery_monitor::Profile;
use distillery_monitor::cbpe::{BinaryReference, Cbpe, ChunkEstimate};
use distillery_runtime::Student;
use distillery_train::encode_rows;
use serde_json::json;

use crate::cli::EstimateArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &EstimateArgs) -> Result<ExitStatus> {
    let run = &args.reference;
    if !run.is_dir() {
        bail!("--reference must be a run directory (it holds the student and profile.json)");
    }
    let profile = Profile::load(&run.join("profile.json"))?;
    let Some(labelled) = &profile.labelled else {
        bail!(
            "{} has no labelled reference rows: CBPE needs a binary student's run (this student has {} classes, or the run predates profile.json's labelled rows)",
            run.display(),
            profile.prediction.as_ref().map_or(0, |p| p.classes.len())
        );
    };
    let predicted = |p: &[f64]| p.iter().map(|&x| u8::from(x >= 0.5)).collect::<Vec<u8>>();
    let reference_predicted = predicted(&labelled.probability);
    let cbpe = Cbpe::fit(
        &BinaryReference {
            probability: &labelled.probability,
            predicted: &reference_predicted,
            truth: &labelled.truth,
        },
        args.chunk_size,
        args.seed,
    )?;
    let (probability, truth) = current(args, &profile, &labelled.classes)?;
    let chunks = cbpe.estimate(&probability, &predicted(&probability), truth.as_deref());
    let alerts = chunks.iter().filter(|c| c.alert).count();
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "positive_class": labelled.classes[1],
            "chunk_size": args.chunk_size,
            "calibrated": cbpe.calibrator.is_some(),
            "accuracy_thresholds": cbpe.accuracy_thresholds,
            "f1_thresholds": cbpe.f1_thresholds,
            "alerts": alerts,
            "chunks": chunks,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        print(&mut out, &cbpe, &chunks, &labelled.classes[1])?;
    }
    Ok(if args.fail_on_alert && alerts > 0 {
        ExitStatus::GateFailed
    } else {
        ExitStatus::Ok
    })
}

/// The student's P(second class) on the current rows, and their labels when known.
fn current(
    args: &EstimateArgs,
    profile: &Profile,
    classes: &[String],
) -> Result<(Vec<f64>, Option<Vec<u8>>)> {
    if args.current.is_dir() {
        let features: Vec<(String, Kind)> = profile
            .columns
            .first()
            .map(|c| (c.name.clone(), Kind::Numeric))
            .into_iter()
            .collect();
        let traffic =
            distillery_monitor::log::read_log(&args.current, &features, args.model.as_deref())?;
        if traffic.probabilities.is_empty() {
            bail!(
                "the prediction log in {} holds no answered probabilities",
                args.current.display()
            );
        }
        let p = traffic
            .probabilities
            .iter()
            .map(|row| row.get(1).copied().unwrap_or(f64::NAN))
            .collect();
        return Ok((p, None));
    }
    let student_path = args.reference.join("student.safetensors");
    let student = Student::load(&student_path)
        .with_context(|| format!("loading {}", student_path.display()))?;
    let table = super::predict::read_for(&student, &args.current)?;
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let x = encode_rows(student.encoder(), &table, &rows)
        .with_context(|| format!("encoding {}", args.current.display()))?;
    let p = student.predict_encoded_batch(&x, rows.len());
    let k = student.classes().len();
    let probability: Vec<f64> = (0..rows.len()).map(|r| f64::from(p[r * k + 1])).collect();
    let truth = match &args.target {
        None => None,
        Some(target) => {
            let column = table
                .column(target)
                .with_context(|| format!("--target {target}"))?;
            let labels = (0..table.n_rows())
                .map(|r| {
                    let cell = column.text(r).map(str::to_string).or_else(|| column.number(r).map(distillery_data::format_number));
                    match cell.as_deref().and_then(|c| classes.iter().position(|k| k == c)) {
                        Some(i) => Ok(i as u8),
                        None => bail!("--target {target}: row {} holds {cell:?}, not one of the classes {classes:?}", r + 1),
                    }
                })
                .collect::<Result<Vec<u8>>>()?;
            Some(labels)
        }
    };
    Ok((probability, truth))
}

fn print(
    out: &mut impl Write,
    cbpe: &Cbpe,
    chunks: &[ChunkEstimate],
    positive: &str,
) -> Result<()> {
    writeln!(
        out,
        "CBPE ({}calibrated on the run's held-out rows), F1 of class {positive}; alert below {:.4} accuracy or {:.4} F1",
        if cbpe.calibrator.is_some() {
            "isotonic-"
        } else {
            "not "
        },
        cbpe.accuracy_thresholds.0,
        cbpe.f1_thresholds.0
    )?;
    writeln!(
        out,
        "  rows          accuracy  ±3σ band            F1      realized acc  alert"
    )?;
    for c in chunks {
        writeln!(
            out,
            "  {:>5}–{:<6}  {:.4}    [{:.4}, {:.4}]  {:.4}  {:12}  {}",
            c.start,
            c.end,
            c.accuracy,
            c.accuracy_band.0,
            c.accuracy_band.1,
            c.f1,
            c.realized
                .map_or("—".to_string(), |(a, _)| format!("{a:.4}")),
            if c.alert { "ALERT" } else { "" }
        )?;
    }
    Ok(())
}

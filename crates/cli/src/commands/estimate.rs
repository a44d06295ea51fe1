//! `distillery estimate --reference runs/<id> --current <file|log dir>`: label-free
//! accuracy and F1 per chunk (CBPE), fitted on the run's labelled held-out rows; binary
//! and multiclass students.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_data::Kind;
use distillery_monitor::Profile;
use distillery_monitor::cbpe::ChunkEstimate;
use distillery_monitor::cbpe_multiclass::Estimator;
use distillery_monitor::log::NonFinite;
use distillery_runtime::Student;
use distillery_train::encode_rows;
use serde_json::json;

use crate::cli::EstimateArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &EstimateArgs) -> Result<ExitStatus> {
    let run = &args.reference;
    let (profile, student) = if run.is_dir() {
        let path = run.join("profile.json");
        if !path.exists() {
            bail!(
                "{} has no profile.json: runs record one since distillery 0.1 (rerun the recipe)",
                run.display()
            );
        }
        let student_path = run.join("student.safetensors");
        let student = Student::load(&student_path)
            .with_context(|| format!("loading {}", student_path.display()))?;
        (Profile::load(&path)?, student)
    } else if let Some(profile) = crate::reference::registered_profile(run, &args.options)? {
        let registry = crate::registry_access::open(&args.options)?;
        let version = registry.resolve(&distillery_registry::Reference::parse(
            &run.to_string_lossy(),
        )?)?;
        (
            profile,
            Student::from_bytes(&registry.load(&version, "student")?)?,
        )
    } else {
        bail!(
            "--reference {} is neither a run directory nor a registered version (name@alias, name/3)",
            run.display()
        );
    };
    let Some(labelled) = &profile.labelled else {
        bail!(
            "{} has no labelled reference rows; the run predates them: rerun the recipe",
            run.display()
        );
    };
    let estimator = Estimator::fit(labelled, args.chunk_size, args.seed)?;
    let (probabilities, truth, non_finite) = current(args, &profile, &student, &labelled.classes)?;
    let warning = non_finite.warning();
    if let Some(w) = &warning {
        tracing::warn!("{w}");
    }
    let chunks = estimator.estimate(&probabilities, truth.as_deref());
    let alerts = chunks.iter().filter(|c| c.alert).count();
    let (accuracy_thresholds, f1_thresholds) = estimator.thresholds();
    let f1_of = if labelled.classes.len() == 2 {
        format!("class {}", labelled.classes[1])
    } else {
        "macro".to_string()
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "classes": labelled.classes,
            "f1": f1_of,
            "chunk_size": args.chunk_size,
            "calibrated": estimator.calibrated(),
            "accuracy_thresholds": accuracy_thresholds,
            "f1_thresholds": f1_thresholds,
            "alerts": alerts,
            "non_finite": non_finite,
            "warnings": warning.into_iter().collect::<Vec<_>>(),
            "chunks": chunks,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        print(&mut out, &estimator, &chunks, &f1_of)?;
    }
    Ok(if args.fail_on_alert && alerts > 0 {
        ExitStatus::GateFailed
    } else {
        ExitStatus::Ok
    })
}

/// Class probabilities per row, the rows' true classes when known, and what was set aside
/// as non-finite (never scored).
type Scored = (Vec<Vec<f64>>, Option<Vec<usize>>, NonFinite);

/// The student's class probabilities on the current rows, and their labels when known.
fn current(
    args: &EstimateArgs,
    profile: &Profile,
    student: &Student,
    classes: &[String],
) -> Result<Scored> {
    if args.current.is_dir() {
        let features: Vec<(String, Kind)> = profile
            .columns
            .first()
            .map(|c| (c.name.clone(), Kind::Numeric))
            .into_iter()
            .collect();
        let traffic =
            distillery_monitor::log::read_log(&args.current, &features, args.model.as_deref())?;
        let answered: Vec<Vec<f64>> = traffic
            .probabilities
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if answered.is_empty() {
            bail!(
                "the prediction log in {} holds no answered probabilities{}",
                args.current.display(),
                traffic
                    .non_finite
                    .warning()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default()
            );
        }
        return Ok((answered, None, traffic.non_finite));
    }
    let table = crate::student_input::read_for(student, &args.current)?;
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let x = encode_rows(student.encoder(), &table, &rows)
        .with_context(|| format!("encoding {}", args.current.display()))?;
    let p = student.predict_encoded_batch(&x, rows.len());
    let k = student.classes().len();
    let probability: Vec<Vec<f64>> = p
        .chunks_exact(k.max(1))
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
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
                        Some(i) => Ok(i),
                        None => bail!("--target {target}: row {} holds {cell:?}, not one of the classes {classes:?}", r + 1),
                    }
                })
                .collect::<Result<Vec<usize>>>()?;
            Some(labels)
        }
    };
    // Rows the student cannot score (an input far outside the training range) are left out
    // of the estimate and counted, never passed on as NaN.
    let keep: Vec<bool> = probability
        .iter()
        .map(|p| p.iter().all(|x| x.is_finite()))
        .collect();
    let non_finite = NonFinite {
        inputs: 0,
        probability_rows: keep.iter().filter(|k| !**k).count(),
    };
    if non_finite.any() {
        let probability = probability
            .into_iter()
            .zip(&keep)
            .filter_map(|(p, k)| k.then_some(p))
            .collect();
        let truth = truth.map(|t| {
            t.into_iter()
                .zip(&keep)
                .filter_map(|(t, k)| k.then_some(t))
                .collect()
        });
        return Ok((probability, truth, non_finite));
    }
    Ok((probability, truth, non_finite))
}

fn print(
    out: &mut impl Write,
    estimator: &Estimator,
    chunks: &[ChunkEstimate],
    f1_of: &str,
) -> Result<()> {
    let (accuracy, f1) = estimator.thresholds();
    writeln!(
        out,
        "CBPE ({}calibrated on the run's held-out rows), F1 {f1_of}; alert below {:.4} accuracy or {:.4} F1",
        if estimator.calibrated() {
            "isotonic-"
        } else {
            "not "
        },
        accuracy.0,
        f1.0
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

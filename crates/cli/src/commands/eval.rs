//! `distillery eval --model student.safetensors --data labelled.csv --target y
//! [--teacher teacher.onnx] [--recipe recipe.toml] [--slice SPEC]…`: the same evidence a run
//! produces (metrics with intervals, calibration, fidelity, slices, gates) for any student
//! on any labelled file — next month's data, another region — written as
//! `runs/eval-…/report.json`, `report.html` and `model_card.md`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use distillery_data::{Kind, Labels, Schema, SchemaOptions, Table};
use distillery_eval::Scores;
use distillery_eval::run_report::{DatasetSummary, ModelSummary, Quality, Report, ReportHeader};
use distillery_runtime::{FeatureEncoder, RawValue, Student};
use distillery_teacher::{OnnxModel, OnnxOptions, OnnxTeacher, Teacher};

use crate::cli::EvalArgs;
use crate::exit::ExitStatus;
use distillery_pipeline::evaluate::{self, SliceInput};
use distillery_pipeline::recipe::{EvaluateSection, GatesSection, Recipe};
use distillery_pipeline::{latency, now_rfc3339, run_id, student_latency_of};

pub(crate) fn run(args: &EvalArgs) -> Result<ExitStatus> {
    let started = Instant::now();
    let student = Student::load(&args.model)
        .with_context(|| format!("loading student {}", args.model.display()))?;
    let (mut settings, gates) = match &args.recipe {
        Some(path) => {
            let (r, _) = Recipe::load(path)?;
            (r.evaluate.clone(), r.gates.clone())
        }
        None => (EvaluateSection::default(), GatesSection::default()),
    };
    for spec in &args.slices {
        distillery_eval::slices::SliceSpec::parse(spec)
            .map_err(|m| anyhow::anyhow!("--slice {m}"))?;
        settings.slices.push(spec.clone());
    }
    let table = crate::student_input::read_for(&student, &args.data)?;
    let target = table.column(&args.target).map_err(|_| {
        let hint = distillery_data::nearest(&args.target, table.names())
            .map(|n| format!("; did you mean '{n}'?"))
            .unwrap_or_default();
        anyhow::anyhow!("{}: no column '{}'{hint}", args.data.display(), args.target)
    })?;
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
    let features = student_features(&student);
    let schema = Schema::infer(&table, &schema_options(&student, &table, &args.target))?;
    let teacher_p = match &args.teacher {
        Some(path) => Some(teacher_probabilities(
            path, &student, &schema, &table, &rows,
        )?),
        None => None,
    };
    let raw_rows = raw_rows(&student, &table, &rows);
    let bytes = student.to_bytes()?.len() as u64;
    let scores = Scores::of(&p, k, &y);
    let reference = teacher_p.as_ref().map(|(t, _)| t.as_slice());
    let student_summary = ModelSummary {
        kind: format!("student {}", args.model.display()),
        accuracy: scores.accuracy,
        macro_f1: scores.macro_f1,
        log_loss: scores.log_loss,
        fidelity: reference.map_or(f64::NAN, |t| distillery_eval::fidelity(&p, t, k)),
        mean_kl: reference.map_or(f64::NAN, |t| distillery_eval::mean_kl(&p, t, k)),
        parameters: Some(student.parameters()),
        bytes: Some(bytes),
        latency_us: Some(student_latency_of(&student, &raw_rows)),
        quality: Quality::of(&p, k, &y, reference, args.seed),
        training: None,
    };
    let teacher_summary = teacher_p.as_ref().map(|(t, (kind, latency, bytes))| {
        let s = Scores::of(t, k, &y);
        ModelSummary {
            kind: kind.clone(),
            accuracy: s.accuracy,
            macro_f1: s.macro_f1,
            log_loss: s.log_loss,
            fidelity: 1.0,
            mean_kl: 0.0,
            parameters: None,
            bytes: Some(*bytes),
            latency_us: Some(*latency),
            quality: Quality::of(t, k, &y, None, args.seed),
            training: None,
        }
    });
    // Without a teacher, slices report student accuracy alone and the search looks at
    // accuracy only.
    let slices = evaluate::slices(
        &settings,
        &SliceInput {
            table: &table,
            rows: &rows,
            features: &features,
            student: &p,
            teacher: reference,
            k,
            y: &y,
        },
        true,
    )?;
    let gates = distillery_eval::gate::verdicts(
        &gates,
        &distillery_eval::gate::GateInputs {
            teacher: teacher_summary.as_ref(),
            student: &student_summary,
            slices: Some(&slices),
            int8: None,
        },
    );
    let fingerprint = distillery_data::fingerprint(&table, &schema);
    let name = args.model.parent().and_then(|d| d.file_name()).map_or_else(
        || "student".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let id = run_id(&format!("eval-{name}"), &fingerprint);
    let header = ReportHeader {
        kind: "eval".into(),
        run_id: id.clone(),
        name: format!("{name} on {}", file_name(&args.data)),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: now_rfc3339(),
        recipe_hash: student
            .provenance()
            .get("recipe_hash")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        seed: args.seed,
    };
    let dataset = DatasetSummary {
        train_file: "(the student's own training data; see its provenance)".into(),
        test_file: Some(args.data.display().to_string()),
        fingerprint,
        target: Some(args.target.clone()),
        classes: student.classes().to_vec(),
        features: features.len(),
        encoded_width: student.encoder().width(),
        train_rows: 0,
        unlabelled_rows: table.n_rows() - rows.len(),
        augmented_rows: 0,
        validation_rows: 0,
        test_rows: rows.len(),
    };
    let mut report = Report::new(header, dataset, student_summary);
    report.fidelity = reference.map(|t| evaluate::fidelity(&p, t, k));
    report.teacher = teacher_summary;
    report.slices = Some(slices);
    report.gates = gates;
    report.seconds = started.elapsed().as_secs_f64();
    let dir = distillery_pipeline::write_report_dir(&args.out, &id, &report)?;
    crate::run_output::print(&report, &dir, args.json)
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The student's feature columns and how the slice search should see them.
fn student_features(student: &Student) -> Vec<(String, Kind)> {
    student
        .encoder()
        .features
        .iter()
        .map(|f| {
            let kind = match f {
                FeatureEncoder::Numeric { .. } => Kind::Numeric,
                FeatureEncoder::Categorical { .. } => Kind::Categorical,
            };
            (f.name().to_string(), kind)
        })
        .collect()
}

fn schema_options(student: &Student, table: &Table, target: &str) -> SchemaOptions {
    let mut categorical = Vec::new();
    let mut numeric = Vec::new();
    for (name, kind) in student_features(student) {
        match kind {
            Kind::Numeric => numeric.push(name),
            _ => categorical.push(name),
        }
    }
    let ignore = table
        .names()
        .iter()
        .filter(|n| *n != target && !categorical.contains(n) && !numeric.contains(n))
        .cloned()
        .collect();
    SchemaOptions {
        target: target.into(),
        categorical,
        numeric,
        ignore,
    }
}

/// The teacher's probabilities on `rows` (student class order), and its kind, median
/// single-row latency and file size.
fn teacher_probabilities(
    path: &Path,
    student: &Student,
    schema: &Schema,
    table: &Table,
    rows: &[usize],
) -> Result<(Vec<f32>, (String, f64, u64))> {
    let model = OnnxModel::load(path, &OnnxOptions::default())
        .with_context(|| format!("loading teacher {}", path.display()))?;
    let t = OnnxTeacher::new(model, student.classes(), None, schema, Some(table))
        .with_context(|| format!("feeding teacher {}", path.display()))?;
    let p = t.label(table, rows)?;
    let sample: Vec<usize> = rows.iter().take(256).copied().collect();
    let latency = latency::median_us(1000, |i| {
        let _ = std::hint::black_box(t.label(table, &[sample[i % sample.len()]]));
    });
    Ok((
        p,
        (
            format!("ONNX ({})", t.model.engine()),
            latency,
            t.model.bytes,
        ),
    ))
}

/// Raw cells of up to 256 rows, for latency through the full path.
fn raw_rows<'a>(student: &Student, table: &'a Table, rows: &[usize]) -> Vec<Vec<RawValue<'a>>> {
    let columns: Vec<_> = student
        .encoder()
        .names()
        .iter()
        .filter_map(|n| table.column(n).ok())
        .collect();
    rows.iter()
        .take(256)
        .map(|&r| {
            columns
                .iter()
                .map(|c| distillery_train::raw_value(c, r))
                .collect()
        })
        .collect()
}

//! A student on any labelled file, with the same evidence a run produces (metrics with
//! intervals, calibration, fidelity to a teacher, slices, gates): what `distillery eval`
//! reports for next month's data or another region.

use std::path::Path;
use std::time::Instant;

use distillery_data::{Kind, Labels, Schema, SchemaOptions, Table};
use distillery_eval::Scores;
use distillery_eval::run_report::{DatasetSummary, ModelSummary, Quality, Report, ReportHeader};
use distillery_runtime::{FeatureEncoder, RawValue, Student};
use distillery_teacher::{OnnxModel, OnnxOptions, OnnxTeacher, Teacher};

use crate::error::{Context, Result, data_error, refuse};
use crate::evaluate::{self, SliceInput};
use crate::recipe::{EvaluateSection, GatesSection};
use crate::{latency, student_latency_of};

/// What to assess, on what.
pub struct Assessment<'a> {
    /// The student.
    pub student: &'a Student,
    /// Where it was loaded from (the report names it).
    pub student_path: &'a Path,
    /// The labelled rows, read the way the student reads data.
    pub table: &'a Table,
    /// Where they were read from.
    pub data_path: &'a Path,
    /// The label column.
    pub target: &'a str,
    /// An ONNX teacher to measure fidelity against.
    pub teacher: Option<&'a Path>,
    /// Slices and the weak-slice search.
    pub evaluate: &'a EvaluateSection,
    /// What the student must reach.
    pub gates: &'a GatesSection,
    /// Seed of the bootstrap intervals.
    pub seed: u64,
}

/// Scores the student (and the teacher, when given) on the labelled rows and builds the
/// report (`kind = "eval"`).
pub fn assess(a: &Assessment<'_>) -> Result<Report> {
    let started = Instant::now();
    let target = a.table.column(a.target).map_err(|_| {
        let hint = distillery_data::nearest(a.target, a.table.names())
            .map(|n| format!("; did you mean '{n}'?"))
            .unwrap_or_default();
        data_error!("{}: no column '{}'{hint}", a.data_path.display(), a.target)
    })?;
    let labels = Labels::from_column(target, Some(a.student.classes())).map_err(|v| {
        data_error!(
            "{}: label '{v}' in column '{}' is not one of the student's classes {:?}",
            a.data_path.display(),
            a.target,
            a.student.classes()
        )
    })?;
    let rows: Vec<usize> = (0..a.table.n_rows())
        .filter(|&r| labels.y[r].is_some())
        .collect();
    if rows.is_empty() {
        refuse!(
            "{}: column '{}' has no labelled rows to evaluate on",
            a.data_path.display(),
            a.target
        );
    }
    let y: Vec<Option<u32>> = rows.iter().map(|&r| labels.y[r]).collect();
    let x = distillery_train::encode_rows(a.student.encoder(), a.table, &rows)?;
    let k = a.student.classes().len();
    let p = a.student.predict_encoded_batch(&x, rows.len());
    let features = student_features(a.student);
    let schema = Schema::infer(a.table, &schema_options(a.student, a.table, a.target))?;
    let teacher_p = match &a.teacher {
        Some(path) => Some(teacher_probabilities(
            path, a.student, &schema, a.table, &rows,
        )?),
        None => None,
    };
    let raw_rows = raw_rows(a.student, a.table, &rows);
    let bytes = a.student.to_bytes()?.len() as u64;
    let scores = Scores::of(&p, k, &y);
    let reference = teacher_p.as_ref().map(|(t, _)| t.as_slice());
    let student_summary = ModelSummary {
        kind: format!("student {}", a.student_path.display()),
        accuracy: scores.accuracy,
        macro_f1: scores.macro_f1,
        log_loss: scores.log_loss,
        fidelity: reference.map_or(f64::NAN, |t| distillery_eval::fidelity(&p, t, k)),
        mean_kl: reference.map_or(f64::NAN, |t| distillery_eval::mean_kl(&p, t, k)),
        parameters: Some(a.student.parameters()),
        bytes: Some(bytes),
        latency_us: Some(student_latency_of(a.student, &raw_rows)),
        quality: Quality::of(&p, k, &y, reference, a.seed),
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
            quality: Quality::of(t, k, &y, None, a.seed),
            training: None,
        }
    });
    // Without a teacher, slices report student accuracy alone and the search looks at
    // accuracy only.
    let slices = evaluate::slices(
        a.evaluate,
        &SliceInput {
            table: a.table,
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
        a.gates,
        &distillery_eval::gate::GateInputs {
            teacher: teacher_summary.as_ref(),
            student: &student_summary,
            slices: Some(&slices),
            int8: None,
        },
    );
    let fingerprint = distillery_data::fingerprint(a.table, &schema);
    let name = a
        .student_path
        .parent()
        .and_then(|d| d.file_name())
        .map_or_else(
            || "student".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    let id = crate::run_id(&format!("eval-{name}"), &fingerprint);
    let header = ReportHeader {
        kind: "eval".into(),
        run_id: id,
        name: format!("{name} on {}", file_name(a.data_path)),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: crate::now_rfc3339(),
        recipe_hash: a
            .student
            .provenance()
            .get("recipe_hash")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        seed: a.seed,
    };
    let dataset = DatasetSummary {
        train_file: "(the student's own training data; see its provenance)".into(),
        test_file: Some(a.data_path.display().to_string()),
        unlabelled_file: None,
        fingerprint,
        target: Some(a.target.to_string()),
        classes: a.student.classes().to_vec(),
        features: features.len(),
        encoded_width: a.student.encoder().width(),
        train_rows: 0,
        unlabelled_rows: a.table.n_rows() - rows.len(),
        augmented_rows: 0,
        validation_rows: 0,
        test_rows: rows.len(),
        text_columns: Vec::new(),
    };
    let mut report = Report::new(header, dataset, student_summary);
    report.fidelity = reference.map(|t| evaluate::fidelity(&p, t, k));
    report.teacher = teacher_summary;
    report.slices = Some(slices);
    report.gates = gates;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
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
                FeatureEncoder::Text { .. } => Kind::Text,
            };
            (f.name().to_string(), kind)
        })
        .collect()
}

pub(crate) fn schema_options(student: &Student, table: &Table, target: &str) -> SchemaOptions {
    let mut categorical = Vec::new();
    let mut numeric = Vec::new();
    let mut text = Vec::new();
    for (name, kind) in student_features(student) {
        match kind {
            Kind::Numeric => numeric.push(name),
            Kind::Text => text.push(name),
            _ => categorical.push(name),
        }
    }
    let ignore = table
        .names()
        .iter()
        .filter(|n| {
            *n != target && !categorical.contains(n) && !numeric.contains(n) && !text.contains(n)
        })
        .cloned()
        .collect();
    SchemaOptions {
        target: target.into(),
        categorical,
        numeric,
        ignore,
        text,
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
    let t = load_teacher(path, student, schema, table)?;
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

/// An ONNX teacher fed from `table`'s columns, answering in the student's class order.
pub(crate) fn load_teacher(
    path: &Path,
    student: &Student,
    schema: &Schema,
    table: &Table,
) -> Result<OnnxTeacher> {
    let model = OnnxModel::load(path, &OnnxOptions::default())
        .with_context(|| format!("loading teacher {}", path.display()))?;
    OnnxTeacher::new(model, student.classes(), None, schema, Some(table))
        .with_context(|| format!("feeding teacher {}", path.display()))
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

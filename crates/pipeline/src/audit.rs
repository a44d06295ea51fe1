//! `distillery audit`: an evasion attack on a student, with the teacher beside it.
//!
//! For every ε the attacker, who knows the student's weights, runs PGD on the numeric
//! columns (in standard deviations, inside the range the audited file's column spans,
//! never on a missing cell or an immutable column), turns the result back into raw values
//! and re-encodes them, so the row the student sees is one a client could send: value
//! levels and bins follow the moved number. Rows the student still gets right then get the
//! most damaging single change of one categorical column to another of its levels. The
//! final rows go to the teacher unchanged: a black-box transfer attack.

use std::path::Path;
use std::time::Instant;

use distillery_data::{Column, Labels, Schema, Table};
use distillery_eval::evasion::{AUDIT_SCHEMA, AttackedFeature, EvasionAudit, EvasionPoint};
use distillery_runtime::{Encoder, FeatureEncoder, RawValue, Student};
use distillery_teacher::Teacher;
use distillery_train::evasion::{Attack, Constraints, Norm};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::assess::{load_teacher, schema_options};
use crate::error::{Result, data_error, refuse};

/// What to attack and how.
pub struct AuditInput<'a> {
    /// The student under attack.
    pub student: &'a Student,
    /// Where it was loaded from (for the record).
    pub student_path: &'a Path,
    /// Labelled rows.
    pub table: &'a Table,
    /// Where they came from (for the record).
    pub data_path: &'a Path,
    /// The label column.
    pub target: &'a str,
    /// An ONNX teacher to transfer the adversarial rows to.
    pub teacher: Option<&'a Path>,
    /// Columns that must not move.
    pub immutable: &'a [String],
    /// Radii of the numeric perturbation, in standard deviations.
    pub epsilons: &'a [f32],
    /// The ball's norm.
    pub norm: Norm,
    /// PGD steps per ε.
    pub steps: usize,
    /// At most this many labelled rows are attacked (a seeded sample).
    pub max_rows: usize,
    /// Seed of the row sample.
    pub seed: u64,
}

/// The audited rows, one cell per student feature.
type Rows = Vec<Vec<Cell>>;

/// One cell as the audit edits it.
#[derive(Clone)]
enum Cell {
    Number(f64),
    Text(String),
    Missing,
}

/// Runs the audit.
///
/// # Errors
/// The target or a feature column is missing, an immutable column is not a feature, no row
/// is labelled, or the teacher cannot be loaded or run.
pub fn audit(a: &AuditInput<'_>) -> Result<EvasionAudit> {
    let started = Instant::now();
    let encoder = a.student.encoder();
    for name in a.immutable {
        if !encoder.names().contains(&name.as_str()) {
            refuse!(
                "--immutable {name}: not one of the student's features ({})",
                encoder.names().join(", ")
            );
        }
    }
    if a.epsilons.iter().any(|e| !e.is_finite() || *e < 0.0) || a.steps == 0 {
        refuse!("each --epsilon must be a number ≥ 0 and --steps at least 1");
    }
    let target = a
        .table
        .column(a.target)
        .map_err(|_| data_error!("{}: no column '{}'", a.data_path.display(), a.target))?;
    let labels = Labels::from_column(target, Some(a.student.classes())).map_err(|v| {
        data_error!(
            "{}: label '{v}' in column '{}' is not one of the student's classes {:?}",
            a.data_path.display(),
            a.target,
            a.student.classes()
        )
    })?;
    let mut rows: Vec<usize> = (0..a.table.n_rows())
        .filter(|&r| labels.y[r].is_some())
        .collect();
    if rows.is_empty() {
        refuse!("{}: no labelled rows to attack", a.data_path.display());
    }
    rows.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(a.seed));
    rows.truncate(a.max_rows.max(1));
    rows.sort_unstable();
    let y: Vec<usize> = rows
        .iter()
        .map(|&r| labels.y[r].map_or(0, |c| c as usize))
        .collect();
    let columns: Vec<&Column> = encoder
        .names()
        .iter()
        .map(|n| {
            a.table
                .column(n)
                .map_err(|_| data_error!("{}: no feature column '{n}'", a.data_path.display()))
        })
        .collect::<Result<_>>()?;
    let clean: Vec<Vec<Cell>> = rows
        .iter()
        .map(|&r| columns.iter().map(|c| cell(c, r)).collect())
        .collect();
    let layout = Layout::of(encoder, &columns, &rows, a.immutable);
    let teacher = match a.teacher {
        Some(path) => {
            let schema = Schema::infer(a.table, &schema_options(a.student, a.table, a.target))?;
            Some(load_teacher(path, a.student, &schema, a.table)?)
        }
        None => None,
    };
    let k = a.student.classes().len();
    let student_says = |cells: &[Vec<Cell>]| -> Result<Vec<usize>> {
        let x = encode(encoder, cells)?;
        Ok(argmax(&a.student.predict_encoded_batch(&x, cells.len()), k))
    };
    let teacher_says = |cells: &[Vec<Cell>]| -> Result<Option<Vec<usize>>> {
        let Some(t) = &teacher else { return Ok(None) };
        let table = cells_table(a.table, &rows, encoder, cells)?;
        let all: Vec<usize> = (0..cells.len()).collect();
        Ok(Some(argmax(&t.label(&table, &all)?, k)))
    };
    let clean_student = student_says(&clean)?;
    let clean_teacher = teacher_says(&clean)?;
    let accuracy = |pred: &[usize]| {
        pred.iter().zip(&y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64
    };
    let mut curve = Vec::with_capacity(a.epsilons.len());
    for &eps in a.epsilons {
        let attack = Attack::pgd(a.norm, eps, 2.5 * eps / a.steps as f32, a.steps);
        let numeric = perturb_numbers(a.student, &layout, &clean, &y, &attack)?;
        let after_numbers = student_says(&numeric)?;
        let (final_cells, changed) =
            change_one_category(a.student, &layout, numeric, &after_numbers, &y)?;
        let after = student_says(&final_cells)?;
        let right_before: Vec<usize> = (0..y.len()).filter(|&i| clean_student[i] == y[i]).collect();
        let fooled: Vec<usize> = right_before
            .iter()
            .copied()
            .filter(|&i| after[i] != clean_student[i])
            .collect();
        let adversarial_teacher = teacher_says(&final_cells)?;
        let transfer_rate = match (&clean_teacher, &adversarial_teacher) {
            (Some(before), Some(now)) if !fooled.is_empty() => Some(
                fooled.iter().filter(|&&i| now[i] != before[i]).count() as f64
                    / fooled.len() as f64,
            ),
            _ => None,
        };
        curve.push(EvasionPoint {
            // The ε as written (0.05, not f32's 0.0500000007).
            epsilon: eps.to_string().parse().unwrap_or(f64::from(eps)),
            robust_accuracy_numeric: accuracy(&after_numbers),
            robust_accuracy: accuracy(&after),
            flipped: if right_before.is_empty() {
                0.0
            } else {
                fooled.len() as f64 / right_before.len() as f64
            },
            teacher_accuracy: adversarial_teacher.as_deref().map(accuracy),
            transfer_rate,
            most_attacked: most_attacked(&layout, &clean, &final_cells, &fooled, &changed),
        });
    }
    Ok(EvasionAudit {
        schema: AUDIT_SCHEMA.into(),
        model: a.student_path.display().to_string(),
        data: a.data_path.display().to_string(),
        teacher: a.teacher.map(|p| p.display().to_string()),
        rows: rows.len(),
        norm: match a.norm {
            Norm::Inf => "inf".into(),
            Norm::L2 => "l2".into(),
        },
        steps: a.steps,
        immutable: a.immutable.to_vec(),
        clean_accuracy: accuracy(&clean_student),
        teacher_clean_accuracy: clean_teacher.as_deref().map(accuracy),
        curve,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where each feature sits in the student's input and how far it may move.
struct Layout {
    /// Feature names, in input order.
    names: Vec<String>,
    /// Per feature: its first input slot.
    start: Vec<usize>,
    /// Per numeric feature that may move: (feature, mean, scale, lowest z, highest z).
    movable_numbers: Vec<(usize, f64, f64, f32, f32)>,
    /// Per categorical feature that may change: (feature, its levels).
    movable_categories: Vec<(usize, Vec<String>)>,
    width: usize,
}

impl Layout {
    fn of(encoder: &Encoder, columns: &[&Column], rows: &[usize], immutable: &[String]) -> Layout {
        let mut start = Vec::with_capacity(encoder.features.len());
        let mut at = 0;
        let mut movable_numbers = Vec::new();
        let mut movable_categories = Vec::new();
        for (f, feature) in encoder.features.iter().enumerate() {
            start.push(at);
            at += feature.width();
            if immutable.iter().any(|n| n == feature.name()) {
                continue;
            }
            match feature {
                FeatureEncoder::Numeric { mean, scale, .. } => {
                    let values = rows.iter().filter_map(|&r| columns[f].number(r));
                    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                        (l.min(v), h.max(v))
                    });
                    if lo < hi {
                        let z = |v: f64| ((v - mean) / scale) as f32;
                        movable_numbers.push((f, *mean, *scale, z(lo), z(hi)));
                    }
                }
                FeatureEncoder::Categorical { levels, .. } if levels.len() >= 2 => {
                    movable_categories.push((f, levels.clone()));
                }
                // Text is not moved by these attacks (they perturb numbers and categories).
                FeatureEncoder::Categorical { .. } | FeatureEncoder::Text { .. } => {}
            }
        }
        Layout {
            names: encoder.names().iter().map(|n| n.to_string()).collect(),
            start,
            movable_numbers,
            movable_categories,
            width: at,
        }
    }
}

/// PGD on each row's present, movable numbers; the moved z-values become raw numbers again.
fn perturb_numbers(
    student: &Student,
    layout: &Layout,
    clean: &[Vec<Cell>],
    y: &[usize],
    attack: &Attack,
) -> Result<Vec<Vec<Cell>>> {
    let encoder = student.encoder();
    let mut out = clean.to_vec();
    let mut x = vec![0.0f32; layout.width];
    for (i, row) in clean.iter().enumerate() {
        let mut constraints = Constraints {
            lo: vec![f32::NEG_INFINITY; layout.width],
            hi: vec![f32::INFINITY; layout.width],
            movable: vec![0.0; layout.width],
            frozen_by: Vec::new(),
            // The audit searches categorical changes exactly, after PGD.
            categorical: Vec::new(),
        };
        for &(f, _, _, lo, hi) in &layout.movable_numbers {
            if matches!(row[f], Cell::Number(_)) {
                let s = layout.start[f];
                constraints.movable[s] = 1.0;
                constraints.lo[s] = lo;
                constraints.hi[s] = hi;
            }
        }
        encode_row(encoder, row, &mut x)?;
        let moved =
            distillery_train::evasion::attack(student.layers(), &x, &[y[i]], &constraints, attack);
        for &(f, mean, scale, _, _) in &layout.movable_numbers {
            if matches!(row[f], Cell::Number(_)) {
                let z = f64::from(moved[layout.start[f]]);
                out[i][f] = Cell::Number(mean + z * scale);
            }
        }
    }
    Ok(out)
}

/// For each row the student still gets right, the single change of one categorical column
/// that lowers its probability of the true class most, kept when it changes the prediction.
/// Returns the rows and, per row, the feature changed (if any).
fn change_one_category(
    student: &Student,
    layout: &Layout,
    mut cells: Vec<Vec<Cell>>,
    predicted: &[usize],
    y: &[usize],
) -> Result<(Rows, Vec<Option<usize>>)> {
    let encoder = student.encoder();
    let k = student.classes().len();
    let mut changed = vec![None; cells.len()];
    let mut x = vec![0.0f32; layout.width];
    for (i, row) in cells.iter_mut().enumerate() {
        if predicted[i] != y[i] {
            continue;
        }
        let mut best: Option<(f32, usize, String, usize)> = None;
        for (f, levels) in &layout.movable_categories {
            let Cell::Text(current) = &row[*f] else {
                continue;
            };
            let current = current.clone();
            for level in levels.iter().filter(|l| **l != current) {
                row[*f] = Cell::Text(level.clone());
                encode_row(encoder, row, &mut x)?;
                let p = student.predict_encoded_batch(&x, 1);
                let class = argmax(&p, k)[0];
                if best.as_ref().is_none_or(|b| p[y[i]] < b.0) {
                    best = Some((p[y[i]], *f, level.clone(), class));
                }
            }
            row[*f] = Cell::Text(current);
        }
        if let Some((_, f, level, class)) = best
            && class != y[i]
        {
            row[f] = Cell::Text(level);
            changed[i] = Some(f);
        }
    }
    Ok((cells, changed))
}

/// The share of successful attacks that leaned most on each column, largest first.
fn most_attacked(
    layout: &Layout,
    clean: &[Vec<Cell>],
    attacked: &[Vec<Cell>],
    fooled: &[usize],
    changed: &[Option<usize>],
) -> Vec<AttackedFeature> {
    let features = layout.start.len();
    let mut counts = vec![0usize; features];
    for &i in fooled {
        let lead = changed[i].or_else(|| {
            layout
                .movable_numbers
                .iter()
                .filter_map(
                    |&(f, _, scale, _, _)| match (&clean[i][f], &attacked[i][f]) {
                        (Cell::Number(a), Cell::Number(b)) => Some((f, ((b - a) / scale).abs())),
                        _ => None,
                    },
                )
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|(_, shift)| *shift > 0.0)
                .map(|(f, _)| f)
        });
        if let Some(f) = lead {
            counts[f] += 1;
        }
    }
    let mut out: Vec<(usize, usize)> = counts
        .into_iter()
        .enumerate()
        .filter(|&(_, c)| c > 0)
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.into_iter()
        .take(5)
        .map(|(f, c)| AttackedFeature {
            name: layout.names[f].clone(),
            share: c as f64 / fooled.len().max(1) as f64,
        })
        .collect()
}

fn cell(column: &Column, row: usize) -> Cell {
    match distillery_train::raw_value(column, row) {
        RawValue::Number(x) => Cell::Number(x),
        RawValue::Text(t) => Cell::Text(t.to_string()),
        RawValue::Missing => Cell::Missing,
    }
}

fn raw(cell: &Cell) -> RawValue<'_> {
    match cell {
        Cell::Number(x) => RawValue::Number(*x),
        Cell::Text(t) => RawValue::Text(t),
        Cell::Missing => RawValue::Missing,
    }
}

fn encode_row(encoder: &Encoder, row: &[Cell], out: &mut [f32]) -> Result<()> {
    let values: Vec<RawValue<'_>> = row.iter().map(raw).collect();
    encoder
        .encode_into(&values, out)
        .map_err(|e| data_error!("encoding an attacked row: {e}"))
}

fn encode(encoder: &Encoder, cells: &[Vec<Cell>]) -> Result<Vec<f32>> {
    let width = encoder.width();
    let mut x = vec![0.0f32; cells.len() * width];
    for (row, out) in cells.iter().zip(x.chunks_exact_mut(width)) {
        encode_row(encoder, row, out)?;
    }
    Ok(x)
}

/// The audited rows of `table` with the student's feature columns replaced by `cells`, for
/// the teacher, which reads columns by name.
fn cells_table(
    table: &Table,
    rows: &[usize],
    encoder: &Encoder,
    cells: &[Vec<Cell>],
) -> Result<Table> {
    let taken = table.take(rows);
    let names = taken.names().to_vec();
    let mut columns: Vec<Column> = taken.columns().to_vec();
    for (f, name) in encoder.names().iter().enumerate() {
        let at = taken.index_of(name)?;
        columns[at] = match &encoder.features[f] {
            FeatureEncoder::Numeric { .. } => Column::Numeric(
                cells
                    .iter()
                    .map(|r| match &r[f] {
                        Cell::Number(x) => *x,
                        _ => f64::NAN,
                    })
                    .collect(),
            ),
            FeatureEncoder::Categorical { .. } | FeatureEncoder::Text { .. } => {
                let mut levels: Vec<String> = Vec::new();
                let codes = cells
                    .iter()
                    .map(|r| match &r[f] {
                        Cell::Text(t) => match levels.iter().position(|l| l == t) {
                            Some(c) => c as u32,
                            None => {
                                levels.push(t.clone());
                                (levels.len() - 1) as u32
                            }
                        },
                        _ => distillery_data::MISSING,
                    })
                    .collect();
                Column::Text { levels, codes }
            }
        };
    }
    Ok(Table::from_columns(
        table.path().to_path_buf(),
        names,
        columns,
    )?)
}

fn argmax(p: &[f32], k: usize) -> Vec<usize> {
    p.chunks_exact(k).map(distillery_eval::argmax).collect()
}

//! The ablation table: the recipe's student next to the teacher, the scratch baseline,
//! every `[sweep]` combination and one re-distillation per left-out feature group. Jobs
//! are trained in parallel on as many threads as the machine has cores (each fit is
//! single-threaded and seeded, so results do not depend on the thread count); latencies are
//! measured afterwards, one model at a time, so they are not disturbed by training.

use distillery_eval::run_report::{ModelSummary, SliceReport};
use distillery_eval::{Ablation, AblationRow};
use distillery_runtime::{Provenance, RawValue};
use distillery_train::{FitOutcome, ValidDistillParams};

use crate::data::Prepared;
use crate::distill::{self, Checkpoints, Job, Target, Transfer};
use crate::error::{Result, refuse};
use crate::evaluate::{self, Measured, SliceInput};
use crate::recipe::{Recipe, ValidRecipe};
use crate::teacher::TeacherOutputs;
use crate::{RunOptions, student_latency_of};

/// Everything the ablation needs from the main run.
pub(crate) struct Context<'a> {
    pub recipe: &'a ValidRecipe,
    pub prepared: &'a Prepared,
    pub transfer: &'a Transfer,
    pub teacher: &'a TeacherOutputs,
    pub checkpoints: &'a Checkpoints<'a>,
    pub options: &'a RunOptions<'a>,
    pub provenance: &'a Provenance,
    pub raw_rows: &'a [Vec<RawValue<'a>>],
    pub teacher_summary: &'a ModelSummary,
    pub student_summary: &'a ModelSummary,
    pub scratch_summary: &'a ModelSummary,
    pub student_slices: &'a SliceReport,
}

/// One extra student to train.
struct Variant {
    name: String,
    kind: &'static str,
    params: ValidDistillParams,
    dropped: Option<String>,
    mask: Option<Vec<bool>>,
}

/// True when the recipe asks for an ablation table.
pub(crate) fn wanted(recipe: &Recipe) -> bool {
    recipe.sweep.is_active() || !recipe.evaluate.feature_groups.is_empty()
}

/// Trains every variant and builds the table.
pub(crate) fn run(cx: &Context<'_>) -> Result<Ablation> {
    let variants = variants(cx)?;
    let progress = cx.options.progress;
    progress.stage(&format!(
        "ablation: training {} students on {} threads",
        variants.len(),
        distill::threads()
    ));
    let fits = train_all(cx, &variants)?;
    let k = cx.prepared.labels.n_classes();
    let y = &cx.prepared.test_labels;
    let mut rows = vec![
        row_of("teacher", "teacher", cx.teacher_summary, None, None, None),
        row_of(
            &label(
                &cx.recipe.params.hidden,
                cx.recipe.params.temperature,
                cx.recipe.params.soft_weight,
            ),
            "student",
            cx.student_summary,
            Some(&cx.recipe.params),
            None,
            Some(gates_pass(cx, cx.student_summary, cx.student_slices)),
        ),
        row_of(
            "scratch (labels only)",
            "scratch",
            cx.scratch_summary,
            None,
            None,
            None,
        ),
    ];
    for (v, fit) in variants.iter().zip(&fits) {
        let student = distill::student(cx.recipe, cx.prepared, fit, cx.provenance, v.kind)?;
        let width = cx.prepared.encoder.width();
        let test_x = match &v.mask {
            Some(m) => distill::masked(&cx.prepared.test_x, width, m),
            None => cx.prepared.test_x.clone(),
        };
        let p = student.predict_encoded_batch(&test_x, y.len());
        let is_sweep = v.mask.is_none();
        let (bytes, latency) = if is_sweep {
            (
                student.to_bytes()?.len(),
                student_latency_of(&student, cx.raw_rows),
            )
        } else {
            (0, 0.0)
        };
        let summary = evaluate::student_summary(
            &Measured {
                kind: &v.name,
                p: &p,
                parameters: student.parameters(),
                bytes,
                latency_us: latency,
                fit,
                hidden: &v.params.hidden,
            },
            &cx.teacher.test,
            k,
            y,
            cx.recipe.params.seed,
        );
        let meets = if is_sweep {
            let slices = evaluate::slices(&cx.recipe.evaluate, &slice_input(cx, &p), false)?;
            Some(gates_pass(cx, &summary, &slices))
        } else {
            None
        };
        let mut row = row_of(
            &v.name,
            v.kind,
            &summary,
            Some(&v.params),
            v.dropped.clone(),
            meets,
        );
        if !is_sweep {
            (row.bytes, row.latency_us) = (None, None);
        }
        rows.push(row);
    }
    Ok(Ablation::new(rows))
}

fn variants(cx: &Context<'_>) -> Result<Vec<Variant>> {
    let mut out = Vec::new();
    let own = |p: &ValidDistillParams| {
        p.hidden == cx.recipe.params.hidden
            && p.temperature == cx.recipe.params.temperature
            && p.soft_weight == cx.recipe.params.soft_weight
    };
    for p in cx.recipe.sweep.iter().cloned() {
        if own(&p) {
            continue; // the recipe's own student is already in the table
        }
        out.push(Variant {
            name: label(&p.hidden, p.temperature, p.soft_weight),
            kind: "sweep",
            params: p,
            dropped: None,
            mask: None,
        });
    }
    let names: Vec<&str> = cx
        .prepared
        .features
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for (group, columns) in &cx.recipe.evaluate.feature_groups {
        if let Some(bad) = columns.iter().find(|c| !names.contains(&c.as_str())) {
            refuse!(
                "[evaluate] feature_groups.{group}: '{bad}' is not a feature column; features are {}",
                names.join(", ")
            );
        }
        out.push(Variant {
            name: format!("without {group}"),
            kind: "feature_group",
            params: cx.recipe.params.clone(),
            dropped: Some(group.clone()),
            mask: Some(distill::column_mask(cx.prepared, columns)),
        });
    }
    Ok(out)
}

/// Fits every variant, as many at a time as the machine has cores; results in variant order.
fn train_all(cx: &Context<'_>, variants: &[Variant]) -> Result<Vec<FitOutcome>> {
    let jobs: Vec<Job<'_>> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| Job {
            role: format!("ablation-{i}"),
            params: &v.params,
            target: Target::Teacher,
            mask: v.mask.as_deref(),
            verbose: false,
            privacy: None,
            adversarial: None,
        })
        .collect();
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    let bar = cx.options.progress.jobs("ablation", variants.len());
    let fits = distill::train_many(
        cx.prepared,
        cx.transfer,
        cx.teacher,
        &jobs,
        &names,
        cx.checkpoints,
        cx.options,
        bar.as_ref(),
    );
    bar.finish();
    fits
}

fn slice_input<'a>(cx: &'a Context<'_>, p: &'a [f32]) -> SliceInput<'a> {
    SliceInput {
        table: cx.prepared.test_table(),
        rows: &cx.prepared.test_rows,
        features: &cx.prepared.features,
        student: p,
        teacher: Some(&cx.teacher.test),
        k: cx.prepared.labels.n_classes(),
        y: &cx.prepared.test_labels,
    }
}

fn gates_pass(cx: &Context<'_>, summary: &ModelSummary, slices: &SliceReport) -> bool {
    let input = distillery_eval::gate::GateInputs {
        teacher: Some(cx.teacher_summary),
        student: summary,
        slices: Some(slices),
        int8: None,
    };
    // The int8 gate concerns the quantized recipe student, not the sweep's variants.
    distillery_eval::gate::verdicts(&cx.recipe.gates, &input)
        .iter()
        .filter(|g| g.gate != "max_int8_drop")
        .all(|g| g.passed)
}

fn label(hidden: &[usize], t: f32, w: f32) -> String {
    format!("{hidden:?} T={t} α={w}")
}

fn row_of(
    name: &str,
    kind: &str,
    m: &ModelSummary,
    params: Option<&ValidDistillParams>,
    dropped: Option<String>,
    meets_gates: Option<bool>,
) -> AblationRow {
    AblationRow {
        name: name.into(),
        kind: kind.into(),
        hidden: params.map(|p| p.hidden.clone()).unwrap_or_default(),
        temperature: params.map(|p| p.temperature),
        soft_weight: params.map(|p| p.soft_weight),
        dropped,
        accuracy: m.accuracy,
        macro_f1: m.macro_f1,
        fidelity: m.fidelity,
        parameters: m.parameters,
        bytes: m.bytes,
        latency_us: m.latency_us,
        pareto_latency: false,
        pareto_bytes: false,
        meets_gates,
    }
}

//! `distillery eval --model student.safetensors --data labelled.csv --target y
//! [--teacher teacher.onnx] [--recipe recipe.toml] [--slice SPEC]…`: the same evidence a run
//! produces (metrics with intervals, calibration, fidelity, slices, gates) for any student
//! on any labelled file — next month's data, another region — written as
//! `runs/eval-…/report.json`, `report.html` and `model_card.md`.

use anyhow::{Context, Result};
use distillery_pipeline::assess::{Assessment, assess};
use distillery_pipeline::recipe::{EvaluateSection, GatesSection, Recipe};
use distillery_runtime::Student;

use crate::cli::EvalArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &EvalArgs) -> Result<ExitStatus> {
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
    let report = assess(&Assessment {
        student: &student,
        student_path: &args.model,
        table: &table,
        data_path: &args.data,
        target: &args.target,
        teacher: args.teacher.as_deref(),
        evaluate: &settings,
        gates: &gates,
        seed: args.seed,
    })?;
    let dir = distillery_pipeline::write_report_dir(&args.out, &report.run_id, &report)?;
    crate::run_output::print(&report, &dir, args.json)
}

//! `distillery audit [RUN | name@alias] [--model M --data D --target Y] [--teacher T] [--immutable C]…
//! [--epsilon E]… [--norm inf|l2] [--json]`: an evasion attack on a student with its teacher
//! beside it, written as `audit.json` together with the membership, attribute-inference and
//! extraction results its run measured; given a run directory, the file goes into it and the
//! run's model card gets (or replaces) its evasion section, and its report.html the curve.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use distillery_pipeline::audit::{AuditInput, audit};
use distillery_runtime::Student;
use distillery_train::evasion::Norm;

use crate::cli::AuditArgs;
use crate::exit::ExitStatus;

/// What a run directory supplies when the flags do not.
struct FromRun {
    model: PathBuf,
    teacher: Option<PathBuf>,
    data: Option<PathBuf>,
    target: Option<String>,
    /// The run's report, whose membership, attribute and extraction results join the audit
    /// (absent from runs older than reports).
    report: Option<distillery_eval::run_report::Report>,
}

fn from_run(run: &Path) -> Result<FromRun> {
    let report_path = run.join("report.json");
    let text = std::fs::read_to_string(&report_path).with_context(|| {
        format!(
            "{} is not a run directory (no readable report.json); give a runs/<run-id> folder or --model, --data and --target",
            run.display()
        )
    })?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", report_path.display()))?;
    let dataset = &report["dataset"];
    let teacher = run.join("teacher.onnx");
    Ok(FromRun {
        model: run.join("student.safetensors"),
        teacher: teacher.exists().then_some(teacher),
        data: dataset["test_file"].as_str().map(PathBuf::from),
        target: dataset["target"].as_str().map(str::to_string),
        report: serde_json::from_value(report.clone()).ok(),
    })
}

/// A registered version's student and report, copied out of the registry (hash-checked)
/// into a scratch directory shaped like a run's, when `reference` names one.
fn registered(
    reference: &Path,
    options: &crate::cli::RegistryOptions,
) -> Result<Option<tempfile::TempDir>> {
    let text = reference.to_string_lossy();
    if reference.exists() || !crate::registry_access::present(options) {
        return Ok(None);
    }
    let Ok(parsed) = distillery_registry::Reference::parse(&text) else {
        return Ok(None);
    };
    let registry = crate::registry_access::open(options)?;
    let version = registry.resolve(&parsed)?;
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    for (role, file) in [
        ("student", "student.safetensors"),
        ("report", "report.json"),
    ] {
        let bytes = registry
            .load(&version, role)
            .with_context(|| format!("{} has no stored {role}", version.label()))?;
        std::fs::write(dir.path().join(file), bytes)
            .with_context(|| format!("writing the scratch copy of {file}"))?;
    }
    Ok(Some(dir))
}

pub(crate) fn run(args: &AuditArgs) -> Result<ExitStatus> {
    let copied = match &args.run {
        Some(run) => registered(run, &args.options)?,
        None => None,
    };
    // The run directory the audit is written into: none for a registered version.
    let run_dir = args.run.as_deref().filter(|_| copied.is_none());
    let defaults = match (&copied, &args.run) {
        (Some(dir), _) => Some(from_run(dir.path())?),
        (None, Some(run)) => Some(from_run(run)?),
        (None, None) => None,
    };
    let Some(model) = args
        .model
        .clone()
        .or_else(|| defaults.as_ref().map(|d| d.model.clone()))
    else {
        bail!("give a run directory or --model student.safetensors");
    };
    let Some(data) = args
        .data
        .clone()
        .or_else(|| defaults.as_ref().and_then(|d| d.data.clone()))
    else {
        bail!(
            "give --data with labelled rows to attack: this run split its test rows out of its training file and does not keep them apart"
        );
    };
    let Some(target) = args
        .target
        .clone()
        .or_else(|| defaults.as_ref().and_then(|d| d.target.clone()))
    else {
        bail!("give --target, the label column of {}", data.display());
    };
    let teacher = args
        .teacher
        .clone()
        .or_else(|| defaults.as_ref().and_then(|d| d.teacher.clone()));
    let student =
        Student::load(&model).with_context(|| format!("loading student {}", model.display()))?;
    let table = crate::student_input::read_for(&student, &data)?;
    let norm = if args.norm == "l2" {
        Norm::L2
    } else {
        Norm::Inf
    };
    // A registered version is named by its reference, not by its scratch copy.
    let named = match (&copied, &args.run) {
        (Some(_), Some(reference)) if args.model.is_none() => reference.clone(),
        _ => model,
    };
    let result = audit(&AuditInput {
        student: &student,
        student_path: &named,
        table: &table,
        data_path: &data,
        target: &target,
        teacher: teacher.as_deref(),
        immutable: &args.immutable,
        epsilons: &args.epsilons,
        norm,
        steps: args.steps,
        max_rows: args.rows,
        seed: args.seed,
    })?;
    let out = args.out.clone().unwrap_or_else(|| match run_dir {
        Some(run) => run.join("audit.json"),
        None => PathBuf::from("audit.json"),
    });
    let run_report = defaults.as_ref().and_then(|d| d.report.as_ref());
    let whole = distillery_eval::audit::AuditFile::new(result.clone(), run_report);
    let json = serde_json::to_string_pretty(&whole)?;
    distillery_runtime::write_atomic(&out, json.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    if let Some(run) = run_dir {
        add_to_report(run, &result)?;
        let card = run.join("model_card.md");
        if let Ok(text) = std::fs::read_to_string(&card) {
            distillery_runtime::write_atomic(&card, result.into_card(&text).as_bytes())
                .with_context(|| format!("writing {}", card.display()))?;
        }
    }
    if args.json {
        println!("{json}");
    } else {
        for line in whole.lines() {
            println!("{line}");
        }
        println!("written to {}", out.display());
    }
    Ok(ExitStatus::Ok)
}

/// Records the audit in the run's `report.json` and renders `report.html` again, so the
/// page shows the robust-accuracy curve (a run from before reports has neither: skipped).
fn add_to_report(run: &Path, audit: &distillery_eval::evasion::EvasionAudit) -> Result<()> {
    let path = run.join("report.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut report: distillery_eval::run_report::Report =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    report.evasion = Some(audit.clone());
    distillery_runtime::write_atomic(&path, &serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let page = run.join("report.html");
    distillery_runtime::write_atomic(&page, distillery_eval::render::html(&report).as_bytes())
        .with_context(|| format!("writing {}", page.display()))
}

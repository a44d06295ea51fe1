//! `distillery check recipe.toml [--json]`: the data checks alone, before any training.
//! Exit 1 when a `block` finding is not acknowledged in `[quality]`.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::CheckArgs;
use crate::environment;
use crate::exit::ExitStatus;
use distillery_pipeline::PipelineError;
use distillery_pipeline::quality;
use distillery_pipeline::recipe::Recipe;

pub(crate) fn run(args: &CheckArgs, progress: crate::progress::Terminal) -> Result<ExitStatus> {
    if let (Some(run), Some(data)) = (&args.against, &args.data) {
        return against(run, data, args.json);
    }
    let Some(path) = &args.recipe else {
        anyhow::bail!("give a recipe, or --against <run dir> --data <file>");
    };
    let (recipe, _) = Recipe::load(path)?;
    let prepared = match distillery_pipeline::prepare_data(&recipe, args.label_issues) {
        Ok(p) => p,
        Err(e) => return mixed_types(&e, args.json).unwrap_or(Err(e.into())),
    };
    let mut report = quality::check(&recipe, &prepared);
    let mut flagged = None;
    if args.label_issues {
        let mut with_folds = recipe.recipe().clone();
        if with_folds.evaluate.cv_folds < 2 {
            with_folds.evaluate.cv_folds = 5;
        }
        let scratch = tempfile::tempdir()?;
        let options = environment::run_options(scratch.path().to_path_buf(), false, &progress);
        let cv = distillery_pipeline::cv::run(
            &with_folds,
            &prepared,
            &recipe.params,
            scratch.path(),
            "check",
            &options,
        )?;
        // Next to the recipe unless --out says where.
        let file = args.out.clone().unwrap_or_else(|| {
            path.parent()
                .unwrap_or(std::path::Path::new(""))
                .join("label_issues.csv")
        });
        distillery_runtime::write_atomic(
            &file,
            &quality::label_issues_csv(&prepared, &cv.label_issues)?,
        )
        .with_context(|| format!("writing {}", file.display()))?;
        quality::add_label_issues(
            &mut report,
            &prepared,
            &cv.label_issues,
            distillery_pipeline::recipe::LabelIssueMode::Report,
            &file.display().to_string(),
        );
        flagged = Some((quality::flagged_rows(&prepared, &cv.label_issues), file));
        if !args.json {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "label issues, least self-confident first (row: 1-based data row, header not counted; label; likely label; self-confidence):"
            )?;
            for f in flagged.iter().flat_map(|(rows, _)| rows).take(20) {
                writeln!(
                    out,
                    "  {:>7} {:>12} {:>12} {:.4}",
                    f.row, f.label, f.likely_label, f.self_confidence
                )?;
            }
            if let Some((rows, file)) = &flagged {
                writeln!(out, "all {} in {}", rows.len(), file.display())?;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut doc = serde_json::to_value(&report)?;
        if let Some((rows, file)) = &flagged {
            doc["label_issues"] = serde_json::to_value(rows)?;
            doc["label_issues_file"] = file.display().to_string().into();
        }
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", quality::table(&report))?;
    }
    Ok(if report.blocking().is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::GateFailed
    })
}

/// Later data against a run's schema contract.
fn against(run: &std::path::Path, data: &std::path::Path, json: bool) -> Result<ExitStatus> {
    use anyhow::Context;
    let path = run.join("contract.json");
    let contract: distillery_quality::Contract = serde_json::from_slice(
        &std::fs::read(&path)
            .with_context(|| format!("reading {}; is it a run directory?", path.display()))?,
    )
    .with_context(|| format!("{} is not a schema contract", path.display()))?;
    let table = distillery_data::Table::read(data, &contract.read_options())?;
    let findings = contract.validate(&table);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "data": data.display().to_string(), "rows": table.n_rows(), "findings": findings }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "checked {} rows of {} against {}: {} findings",
            table.n_rows(),
            data.display(),
            path.display(),
            findings.len()
        )?;
        for f in &findings {
            writeln!(
                out,
                "{:<5} {}",
                format!("{:?}", f.severity).to_lowercase(),
                f.message
            )?;
        }
    }
    let blocking = findings
        .iter()
        .any(|f| f.severity == distillery_quality::Severity::Block);
    Ok(if blocking {
        ExitStatus::GateFailed
    } else {
        ExitStatus::Ok
    })
}

/// A column mixing numbers and text cannot be typed, so nothing else can be checked: report
/// it as the one (blocking) finding, in the same shapes as a full check.
fn mixed_types(error: &PipelineError, json: bool) -> Option<Result<ExitStatus>> {
    let PipelineError::Table(distillery_data::DataError::MixedColumn {
        column,
        numeric,
        text,
        row,
        value,
        ..
    }) = error
    else {
        return None;
    };
    let finding = serde_json::json!({
        "check": "mixed_types", "column": column, "key": format!("mixed_types:{column}"),
        "severity": "block", "acknowledged": false,
        "message": format!("'{column}' mixes {numeric} numbers with {text} text cells (first text: '{value}' in row {row}); fix the data or declare it in [data] categorical / numeric"),
        "count": text, "share": *text as f64 / (numeric + text).max(1) as f64,
        "examples": [format!("row {row}: {value}")],
    });
    let result = (|| -> Result<ExitStatus> {
        let mut out = std::io::stdout().lock();
        if json {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({ "schema": "distillery-check/1", "findings": [finding] }),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "BLOCK {}", finding["message"].as_str().unwrap_or(""))?;
        }
        Ok(ExitStatus::GateFailed)
    })();
    Some(result)
}

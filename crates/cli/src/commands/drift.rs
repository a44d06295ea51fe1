//! `distillery drift --reference <run|profile.json|file> --current <file|log dir>`: the
//! batch drift report. Exit 1 with `--fail-on-drift` when the dataset drifted.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_data::{Kind, ReadOptions, Table};
use distillery_monitor::multivariate::RowSample;
use distillery_monitor::profile::PredictionProfile;
use distillery_monitor::{DriftOptions, DriftReport, Profile, StatTest};

use crate::cli::DriftArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &DriftArgs) -> Result<ExitStatus> {
    let options = options(args)?;
    // A current data file is read on a second thread while the reference is built: on two
    // cores that halves the wall time of a file-against-file comparison.
    let (reference, current_table) = std::thread::scope(|scope| {
        let pending = (!args.current.is_dir()).then(|| scope.spawn(|| read_current(&args.current)));
        let reference = crate::reference::reference(
            &args.reference,
            &args.options,
            &args.ignore,
            args.multivariate,
        );
        let table = pending.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the current data failed")))
        });
        (reference, table)
    });
    let reference = reference?;
    let features = reference.features();
    let (current, set_aside) = current(args, &features, &reference, current_table.transpose()?)?;
    let mut report = DriftReport::compare(&reference, &current, &options)?;
    if let (Some(r), Some(c)) = (&reference.prediction, &current.prediction) {
        report = report.with_predictions(r, c, &options)?;
    }
    report.warnings.extend(set_aside);
    if args.multivariate {
        let (Some(r), Some(c)) = (&reference.sample, &current.sample) else {
            bail!(
                "--multivariate needs rows of the reference: this profile has no row sample (rerun the recipe, or pass the training data file as --reference)"
            );
        };
        let joint = distillery_monitor::multivariate::compare(r, c, &reference, 0.05, args.seed);
        report.dataset_drift |= joint.drifted;
        report.multivariate = Some(joint);
    }
    if let Some(path) = &args.html {
        let page = distillery_monitor::render::html(&report, &reference, &current);
        distillery_runtime::write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report)?;
    }
    Ok(if args.fail_on_drift && report.dataset_drift {
        ExitStatus::GateFailed
    } else {
        ExitStatus::Ok
    })
}

fn options(args: &DriftArgs) -> Result<DriftOptions> {
    if !(args.drift_share > 0.0 && args.drift_share <= 1.0) {
        bail!("--drift-share must be in (0, 1], got {}", args.drift_share);
    }
    let mut options = DriftOptions {
        drift_share: args.drift_share,
        columns: args.columns.clone(),
        ..DriftOptions::default()
    };
    for spec in &args.tests {
        let (column, test) = spec
            .split_once('=')
            .with_context(|| format!("--test {spec}: write it as column=test, e.g. age=psi"))?;
        options
            .tests
            .insert(column.trim().to_string(), StatTest::parse(test)?);
    }
    for spec in &args.thresholds {
        let (test, value) = spec
            .split_once('=')
            .with_context(|| format!("--threshold {spec}: write it as test=value, e.g. ks=0.01"))?;
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .with_context(|| {
                format!("--threshold {spec}: the value must be a non-negative number")
            })?;
        options.thresholds.insert(StatTest::parse(test)?, value);
    }
    Ok(options)
}

fn read_current(path: &std::path::Path) -> Result<Table> {
    Table::read(path, &ReadOptions::default())
        .with_context(|| format!("reading the current data {}", path.display()))
}

/// The current data's profile (from `table` when the current data is a file, already
/// read), and a warning when non-finite values were set aside.
fn current(
    args: &DriftArgs,
    features: &[(String, Kind)],
    reference: &Profile,
    table: Option<Table>,
) -> Result<(Profile, Option<String>)> {
    let path = &args.current;
    let Some(table) = table else {
        let traffic = distillery_monitor::log::read_log(path, features, args.model.as_deref())?;
        tracing::info!(
            requests = traffic.requests,
            rows = traffic.table.n_rows(),
            skipped = traffic.skipped,
            non_finite_inputs = traffic.non_finite.inputs,
            non_finite_probability_rows = traffic.non_finite.probability_rows,
            "read the prediction log"
        );
        let mut profile = Profile::current_of(&traffic.table, reference, features)?;
        if args.multivariate {
            profile.sample = Some(RowSample::from_table(&traffic.table, features)?);
        }
        let answered: Vec<Vec<f64>> = traffic
            .probabilities
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if let Some(r) = &reference.prediction
            && !answered.is_empty()
        {
            profile.prediction = Some(PredictionProfile::from_probabilities(&r.classes, &answered));
        }
        return Ok((profile, traffic.non_finite.warning()));
    };
    let missing: Vec<&str> = features
        .iter()
        .filter(|(n, _)| table.index_of(n).is_err())
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks the reference column(s) {}; compare only the others with --columns",
            path.display(),
            missing.join(", ")
        );
    }
    let mut profile = Profile::current_of(&table, reference, features)?;
    if args.multivariate {
        profile.sample = Some(RowSample::from_table(&table, features)?);
    }
    Ok((profile, None))
}

fn print_report(out: &mut impl Write, report: &DriftReport) -> Result<()> {
    writeln!(
        out,
        "{}: {} of {} columns drifted ({:.0}%; the dataset drifts at {:.0}%)",
        if report.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        },
        report.drifted_columns,
        report.columns_compared,
        report.share_drifted * 100.0,
        report.drift_share * 100.0
    )?;
    writeln!(
        out,
        "reference {} rows, current {} rows",
        report.reference_rows, report.current_rows
    )?;
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if let Some(m) = &report.multivariate {
        writeln!(
            out,
            "multivariate ({} + {} rows, {} inputs): MMD² {:.4e}, permutation p {:.4}; domain classifier AUC {:.4}, p {:.4} → {}",
            m.reference_rows,
            m.current_rows,
            m.dimensions,
            m.mmd2,
            m.mmd_p_value,
            m.classifier_auc,
            m.classifier_p_value,
            if m.drifted { "drift" } else { "no drift" }
        )?;
    }
    let width = report
        .columns
        .iter()
        .chain(&report.prediction)
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut section = |title: &str, rows: &[distillery_monitor::ColumnDrift]| -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        writeln!(out, "\n{title}")?;
        writeln!(
            out,
            "  {:width$}  {:13}  {:>11}  {:>9}  {:5}  {:>8}",
            "column", "test", "score", "threshold", "drift", "psi"
        )?;
        for c in rows {
            writeln!(
                out,
                "  {:width$}  {:13}  {:>11.4e}  {:>9}  {:5}  {:>8.4}{}",
                c.column,
                c.outcome.test.name(),
                c.outcome.score,
                c.outcome.threshold,
                if c.outcome.drifted { "yes" } else { "no" },
                c.psi,
                if c.reference_exact {
                    ""
                } else {
                    "  (sketched reference)"
                }
            )?;
        }
        Ok(())
    };
    section("features", &report.columns)?;
    section(
        "predictions (not counted in the verdict)",
        &report.prediction,
    )?;
    Ok(())
}

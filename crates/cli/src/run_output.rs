//! What a finished run shows and does: the table of results (stdout, or stderr under
//! `--json` with the report on stdout), registration when every gate passed, and the exit
//! code. Used by `run`, `demo` and `eval`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use distillery_eval::run_report::Report;

use crate::cli::RegistryOptions;
use crate::exit::ExitStatus;
use distillery_pipeline::RunOutcome;

/// Prints the table (stderr with `--json`, else stdout) and the JSON report, registers the
/// student when every gate passed (and a registry is given); picks the exit code.
pub(crate) fn report(
    outcome: &RunOutcome,
    json: bool,
    registry: Option<&RegistryOptions>,
) -> Result<ExitStatus> {
    let status = print(&outcome.report, &outcome.run_dir, json)?;
    if let Some(options) = registry {
        let line = if status == ExitStatus::Ok {
            let reg = crate::registry_access::open_or_create(options)?;
            let v = reg
                .register_run(
                    &outcome.run_dir,
                    &crate::registry_access::actor(options),
                    "registered by distillery run: every gate passed",
                )
                .with_context(|| format!("registering {}", outcome.run_dir.display()))?;
            format!(
                "registered {} in {}\n",
                v.label(),
                crate::registry_access::shown(options)
            )
        } else {
            "not registered: a gate failed (`distillery registry add <run>` registers it anyway)\n"
                .to_string()
        };
        if json {
            eprint!("{line}");
        } else {
            print!("{line}");
        }
    }
    Ok(status)
}

/// Prints `report`'s table and where it was written (stderr with `--json`, which prints
/// the report itself on stdout); exit status 1 when a gate failed.
pub(crate) fn print(report: &Report, dir: &Path, json: bool) -> Result<ExitStatus> {
    let table = format!(
        "{}wrote {} (open {} in a browser)\n",
        report.table(),
        dir.display(),
        dir.join("report.html").display()
    );
    let mut stdout = std::io::stdout().lock();
    if json {
        eprint!("{table}");
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{table}")?;
    }
    Ok(if report.gates_passed() {
        ExitStatus::Ok
    } else {
        ExitStatus::GateFailed
    })
}

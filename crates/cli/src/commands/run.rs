//! `distillery run recipe.toml [--json]`.

use std::io::Write;

use anyhow::Result;

use crate::cli::RunArgs;
use crate::exit::ExitStatus;
use crate::pipeline::{self, RunOptions, RunOutcome};
use crate::progress::Progress;
use crate::recipe::Recipe;

pub(crate) fn run(args: &RunArgs, progress: Progress) -> Result<ExitStatus> {
    let (recipe, text) = Recipe::load(&args.recipe)?;
    let options = RunOptions {
        out_dir: args.out.clone(),
        resume: args.resume,
        progress,
    };
    let outcome = pipeline::run(&recipe, &text, &options)?;
    report(&outcome, args.json)
}

/// Prints the table (stderr with `--json`, else stdout) and the JSON report; picks the exit code.
pub(crate) fn report(outcome: &RunOutcome, json: bool) -> Result<ExitStatus> {
    let table = format!(
        "{}wrote {}\n",
        outcome.report.table(),
        outcome.run_dir.display()
    );
    let mut stdout = std::io::stdout().lock();
    if json {
        eprint!("{table}");
        serde_json::to_writer_pretty(&mut stdout, &outcome.report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{table}")?;
    }
    Ok(if outcome.report.gates_passed() {
        ExitStatus::Ok
    } else {
        ExitStatus::GateFailed
    })
}

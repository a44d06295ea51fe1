//! `distillery check recipe.toml [--json]`: the data checks alone, before any training.
//! Exit 1 when a `block` finding is not acknowledged in `[quality]`.

use std::io::Write;

use anyhow::Result;

use crate::cli::CheckArgs;
use crate::exit::ExitStatus;
use crate::pipeline::quality;
use crate::recipe::Recipe;

pub(crate) fn run(args: &CheckArgs) -> Result<ExitStatus> {
    let (recipe, _) = Recipe::load(&args.recipe)?;
    let prepared = crate::pipeline::prepare_data(&recipe)?;
    let report = quality::check(&recipe, &prepared);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
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

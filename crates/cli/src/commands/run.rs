//! `distillery run recipe.toml [--json]`.

use anyhow::Result;

use crate::cli::RunArgs;
use crate::exit::ExitStatus;
use crate::pipeline::{self, RunOptions};
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
    let registry = (!args.no_register).then_some(&args.registry);
    crate::run_output::report(&outcome, args.json, registry)
}

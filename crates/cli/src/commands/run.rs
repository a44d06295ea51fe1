//! `distillery run recipe.toml [--json]`.

use anyhow::Result;

use crate::cli::RunArgs;
use crate::environment;
use crate::exit::ExitStatus;
use crate::progress::Terminal;
use distillery_pipeline::recipe::Recipe;

pub(crate) fn run(args: &RunArgs, progress: Terminal) -> Result<ExitStatus> {
    let (recipe, text) = Recipe::load(&args.recipe)?;
    let options = environment::run_options(args.out.clone(), args.resume, &progress);
    let outcome = distillery_pipeline::run(&recipe, &text, &options)?;
    let registry = (!args.no_register).then_some(&args.registry);
    crate::run_output::report(&outcome, args.json, registry)
}

//! `distillery demo`: the whole main job on bundled data, with zero arguments.

use anyhow::{Context, Result};

use crate::cli::DemoArgs;
use crate::environment;
use crate::exit::ExitStatus;
use crate::progress::Terminal;
use distillery_pipeline::Progress as _;
use distillery_pipeline::recipe::Recipe;

const TRAIN: &[u8] = include_bytes!("../../demo/train.csv.gz");
const TEST: &[u8] = include_bytes!("../../demo/test.csv.gz");
const TEACHER: &[u8] = include_bytes!("../../demo/teacher.onnx");
const RECIPE: &str = include_str!("../../demo/recipe.toml");

pub(crate) fn run(args: &DemoArgs, progress: Terminal) -> Result<ExitStatus> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, bytes) in [
        ("train.csv.gz", TRAIN),
        ("test.csv.gz", TEST),
        ("teacher.onnx", TEACHER),
        ("recipe.toml", RECIPE.as_bytes()),
    ] {
        distillery_runtime::write_atomic(&dir.join(name), bytes)
            .with_context(|| format!("writing the demo's {name}"))?;
    }
    let path = dir.join("recipe.toml");
    progress.stage(&format!(
        "demo: Adult census income, LightGBM teacher (300 rounds) → small MLP student; files in {}",
        dir.display()
    ));
    let recipe = Recipe::parse(RECIPE, &path)?.check()?;
    let options = environment::run_options(dir.join("runs"), false, &progress);
    let outcome = distillery_pipeline::run(&recipe, RECIPE, &options)?;
    let registry = crate::cli::RegistryOptions {
        registry: dir.join(".distillery"),
        objects: None,
        actor: None,
    };
    crate::run_output::report(&outcome, args.json, Some(&registry))
}

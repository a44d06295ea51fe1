//! The library behind `distillery run`, in the role cargo's `ops` plays for cargo: a recipe
//! is parsed and checked once ([`Recipe::load`] → [`ValidRecipe`]), then [`run`] takes it
//! through typed stages — data prepared, transfer set labelled by the teacher, students
//! fitted, everything measured — and one writer puts the run directory in place whole.
//!
//! What it does not do: serve, register or monitor a student (see `distillery-serve`,
//! `distillery-registry`, `distillery-monitor`), or draw progress bars (it reports through
//! the [`Progress`] trait; the CLI draws the bars).
//!
//! ```no_run
//! use distillery_pipeline::{LogProgress, Recipe, RunOptions, run};
//!
//! let (recipe, text) = Recipe::load("recipe.toml".as_ref())?;
//! let options = RunOptions::new("runs", &LogProgress);
//! let outcome = run(&recipe, &text, &options)?;
//! println!("student accuracy {:.3}", outcome.report.student.accuracy);
//! # Ok::<(), distillery_pipeline::PipelineError>(())
//! ```

mod error;

mod ablation;
mod adversarial;
pub mod assess;
mod attribute;
pub mod audit;
mod checkpoint_dir;
pub mod cv;
pub mod data;
mod dedup;
mod distill;
pub mod evaluate;
mod extraction;
mod gbdt_teacher;
pub mod latency;
mod lira;
mod measure;
mod membership;
mod memory;
mod pate;
pub mod privacy;
mod profile;
pub mod progress;
pub mod quality;
pub mod recipe;
pub mod redistill;
pub mod redistill_evidence;
mod run;
mod run_dir;
pub mod search;
pub mod teacher;
mod text_vectors;

pub use error::{Context, PipelineError, Result};
pub use measure::student_latency_of;
pub use progress::{EpochProgress, JobProgress, LogProgress, Progress, Silent};
pub use recipe::{Recipe, ValidRecipe};
pub use run::{RunOptions, RunOutcome, run};
pub use run_dir::{now_rfc3339, run_id, write_report_dir};

/// Reads, types, splits and (with `encode`) encodes a recipe's data: the first stage of
/// every run, and all `distillery check` needs.
pub fn prepare_data(recipe: &Recipe, encode: bool) -> Result<data::Prepared> {
    data::prepare_with(recipe, encode)
}

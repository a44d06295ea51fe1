//! Errors of checking training parameters and of training itself.

use std::path::PathBuf;

/// A setting that cannot be used; caught before any work starts (exit code 2 in the CLI).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// A numeric setting is out of its range.
    #[error("{name} = {value} is out of range: {expected}")]
    OutOfRange {
        /// Setting name as written in the recipe.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        expected: &'static str,
    },
}

/// Failures while training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The parameters were invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// Inputs do not have the shapes the parameters imply.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The loss became NaN or infinite.
    #[error("training diverged at epoch {epoch} (loss {loss}); lower learning_rate")]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// The loss seen.
        loss: f32,
    },
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// Checkpoint path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A training set without a single usable row.
    #[error("no rows to train on: {0}")]
    Empty(String),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

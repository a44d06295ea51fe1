//! Errors of loading and running teachers.

use std::path::PathBuf;

/// Everything that can fail in `distillery-teacher`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeacherError {
    /// The model file could not be read.
    #[error("cannot read teacher {path}: {source}")]
    Io {
        /// Model path.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a usable ONNX model.
    #[error("teacher {path}: {message}")]
    Model {
        /// Model path.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The model needs an ONNX operator we cannot run.
    #[error("teacher {path}: {message}")]
    Unsupported {
        /// Model path.
        path: PathBuf,
        /// Which operator or pattern, and the workaround.
        message: String,
    },
    /// Input of the wrong width.
    #[error("teacher expects {expected} inputs per row but got {found}")]
    InputWidth {
        /// Width the teacher takes.
        expected: usize,
        /// Width given.
        found: usize,
    },
    /// The inference engine failed while running.
    #[error("teacher failed while predicting: {0}")]
    Runtime(String),
    /// Table rows cannot be fed to the teacher (a missing column, no category codes).
    #[error("{0}")]
    Feed(String),
    /// A remote teacher could not be reached or answered something unusable.
    #[error("teacher at {url}: {message}")]
    Remote {
        /// The model's endpoint (`http://host/v2/models/name`).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Precomputed soft labels are malformed.
    #[error("{0}")]
    SoftLabels(String),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, TeacherError>;

//! Errors of the monitoring library.

use thiserror::Error;

/// What went wrong while profiling or testing for drift.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// A test name that does not exist.
    #[error("unknown drift test `{0}` (known: ks, chisquare, z, wasserstein, jensenshannon, psi)")]
    UnknownTest(String),
    /// A test applied to a column it cannot handle.
    #[error("the `{0}` test does not apply to this kind of column")]
    WrongKind(&'static str),
    /// One side of a comparison has no values.
    #[error("a column has no non-missing values on one side")]
    Empty,
    /// A profile or data file could not be used.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

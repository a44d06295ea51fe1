//! Errors of loading a student and predicting with it.

use alloc::string::String;

/// Everything that can fail in `distillery-runtime`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The artifact file could not be read or written.
    #[cfg(feature = "std")]
    #[error("cannot access {path}: {source}")]
    Io {
        /// Artifact path.
        path: std::path::PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a distillery student in safetensors format.
    #[error("not a distillery student: {0}")]
    Format(String),
    /// Layer shapes do not chain, or do not fit the encoder or the classes.
    #[error("inconsistent student: {0}")]
    Shape(String),
    /// A row has the wrong number of values.
    #[error("row has {found} values but the student takes {expected} features ({names})")]
    RowWidth {
        /// Features the student takes.
        expected: usize,
        /// Values given.
        found: usize,
        /// The feature names, in order.
        names: String,
    },
    /// A value cannot be used for its feature (e.g. text for a numeric feature).
    #[error("feature '{feature}' is numeric but got '{value}'")]
    NotANumber {
        /// Feature name.
        feature: String,
        /// The offending value.
        value: String,
    },
}

/// Shorthand for results in this crate.
pub type Result<T> = core::result::Result<T, RuntimeError>;

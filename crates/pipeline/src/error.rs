//! What can stop a run, as one typed error: a library caller can tell a bad recipe from
//! data that cannot be used, from a failed stage, from a disk that refused a write.

use std::fmt;

/// Why a recipe could not be run. Each variant keeps its cause, so `source()` walks down to
/// the crate that failed; the CLI prints the chain joined by ": ".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The recipe is not valid: a missing or conflicting key, a value out of range.
    #[error("{0}")]
    Recipe(String),
    /// The data cannot be used as the recipe asks: no labelled test rows, a missing column,
    /// a blocking data-quality finding, more rows than memory holds.
    #[error("{0}")]
    Data(String),
    /// Reading or typing a table failed.
    #[error(transparent)]
    Table(#[from] distillery_data::DataError),
    /// The teacher could not be loaded or run.
    #[error(transparent)]
    Teacher(#[from] distillery_teacher::TeacherError),
    /// Training a student or the in-house teacher failed.
    #[error(transparent)]
    Train(#[from] distillery_train::TrainError),
    /// The student runtime refused a model or an input.
    #[error(transparent)]
    Runtime(#[from] distillery_runtime::RuntimeError),
    /// Writing the student as ONNX failed.
    #[error(transparent)]
    Export(#[from] distillery_export::ExportError),
    /// A slice could not be built on the test rows.
    #[error(transparent)]
    Slice(#[from] distillery_eval::slices::SliceError),
    /// The monitoring reference profile could not be built.
    #[error(transparent)]
    Monitor(#[from] distillery_monitor::MonitorError),
    /// A name the registry would refuse.
    #[error(transparent)]
    Name(#[from] distillery_registry::RegistryError),
    /// A file could not be read or written; `context` names it.
    #[error("{}", Io { context, source })]
    Io {
        /// What was being done, e.g. "cannot create runs/.tmp-x".
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Serializing a report or profile failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Writing a CSV artifact failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A stage failed; `context` says which and `source` why.
    #[error("{context}: {source}")]
    Stage {
        /// The stage or step, e.g. "training the student".
        context: String,
        /// The failure.
        #[source]
        source: Box<PipelineError>,
    },
}

/// Display of an I/O failure: its context, then the system's words.
struct Io<'a> {
    context: &'a str,
    source: &'a std::io::Error,
}

impl fmt::Display for Io<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.context.is_empty() {
            write!(f, "{}", self.source)
        } else {
            write!(f, "{}: {}", self.context, self.source)
        }
    }
}

impl From<std::io::Error> for PipelineError {
    fn from(source: std::io::Error) -> Self {
        PipelineError::Io {
            context: String::new(),
            source,
        }
    }
}

/// The pipeline's result type.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// Adds what was being done to a failure, like `anyhow::Context` but keeping the type.
pub trait Context<T> {
    /// Wraps the error with a fixed context.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// Wraps the error with a context built only on failure.
    fn with_context<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<PipelineError>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().within(context.into()))
    }

    fn with_context<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().within(context().into()))
    }
}

impl PipelineError {
    /// This error as the cause of `context` (an I/O error without context takes it directly).
    fn within(self, context: String) -> PipelineError {
        match self {
            PipelineError::Io { context: c, source } if c.is_empty() => {
                PipelineError::Io { context, source }
            }
            other => PipelineError::Stage {
                context,
                source: Box::new(other),
            },
        }
    }

    /// True when the recipe or its data is at fault (not the machine or a bug): the
    /// caller can fix it by changing the recipe or the data.
    pub fn is_bad_input(&self) -> bool {
        match self {
            PipelineError::Recipe(_)
            | PipelineError::Data(_)
            | PipelineError::Table(_)
            | PipelineError::Slice(_)
            | PipelineError::Name(_) => true,
            PipelineError::Stage { source, .. } => source.is_bad_input(),
            _ => false,
        }
    }
}

/// Returns early with [`PipelineError::Data`] built like `format!`.
macro_rules! refuse {
    ($($t:tt)*) => {
        return Err($crate::error::PipelineError::Data(format!($($t)*)))
    };
}

/// A [`PipelineError::Data`] built like `format!`.
macro_rules! data_error {
    ($($t:tt)*) => {
        $crate::error::PipelineError::Data(format!($($t)*))
    };
}

/// Returns early with [`PipelineError::Recipe`] built like `format!`.
macro_rules! invalid_recipe {
    ($($t:tt)*) => {
        return Err($crate::error::PipelineError::Recipe(format!($($t)*)))
    };
}

/// A [`PipelineError::Recipe`] built like `format!`.
macro_rules! recipe_error {
    ($($t:tt)*) => {
        $crate::error::PipelineError::Recipe(format!($($t)*))
    };
}

pub(crate) use {data_error, invalid_recipe, recipe_error, refuse};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_on_an_io_error_names_the_file_once() {
        let e: Result<()> = Err(std::io::Error::other("disk full")).context("writing a.txt");
        let e = e.unwrap_err();
        assert_eq!(e.to_string(), "writing a.txt: disk full");
        assert!(!e.is_bad_input());
    }

    #[test]
    fn a_stage_wraps_its_cause_and_keeps_its_kind() {
        let inner: Result<()> = Err(PipelineError::Data("no labelled test rows".into()));
        let e = inner.context("preparing the data").unwrap_err();
        assert_eq!(e.to_string(), "preparing the data: no labelled test rows");
        assert!(e.is_bad_input());
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no labelled test rows"));
    }
}

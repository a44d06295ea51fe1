//! Errors raised while reading, typing and splitting tables.

use std::path::PathBuf;

/// Everything that can go wrong in `distillery-data`; each variant names the file, column or
/// row so the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File being read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A CSV record could not be parsed.
    #[error("{path}: bad CSV at line {line}: {message}")]
    Csv {
        /// File being read.
        path: PathBuf,
        /// 1-based line number (header is line 1).
        line: u64,
        /// What the CSV parser reported.
        message: String,
    },
    /// A Parquet file could not be decoded.
    #[error("{path}: cannot decode Parquet: {message}")]
    Parquet {
        /// File being read.
        path: PathBuf,
        /// What the Parquet reader reported.
        message: String,
    },
    /// The file has a header but no data rows, or no header at all.
    #[error(
        "{path} has no data rows; give a CSV or Parquet file with a header and at least one row"
    )]
    Empty {
        /// File being read.
        path: PathBuf,
    },
    /// Two columns share a header name: every later reference to it would be ambiguous.
    #[error(
        "{path}: column '{column}' appears twice in the header (columns {first} and {second}); rename one"
    )]
    DuplicateColumn {
        /// File read.
        path: PathBuf,
        /// The repeated name.
        column: String,
        /// 1-based position of its first appearance.
        first: usize,
        /// 1-based position of the repeat.
        second: usize,
    },
    /// The path is a device, pipe or directory: reading it might never end.
    #[error(
        "{path} is not a regular file (a device, pipe or directory); give a CSV or Parquet file"
    )]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// The file extension is not one we read.
    #[error("{path}: unknown file type; use .csv, .csv.gz or .parquet")]
    UnknownFormat {
        /// File being read.
        path: PathBuf,
    },
    /// A column named in the recipe is not in the file.
    #[error("column '{column}' is not in {path}{}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownColumn {
        /// The missing column.
        column: String,
        /// File searched.
        path: PathBuf,
        /// Nearest existing column name, if any is close.
        suggestion: Option<String>,
    },
    /// A column is mostly numbers but holds some text: almost always a data error.
    #[error(
        "column '{column}' is numeric in {numeric} rows but row {row} holds '{value}' ({text} such rows); add the token to [data] missing, or declare the column in [data] categorical"
    )]
    MixedColumn {
        /// Column name.
        column: String,
        /// Rows that parsed as numbers.
        numeric: usize,
        /// Rows that did not.
        text: usize,
        /// First offending data row (1-based, header not counted).
        row: usize,
        /// First offending value.
        value: String,
    },
    /// The target has fewer than two classes among labelled rows.
    #[error(
        "target '{column}' has {classes} class(es) in {path}; classification needs at least two"
    )]
    OneClass {
        /// Target column.
        column: String,
        /// Distinct labels seen.
        classes: usize,
        /// File read.
        path: PathBuf,
    },
    /// A file does not have the columns another file (e.g. the training file) has.
    #[error("{path} lacks column '{column}' that the training data has")]
    MissingColumn {
        /// File checked.
        path: PathBuf,
        /// Column expected.
        column: String,
    },
    /// A split setting is out of range.
    #[error("invalid split: {0}")]
    Split(String),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, DataError>;

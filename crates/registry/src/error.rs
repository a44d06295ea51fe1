//! What can go wrong in the registry, with enough context to act on.

use std::path::PathBuf;

/// Registry errors.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database refused an operation.
    #[error("registry database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The PostgreSQL server refused an operation or could not be reached.
    #[error("registry database {url}: {source}")]
    Postgres {
        /// The server's URL, password redacted.
        url: String,
        /// The PostgreSQL error.
        #[source]
        source: postgres::Error,
    },
    /// The object store (S3) refused a request or could not be reached.
    #[error("object store {location}: {source}")]
    ObjectStore {
        /// The store's URL.
        location: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stored artifact's content no longer matches its hash.
    #[error(
        "artifact '{role}' of {model} is corrupt: object {hash} hashes to {actual}; it was altered after registration"
    )]
    Tampered {
        /// Which artifact (student, onnx, report, …).
        role: String,
        /// `name/version`.
        model: String,
        /// The recorded hash.
        hash: String,
        /// The hash of what is on disk.
        actual: String,
    },
    /// A stored artifact is missing.
    #[error("artifact '{role}' of {model} is missing: object {hash} is not in {dir}")]
    Missing {
        /// Which artifact.
        role: String,
        /// `name/version`.
        model: String,
        /// The recorded hash.
        hash: String,
        /// The object directory.
        dir: PathBuf,
    },
    /// A name, version or alias that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request that cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// A run directory that cannot be registered.
    #[error("{path}: {message}")]
    BadRun {
        /// The run directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Registry result.
pub type Result<T> = std::result::Result<T, RegistryError>;

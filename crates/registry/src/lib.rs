//! The model registry: one source of truth for which student is where, made from what.
//!
//! - An embedded SQLite database (`registry.db`, WAL mode, migrations applied on open)
//!   behind the [`Store`] trait, so a PostgreSQL backend can replace it without touching
//!   callers.
//! - A content-addressed artifact store (`objects/<blake3>`): atomic writes, never
//!   overwritten, every load re-hashed ([`ObjectStore`], behind the [`Artifacts`] trait).
//! - Datasets, runs, model versions (`name/3`), MLflow-style aliases (`name@production`),
//!   tags and an append-only audit log (a trigger refuses updates and deletes).
//!
//! Crash safety comes from ordering: objects are made durable before the transaction that
//! records the version pointing at them, so a crash leaves at worst an unreferenced
//! object, never a version with a missing or partial artifact.

mod blocking;
mod dump;
mod error;
mod names;
mod objects;
pub mod openlineage;
mod postgres_store;
mod records;
mod registry;
pub mod s3;
mod signing;
mod sqlite;
mod store;

pub use dump::Dump;
pub use error::{RegistryError, Result};
pub use names::{MAX_NAME, alias_name, model_name};
pub use objects::{Artifacts, ObjectStore};
pub use postgres_store::{ALIAS_CHANNEL, PostgresStore, redact};
pub use records::{Artifact, AuditEntry, Dataset, ModelVersion, Reference, RunRecord};
pub use registry::{Config, Lineage, RUN_FILES, Registry, RegistryConfig, is_postgres};
pub use signing::{DetachedSignature, Manifest, keygen, public_key, secret_key, sign, verify};
pub use sqlite::SqliteStore;
pub use store::{Change, Store};

//! Tables for distillery: read CSV (plain or gzip) and Parquet into typed columns, infer
//! which columns are numeric, categorical, target or ignored, split rows into stratified
//! train / validation / test sets with a seed, and fingerprint a dataset with BLAKE3.
//!
//! This crate knows nothing about models: feature encoding lives with the student in
//! `distillery-runtime` (so serving can never skew from training) and data-quality checks
//! in `distillery-quality`.
//!
//! Main types: [`Table`], [`Column`], [`Schema`], [`Labels`], [`Split`].
//!
//! ```
//! use distillery_data::{Table, ReadOptions, Schema, SchemaOptions, stratified_split, Labels};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("t.csv");
//! # std::fs::write(&path, "age,city,y\n31,Oslo,yes\n45,Rome,no\n22,Oslo,yes\n60,Rome,no\n").unwrap();
//! let table = Table::read(&path, &ReadOptions::default())?;
//! let schema = Schema::infer(&table, &SchemaOptions { target: "y".into(), ..Default::default() })?;
//! assert_eq!(schema.features().len(), 2);
//! let labels = Labels::from_column(table.column("y")?, None).unwrap();
//! let split = stratified_split(&labels.y, 0.5, 0.0, 7)?;
//! assert_eq!(split.test.len(), 2);
//! # Ok::<(), distillery_data::DataError>(())
//! ```

mod error;
mod fingerprint;
mod labels;
mod parquet;
mod plain_csv;
mod schema;
mod settings_file;
mod split;
pub mod stream;
mod table;

pub use error::{DataError, Result};
pub use fingerprint::fingerprint;
pub use labels::Labels;
pub use schema::{ColumnSchema, Kind, Schema, SchemaOptions};
pub use settings_file::describe_toml_error;
pub use split::{Split, stratified_folds, stratified_split};
pub use table::{
    Column, ColumnStats, MISSING, ReadOptions, Table, default_missing, format_number, nearest,
};

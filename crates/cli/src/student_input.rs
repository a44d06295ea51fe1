//! Reading a data file the way a student was trained to read data: its missing tokens,
//! its categorical columns kept as text, and every feature column present. Used by
//! `eval`, `estimate`, `bench` and `quantize`.

use std::collections::HashSet;

use anyhow::{Context, Result};
use distillery_data::{ReadOptions, Table};
use distillery_runtime::{FeatureEncoder, Student};

/// Reads a file the way `student` was trained to read data (its missing tokens, its
/// categorical columns kept as text), checking that every feature column is there.
pub(crate) fn read_for(student: &Student, path: &std::path::Path) -> Result<Table> {
    let keep_text: HashSet<String> = student
        .encoder()
        .features
        .iter()
        .filter(|f| matches!(f, FeatureEncoder::Categorical { .. }))
        .map(|f| f.name().to_string())
        .collect();
    let options = ReadOptions {
        missing: student.missing_tokens().to_vec(),
        keep_text,
    };
    let table = Table::read(path, &options)?;
    for name in student.encoder().names() {
        table
            .index_of(name)
            .with_context(|| format!("{} lacks a feature the student needs", path.display()))?;
    }
    Ok(table)
}

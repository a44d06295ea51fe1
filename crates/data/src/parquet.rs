//! Parquet input through the `parquet` crate's row API (no Arrow: it would add minutes of
//! build time for the flat tables we read).

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::error::{DataError, Result};
use crate::table::{Cell, ColumnBuilder, ReadOptions, Table, assemble};

/// The top-level column names of a Parquet file, in order.
pub(crate) fn column_names(reader: &SerializedFileReader<File>) -> Vec<String> {
    reader
        .metadata()
        .file_metadata()
        .schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

pub(crate) fn read(path: &Path, options: &ReadOptions) -> Result<Table> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |e: parquet::errors::ParquetError| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let names = column_names(&reader);
    crate::table::unique_names(path, &names)?;
    let missing: HashSet<&str> = options.missing.iter().map(String::as_str).collect();
    let mut builders: Vec<ColumnBuilder> = names
        .iter()
        .map(|n| ColumnBuilder::new(options.keep_text.contains(n)))
        .collect();
    for row in reader.get_row_iter(None).map_err(bad)? {
        let row = row.map_err(bad)?;
        for (builder, (_, field)) in builders.iter_mut().zip(row.get_column_iter()) {
            let text;
            let cell = match field {
                Field::Null => Cell::Missing,
                Field::Byte(v) => Cell::Number(f64::from(*v)),
                Field::Short(v) => Cell::Number(f64::from(*v)),
                Field::Int(v) => Cell::Number(f64::from(*v)),
                Field::Long(v) => Cell::Number(*v as f64),
                Field::UByte(v) => Cell::Number(f64::from(*v)),
                Field::UShort(v) => Cell::Number(f64::from(*v)),
                Field::UInt(v) => Cell::Number(f64::from(*v)),
                Field::ULong(v) => Cell::Number(*v as f64),
                Field::Float(v) if !v.is_finite() => Cell::Missing,
                Field::Float(v) => Cell::Number(f64::from(*v)),
                Field::Double(v) if !v.is_finite() => Cell::Missing,
                Field::Double(v) => Cell::Number(*v),
                Field::Str(s) if missing.contains(s.trim()) => Cell::Missing,
                Field::Str(s) => Cell::Text(s.trim()),
                other => {
                    text = other.to_string();
                    Cell::Text(text.trim_matches('"'))
                }
            };
            builder.push(cell);
        }
    }
    assemble(path, names, builders)
}

//! Dataset fingerprints: BLAKE3 over the schema and the normalised cell values, so two
//! files with the same content (CSV or Parquet, gzip or not) get the same fingerprint and
//! any changed cell or role gives a new one.

use crate::schema::{Kind, Schema};
use crate::table::{Column, Table};

/// Hex BLAKE3 digest of `table`'s used columns (features and target) and `schema`.
pub fn fingerprint(table: &Table, schema: &Schema) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"distillery-dataset-v1\0");
    for c in &schema.columns {
        if c.kind == Kind::Ignored {
            continue;
        }
        h.update(c.name.as_bytes());
        h.update(&[0, c.kind as u8]);
        let Ok(column) = table.column(&c.name) else {
            continue;
        };
        for row in 0..column.len() {
            match column {
                Column::Numeric(v) if v[row].is_nan() => h.update(b"\x01"),
                Column::Numeric(v) => h.update(&v[row].to_le_bytes()),
                Column::Text { .. } => match column.text(row) {
                    Some(t) => h.update(t.as_bytes()).update(b"\x00"),
                    None => h.update(b"\x01"),
                },
            };
        }
    }
    h.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaOptions;
    use crate::table::ReadOptions;

    fn fp(body: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, body).unwrap();
        let t = Table::read(&p, &ReadOptions::default()).unwrap();
        let o = SchemaOptions {
            target: "y".into(),
            ..Default::default()
        };
        fingerprint(&t, &Schema::infer(&t, &o).unwrap())
    }

    #[test]
    fn fingerprint_changes_with_any_cell_and_ignores_formatting() {
        let a = fp("x,y\n1,a\n2,b\n");
        assert_eq!(a, fp("x , y\n1.0,a\n2, b\n"));
        assert_ne!(a, fp("x,y\n1,a\n3,b\n"));
        assert_eq!(a.len(), 64);
    }
}

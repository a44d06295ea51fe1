//! Reading and writing rows a chunk at a time, for scoring files of any size in constant
//! memory: [`RowReader`] yields chunks of CSV, CSV.gz or Parquet rows as text cells;
//! [`ScoredWriter`] writes chunks of scored rows (copied input columns, one probability
//! column per class, the predicted label) as CSV or Parquet. Memory is bounded by the chunk
//! (and, for Parquet input, one row group), never by the file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, FloatType};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::record::reader::RowIter;
use parquet::schema::types::Type;

use crate::error::{DataError, Result};
use crate::table::format_number;

/// A chunk of rows: every cell as text (or missing), rows × columns, in one buffer.
#[derive(Debug, Default)]
pub struct Rows {
    columns: usize,
    text: String,
    /// End offset in `text` of each cell, row-major.
    ends: Vec<usize>,
    /// Cells that were null (Parquet) rather than text.
    null: Vec<bool>,
    /// File line (CSV) or row number (Parquet, 1-based) of each row, for messages.
    lines: Vec<u64>,
}

impl Rows {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the chunk holds no rows.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The cell of `row`, `column`: `None` when it was null.
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        let i = row * self.columns + column;
        if self.null[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..self.ends[i]])
    }

    /// Where `row` came from: the CSV line (header = line 1) or the Parquet row (1-based).
    pub fn line(&self, row: usize) -> u64 {
        self.lines[row]
    }

    fn clear(&mut self, columns: usize) {
        self.columns = columns;
        self.text.clear();
        self.ends.clear();
        self.null.clear();
        self.lines.clear();
    }

    fn push(&mut self, cell: Option<&str>) {
        if let Some(s) = cell {
            self.text.push_str(s);
        }
        self.ends.push(self.text.len());
        self.null.push(cell.is_none());
    }
}

/// Reads a CSV (`.csv`, `.tsv`, `.txt`, optionally `.gz`) or Parquet file chunk by chunk.
pub struct RowReader {
    path: PathBuf,
    names: Vec<String>,
    source: Source,
}

enum Source {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::StringRecord,
    },
    Parquet {
        rows: RowIter<'static>,
        read: u64,
    },
}

impl RowReader {
    /// Opens `path` and reads its header (or Parquet schema).
    ///
    /// # Errors
    /// The file cannot be opened, is not a regular file, has an unknown extension, or its
    /// header is empty or names a column twice.
    pub fn open(path: &Path) -> Result<RowReader> {
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        crate::table::regular_file(path)?;
        let lower = path.to_string_lossy().to_lowercase();
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            let file = File::open(path).map_err(io)?;
            let bad = |e: parquet::errors::ParquetError| DataError::Parquet {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            let reader = SerializedFileReader::new(file).map_err(bad)?;
            let names = crate::parquet::column_names(&reader);
            crate::table::unique_names(path, &names)?;
            return Ok(RowReader {
                path: path.to_path_buf(),
                names,
                source: Source::Parquet {
                    rows: RowIter::from_file_into(Box::new(reader)),
                    read: 0,
                },
            });
        }
        let csv_like = [".csv", ".tsv", ".txt"];
        let gz = lower.ends_with(".gz");
        let stem = lower.trim_end_matches(".gz");
        if !csv_like.iter().any(|e| stem.ends_with(e)) {
            if !path.exists() {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )));
            }
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(io)?;
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(file)
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(if stem.ends_with(".tsv") { b'\t' } else { b',' })
            .trim(csv::Trim::All)
            .buffer_capacity(1 << 16)
            .from_reader(inner);
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        crate::table::unique_names(path, &names)?;
        Ok(RowReader {
            path: path.to_path_buf(),
            names,
            source: Source::Csv {
                reader,
                record: csv::StringRecord::new(),
            },
        })
    }

    /// The column names, in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Reads up to `max` rows into `out` (cleared first); 0 at the end of the file.
    ///
    /// # Errors
    /// A malformed row (naming its line), or an unreadable file.
    pub fn next_chunk(&mut self, max: usize, out: &mut Rows) -> Result<usize> {
        let columns = self.names.len();
        out.clear(columns);
        match &mut self.source {
            Source::Csv { reader, record } => {
                while out.len() < max {
                    if !reader
                        .read_record(record)
                        .map_err(|e| csv_error(&self.path, e))?
                    {
                        break;
                    }
                    for i in 0..columns {
                        out.push(Some(record.get(i).unwrap_or("")));
                    }
                    out.lines
                        .push(record.position().map_or(0, csv::Position::line));
                }
            }
            Source::Parquet { rows, read } => {
                let mut text = String::new();
                while out.len() < max {
                    let Some(row) = rows.next() else { break };
                    let row = row.map_err(|e| DataError::Parquet {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
                    *read += 1;
                    for (_, field) in row.get_column_iter() {
                        text.clear();
                        match field {
                            Field::Null => out.push(None),
                            Field::Float(v) if !v.is_finite() => out.push(None),
                            Field::Double(v) if !v.is_finite() => out.push(None),
                            Field::Float(v) => out.push(Some(&format_number(f64::from(*v)))),
                            Field::Double(v) => out.push(Some(&format_number(*v))),
                            Field::Str(s) => out.push(Some(s.trim())),
                            other => {
                                text.push_str(&other.to_string());
                                out.push(Some(text.trim_matches('"')));
                            }
                        }
                    }
                    out.lines.push(*read);
                }
            }
        }
        Ok(out.len())
    }
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map_or(0, csv::Position::line);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!(
                "this row has {len} fields but the header has {expected_len}; check for an unquoted comma or a missing field"
            ),
        },
        csv::ErrorKind::Utf8 { err, .. } => DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!(
                "field {} is not UTF-8 text; save the file as UTF-8",
                err.field() + 1
            ),
        },
        other => DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// Writes scored rows: copied input columns (text), `prob_<class>` per class (4-byte
/// floats, six decimals in CSV) and `prediction`, to a temporary file renamed into place by
/// [`ScoredWriter::finish`], so a crash never leaves a half-written output.
pub struct ScoredWriter {
    path: PathBuf,
    tmp: PathBuf,
    classes: usize,
    /// Taken by `finish`.
    sink: Option<Sink>,
}

enum Sink {
    Csv(csv::Writer<BufWriter<File>>, String),
    Parquet(SerializedFileWriter<BufWriter<File>>),
}

/// One chunk of scored rows for [`ScoredWriter::write`].
pub struct Scored<'a> {
    /// The input rows.
    pub rows: &'a Rows,
    /// Which input columns to copy, by position.
    pub copy: &'a [usize],
    /// Class probabilities, rows × classes.
    pub probabilities: &'a [f32],
    /// The predicted label of each row.
    pub labels: &'a [&'a str],
}

impl ScoredWriter {
    /// Creates the output (Parquet for `.parquet`/`.pq`, else CSV) with the copied
    /// columns' names and one probability column per class.
    ///
    /// # Errors
    /// The output's folder does not exist or cannot be written.
    pub fn create(path: &Path, copied: &[&str], classes: &[String]) -> Result<ScoredWriter> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io)?);
        let mut names: Vec<String> = copied.iter().map(|s| s.to_string()).collect();
        names.extend(classes.iter().map(|c| format!("prob_{c}")));
        names.push("prediction".into());
        let lower = path.to_string_lossy().to_lowercase();
        let sink = if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            let text = |n: &str, repetition| {
                Type::primitive_type_builder(n, Physical::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String))
                    .with_repetition(repetition)
                    .build()
            };
            let mut fields = Vec::new();
            for n in copied {
                fields.push(Arc::new(
                    text(n, Repetition::OPTIONAL).map_err(|e| parquet_error(path, e))?,
                ));
            }
            for c in classes {
                fields.push(Arc::new(
                    Type::primitive_type_builder(&format!("prob_{c}"), Physical::FLOAT)
                        .with_repetition(Repetition::REQUIRED)
                        .build()
                        .map_err(|e| parquet_error(path, e))?,
                ));
            }
            fields.push(Arc::new(
                text("prediction", Repetition::REQUIRED).map_err(|e| parquet_error(path, e))?,
            ));
            let schema = Type::group_type_builder("scored")
                .with_fields(fields)
                .build()
                .map_err(|e| parquet_error(path, e))?;
            let props = WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            Sink::Parquet(
                SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
                    .map_err(|e| parquet_error(path, e))?,
            )
        } else {
            let mut w = csv::Writer::from_writer(file);
            w.write_record(&names).map_err(|e| write_error(path, e))?;
            Sink::Csv(w, String::new())
        };
        Ok(ScoredWriter {
            path: path.to_path_buf(),
            tmp,
            classes: classes.len(),
            sink: Some(sink),
        })
    }

    /// Appends one chunk (a Parquet row group, or CSV rows).
    ///
    /// # Errors
    /// The output cannot be written.
    pub fn write(&mut self, s: &Scored<'_>) -> Result<()> {
        let k = self.classes;
        let n = s.rows.len();
        let Some(sink) = self.sink.as_mut() else {
            return Ok(());
        };
        match sink {
            Sink::Csv(w, number) => {
                for r in 0..n {
                    for &c in s.copy {
                        w.write_field(s.rows.cell(r, c).unwrap_or(""))
                            .map_err(|e| write_error(&self.path, e))?;
                    }
                    for &p in &s.probabilities[r * k..(r + 1) * k] {
                        number.clear();
                        six_decimals(p, number);
                        w.write_field(number.as_bytes())
                            .map_err(|e| write_error(&self.path, e))?;
                    }
                    w.write_field(s.labels[r])
                        .map_err(|e| write_error(&self.path, e))?;
                    w.write_record(None::<&[u8]>)
                        .map_err(|e| write_error(&self.path, e))?;
                }
            }
            Sink::Parquet(w) => {
                let bad = |e| parquet_error(&self.path, e);
                let mut group = w.next_row_group().map_err(bad)?;
                for &c in s.copy {
                    let mut column = group.next_column().map_err(bad)?.ok_or_else(|| {
                        bad(parquet::errors::ParquetError::General("schema".into()))
                    })?;
                    let mut values = Vec::with_capacity(n);
                    let mut defined = Vec::with_capacity(n);
                    for r in 0..n {
                        match s.rows.cell(r, c) {
                            Some(t) => {
                                values.push(ByteArray::from(t));
                                defined.push(1);
                            }
                            None => defined.push(0),
                        }
                    }
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, Some(&defined), None)
                        .map_err(bad)?;
                    column.close().map_err(bad)?;
                }
                for j in 0..k {
                    let mut column = group.next_column().map_err(bad)?.ok_or_else(|| {
                        bad(parquet::errors::ParquetError::General("schema".into()))
                    })?;
                    let values: Vec<f32> = (0..n).map(|r| s.probabilities[r * k + j]).collect();
                    column
                        .typed::<FloatType>()
                        .write_batch(&values, None, None)
                        .map_err(bad)?;
                    column.close().map_err(bad)?;
                }
                let mut column = group
                    .next_column()
                    .map_err(bad)?
                    .ok_or_else(|| bad(parquet::errors::ParquetError::General("schema".into())))?;
                let labels: Vec<ByteArray> = s.labels.iter().map(|l| ByteArray::from(*l)).collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&labels, None, None)
                    .map_err(bad)?;
                column.close().map_err(bad)?;
                group.close().map_err(bad)?;
            }
        }
        Ok(())
    }

    /// Flushes, fsyncs and renames the output into place.
    ///
    /// # Errors
    /// The output cannot be flushed or moved into place.
    pub fn finish(mut self) -> Result<()> {
        let path = self.path.clone();
        let io = |source| DataError::Io {
            path: path.clone(),
            source,
        };
        let file = match self.sink.take() {
            None => return Ok(()),
            Some(Sink::Csv(w, _)) => w
                .into_inner()
                .map_err(|e| io(std::io::Error::other(e.to_string())))?,
            Some(Sink::Parquet(w)) => w.into_inner().map_err(|e| parquet_error(&path, e))?,
        };
        let file = file
            .into_inner()
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io)
    }
}

impl Drop for ScoredWriter {
    /// An output never finished (an error part-way) leaves no temporary file behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// `p` (a probability, 0 to 1) with six decimals, as `{:.6}` writes it but without the
/// general float formatter (a tenth of the time of scoring a wide file).
fn six_decimals(p: f32, out: &mut String) {
    if !(0.0..=1.0).contains(&p) {
        use std::fmt::Write as _;
        let _ = write!(out, "{p:.6}");
        return;
    }
    let scaled = (f64::from(p) * 1e6).round() as u32;
    let (whole, frac) = (scaled / 1_000_000, scaled % 1_000_000);
    out.push(char::from(b'0' + whole as u8));
    out.push('.');
    let mut digits = [b'0'; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or("000000"));
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn write_error(path: &Path, e: csv::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_decimals_match_the_float_formatter() {
        for p in [
            0.0f32,
            1.0,
            0.5,
            0.123_456_7,
            0.999_999_9,
            1e-7,
            0.333_333_34,
        ] {
            let mut ours = String::new();
            six_decimals(p, &mut ours);
            assert_eq!(ours, format!("{p:.6}"), "{p}");
        }
    }

    #[test]
    fn csv_and_parquet_chunks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "a,b\n1,x\n2,\n3,z\n").unwrap();
        let mut reader = RowReader::open(&input).unwrap();
        assert_eq!(reader.names(), ["a", "b"]);
        let mut rows = Rows::default();
        assert_eq!(reader.next_chunk(2, &mut rows).unwrap(), 2);
        assert_eq!(rows.cell(1, 1), Some(""));
        assert_eq!(rows.line(1), 3);
        let classes = vec!["no".to_string(), "yes".to_string()];
        for out in ["out.csv", "out.parquet"] {
            let path = dir.path().join(out);
            let mut w = ScoredWriter::create(&path, &["b"], &classes).unwrap();
            w.write(&Scored {
                rows: &rows,
                copy: &[1],
                probabilities: &[0.25, 0.75, 0.5, 0.5],
                labels: &["yes", "no"],
            })
            .unwrap();
            w.finish().unwrap();
            let back = crate::Table::read(&path, &crate::ReadOptions::default()).unwrap();
            assert_eq!(back.n_rows(), 2);
            assert_eq!(back.names(), ["b", "prob_no", "prob_yes", "prediction"]);
            let mut again = RowReader::open(&path).unwrap();
            let mut chunk = Rows::default();
            again.next_chunk(10, &mut chunk).unwrap();
            assert_eq!(chunk.cell(0, 3), Some("yes"));
            assert_eq!(chunk.cell(1, 0), Some(""), "an empty cell stays empty");
        }
        assert_eq!(reader.next_chunk(2, &mut rows).unwrap(), 1);
        assert_eq!(reader.next_chunk(2, &mut rows).unwrap(), 0);
    }
}

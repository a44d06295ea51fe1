//! Column-oriented tables read from CSV (plain or gzip) and Parquet.
//!
//! Every column is read once into either numbers or dictionary-encoded text, because
//! training touches each cell many times and 300k-row census files must stay small in
//! memory. Which representation a column gets is decided by its contents (and by the
//! recipe, which can force text); [`crate::schema`] turns that into feature kinds.

use std::collections::HashSet;

use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Code used in [`Column::Text`] for a missing cell.
pub const MISSING: u32 = u32::MAX;

/// Dictionaries of all-numeric columns are dropped past this many distinct values, so a
/// float column of 300k rows does not carry 300k strings it will never use.
const MAX_LEVELS_FOR_NUMERIC: usize = 4096;

/// One column of cells.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; `NaN` marks a missing cell.
    Numeric(Vec<f64>),
    /// Text cells as codes into `levels` (first-seen order); [`MISSING`] marks a missing cell.
    Text {
        /// Distinct values in the order first seen.
        levels: Vec<String>,
        /// One code per row.
        codes: Vec<u32>,
    },
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Text { codes, .. } => codes.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a cell (`None` when missing or when the column is numeric).
    pub fn text(&self, row: usize) -> Option<&str> {
        match self {
            Column::Text { levels, codes } => match codes.get(row) {
                Some(&c) if c != MISSING => levels.get(c as usize).map(String::as_str),
                _ => None,
            },
            Column::Numeric(_) => None,
        }
    }

    /// The number in a cell (`None` when missing, not a number, or not finite).
    pub fn number(&self, row: usize) -> Option<f64> {
        match self {
            Column::Numeric(v) => v.get(row).copied().filter(|x| !x.is_nan()),
            Column::Text { .. } => self
                .text(row)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|x| x.is_finite()),
        }
    }

    /// True when the cell is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            Column::Numeric(v) => v.get(row).is_none_or(|x| x.is_nan()),
            Column::Text { codes, .. } => codes.get(row).is_none_or(|&c| c == MISSING),
        }
    }

    /// The rows `rows` of this column, in that order.
    pub fn take(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Text { levels, codes } => Column::Text {
                levels: levels.clone(),
                codes: rows.iter().map(|&r| codes[r]).collect(),
            },
        }
    }
}

/// What was seen while reading a column, kept for schema inference and data checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnStats {
    /// Non-missing cells that parsed as numbers.
    pub numeric: usize,
    /// Non-missing cells that did not.
    pub text: usize,
    /// Missing cells.
    pub missing: usize,
    /// First cell that did not parse as a number: (1-based data row, value).
    pub first_text: Option<(usize, String)>,
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Cell values (after trimming) that mean "missing".
    pub missing: Vec<String>,
    /// Columns that must keep their text even when every cell is a number (categorical
    /// codes, the target).
    pub keep_text: HashSet<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            missing: default_missing(),
            keep_text: HashSet::new(),
        }
    }
}

/// Cell values treated as missing unless the recipe says otherwise.
pub fn default_missing() -> Vec<String> {
    ["", "?", "NA", "N/A", "NaN", "nan", "null"]
        .into_iter()
        .map(String::from)
        .collect()
}

/// A table: named columns of equal length, plus what was learnt while reading them.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    names: Vec<String>,
    columns: Vec<Column>,
    stats: Vec<ColumnStats>,
    rows: usize,
}

impl Table {
    /// Reads CSV text already in memory (an upload, a fuzz input) exactly as [`Table::read`]
    /// reads a file; `path` names it in errors, and a `.tsv` name makes tabs the delimiter.
    ///
    /// # Errors
    /// As [`Table::read`] for a CSV file.
    pub fn read_csv_bytes(path: &Path, bytes: &[u8], options: &ReadOptions) -> Result<Table> {
        read_csv(path, bytes, options)
    }

    /// Reads a `.csv`, `.csv.gz` or `.parquet` file.
    ///
    /// # Errors
    /// Unreadable file, malformed CSV/Parquet, unknown extension, or no data rows.
    pub fn read(path: &Path, options: &ReadOptions) -> Result<Table> {
        let name = path.to_string_lossy().to_lowercase();
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        regular_file(path)?;
        let table = if name.ends_with(".parquet") || name.ends_with(".pq") {
            crate::parquet::read(path, options)?
        } else if name.ends_with(".csv.gz") || name.ends_with(".tsv.gz") {
            let file = File::open(path).map_err(io)?;
            let read = read_csv(
                path,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
                options,
            );
            // A corrupt stream can decode to garbage before its checksum fails, which the
            // CSV reader would report as bad text: check the gzip stream itself first.
            match read {
                Err(e) => return Err(gzip_problem(path).unwrap_or(e)),
                Ok(t) => t,
            }
        } else if name.ends_with(".csv") || name.ends_with(".tsv") || name.ends_with(".txt") {
            let file = File::open(path).map_err(io)?;
            read_csv(path, BufReader::new(file), options)?
        } else {
            if !path.exists() {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )));
            }
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            });
        };
        if table.rows == 0 {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(table)
    }

    /// Builds a table from finished columns (used by readers, tests and augmentation).
    ///
    /// # Errors
    /// Columns of different lengths or a name/column count mismatch.
    pub fn from_columns(path: PathBuf, names: Vec<String>, columns: Vec<Column>) -> Result<Table> {
        let rows = columns.first().map_or(0, Column::len);
        if names.len() != columns.len() || columns.iter().any(|c| c.len() != rows) {
            return Err(DataError::Split(
                "columns of a table must have equal lengths".into(),
            ));
        }
        let stats = vec![ColumnStats::default(); columns.len()];
        Ok(Table {
            path,
            names,
            columns,
            stats,
            rows,
        })
    }

    /// Where the table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.rows
    }

    /// Column names in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// All columns in file order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Reading statistics of column `i`.
    pub fn stats(&self, i: usize) -> &ColumnStats {
        &self.stats[i]
    }

    /// Index of a column by name.
    ///
    /// # Errors
    /// [`DataError::UnknownColumn`] with the nearest name as a suggestion.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| DataError::UnknownColumn {
                column: name.to_string(),
                path: self.path.clone(),
                suggestion: nearest(name, &self.names),
            })
    }

    /// A column by name.
    ///
    /// # Errors
    /// [`DataError::UnknownColumn`].
    pub fn column(&self, name: &str) -> Result<&Column> {
        Ok(&self.columns[self.index_of(name)?])
    }

    /// Appends every row of `other`, matching columns by name: a column `other` lacks
    /// (or one named in `blank`, such as the target of an unlabelled file) gets missing
    /// cells, numbers join a text column as text, and text joins a numeric column only
    /// where it parses as a number. Extra columns of `other` are ignored. Used to add an
    /// unlabelled transfer file to the training rows.
    ///
    /// # Errors
    /// [`DataError::MixedColumn`] when a cell of `other` is text where this table's
    /// column holds numbers.
    pub fn append(&mut self, other: &Table, blank: &[&str]) -> Result<()> {
        let n = other.n_rows();
        let sources: Vec<Option<&Column>> = self
            .names
            .iter()
            .map(|name| {
                other
                    .index_of(name)
                    .ok()
                    .filter(|_| !blank.contains(&name.as_str()))
                    .map(|j| &other.columns[j])
            })
            .collect();
        // Checked before anything changes, so a refused file leaves the table as it was.
        for ((name, column), source) in self.names.iter().zip(&self.columns).zip(&sources) {
            if let (Column::Numeric(_), Some(col @ Column::Text { .. })) = (column, source)
                && let Some(r) =
                    (0..n).find(|&r| col.text(r).is_some_and(|t| t.parse::<f64>().is_err()))
            {
                return Err(DataError::MixedColumn {
                    column: name.clone(),
                    numeric: n - 1,
                    text: 1,
                    row: r + 1,
                    value: col.text(r).unwrap_or_default().to_string(),
                });
            }
        }
        for ((column, stats), source) in self.columns.iter_mut().zip(&mut self.stats).zip(sources) {
            match (column, source) {
                (Column::Numeric(v), None) => {
                    v.extend(std::iter::repeat_n(f64::NAN, n));
                    stats.missing += n;
                }
                (Column::Text { codes, .. }, None) => {
                    codes.extend(std::iter::repeat_n(MISSING, n));
                    stats.missing += n;
                }
                (Column::Numeric(v), Some(col)) => {
                    for r in 0..n {
                        let x = col
                            .text(r)
                            .and_then(|t| t.parse::<f64>().ok())
                            .or_else(|| col.number(r))
                            .unwrap_or(f64::NAN);
                        if x.is_nan() {
                            stats.missing += 1;
                        } else {
                            stats.numeric += 1;
                        }
                        v.push(x);
                    }
                }
                (Column::Text { levels, codes }, Some(col)) => {
                    let mut index: FxHashMap<String, u32> = levels
                        .iter()
                        .enumerate()
                        .map(|(c, l)| (l.clone(), c as u32))
                        .collect();
                    for r in 0..n {
                        let cell = match col {
                            Column::Text { .. } => col.text(r).map(str::to_string),
                            Column::Numeric(_) => col.number(r).map(format_number),
                        };
                        let Some(cell) = cell else {
                            codes.push(MISSING);
                            stats.missing += 1;
                            continue;
                        };
                        if cell.parse::<f64>().is_ok() {
                            stats.numeric += 1;
                        } else {
                            stats.text += 1;
                        }
                        let next = index.len() as u32;
                        let code = *index.entry(cell.clone()).or_insert_with(|| {
                            levels.push(cell);
                            next
                        });
                        codes.push(code);
                    }
                }
            }
        }
        self.rows += n;
        Ok(())
    }

    /// A new table holding rows `rows` (in that order) of every column.
    pub fn take(&self, rows: &[usize]) -> Table {
        Table {
            path: self.path.clone(),
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.take(rows)).collect(),
            stats: self.stats.clone(),
            rows: rows.len(),
        }
    }
}

/// The name in `names` closest to `name` by edit distance, if it is close enough to be a typo.
pub fn nearest(name: &str, names: &[String]) -> Option<String> {
    names
        .iter()
        .map(|n| (levenshtein(&name.to_lowercase(), &n.to_lowercase()), n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One cell as a reader hands it over.
pub(crate) enum Cell<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

/// Accumulates one column while reading.
pub(crate) struct ColumnBuilder {
    keep_text: bool,
    text_dropped: bool,
    levels: Vec<String>,
    /// Fx hashing: SipHash's flood resistance buys nothing for a file we read ourselves, and
    /// it was a tenth of the time of reading a 200k-row CSV.
    index: FxHashMap<String, u32>,
    codes: Vec<u32>,
    /// The cells as numbers, kept only while the column may still end numeric: a column
    /// kept as text, or one that has met a text cell, ends as codes, so its numbers (8
    /// bytes a row) are never stored.
    numbers: Vec<f64>,
    numbers_dropped: bool,
    rows: usize,
    stats: ColumnStats,
}

impl ColumnBuilder {
    pub(crate) fn new(keep_text: bool) -> Self {
        ColumnBuilder {
            keep_text,
            text_dropped: false,
            levels: Vec::new(),
            index: FxHashMap::default(),
            codes: Vec::new(),
            numbers: Vec::new(),
            numbers_dropped: keep_text,
            rows: 0,
            stats: ColumnStats::default(),
        }
    }

    fn push_number(&mut self, x: f64) {
        if !self.numbers_dropped {
            self.numbers.push(x);
        }
    }

    fn code(&mut self, text: &str) -> u32 {
        if let Some(&c) = self.index.get(text) {
            return c;
        }
        let c = self.levels.len() as u32;
        self.levels.push(text.to_string());
        self.index.insert(text.to_string(), c);
        c
    }

    pub(crate) fn push(&mut self, cell: Cell<'_>) {
        self.rows += 1;
        let row = self.rows;
        match cell {
            Cell::Missing => {
                self.stats.missing += 1;
                self.push_number(f64::NAN);
                if !self.text_dropped {
                    self.codes.push(MISSING);
                }
            }
            Cell::Number(x) => {
                self.stats.numeric += 1;
                self.push_number(x);
                if !self.text_dropped {
                    let c = self.code(&format_number(x));
                    self.codes.push(c);
                }
            }
            Cell::Text(s) => {
                let parsed = parse_number(s);
                if let Some(x) = parsed {
                    self.stats.numeric += 1;
                    self.push_number(x);
                } else {
                    self.stats.text += 1;
                    if self.stats.first_text.is_none() {
                        self.stats.first_text = Some((row, s.to_string()));
                    }
                    if self.text_dropped {
                        // Numeric with too many levels to keep as text: the cell reads
                        // as missing, and the schema reports the column as mixed.
                        self.push_number(f64::NAN);
                    } else {
                        // A text cell makes this a text column (see `finish`).
                        self.numbers_dropped = true;
                        self.numbers = Vec::new();
                    }
                }
                if !self.text_dropped {
                    let c = self.code(s);
                    self.codes.push(c);
                }
            }
        }
        if !self.keep_text
            && !self.text_dropped
            && self.stats.text == 0
            && self.levels.len() > MAX_LEVELS_FOR_NUMERIC
        {
            self.text_dropped = true;
            self.levels = Vec::new();
            self.index = FxHashMap::default();
            self.codes = Vec::new();
        }
    }

    pub(crate) fn finish(mut self) -> (Column, ColumnStats) {
        let numeric_only = self.stats.text == 0 && !self.keep_text;
        let column = if numeric_only || self.text_dropped {
            self.numbers.shrink_to_fit();
            Column::Numeric(self.numbers)
        } else {
            self.codes.shrink_to_fit();
            Column::Text {
                levels: self.levels,
                codes: self.codes,
            }
        };
        (column, self.stats)
    }
}

/// Parses a cell as a finite number; thousands separators and units are not numbers.
fn parse_number(s: &str) -> Option<f64> {
    plain_decimal(s.as_bytes()).or_else(|| s.parse::<f64>().ok().filter(|x| x.is_finite()))
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common cell `[-+]digits[.digits]` with at most 2^53 as its digits, parsed without
/// the general algorithm: an exact integer divided by an exact power of ten is correctly
/// rounded (Clinger's fast path), so the result is bit for bit what `str::parse` gives.
/// Anything else (exponents, long mantissas, `inf`) returns `None` for the general parser.
fn plain_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let (mut mantissa, mut decimals, mut dot, mut any) = (0u64, 0usize, false, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                decimals += usize::from(dot);
                any = true;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if !any || mantissa > 1 << 53 {
        return None;
    }
    let x = mantissa as f64 / EXACT_POWERS_OF_TEN[decimals];
    Some(if negative { -x } else { x })
}

/// Text form of a number read from a typed source (Parquet), matching how it would be
/// written in a CSV: integers without a trailing `.0`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

pub(crate) fn assemble(
    path: &Path,
    names: Vec<String>,
    builders: Vec<ColumnBuilder>,
) -> Result<Table> {
    let (columns, stats): (Vec<_>, Vec<_>) = builders.into_iter().map(|b| b.finish()).unzip();
    let rows = columns.first().map_or(0, Column::len);
    if names.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Table {
        path: path.to_path_buf(),
        names,
        columns,
        stats,
        rows,
    })
}

/// Refuses a path that exists but is not a regular file: a link to /dev/zero or a FIFO
/// would be read forever. A missing path passes (opening it names the problem).
pub(crate) fn regular_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(DataError::NotAFile {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// The gzip file's own error (corrupt, truncated, not gzip), if it has one.
fn gzip_problem(path: &Path) -> Option<DataError> {
    let file = File::open(path).ok()?;
    let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::new(file));
    let e = std::io::copy(&mut decoder, &mut std::io::sink()).err()?;
    Some(DataError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("not a valid gzip file, corrupt or truncated ({e}); compress it again"),
        ),
    })
}

/// Refuses a header that names one column twice, naming it and both positions (1-based).
pub(crate) fn unique_names(path: &Path, names: &[String]) -> Result<()> {
    let mut seen: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for (i, n) in names.iter().enumerate() {
        if let Some(&first) = seen.get(n.as_str()) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: n.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
        seen.insert(n, i);
    }
    Ok(())
}

/// A CSV parse error in words (the parser's own `Debug` text is not for people).
fn csv_message(kind: &csv::ErrorKind, display: String) -> String {
    match kind {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "this row has {len} fields but the header has {expected_len}; check for an unquoted comma or a missing field"
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "field {} is not UTF-8 text; save the file as UTF-8",
            err.field() + 1
        ),
        _ => display,
    }
}

fn read_csv<R: Read>(path: &Path, reader: R, options: &ReadOptions) -> Result<Table> {
    read_csv_blocks(path, reader, options, crate::plain_csv::BLOCK)
}

/// [`read_csv`] with the plain path's block size (0: the csv crate reads everything).
fn read_csv_blocks<R: Read>(
    path: &Path,
    reader: R,
    options: &ReadOptions,
    block: u64,
) -> Result<Table> {
    let delimiter = if path.to_string_lossy().to_lowercase().contains(".tsv") {
        b'\t'
    } else {
        b','
    };
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let plain = crate::plain_csv::read(path, reader, delimiter, options, block)?;
    let (mut names, mut builders) = (plain.names, plain.builders);
    if let Some((rest, lines_before)) = plain.rest {
        // The csv crate reads what the plain path left, with line numbers of the whole file.
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(rest);
        let csv_error = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line()) + lines_before;
            let display = e.to_string();
            match e.into_kind() {
                csv::ErrorKind::Io(source) => io(source),
                kind => DataError::Csv {
                    path: path.to_path_buf(),
                    line,
                    message: csv_message(&kind, display),
                },
            }
        };
        let header = csv.headers().map_err(csv_error)?;
        if names.is_none() {
            let read: Vec<String> = header.iter().map(str::to_string).collect();
            check_header(path, &read)?;
            builders = read
                .iter()
                .map(|n| ColumnBuilder::new(options.keep_text.contains(n)))
                .collect();
            names = Some(read);
        }
        let mut record = csv::StringRecord::new();
        while csv.read_record(&mut record).map_err(csv_error)? {
            for (builder, cell) in builders.iter_mut().zip(record.iter()) {
                // A handful of short tokens: comparing them beats hashing every cell.
                if options.missing.iter().any(|m| m == cell) {
                    builder.push(Cell::Missing);
                } else {
                    builder.push(Cell::Text(cell));
                }
            }
        }
    }
    let names = names.unwrap_or_default();
    check_header(path, &names)?;
    assemble(path, names, builders)
}

/// Refuses a header that names no column or one column twice, before any row is read.
pub(crate) fn check_header(path: &Path, names: &[String]) -> Result<()> {
    unique_names(path, names)?;
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    #[test]
    fn csv_columns_get_numbers_or_text_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "a,b,y\n1, x ,yes\n2.5,?,no\n,z,yes\n");
        let t = Table::read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(t.n_rows(), 3);
        match t.column("a").unwrap() {
            Column::Numeric(v) => {
                assert_eq!(v[..2], [1.0, 2.5]);
                assert!(v[2].is_nan());
            }
            other => panic!("{other:?}"),
        }
        let b = t.column("b").unwrap();
        assert_eq!(b.text(0), Some("x"));
        assert!(b.is_missing(1));
        assert_eq!(t.stats(1).missing, 1);
    }

    #[test]
    fn appended_rows_match_columns_by_name_and_blank_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(&dir, "a.csv", "a,b,y\n1,x,yes\n2,y,no\n");
        let b = write(&dir, "b.csv", "b,a,y,extra\nz,3,yes,q\nx,,no,q\n");
        let mut t = Table::read(&a, &ReadOptions::default()).unwrap();
        let u = Table::read(&b, &ReadOptions::default()).unwrap();
        t.append(&u, &["y"]).unwrap();
        assert_eq!(t.n_rows(), 4);
        assert_eq!(t.column("a").unwrap().number(2), Some(3.0));
        assert!(t.column("a").unwrap().is_missing(3));
        assert_eq!(t.column("b").unwrap().text(2), Some("z"));
        assert_eq!(t.column("b").unwrap().text(3), Some("x"));
        assert!(t.column("y").unwrap().is_missing(2), "the blanked target");
        assert_eq!(t.stats(0).missing, 1);
        // Text where the table holds numbers is refused, naming the cell.
        let c = write(&dir, "c.csv", "a,b\nmany,x\n");
        let bad = Table::read(&c, &ReadOptions::default()).unwrap();
        let err = t.append(&bad, &[]).unwrap_err().to_string();
        assert!(err.contains("many"), "{err}");
        assert_eq!(t.n_rows(), 4, "a refused file changes nothing");
        assert_eq!(t.column("b").unwrap().len(), 4);
    }
    #[test]
    fn plain_decimals_parse_bit_for_bit_like_the_standard_parser() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "+1",
            "1.",
            ".5",
            "-.5",
            "3.14159",
            "0.1",
            "0.3",
            "123456789012345678",
            "9007199254740993",
            "9007199254740992",
            "1e5",
            "1.5E-3",
            "inf",
            "nan",
            "1.2.3",
            "--1",
            "",
            ".",
            "-",
            "12a",
            "0.000000000000000001",
            "17976931348623157",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state % 17) as usize + 1;
            let text = format!(
                "{:0width$}",
                state % 10u64.pow(digits as u32),
                width = digits
            );
            let dot = (state >> 40) as usize % (digits + 1);
            let sign = if state >> 63 == 1 { "-" } else { "" };
            cells.push(format!("{sign}{}.{}", &text[..dot], &text[dot..]));
        }
        for cell in &cells {
            let general = cell.parse::<f64>().ok().filter(|x| x.is_finite());
            assert_eq!(
                parse_number(cell).map(f64::to_bits),
                general.map(f64::to_bits),
                "{cell}"
            );
        }
    }

    #[test]
    fn plain_path_reads_every_file_as_the_csv_crate_does() {
        let dir = tempfile::tempdir().unwrap();
        let rows: String = (0..40)
            .map(|i| format!("{i}.5, x{} ,{}\n", i % 3, i * 7))
            .collect();
        let files = [
            format!("a,b,c\n{rows}"),
            format!("\n\na , b,c\r\n{rows}\n\n"),
            format!("a,b,c\n{rows}1,\"q,uoted\",3\n{rows}"),
            format!("a,b,c\n{rows}1,2\n{rows}"),
            format!("a,b,c\n{rows}1,2,3,4\n"),
            format!("a,b,c\n{rows}1,lone\rreturn,3\n{rows}"),
            format!("\"a\",b,c\n{rows}"),
            format!("a,b,c\n{rows}1,NA,?\n7,8,9"),
            "a,a\n1,2\n".to_string(),
            "\n\n".to_string(),
            "a,b\n".to_string(),
        ];
        let mut invalid = format!("a,b,c\n{rows}").into_bytes();
        invalid.extend_from_slice(b"1,\xff\xfe,3\n");
        let mut bodies: Vec<Vec<u8>> = files.iter().map(|f| f.clone().into_bytes()).collect();
        bodies.push(invalid);
        let options = ReadOptions::default();
        for (i, body) in bodies.iter().enumerate() {
            let path = dir.path().join(format!("f{i}.csv"));
            std::fs::write(&path, body).unwrap();
            let whole = read_csv_blocks(&path, &body[..], &options, 0);
            for block in [1, 7, 64, 1 << 20] {
                let plain = read_csv_blocks(&path, &body[..], &options, block);
                match (&whole, &plain) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.names, b.names, "file {i}, block {block}");
                        // Debug text: NaN marks a missing number and is not equal to itself.
                        let (x, y) = (format!("{:?}", a.columns), format!("{:?}", b.columns));
                        assert_eq!(x, y, "file {i}, block {block}");
                        assert_eq!(a.stats, b.stats, "file {i}, block {block}");
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string(), "file {i}, block {block}")
                    }
                    _ => panic!("file {i}, block {block}: {whole:?} against {plain:?}"),
                }
            }
        }
    }

    #[test]
    fn gzip_csv_reads_like_plain_csv() {
        let dir = tempfile::tempdir().unwrap();
        let body = "a,y\n1,p\n2,q\n";
        let plain = write(&dir, "t.csv", body);
        let gz = dir.path().join("t.csv.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        enc.finish().unwrap();
        let o = ReadOptions::default();
        let (a, b) = (
            Table::read(&plain, &o).unwrap(),
            Table::read(&gz, &o).unwrap(),
        );
        assert_eq!(a.columns(), b.columns());
    }

    #[test]
    fn header_only_file_is_empty_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "a,b\n");
        assert!(matches!(
            Table::read(&p, &ReadOptions::default()),
            Err(DataError::Empty { .. })
        ));
        let p = write(&dir, "e.csv", "");
        assert!(matches!(
            Table::read(&p, &ReadOptions::default()),
            Err(DataError::Empty { .. })
        ));
    }

    #[test]
    fn unknown_column_suggests_nearest_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "income,age\n1,2\n");
        let t = Table::read(&p, &ReadOptions::default()).unwrap();
        let err = t.column("incme").unwrap_err().to_string();
        assert!(err.contains("did you mean 'income'"), "{err}");
    }

    #[test]
    fn duplicate_csv_header_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "age,x,age\n1,2,3\n");
        let err = Table::read(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column 'age' appears twice in the header (columns 1 and 3)"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_gzip_file_is_reported_as_such_not_as_bad_text() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("t.csv.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        let body: String = (0..2000).map(|i| format!("{i},label{}\n", i % 7)).collect();
        enc.write_all(format!("a,y\n{body}").as_bytes()).unwrap();
        enc.finish().unwrap();
        let mut bytes = std::fs::read(&gz).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 16] {
            *b ^= 0x5a;
        }
        std::fs::write(&gz, &bytes).unwrap();
        let err = Table::read(&gz, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid gzip file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_an_endless_device_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("train.csv");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let err = Table::read(&link, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a regular file"), "{err}");
    }

    #[test]
    fn ragged_csv_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "a,b\n1,2\n3\n");
        let err = Table::read(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(
            err.contains("this row has 1 fields but the header has 2"),
            "{err}"
        );
        assert!(!err.contains("UnequalLengths"), "no debug text: {err}");
    }
}

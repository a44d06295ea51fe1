//! Reading the server's prediction log (`predictions-*.jsonl`) back into a table of the
//! inputs that were served and the probabilities that were answered, so live traffic can
//! be compared with the reference profile.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use distillery_data::{Column, Kind, MISSING, Table, format_number};
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::error::MonitorError;
use crate::record::PredictionRecord;

/// The served rows of a prediction log.
#[derive(Debug)]
pub struct LoggedTraffic {
    /// One column per requested feature, one row per served row.
    pub table: Table,
    /// The probabilities answered for each row: empty when no record has them, else one
    /// entry per row, itself empty for a row whose record lacks them.
    pub probabilities: Vec<Vec<f64>>,
    /// Log records read (answered requests of the chosen model).
    pub requests: usize,
    /// Lines skipped: refusals, other models, feedback records, unreadable lines.
    pub skipped: usize,
    /// Values that were not finite numbers, set aside so no monitor scores them.
    pub non_finite: NonFinite,
}

/// Counts of non-finite values met while reading traffic (a log written by an older server,
/// or a client that slipped past its checks). Each is set aside, never scored: an infinite
/// input becomes a missing value, a row whose probabilities are not all finite numbers
/// counts as a row without probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NonFinite {
    /// Numeric input cells that were infinite (read as missing).
    pub inputs: usize,
    /// Rows whose answered probabilities held NaN, null or an infinity (left out of
    /// estimates and of drift on the probabilities).
    pub probability_rows: usize,
}

impl NonFinite {
    /// Whether anything was set aside.
    pub fn any(&self) -> bool {
        self.inputs + self.probability_rows > 0
    }

    /// A warning line for people, when anything was set aside.
    pub fn warning(&self) -> Option<String> {
        self.any().then(|| {
            format!(
                "set aside non-finite values: {} input cell(s) read as missing, {} row(s) whose probabilities were not numbers left out of the estimates",
                self.inputs, self.probability_rows
            )
        })
    }
}

/// Reads every `predictions-*.jsonl` file of `dir` and of its subfolders (one per replica,
/// when several servers log to one place), in order, keeping answered requests (of
/// `model` when given) and the features named in `features`.
///
/// # Errors
/// The directory cannot be read, holds no log files, or no answered request.
pub fn read_log(
    dir: &Path,
    features: &[(String, Kind)],
    model: Option<&str>,
) -> Result<LoggedTraffic, MonitorError> {
    let io = |path: &Path, source| MonitorError::Io {
        path: path.to_path_buf(),
        source,
    };
    let is_log = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("predictions-") && n.ends_with(".jsonl"))
    };
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let mut files: Vec<PathBuf> = Vec::new();
    for path in entries {
        if path.is_dir() {
            // A replica's folder: the union of every replica's log is the traffic.
            let inner = std::fs::read_dir(&path).map_err(|e| io(&path, e))?;
            files.extend(
                inner
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_log(p)),
            );
        } else if is_log(&path) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(MonitorError::Invalid(format!(
            "{} holds no predictions-*.jsonl files (nor do its replica folders); give the directory the server logs to (its --log-dir)",
            dir.display()
        )));
    }
    let mut builder = TrafficBuffer::new(features);
    let (mut requests, mut skipped) = (0usize, 0usize);
    let mut models: Vec<String> = Vec::new();
    for path in &files {
        let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| io(path, e))?;
            let Ok(record) = serde_json::from_str::<PredictionRecord>(&line) else {
                skipped += 1;
                continue;
            };
            let wanted = record.answered() && model.is_none_or(|m| record.model == m);
            if wanted && builder.add(&record) {
                requests += 1;
                if !models.contains(&record.model) {
                    models.push(record.model.clone());
                }
            } else {
                skipped += 1;
            }
        }
    }
    if requests == 0 {
        return Err(MonitorError::Invalid(format!(
            "the prediction log in {} has no answered requests{}",
            dir.display(),
            model
                .map(|m| format!(" for model `{m}`"))
                .unwrap_or_default()
        )));
    }
    if models.len() > 1 {
        return Err(MonitorError::Invalid(format!(
            "the prediction log in {} holds several models ({}); pick one with --model",
            dir.display(),
            models.join(", ")
        )));
    }
    let non_finite = builder.non_finite();
    let (table, probabilities) = builder.take(dir)?;
    Ok(LoggedTraffic {
        table,
        probabilities,
        requests,
        skipped,
        non_finite,
    })
}

/// Served rows collected column by column from log records (or from the same JSON built
/// live by the server): the inputs of the named features and the probabilities answered.
/// Categories are coded as they arrive, so a level already seen costs a hash lookup and
/// no allocation (the live monitor buffers every watched request through here).
#[derive(Debug, Clone)]
pub struct TrafficBuffer {
    features: Vec<(String, Kind)>,
    numbers: Vec<Vec<f64>>,
    categories: Vec<Categories>,
    probabilities: Vec<Vec<f64>>,
    rows: usize,
    non_finite: NonFinite,
}

/// One categorical column being collected: its levels in order of first sight and a code
/// per row.
#[derive(Debug, Clone, Default)]
struct Categories {
    levels: Vec<String>,
    index: FxHashMap<String, u32>,
    codes: Vec<u32>,
}

impl Categories {
    fn push(&mut self, cell: Option<&str>) {
        let code = match cell {
            None => MISSING,
            Some(s) => match self.index.get(s) {
                Some(&c) => c,
                None => {
                    let c = self.levels.len() as u32;
                    self.levels.push(s.to_string());
                    self.index.insert(s.to_string(), c);
                    c
                }
            },
        };
        self.codes.push(code);
    }
}

impl TrafficBuffer {
    /// An empty buffer for these features.
    pub fn new(features: &[(String, Kind)]) -> Self {
        TrafficBuffer {
            features: features.to_vec(),
            numbers: vec![Vec::new(); features.len()],
            categories: vec![Categories::default(); features.len()],
            probabilities: Vec::new(),
            rows: 0,
            non_finite: NonFinite::default(),
        }
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The non-finite values set aside in the rows held.
    pub fn non_finite(&self) -> NonFinite {
        self.non_finite
    }

    /// Adds one record's rows; false when it carries no inputs. A feature the record lacks
    /// is missing in its rows.
    pub fn add(&mut self, record: &PredictionRecord) -> bool {
        let Some(inputs) = record.inputs.as_ref().and_then(Value::as_array) else {
            return false;
        };
        // Every tensor's cells, flattened into one buffer; `spans[j]` is input j's range.
        let mut cells: Vec<&Value> = Vec::new();
        let spans: Vec<(usize, usize)> = inputs
            .iter()
            .map(|t| {
                let start = cells.len();
                flatten(&t["data"], &mut cells);
                (start, cells.len())
            })
            .collect();
        // A record's own row count, never more than its largest tensor holds (a garbled
        // line must not make us push billions of missing cells).
        let widest = spans.iter().map(|(a, b)| b - a).max().unwrap_or(0);
        let rows = record.rows.map_or(widest, |r| r.min(widest));
        // One [n, d] tensor with the features in schema order, as the server also accepts.
        let d = self.features.len();
        let matrix = inputs.len() == 1
            && d > 0
            && spans[0].1 - spans[0].0 == rows * d
            && !self
                .features
                .iter()
                .any(|(n, _)| inputs[0]["name"] == n.as_str());
        for (i, (name, kind)) in self.features.iter().enumerate() {
            // Inputs usually come in feature order; search only when they do not.
            let tensor = if matrix {
                None
            } else if inputs.get(i).is_some_and(|t| t["name"] == name.as_str()) {
                Some(i)
            } else {
                inputs.iter().position(|t| t["name"] == name.as_str())
            };
            let column: &[&Value] = tensor.map_or(&[], |j| &cells[spans[j].0..spans[j].1]);
            for r in 0..rows {
                let cell = if matrix {
                    cells[r * d + i]
                } else {
                    column.get(r).copied().unwrap_or(&Value::Null)
                };
                if *kind == Kind::Numeric {
                    let x = match cell {
                        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
                        _ => f64::NAN,
                    };
                    if x.is_infinite() {
                        self.non_finite.inputs += 1;
                    }
                    self.numbers[i].push(if x.is_finite() { x } else { f64::NAN });
                } else {
                    let categories = &mut self.categories[i];
                    match cell {
                        Value::String(s) => categories.push(Some(s)),
                        Value::Number(n) => {
                            categories.push(n.as_f64().map(format_number).as_deref())
                        }
                        Value::Bool(b) => categories.push(Some(if *b { "true" } else { "false" })),
                        _ => categories.push(None),
                    }
                }
            }
        }
        self.rows += rows;
        // One entry per row, empty where the record answered no probabilities (logs from
        // servers that logged only the outputs a client selected), so rows stay aligned.
        cells.clear();
        if let Some(out) = record.outputs.as_ref().and_then(Value::as_array)
            && let Some(p) = out.iter().find(|o| o["name"] == "probabilities")
        {
            flatten(&p["data"], &mut cells);
        }
        let k = cells.len().checked_div(rows).unwrap_or(0);
        let whole = k > 0 && k * rows == cells.len();
        for r in 0..rows {
            let p: Vec<f64> = if whole {
                cells[r * k..(r + 1) * k]
                    .iter()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect()
            } else {
                Vec::new()
            };
            if p.iter().all(|x| x.is_finite()) {
                self.probabilities.push(p);
            } else {
                self.non_finite.probability_rows += 1;
                self.probabilities.push(Vec::new());
            }
        }
        true
    }

    /// The rows held as a table (named after `source`) and their probabilities; the buffer
    /// is left empty.
    ///
    /// # Errors
    /// Columns of unequal length (a record whose tensors disagree on rows).
    pub fn take(&mut self, source: &Path) -> Result<(Table, Vec<Vec<f64>>), MonitorError> {
        let taken = std::mem::replace(self, TrafficBuffer::new(&self.features));
        taken.into_table(source)
    }

    fn into_table(self, dir: &Path) -> Result<(Table, Vec<Vec<f64>>), MonitorError> {
        let columns = self
            .features
            .iter()
            .zip(self.numbers)
            .zip(self.categories)
            .map(|(((_, kind), numbers), categories)| {
                if *kind == Kind::Numeric {
                    Column::Numeric(numbers)
                } else {
                    Column::Text {
                        levels: categories.levels,
                        codes: categories.codes,
                    }
                }
            })
            .collect();
        let names = self.features.iter().map(|(n, _)| n.clone()).collect();
        let table = Table::from_columns(dir.to_path_buf(), names, columns)
            .map_err(|e| MonitorError::Invalid(e.to_string()))?;
        let mut probabilities = self.probabilities;
        if probabilities.iter().all(Vec::is_empty) {
            probabilities.clear();
        }
        Ok((table, probabilities))
    }
}

fn flatten<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_requests_become_rows_and_refusals_are_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let lines = [
            r#"{"ts":1,"model":"m","version":1,"status":200,"rows":2,"inputs":[{"name":"age","datatype":"FP32","shape":[2,1],"data":[[30],[40]]},{"name":"city","datatype":"BYTES","shape":[2],"data":["Oslo",null]}],"outputs":[{"name":"probabilities","shape":[2,2],"datatype":"FP32","data":[0.1,0.9,0.7,0.3]}]}"#,
            r#"{"ts":2,"model":"m","version":1,"status":400,"error":"bad"}"#,
            r#"{"ts":3,"model":"other","version":1,"status":200,"rows":1,"inputs":[{"name":"age","datatype":"FP32","shape":[1],"data":[99]}]}"#,
            r#"{"kind":"feedback","model":"m","status":200}"#,
            "not json",
        ];
        std::fs::write(
            dir.path().join("predictions-000001.jsonl"),
            lines.join("\n"),
        )
        .expect("write");
        let features = vec![
            ("age".to_string(), Kind::Numeric),
            ("city".to_string(), Kind::Categorical),
        ];
        let t = read_log(dir.path(), &features, Some("m")).expect("log");
        assert_eq!((t.requests, t.skipped), (1, 4));
        assert_eq!(t.table.n_rows(), 2);
        assert_eq!(t.table.column("age").expect("age").number(1), Some(40.0));
        assert!(t.table.column("city").expect("city").is_missing(1));
        assert_eq!(t.probabilities, vec![vec![0.1, 0.9], vec![0.7, 0.3]]);
        assert!(read_log(dir.path(), &features, Some("nobody")).is_err());
        let mixed = read_log(dir.path(), &features, None).expect_err("two models");
        assert!(
            mixed
                .to_string()
                .contains("several models (m, other); pick one with --model"),
            "{mixed}"
        );
    }

    #[test]
    fn one_matrix_tensor_is_read_in_feature_order() {
        let features = vec![
            ("age".to_string(), Kind::Numeric),
            ("city".to_string(), Kind::Categorical),
        ];
        let record: PredictionRecord = serde_json::from_str(
            r#"{"rows":2,"inputs":[{"name":"x","datatype":"FP64","shape":[2,2],"data":[30,1,40,2]}]}"#,
        )
        .expect("json");
        let mut buffer = TrafficBuffer::new(&features);
        assert!(buffer.add(&record));
        let (table, probabilities) = buffer.take(Path::new("live")).expect("table");
        assert!(probabilities.is_empty(), "no record answered probabilities");
        assert_eq!(table.column("age").expect("age").number(1), Some(40.0));
        let city = table.column("city").expect("city");
        assert_eq!(city.text(0), Some("1"));
        assert_eq!(city.text(1), Some("2"));
    }

    #[test]
    fn non_finite_values_are_set_aside_and_counted() {
        let mut buffer = TrafficBuffer::new(&[("age".into(), Kind::Numeric)]);
        let record: PredictionRecord = serde_json::from_str(
            r#"{"rows":3,"inputs":[{"name":"age","data":[40,"inf",50]}],"outputs":[{"name":"probabilities","data":[null,null,0.1,0.9,0.6,0.4]}]}"#,
        )
        .expect("json");
        assert!(buffer.add(&record));
        assert_eq!(
            buffer.non_finite(),
            NonFinite {
                inputs: 1,
                probability_rows: 1
            }
        );
        let (table, probabilities) = buffer.take(Path::new("live")).expect("table");
        assert_eq!(probabilities, vec![vec![], vec![0.1, 0.9], vec![0.6, 0.4]]);
        let Ok(Column::Numeric(ages)) = table.column("age") else {
            panic!("numeric")
        };
        assert!(ages[1].is_nan(), "the infinite age is missing");
    }

    #[test]
    fn rows_without_probabilities_keep_the_rest_aligned() {
        let features = vec![("age".to_string(), Kind::Numeric)];
        let mut buffer = TrafficBuffer::new(&features);
        for line in [
            r#"{"rows":1,"inputs":[{"name":"age","data":[30]}]}"#,
            r#"{"rows":2,"inputs":[{"name":"age","data":[40,50]}],"outputs":[{"name":"probabilities","data":[0.1,0.9,0.6,0.4]}]}"#,
        ] {
            assert!(buffer.add(&serde_json::from_str(line).expect("json")));
        }
        let (table, probabilities) = buffer.take(Path::new("live")).expect("table");
        assert_eq!(table.n_rows(), 3);
        assert_eq!(probabilities, vec![vec![], vec![0.1, 0.9], vec![0.6, 0.4]]);
    }
}

//! `distillery._distillery`: the Rust half of the Python package. The Python half
//! (`distillery/__init__.py`) turns DataFrames and NumPy arrays into the plain columns
//! these functions take, and wraps them in a scikit-learn-style estimator.

use std::path::PathBuf;

use std::sync::atomic::{AtomicUsize, Ordering};

use distillery_pipeline::{
    EpochProgress, JobProgress, LogProgress, PipelineError, Progress, Recipe, RunOptions,
};
use distillery_runtime::{Predict, QuantizedStudent, RawValue, Student};
use distillery_train::EpochRecord;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A pipeline error as Python sees it: `ValueError` when the recipe or data is at fault,
/// `RuntimeError` otherwise; the message is the whole cause chain.
fn pipeline_error(e: &PipelineError) -> PyErr {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    if e.is_bad_input() {
        PyValueError::new_err(message)
    } else {
        PyRuntimeError::new_err(message)
    }
}

/// Hands the pipeline's feedback to a Python callable as one line of text each: every
/// stage, every epoch, every finished job (the GIL is taken only for the call).
struct Callback(Py<PyAny>);

impl Callback {
    fn say(&self, line: String) {
        Python::attach(|py| {
            // A failing callback must not stop the run; Python prints its error.
            if let Err(e) = self.0.call1(py, (line,)) {
                e.print(py);
            }
        });
    }
}

impl Progress for Callback {
    fn stage(&self, message: &str) {
        self.say(message.to_string());
    }

    fn epochs(&self, what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
        Box::new(EpochLines(self, what.to_string()))
    }

    fn jobs(&self, what: &str, total: usize) -> Box<dyn JobProgress + '_> {
        Box::new(JobLines(self, what.to_string(), total, AtomicUsize::new(0)))
    }
}

/// Epoch lines for a [`Callback`].
struct EpochLines<'a>(&'a Callback, String);

impl EpochProgress for EpochLines<'_> {
    fn epoch(&self, r: &EpochRecord) {
        self.0.say(format!(
            "{}: epoch {} train loss {:.4} validation loss {:.4}",
            self.1, r.epoch, r.train_loss, r.validation_loss
        ));
    }
}

/// Job lines for a [`Callback`].
struct JobLines<'a>(&'a Callback, String, usize, AtomicUsize);

impl JobProgress for JobLines<'_> {
    fn done(&self, name: &str) {
        let n = self.3.fetch_add(1, Ordering::SeqCst) + 1;
        self.0
            .say(format!("{}: {n}/{} done ({name})", self.1, self.2));
    }
}

/// Runs a recipe in-process, exactly as `distillery run` does (without registering the
/// student); returns the report as JSON text and the run directory. `progress`, when
/// given, is called with one line of text per stage, epoch and finished job.
#[pyfunction]
#[pyo3(signature = (recipe, out_dir = PathBuf::from("runs"), seed = None, progress = None))]
fn run(
    py: Python<'_>,
    recipe: PathBuf,
    out_dir: PathBuf,
    seed: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(String, String)> {
    let callback = progress.map(Callback);
    let outcome = py
        .detach(|| {
            let text = std::fs::read_to_string(&recipe).map_err(|e| PipelineError::Io {
                context: format!("cannot read recipe {}", recipe.display()),
                source: e,
            })?;
            let mut parsed = Recipe::parse(&text, &recipe)?;
            if let Some(seed) = seed {
                parsed.distill.seed = seed;
            }
            let valid = parsed.check()?;
            let progress: &dyn Progress = match &callback {
                Some(c) => c,
                None => &LogProgress,
            };
            distillery_pipeline::run(&valid, &text, &RunOptions::new(out_dir, progress))
        })
        .map_err(|e| pipeline_error(&e))?;
    let report = serde_json::to_string(&outcome.report)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((report, outcome.run_dir.display().to_string()))
}

/// The fp32 or the int8 student.
enum Loaded {
    Fp32(Student),
    Int8(QuantizedStudent),
}

/// A trained student: loads from `student.safetensors` (fp32) or `student.int8.safetensors`.
#[pyclass(name = "Student", module = "distillery._distillery", frozen)]
struct PyStudent {
    student: Loaded,
}

impl PyStudent {
    fn predictor(&self) -> &(dyn Predict + Sync) {
        match &self.student {
            Loaded::Fp32(s) => s,
            Loaded::Int8(q) => q,
        }
    }
}

/// A runtime error as a Python `ValueError` (bad file, bad input row).
fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// One input column: numbers (f64, little-endian bytes) or text cells (`None`: missing).
enum ColumnIn {
    Numbers(Vec<f64>),
    Text(Vec<Option<String>>),
}

impl ColumnIn {
    fn read(value: &Bound<'_, PyAny>) -> PyResult<ColumnIn> {
        if let Ok(bytes) = value.cast::<PyBytes>() {
            let raw = bytes.as_bytes();
            if raw.len() % 8 != 0 {
                return Err(value_error("a numeric column must be float64 bytes"));
            }
            let numbers = raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect();
            return Ok(ColumnIn::Numbers(numbers));
        }
        Ok(ColumnIn::Text(value.extract()?))
    }

    fn len(&self) -> usize {
        match self {
            ColumnIn::Numbers(v) => v.len(),
            ColumnIn::Text(v) => v.len(),
        }
    }

    /// The cell at `row`; text equal to one of the student's missing tokens (`?`, `NA`, …
    /// as its training data had them) is missing, as when the CLI reads a file.
    fn cell<'a>(&'a self, row: usize, missing: &[String]) -> RawValue<'a> {
        match self {
            ColumnIn::Numbers(v) if v[row].is_nan() => RawValue::Missing,
            ColumnIn::Numbers(v) => RawValue::Number(v[row]),
            ColumnIn::Text(v) => match v[row].as_deref() {
                Some(t) if !missing.iter().any(|m| m == t) => RawValue::Text(t),
                _ => RawValue::Missing,
            },
        }
    }
}

#[pymethods]
impl PyStudent {
    /// Loads a student file, fp32 or int8, whichever it holds.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<PyStudent> {
        let student = match Student::load(&path) {
            Ok(s) => Loaded::Fp32(s),
            Err(fp32) => match QuantizedStudent::load(&path) {
                Ok(q) => Loaded::Int8(q),
                Err(_) => {
                    return Err(value_error(format!(
                        "loading student {}: {fp32}",
                        path.display()
                    )));
                }
            },
        };
        Ok(PyStudent { student })
    }

    /// A student from the bytes of its safetensors file (what `to_bytes` gave).
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<PyStudent> {
        let student = match Student::from_bytes(bytes) {
            Ok(s) => Loaded::Fp32(s),
            Err(e) => {
                Loaded::Int8(QuantizedStudent::from_bytes(bytes).map_err(|_| value_error(e))?)
            }
        };
        Ok(PyStudent { student })
    }

    /// The safetensors file's bytes (for pickling and saving).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = match &self.student {
            Loaded::Fp32(s) => s.to_bytes(),
            Loaded::Int8(q) => q.to_bytes(),
        }
        .map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The classes, in the order of the probability columns.
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.predictor().classes().to_vec()
    }

    /// The input features, in order, as `(name, "numeric" | "categorical")`.
    #[getter]
    fn features(&self) -> Vec<(String, &'static str)> {
        self.predictor()
            .encoder()
            .features
            .iter()
            .map(|f| {
                let kind = match f {
                    distillery_runtime::FeatureEncoder::Numeric { .. } => "numeric",
                    _ => "categorical",
                };
                (f.name().to_string(), kind)
            })
            .collect()
    }

    /// True for an int8 student.
    #[getter]
    fn quantized(&self) -> bool {
        matches!(self.student, Loaded::Int8(_))
    }

    /// Class probabilities (float32, `n × classes` as bytes) for `n` rows given as one
    /// column per feature, in `features` order.
    fn predict_proba_columns<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let width = self.predictor().encoder().features.len();
        if columns.len() != width {
            return Err(value_error(format!(
                "the student takes {width} features but {} columns were given",
                columns.len()
            )));
        }
        let columns: Vec<ColumnIn> = columns
            .iter()
            .map(ColumnIn::read)
            .collect::<PyResult<_>>()?;
        let n = columns.first().map_or(0, ColumnIn::len);
        if columns.iter().any(|c| c.len() != n) {
            return Err(value_error(
                "every column must have the same number of rows",
            ));
        }
        let p = py
            .detach(|| {
                let missing = self.predictor().missing_tokens();
                let rows: Vec<Vec<RawValue<'_>>> = (0..n)
                    .map(|r| columns.iter().map(|c| c.cell(r, missing)).collect())
                    .collect();
                let refs: Vec<&[RawValue<'_>]> = rows.iter().map(Vec::as_slice).collect();
                self.predictor().predict_proba(&refs)
            })
            .map_err(value_error)?;
        let bytes: Vec<u8> = p.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the student as an ONNX model (encoder included: raw columns in).
    fn export_onnx(&self, path: PathBuf) -> PyResult<()> {
        let bytes = match &self.student {
            Loaded::Fp32(s) => distillery_export::to_onnx(s),
            Loaded::Int8(q) => distillery_export::to_onnx_int8(q),
        }
        .map_err(value_error)?;
        distillery_runtime::write_atomic(&path, &bytes).map_err(value_error)
    }
}

/// The extension module.
#[pymodule]
fn _distillery(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add_class::<PyStudent>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! ONNX teachers: one float tensor `[N, inputs]` in, class probabilities (or logits) out.
//!
//! Graphs built around a tree ensemble run on our own evaluator ([`crate::graph`]);
//! everything else (neural networks) runs on tract when the `tract` feature is on.
//! The model may describe its own inputs in `metadata_props`: `distillery.inputs` (JSON
//! list of column names, in input order) and `distillery.categories` (JSON object: for each
//! categorical column, the list of levels whose index is the code the model was trained on).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use distillery_onnx::{Message, ModelProto};
use rayon::prelude::*;

use crate::OutputKind;
use crate::column_inputs::{ColumnInput, ColumnValues};
use crate::error::{Result, TeacherError};
use crate::graph::TreeGraph;

/// Rows per parallel work item when labelling a dataset.
const CHUNK: usize = 1024;

enum Backend {
    Trees(TreeGraph),
    #[cfg(feature = "tract")]
    Tract(crate::tract::TractPlan),
}

/// A teacher loaded from an `.onnx` file.
pub struct OnnxModel {
    pub(crate) path: PathBuf,
    backend: Backend,
    width: usize,
    classes: usize,
    output_kind: OutputKind,
    /// Class labels stored in the model (tree ensembles), in output order.
    pub class_labels: Option<Vec<String>>,
    /// Input column names from the model's metadata, if present.
    pub input_names: Option<Vec<String>>,
    /// One input per column (name and type), for models exported that way; `None` for a
    /// single float matrix input.
    pub columns: Option<Vec<ColumnInput>>,
    /// Category codes from the model's metadata: column → levels (index = code).
    pub categories: HashMap<String, Vec<String>>,
    /// BLAKE3 of the file, for lineage.
    pub file_hash: String,
    /// File size in bytes.
    pub bytes: u64,
}

/// Options for loading an ONNX teacher.
#[derive(Debug, Clone, Default)]
pub struct OnnxOptions {
    /// Name of the output to use (default: `probabilities`, or the only float matrix output).
    pub output: Option<String>,
    /// Whether that output holds probabilities or logits.
    pub output_kind: OutputKind,
    /// Input width to assume when the model's input shape leaves it open.
    pub width_hint: Option<usize>,
}

impl OnnxModel {
    /// Loads and compiles an ONNX model.
    ///
    /// # Errors
    /// Unreadable or non-ONNX file, no single float input, no usable output, operators
    /// neither our tree evaluator nor tract can run.
    pub fn load(path: &Path, options: &OnnxOptions) -> Result<OnnxModel> {
        let bytes = std::fs::read(path).map_err(|source| TeacherError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        OnnxModel::from_bytes(&bytes, path, options)
    }

    /// Compiles an ONNX model held in memory (an in-house teacher before it is saved);
    /// `path` names it in errors and reports.
    ///
    /// # Errors
    /// As [`OnnxModel::load`], less the reading.
    pub fn from_bytes(bytes: &[u8], path: &Path, options: &OnnxOptions) -> Result<OnnxModel> {
        let model_error = |message: String| TeacherError::Model {
            path: path.to_path_buf(),
            message,
        };
        let model = ModelProto::decode(bytes)
            .map_err(|e| model_error(format!("not an ONNX model ({e})")))?;
        let graph = model
            .graph
            .as_ref()
            .ok_or_else(|| model_error("the model has no graph".into()))?;
        let initializers: Vec<&str> = graph
            .initializer
            .iter()
            .filter_map(|t| t.name.as_deref())
            .collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(&i.name.as_deref().unwrap_or_default()))
            .collect();
        let meta: HashMap<&str, &str> = model
            .metadata_props
            .iter()
            .filter_map(|p| Some((p.key.as_deref()?, p.value.as_deref()?)))
            .collect();
        let input_names: Option<Vec<String>> = match meta.get("distillery.inputs") {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| {
                model_error(format!(
                    "metadata distillery.inputs is not a JSON list of names: {e}"
                ))
            })?),
            None => None,
        };
        let categories: HashMap<String, Vec<String>> = match meta.get("distillery.categories") {
            Some(s) => serde_json::from_str(s).map_err(|e| {
                model_error(format!(
                    "metadata distillery.categories is not a JSON object of level lists: {e}"
                ))
            })?,
            None => HashMap::new(),
        };
        let chosen = choose_output(graph, options.output.as_deref()).map_err(model_error)?;
        // A ZipMap output (a sequence of {class: probability} maps, the converters' default)
        // is read as the probability tensor it zips, in the order of its class labels.
        let (output, zip_labels) = match unzip(graph, &chosen) {
            Some((tensor, labels)) => (tensor, Some(labels)),
            None => (chosen, None),
        };
        let unsupported = |message: String| TeacherError::Unsupported {
            path: path.to_path_buf(),
            message,
        };
        let float_input = |i: &&distillery_onnx::ValueInfoProto| {
            matches!(
                i.r#type.as_ref().and_then(|t| t.value.as_ref()),
                Some(distillery_onnx::type_proto::Value::TensorType(t)) if t.elem_type == Some(1)
            )
        };
        if inputs.is_empty() {
            return Err(model_error("the model has no inputs".into()));
        }
        // One input per column (or one that is not a float matrix): the preprocessing runs
        // on our interpreter.
        if !matches!(inputs.as_slice(), [one] if float_input(one)) {
            let (graph, columns) =
                crate::column_inputs::compile(graph, &inputs, &output).map_err(|m| {
                    let listed: Vec<String> = inputs.iter().map(|i| describe_input(i)).collect();
                    unsupported(format!("{m} (inputs: {})", listed.join(", ")))
                })?;
            return OnnxModel::finish_load(OnnxModel {
                path: path.to_path_buf(),
                class_labels: (!graph.class_labels.is_empty())
                    .then(|| graph.class_labels.clone())
                    .or(zip_labels),
                backend: Backend::Trees(graph),
                width: columns.len(),
                columns: Some(columns),
                classes: 0,
                output_kind: options.output_kind,
                input_names,
                categories,
                file_hash: blake3::hash(bytes).to_hex().to_string(),
                bytes: bytes.len() as u64,
            });
        }
        let input = inputs[0];
        let input_name = input.name.clone().unwrap_or_default();
        let tensor = input
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .and_then(|v| match v {
                distillery_onnx::type_proto::Value::TensorType(t) => Some(t.clone()),
                _ => None,
            })
            .ok_or_else(|| model_error(format!("input '{input_name}' is not a tensor")))?;
        let dims: Vec<Option<usize>> = tensor
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(distillery_onnx::tensor_shape_proto::dimension::Value::DimValue(
                            v,
                        )) if v > 0 => Some(v as usize),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let width = dims
            .get(1)
            .copied()
            .flatten()
            .or(input_names.as_ref().map(Vec::len))
            .or(options.width_hint)
            .ok_or_else(|| model_error(format!("cannot tell how many features input '{input_name}' takes; give [teacher] inputs")))?;
        if dims.len() != 2 {
            return Err(model_error(format!(
                "input '{input_name}' has rank {}; expected [N, features]",
                dims.len()
            )));
        }
        let backend = match TreeGraph::compile(graph, std::slice::from_ref(&input_name), &output, true).map_err(unsupported)? {
            Some(g) => {
                if g.max_feature >= width {
                    return Err(model_error(format!(
                        "the trees read feature {} but the input has {width}",
                        g.max_feature
                    )));
                }
                Backend::Trees(g)
            }
            // When tract cannot run the graph either, an ai.onnx.ml preprocessing operator
            // is the usual reason: name it and its node rather than tract's internal error.
            // Preprocessing alone (no trees) that tract cannot run may still be ours.
            None => tract_backend(path, bytes, width, &output)
                .or_else(|e| {
                    match TreeGraph::compile(graph, std::slice::from_ref(&input_name), &output, false) {
                        Ok(Some(g)) => Ok(Backend::Trees(g)),
                        _ => Err(e),
                    }
                })
                .map_err(|e| {
                match crate::graph::needed_nodes(graph, &output)
                    .into_iter()
                    .find(|n| is_unsupported_ml_operator(n))
                {
                    Some(node) => unsupported(format!(
                        "operator {}.{} (node '{}') is not supported: distillery runs tree ensembles and the ai.onnx.ml preprocessing operators on its own interpreter and standard ONNX operators on tract, but not this one; export the model without it (apply that step to the data instead)",
                        node.domain.as_deref().unwrap_or_default(),
                        node.op_type.as_deref().unwrap_or_default(),
                        node.name.as_deref().unwrap_or("unnamed"),
                    )),
                    None => e,
                }
            })?,
        };
        let class_labels = match &backend {
            Backend::Trees(g) if !g.class_labels.is_empty() => Some(g.class_labels.clone()),
            _ => zip_labels,
        };
        OnnxModel::finish_load(OnnxModel {
            path: path.to_path_buf(),
            backend,
            width,
            columns: None,
            classes: 0,
            output_kind: options.output_kind,
            class_labels,
            input_names,
            categories,
            file_hash: blake3::hash(bytes).to_hex().to_string(),
            bytes: bytes.len() as u64,
        })
    }

    /// Probes one placeholder row for the number of classes.
    fn finish_load(mut teacher: OnnxModel) -> Result<OnnxModel> {
        let (_, cols) = match &teacher.columns {
            Some(columns) => {
                let feeds: Vec<ColumnValues> = columns
                    .iter()
                    .map(|c| ColumnValues::placeholder(c.kind))
                    .collect();
                teacher.raw_columns(&feeds)?
            }
            None => teacher.raw(&vec![0.0; teacher.width], 1)?,
        };
        teacher.classes = if cols == 1 { 2 } else { cols };
        Ok(teacher)
    }

    /// Which engine runs this teacher, for reports.
    pub fn engine(&self) -> &'static str {
        match self.backend {
            Backend::Trees(_) => "tree-ensemble evaluator (ours)",
            #[cfg(feature = "tract")]
            Backend::Tract(_) => "tract",
        }
    }

    fn raw(&self, x: &[f32], n: usize) -> Result<(Vec<f32>, usize)> {
        match &self.backend {
            Backend::Trees(g) => g.run(x, self.width, n).map_err(TeacherError::Runtime),
            #[cfg(feature = "tract")]
            Backend::Tract(p) => p.run(x, self.width, n),
        }
    }

    fn raw_columns(&self, columns: &[ColumnValues]) -> Result<(Vec<f32>, usize)> {
        match &self.backend {
            Backend::Trees(g) => g
                .run_inputs(columns.iter().map(ColumnValues::tensor).collect())
                .map_err(TeacherError::Runtime),
            #[cfg(feature = "tract")]
            Backend::Tract(_) => Err(TeacherError::Runtime(
                "a tract model takes one float matrix, not columns".into(),
            )),
        }
    }

    fn predict_chunk(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let raw = self.raw(x, n)?;
        self.probabilities(raw)
    }

    /// The engine's output as probabilities: a single score per row becomes two classes,
    /// logits go through softmax.
    fn probabilities(&self, (mut out, cols): (Vec<f32>, usize)) -> Result<Vec<f32>> {
        if cols == 1 {
            // A single score per row is the probability of the second class.
            out = out.iter().flat_map(|&p| [1.0 - p, p]).collect();
        }
        let k = self.classes;
        let probabilities = match self.output_kind {
            OutputKind::Probabilities => true,
            OutputKind::Logits => false,
            OutputKind::Auto => crate::looks_like_probabilities(&out, k),
        };
        if !probabilities {
            out.chunks_exact_mut(k)
                .for_each(distillery_runtime::softmax_in_place);
        }
        Ok(out)
    }
}

impl OnnxModel {
    /// Values per input row.
    pub fn input_width(&self) -> usize {
        self.width
    }

    /// Number of classes in the output.
    pub fn n_classes(&self) -> usize {
        self.classes
    }

    /// Class probabilities for `n` rows of `x` (row-major), in the model's class order.
    ///
    /// # Errors
    /// Wrong input width, or the engine failed.
    pub fn predict_proba(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        if x.len() != n * self.width {
            return Err(TeacherError::InputWidth {
                expected: self.width,
                found: x.len() / n.max(1),
            });
        }
        if n <= CHUNK {
            return self.predict_chunk(x, n);
        }
        let parts: Vec<Vec<f32>> = x
            .par_chunks(CHUNK * self.width)
            .map(|c| self.predict_chunk(c, c.len() / self.width))
            .collect::<Result<_>>()?;
        Ok(parts.concat())
    }

    /// Class probabilities for `n` rows given one value list per model input (models with
    /// one input per column, see [`OnnxModel::columns`]), in the model's class order.
    ///
    /// # Errors
    /// The model takes a matrix, the column count or a column's length is wrong, or the
    /// engine failed.
    pub fn predict_columns(&self, columns: &[ColumnValues], n: usize) -> Result<Vec<f32>> {
        let expected = self.columns.as_ref().map_or(0, Vec::len);
        let lengths_ok = columns.iter().all(|c| match c {
            ColumnValues::Numbers(v) => v.len() == n,
            ColumnValues::Integers(v) => v.len() == n,
            ColumnValues::Text(v) => v.len() == n,
        });
        if columns.len() != expected || !lengths_ok {
            return Err(TeacherError::InputWidth {
                expected,
                found: columns.len(),
            });
        }
        let raw = self.raw_columns(columns)?;
        self.probabilities(raw)
    }

    /// One line for logs and reports.
    pub fn describe(&self) -> String {
        format!("ONNX {} via {}", self.path.display(), self.engine())
    }
}

/// True for an `ai.onnx.ml` operator other than the tree ensembles (OneHotEncoder, Imputer,
/// Scaler, ZipMap, …): neither our evaluator nor tract runs them.
fn is_unsupported_ml_operator(node: &distillery_onnx::NodeProto) -> bool {
    node.domain.as_deref() == Some("ai.onnx.ml") && !crate::graph::runs(node)
}

/// `name (element type)` of a graph input, for messages.
fn describe_input(input: &distillery_onnx::ValueInfoProto) -> String {
    let elem = input
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|v| match v {
            distillery_onnx::type_proto::Value::TensorType(t) => t.elem_type,
            _ => None,
        })
        .and_then(|e| distillery_onnx::tensor_proto::DataType::try_from(e).ok())
        .map_or_else(|| "?".to_string(), |d| d.as_str_name().to_lowercase());
    format!("'{}': {elem}", input.name.as_deref().unwrap_or_default())
}

/// When `output` is made by a ZipMap node: the tensor it zips and its class labels.
fn unzip(graph: &distillery_onnx::GraphProto, output: &str) -> Option<(String, Vec<String>)> {
    let node = graph
        .node
        .iter()
        .find(|n| n.op_type.as_deref() == Some("ZipMap") && n.output.iter().any(|o| o == output))?;
    let attributes = crate::tensor::Attributes(node);
    let mut labels = attributes.strings("classlabels_strings");
    if labels.is_empty() {
        labels = attributes
            .ints("classlabels_int64s")
            .iter()
            .map(i64::to_string)
            .collect();
    }
    Some((node.input.first()?.clone(), labels))
}

fn choose_output(
    graph: &distillery_onnx::GraphProto,
    wanted: Option<&str>,
) -> std::result::Result<String, String> {
    let names: Vec<String> = graph.output.iter().filter_map(|o| o.name.clone()).collect();
    if let Some(w) = wanted {
        return if names.iter().any(|n| n == w) {
            Ok(w.to_string())
        } else {
            Err(format!("has no output '{w}'; its outputs are {names:?}"))
        };
    }
    let is_map_or_seq = |o: &distillery_onnx::ValueInfoProto| {
        o.r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .is_some_and(|v| !matches!(v, distillery_onnx::type_proto::Value::TensorType(_)))
    };
    for preferred in [
        "probabilities",
        "output_probability",
        "probability",
        "logits",
    ] {
        if let Some(o) = graph
            .output
            .iter()
            .find(|o| o.name.as_deref() == Some(preferred))
        {
            if is_map_or_seq(o) && unzip(graph, preferred).is_none() {
                return Err(format!(
                    "output '{preferred}' is a sequence or map not made by ZipMap; re-export with a float [N, classes] probability output"
                ));
            }
            return Ok(preferred.to_string());
        }
    }
    let zipped: Vec<&String> = names.iter().filter(|n| unzip(graph, n).is_some()).collect();
    if let [one] = zipped.as_slice() {
        return Ok((*one).clone());
    }
    let float_matrices: Vec<&String> = graph
        .output
        .iter()
        .filter(|o| {
            o.r#type
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .is_some_and(|v| match v {
                    distillery_onnx::type_proto::Value::TensorType(t) => {
                        t.elem_type == Some(1) && t.shape.as_ref().is_none_or(|s| s.dim.len() == 2)
                    }
                    _ => false,
                })
        })
        .filter_map(|o| o.name.as_ref())
        .collect();
    match float_matrices.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "has no float [N, classes] output and no ZipMap (outputs: {names:?}); name the probability output with [teacher] output"
        )),
        many => Err(format!(
            "has several float outputs {many:?}; name one with [teacher] output"
        )),
    }
}

#[cfg(feature = "tract")]
fn tract_backend(path: &Path, bytes: &[u8], width: usize, output: &str) -> Result<Backend> {
    Ok(Backend::Tract(crate::tract::TractPlan::new(
        path, bytes, width, output,
    )?))
}

#[cfg(not(feature = "tract"))]
fn tract_backend(path: &Path, _: &[u8], _: usize, _: &str) -> Result<Backend> {
    Err(TeacherError::Unsupported {
        path: path.to_path_buf(),
        message: "this graph is not a tree ensemble and distillery was built without the `tract` feature; rebuild with default features".into(),
    })
}

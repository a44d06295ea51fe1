//! Teachers exported the way scikit-learn pipelines usually are: one `[N, 1]` input per
//! column (strings for categories, floats with NaN for numbers), the `ai.onnx.ml`
//! preprocessing operators, then the model. Such a graph runs on our interpreter; the
//! inputs are matched to table columns by name.

use distillery_onnx::{GraphProto, ValueInfoProto, type_proto};

use crate::graph::{TreeGraph, needed_nodes, runs};
use crate::values::{Data, Tensor};

/// What one model input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `float` (missing = NaN).
    Number,
    /// `int64`.
    Integer,
    /// `string` (missing = the empty string).
    Text,
}

/// One input of a model with one input per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInput {
    /// The input's name in the graph (usually the column's name).
    pub name: String,
    /// Its element type.
    pub kind: ColumnKind,
}

/// One column's values for a batch of rows, to feed a [`ColumnInput`].
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Numbers.
    Numbers(Vec<f32>),
    /// Integers.
    Integers(Vec<i64>),
    /// Text.
    Text(Vec<String>),
}

impl ColumnValues {
    /// The values as an `[n, 1]` tensor.
    pub(crate) fn tensor(&self) -> Tensor {
        let (n, data) = match self {
            ColumnValues::Numbers(v) => (v.len(), Data::F32(v.clone())),
            ColumnValues::Integers(v) => (v.len(), Data::I64(v.clone())),
            ColumnValues::Text(v) => (v.len(), Data::Str(v.clone())),
        };
        Tensor {
            shape: vec![n, 1],
            data,
        }
    }

    /// Values of one placeholder row, to probe the model's output width.
    pub(crate) fn placeholder(kind: ColumnKind) -> ColumnValues {
        match kind {
            ColumnKind::Number => ColumnValues::Numbers(vec![0.0]),
            ColumnKind::Integer => ColumnValues::Integers(vec![0]),
            ColumnKind::Text => ColumnValues::Text(vec![String::new()]),
        }
    }
}

/// The inputs' kinds, and the graph compiled for our interpreter.
///
/// # Errors
/// An input that is not a float / int64 / string column, or an operator we do not run
/// (named with its node).
pub(crate) fn compile(
    graph: &GraphProto,
    inputs: &[&ValueInfoProto],
    output: &str,
) -> Result<(TreeGraph, Vec<ColumnInput>), String> {
    let columns: Vec<ColumnInput> = inputs
        .iter()
        .map(|i| column_input(i))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    if !graph
        .node
        .iter()
        .any(|n| n.output.iter().any(|o| o == output))
    {
        return Err(format!("no node computes '{output}'"));
    }
    match TreeGraph::compile(graph, &names, output, false)? {
        Some(g) => Ok((g, columns)),
        None => {
            let node = needed_nodes(graph, output).into_iter().find(|n| !runs(n));
            Err(match node {
                Some(n) => format!(
                    "operator {}.{} (node '{}') is not supported in a model with one input per column; distillery runs the ai.onnx.ml preprocessing operators (OneHotEncoder, Imputer, Scaler, Normalizer, Binarizer, LabelEncoder, ArrayFeatureExtractor, FeatureVectorizer, Cast), Concat, Reshape, Flatten, arithmetic and tree ensembles there",
                    n.domain
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .unwrap_or("ai.onnx"),
                    n.op_type.as_deref().unwrap_or_default(),
                    n.name.as_deref().unwrap_or("unnamed"),
                ),
                None => "the graph cannot be run with one input per column".into(),
            })
        }
    }
}

fn column_input(input: &ValueInfoProto) -> Result<ColumnInput, String> {
    let name = input.name.clone().unwrap_or_default();
    let Some(type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!("input '{name}' is not a tensor"));
    };
    let kind = match t.elem_type {
        Some(1) => ColumnKind::Number,
        Some(7) => ColumnKind::Integer,
        Some(8) => ColumnKind::Text,
        other => {
            return Err(format!(
                "input '{name}' has element type {}; a model with one input per column takes float, int64 or string columns",
                other.unwrap_or(0)
            ));
        }
    };
    let width = t
        .shape
        .as_ref()
        .and_then(|s| s.dim.get(1))
        .and_then(|d| match d.value {
            Some(distillery_onnx::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
            _ => None,
        });
    if width.is_some_and(|w| w != 1) {
        return Err(format!(
            "input '{name}' takes {} values per row; with one input per column each takes one",
            width.unwrap_or(0)
        ));
    }
    Ok(ColumnInput { name, kind })
}

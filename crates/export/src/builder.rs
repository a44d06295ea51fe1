//! A small builder for ONNX graphs: nodes, constants and typed inputs/outputs, with unique
//! intermediate names under a `d/` prefix so they can never collide with feature names.

use distillery_onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto,
    tensor_shape_proto, type_proto,
};

/// ONNX element types used here.
pub(crate) const FLOAT: i32 = tensor_proto::DataType::Float as i32;
pub(crate) const INT64: i32 = tensor_proto::DataType::Int64 as i32;
pub(crate) const INT8: i32 = tensor_proto::DataType::Int8 as i32;
pub(crate) const STRING: i32 = tensor_proto::DataType::String as i32;

/// An attribute value.
pub(crate) enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Str(String),
    Strings(Vec<String>),
}

/// Accumulates a graph.
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    next: usize,
}

fn value_info(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("d/{hint}_{}", self.next)
    }

    /// Declares a graph input `[N, width]`.
    pub(crate) fn input(&mut self, name: &str, elem: i32, width: i64) {
        self.inputs
            .push(value_info(name, elem, &[None, Some(width)]));
    }

    /// Declares a graph output `[N, width]` computed into `value`.
    pub(crate) fn output(&mut self, name: &str, value: &str, width: i64) {
        if value != name {
            self.node("Identity", &[value], name, vec![]);
        }
        self.outputs
            .push(value_info(name, FLOAT, &[None, Some(width)]));
    }

    /// Declares a graph output `value` of element type `elem` and shape `dims` (`None` =
    /// the batch dimension), computed by some node.
    pub(crate) fn output_typed(&mut self, value: &str, elem: i32, dims: &[Option<i64>]) {
        self.outputs.push(value_info(value, elem, dims));
    }

    /// A constant initializer holding `raw` little-endian bytes of element type `elem`.
    fn constant(&mut self, hint: &str, dims: &[i64], elem: i32, raw: Vec<u8>) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(elem),
            raw_data: Some(raw),
            ..Default::default()
        });
        name
    }

    /// A float constant of the given shape.
    pub(crate) fn floats(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> String {
        self.constant(
            hint,
            dims,
            FLOAT,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
    }

    /// An int64 constant of the given shape.
    pub(crate) fn ints(&mut self, hint: &str, dims: &[i64], values: &[i64]) -> String {
        self.constant(
            hint,
            dims,
            INT64,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
    }

    /// An int8 constant of the given shape.
    pub(crate) fn int8s(&mut self, hint: &str, dims: &[i64], values: &[i8]) -> String {
        self.constant(hint, dims, INT8, values.iter().map(|&v| v as u8).collect())
    }

    /// Adds a node with one output, returning that output's name (`out` = "" for a fresh one).
    pub(crate) fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        self.node_in(op, "", inputs, out, attrs)
    }

    /// Like [`Graph::node`] for an operator of another domain (e.g. `ai.onnx.ml`).
    pub(crate) fn node_in(
        &mut self,
        op: &str,
        domain: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        let output = if out.is_empty() {
            self.fresh(&op.to_lowercase())
        } else {
            out.to_string()
        };
        self.node_outputs(op, domain, inputs, &[&output], attrs);
        output
    }

    /// Adds a node with the named outputs (operators such as TreeEnsembleClassifier give
    /// several).
    pub(crate) fn node_outputs(
        &mut self,
        op: &str,
        domain: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) {
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let mut p = AttributeProto {
                    name: Some(name.into()),
                    ..Default::default()
                };
                match a {
                    Attr::Int(i) => {
                        p.i = Some(i);
                        p.r#type = Some(attribute_proto::AttributeType::Int as i32);
                    }
                    Attr::Ints(v) => {
                        p.ints = v;
                        p.r#type = Some(attribute_proto::AttributeType::Ints as i32);
                    }
                    Attr::Floats(v) => {
                        p.floats = v;
                        p.r#type = Some(attribute_proto::AttributeType::Floats as i32);
                    }
                    Attr::Str(v) => {
                        p.s = Some(v.into_bytes());
                        p.r#type = Some(attribute_proto::AttributeType::String as i32);
                    }
                    Attr::Strings(v) => {
                        p.strings = v.into_iter().map(String::into_bytes).collect();
                        p.r#type = Some(attribute_proto::AttributeType::Strings as i32);
                    }
                }
                p
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: Some(format!("n{}", self.nodes.len())),
            op_type: Some(op.into()),
            domain: (!domain.is_empty()).then(|| domain.to_string()),
            attribute,
            ..Default::default()
        });
    }

    /// Wraps the graph in a model (ONNX IR 8, opset 17, ai.onnx.ml 2) with metadata.
    pub(crate) fn model(self, name: &str, metadata: Vec<(String, String)>) -> ModelProto {
        ModelProto {
            ir_version: Some(8),
            producer_name: Some("distillery".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            opset_import: vec![
                OperatorSetIdProto {
                    domain: Some(String::new()),
                    version: Some(17),
                },
                OperatorSetIdProto {
                    domain: Some("ai.onnx.ml".into()),
                    version: Some(2),
                },
            ],
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(name.into()),
                initializer: self.initializers,
                input: self.inputs,
                output: self.outputs,
                ..Default::default()
            }),
            metadata_props: metadata
                .into_iter()
                .map(|(k, v)| StringStringEntryProto {
                    key: Some(k),
                    value: Some(v),
                })
                .collect(),
            ..Default::default()
        }
    }
}

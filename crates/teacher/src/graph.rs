//! A small interpreter for the graphs that tree-ensemble converters emit around the
//! TreeEnsemble operator (skl2onnx, onnxmltools for LightGBM / XGBoost): Identity, Cast,
//! elementwise arithmetic with constants, Sigmoid, Softmax and Concat. Graphs made only of
//! these run here, fast; anything else goes to tract.

use std::collections::{HashMap, HashSet};

use distillery_onnx::{GraphProto, NodeProto};

use crate::tensor::{Attributes, tensor_f32};
use crate::tree::TreeEnsemble;

/// Operators this interpreter runs (domain-less names; TreeEnsemble* are `ai.onnx.ml`).
const SUPPORTED: &[&str] = &[
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "Identity",
    "Cast",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "Sigmoid",
    "Softmax",
    "Concat",
];

#[derive(Debug, Clone)]
enum Step {
    Trees {
        tree: Box<TreeEnsemble>,
        input: String,
        output: String,
    },
    Unary {
        op: String,
        input: String,
        output: String,
    },
    Binary {
        op: String,
        a: String,
        b: String,
        output: String,
    },
    Concat {
        inputs: Vec<String>,
        output: String,
    },
}

/// A value flowing through the graph: a batch matrix or a broadcastable constant.
#[derive(Debug, Clone)]
enum Value {
    Batch { cols: usize, data: Vec<f32> },
    Const(Vec<f32>),
}

/// The part of a graph that computes one output, compiled for the interpreter.
#[derive(Debug, Clone)]
pub(crate) struct TreeGraph {
    steps: Vec<Step>,
    constants: HashMap<String, Vec<f32>>,
    input: String,
    output: String,
    pub(crate) class_labels: Vec<String>,
    pub(crate) max_feature: usize,
}

/// Nodes needed to compute `output`, in graph (topological) order.
pub(crate) fn needed_nodes<'g>(graph: &'g GraphProto, output: &str) -> Vec<&'g NodeProto> {
    let mut wanted: HashSet<&str> = HashSet::from([output]);
    let mut keep = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| wanted.contains(o.as_str())) {
            keep[i] = true;
            wanted.extend(
                node.input
                    .iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty()),
            );
        }
    }
    graph
        .node
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(n, _)| n)
        .collect()
}

impl TreeGraph {
    /// Compiles the subgraph computing `output` from `input`, if every node in it is one we
    /// run and it contains a tree ensemble; `Ok(None)` means "use tract instead".
    pub(crate) fn compile(
        graph: &GraphProto,
        input: &str,
        output: &str,
    ) -> Result<Option<TreeGraph>, String> {
        let nodes = needed_nodes(graph, output);
        let op = |n: &NodeProto| n.op_type.clone().unwrap_or_default();
        if !nodes.iter().any(|n| op(n).starts_with("TreeEnsemble"))
            || nodes.iter().any(|n| !SUPPORTED.contains(&op(n).as_str()))
        {
            return Ok(None);
        }
        let constants: HashMap<String, Vec<f32>> = graph
            .initializer
            .iter()
            .filter_map(|t| Some((t.name.clone()?, tensor_f32(t)?.1)))
            .collect();
        let mut steps = Vec::new();
        let mut class_labels = Vec::new();
        let mut max_feature = 0;
        for n in nodes {
            let name = op(n);
            let out = |i: usize| n.output.get(i).cloned().unwrap_or_default();
            let arg = |i: usize| n.input.get(i).cloned().unwrap_or_default();
            let step = match name.as_str() {
                "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => {
                    let tree = TreeEnsemble::from_node(n)?;
                    let produced = if name == "TreeEnsembleClassifier" {
                        1
                    } else {
                        0
                    };
                    if name == "TreeEnsembleClassifier"
                        && n.output.first().is_some_and(|o| o == output)
                    {
                        return Ok(None);
                    }
                    if class_labels.is_empty() {
                        class_labels = tree.class_labels.clone();
                    }
                    max_feature = max_feature.max(tree.max_feature);
                    Step::Trees {
                        tree: Box::new(tree),
                        input: arg(0),
                        output: out(produced),
                    }
                }
                "Cast" => {
                    if Attributes(n).int("to") != Some(1) {
                        return Ok(None);
                    }
                    Step::Unary {
                        op: "Identity".into(),
                        input: arg(0),
                        output: out(0),
                    }
                }
                "Identity" | "Sigmoid" => Step::Unary {
                    op: name,
                    input: arg(0),
                    output: out(0),
                },
                "Softmax" => {
                    let axis = Attributes(n).int("axis").unwrap_or(-1);
                    if axis != -1 && axis != 1 {
                        return Ok(None);
                    }
                    Step::Unary {
                        op: name,
                        input: arg(0),
                        output: out(0),
                    }
                }
                "Concat" => {
                    let axis = Attributes(n).int("axis").unwrap_or(0);
                    if axis != -1 && axis != 1 {
                        return Ok(None);
                    }
                    Step::Concat {
                        inputs: n.input.clone(),
                        output: out(0),
                    }
                }
                _ => Step::Binary {
                    op: name,
                    a: arg(0),
                    b: arg(1),
                    output: out(0),
                },
            };
            steps.push(step);
        }
        Ok(Some(TreeGraph {
            steps,
            constants,
            input: input.to_string(),
            output: output.to_string(),
            class_labels,
            max_feature,
        }))
    }

    /// Runs the graph on `n` rows of `x` (`n × width`), returning `n × cols` and `cols`.
    pub(crate) fn run(
        &self,
        x: &[f32],
        width: usize,
        n: usize,
    ) -> Result<(Vec<f32>, usize), String> {
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(
            self.input.as_str(),
            Value::Batch {
                cols: width,
                data: x.to_vec(),
            },
        );
        let get = |values: &HashMap<&str, Value>, name: &str| -> Result<Value, String> {
            values
                .get(name)
                .cloned()
                .or_else(|| self.constants.get(name).map(|c| Value::Const(c.clone())))
                .ok_or_else(|| format!("graph value '{name}' is never computed"))
        };
        for step in &self.steps {
            match step {
                Step::Trees {
                    tree,
                    input,
                    output,
                } => {
                    let Value::Batch { cols, data } = get(&values, input)? else {
                        return Err("tree ensemble input is a constant".into());
                    };
                    if cols <= tree.max_feature {
                        return Err(format!(
                            "tree ensemble reads feature {} of {cols}",
                            tree.max_feature
                        ));
                    }
                    let k = tree.outputs();
                    let mut out = vec![0.0f32; n * k];
                    let (mut scores, mut has) = (vec![0.0f32; k], vec![false; k]);
                    for r in 0..n {
                        tree.eval_row(
                            &data[r * cols..(r + 1) * cols],
                            &mut out[r * k..(r + 1) * k],
                            &mut scores,
                            &mut has,
                        );
                    }
                    values.insert(output, Value::Batch { cols: k, data: out });
                }
                Step::Unary { op, input, output } => {
                    let mut v = get(&values, input)?;
                    if let Value::Batch { cols, data } = &mut v {
                        match op.as_str() {
                            "Sigmoid" => {
                                data.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp()))
                            }
                            "Softmax" => data
                                .chunks_exact_mut(*cols)
                                .for_each(distillery_runtime::softmax_in_place),
                            _ => {}
                        }
                    }
                    values.insert(output, v);
                }
                Step::Binary { op, a, b, output } => {
                    let v = binary(op, get(&values, a)?, get(&values, b)?)?;
                    values.insert(output, v);
                }
                Step::Concat { inputs, output } => {
                    let parts: Vec<Value> = inputs
                        .iter()
                        .map(|i| get(&values, i))
                        .collect::<Result<_, _>>()?;
                    let widths: Vec<usize> = parts
                        .iter()
                        .map(|p| match p {
                            Value::Batch { cols, .. } => Ok(*cols),
                            Value::Const(_) => Err("Concat of a constant".to_string()),
                        })
                        .collect::<Result<_, _>>()?;
                    let total: usize = widths.iter().sum();
                    let mut data = Vec::with_capacity(n * total);
                    for r in 0..n {
                        for (p, &w) in parts.iter().zip(&widths) {
                            if let Value::Batch { data: d, .. } = p {
                                data.extend_from_slice(&d[r * w..(r + 1) * w]);
                            }
                        }
                    }
                    values.insert(output, Value::Batch { cols: total, data });
                }
            }
        }
        match values.remove(self.output.as_str()) {
            Some(Value::Batch { cols, data }) => Ok((data, cols)),
            _ => Err(format!("output '{}' was not computed", self.output)),
        }
    }
}

fn binary(op: &str, a: Value, b: Value) -> Result<Value, String> {
    let f = |x: f32, y: f32| match op {
        "Mul" => x * y,
        "Add" => x + y,
        "Sub" => x - y,
        _ => x / y,
    };
    let broadcast = |cols: usize, c: &[f32]| c.len() == 1 || c.len() == cols;
    match (a, b) {
        (Value::Batch { cols, data: x }, Value::Batch { cols: c2, data: y }) if cols == c2 => {
            Ok(Value::Batch {
                cols,
                data: x.iter().zip(&y).map(|(&p, &q)| f(p, q)).collect(),
            })
        }
        (Value::Batch { cols, data }, Value::Const(c)) if broadcast(cols, &c) => Ok(Value::Batch {
            cols,
            data: data
                .iter()
                .enumerate()
                .map(|(i, &p)| f(p, c[if c.len() == 1 { 0 } else { i % cols }]))
                .collect(),
        }),
        (Value::Const(c), Value::Batch { cols, data }) if broadcast(cols, &c) => Ok(Value::Batch {
            cols,
            data: data
                .iter()
                .enumerate()
                .map(|(i, &q)| f(c[if c.len() == 1 { 0 } else { i % cols }], q))
                .collect(),
        }),
        (Value::Const(x), Value::Const(y)) if x.len() == y.len() => Ok(Value::Const(
            x.iter().zip(&y).map(|(&p, &q)| f(p, q)).collect(),
        )),
        _ => Err(format!("{op}: operand shapes do not broadcast")),
    }
}

//! A small interpreter for the graphs converters emit around a model: the tree-ensemble
//! graphs of skl2onnx and onnxmltools (Identity, Cast, elementwise arithmetic with
//! constants, Sigmoid, Softmax, Concat) and tabular preprocessing pipelines with one input
//! per column (the `ai.onnx.ml` operators of [`crate::ml_ops`], Concat, Reshape, Flatten).
//! Graphs made only of these run here, fast; single-input graphs with anything else go to
//! tract.

use std::collections::{HashMap, HashSet};

use distillery_onnx::{GraphProto, NodeProto};

use crate::ml_ops::MlOp;
use crate::tensor::Attributes;
use crate::tree::TreeEnsemble;
use crate::values::{Data, Tensor, constant};

#[derive(Debug, Clone)]
enum Step {
    Trees {
        tree: Box<TreeEnsemble>,
        input: String,
        output: String,
    },
    Ml {
        op: MlOp,
        inputs: Vec<String>,
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
        axis: i64,
        output: String,
    },
    Reshape {
        input: String,
        shape: String,
        output: String,
    },
    Flatten {
        input: String,
        axis: i64,
        output: String,
    },
}

/// The part of a graph that computes one output, compiled for the interpreter.
#[derive(Debug, Clone)]
pub(crate) struct TreeGraph {
    steps: Vec<Step>,
    constants: HashMap<String, Tensor>,
    inputs: Vec<String>,
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
    /// Compiles the subgraph computing `output` from `inputs`, if every node in it is one we
    /// run (and, with `need_trees`, it contains a tree ensemble); `Ok(None)` means "not
    /// ours" (tract's, for a single float input).
    pub(crate) fn compile(
        graph: &GraphProto,
        inputs: &[String],
        output: &str,
        need_trees: bool,
    ) -> Result<Option<TreeGraph>, String> {
        let nodes = needed_nodes(graph, output);
        let op = |n: &NodeProto| n.op_type.clone().unwrap_or_default();
        if need_trees && !nodes.iter().any(|n| op(n).starts_with("TreeEnsemble")) {
            return Ok(None);
        }
        let constants: HashMap<String, Tensor> = graph
            .initializer
            .iter()
            .filter_map(|t| Some((t.name.clone()?, constant(t)?)))
            .collect();
        let mut steps = Vec::new();
        let (mut class_labels, mut max_feature) = (Vec::new(), 0);
        for n in nodes {
            let Some(step) = compile_node(n, output, &mut class_labels, &mut max_feature)? else {
                return Ok(None);
            };
            steps.push(step);
        }
        Ok(Some(TreeGraph {
            steps,
            constants,
            inputs: inputs.to_vec(),
            output: output.to_string(),
            class_labels,
            max_feature,
        }))
    }

    /// Runs the graph on one float matrix (`n × width`), returning `n × cols` and `cols`.
    pub(crate) fn run(
        &self,
        x: &[f32],
        width: usize,
        n: usize,
    ) -> Result<(Vec<f32>, usize), String> {
        self.run_inputs(vec![Tensor::f32(vec![n, width], x.to_vec())])
    }

    /// Runs the graph on one tensor per graph input (in `inputs` order), returning the
    /// output as rows of `cols` floats.
    pub(crate) fn run_inputs(&self, feeds: Vec<Tensor>) -> Result<(Vec<f32>, usize), String> {
        let mut values: HashMap<&str, Tensor> =
            self.inputs.iter().map(String::as_str).zip(feeds).collect();
        for step in &self.steps {
            let (name, value) = self.apply(step, &values)?;
            values.insert(name, value);
        }
        match values.remove(self.output.as_str()) {
            Some(t) => {
                let cols = t.last().max(1);
                Ok((t.to_f32(), cols))
            }
            None => Err(format!("output '{}' was not computed", self.output)),
        }
    }

    fn get(&self, values: &HashMap<&str, Tensor>, name: &str) -> Result<Tensor, String> {
        values
            .get(name)
            .or_else(|| self.constants.get(name))
            .cloned()
            .ok_or_else(|| format!("graph value '{name}' is never computed"))
    }

    fn apply<'s>(
        &self,
        step: &'s Step,
        values: &HashMap<&str, Tensor>,
    ) -> Result<(&'s str, Tensor), String> {
        let get = |name: &str| self.get(values, name);
        Ok(match step {
            Step::Trees {
                tree,
                input,
                output,
            } => (output, run_trees(tree, &get(input)?)?),
            Step::Ml { op, inputs, output } => {
                let args: Vec<Tensor> = inputs.iter().map(|i| get(i)).collect::<Result<_, _>>()?;
                (output, op.apply(&args)?)
            }
            Step::Unary { op, input, output } => {
                let mut t = get(input)?;
                if let Data::F32(v) = &mut t.data {
                    match op.as_str() {
                        "Sigmoid" => v.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp())),
                        "Softmax" => {
                            let c = t.shape.last().copied().unwrap_or(1).max(1);
                            v.chunks_exact_mut(c)
                                .for_each(distillery_runtime::softmax_in_place);
                        }
                        _ => {}
                    }
                }
                (output, t)
            }
            Step::Binary { op, a, b, output } => (output, binary(op, &get(a)?, &get(b)?)?),
            Step::Concat {
                inputs,
                axis,
                output,
            } => {
                let parts: Vec<Tensor> = inputs.iter().map(|i| get(i)).collect::<Result<_, _>>()?;
                (output, Tensor::concat(&parts, *axis)?)
            }
            Step::Reshape {
                input,
                shape,
                output,
            } => {
                let target: Vec<i64> = get(shape)?.to_f32().iter().map(|&d| d as i64).collect();
                (output, get(input)?.reshape(&target)?)
            }
            Step::Flatten {
                input,
                axis,
                output,
            } => {
                let t = get(input)?;
                let a = if *axis < 0 {
                    *axis + t.shape.len() as i64
                } else {
                    *axis
                } as usize;
                let outer: i64 = t.shape[..a.min(t.shape.len())].iter().product::<usize>() as i64;
                (output, t.reshape(&[outer, -1])?)
            }
        })
    }
}

/// True when the interpreter runs `node`'s operator (with these attributes).
pub(crate) fn runs(node: &NodeProto) -> bool {
    matches!(compile_node(node, "", &mut Vec::new(), &mut 0), Ok(Some(_)))
}

/// One node as a step, or `None` when we do not run its operator.
fn compile_node(
    n: &NodeProto,
    output: &str,
    class_labels: &mut Vec<String>,
    max_feature: &mut usize,
) -> Result<Option<Step>, String> {
    let name = n.op_type.clone().unwrap_or_default();
    let out = |i: usize| n.output.get(i).cloned().unwrap_or_default();
    let arg = |i: usize| n.input.get(i).cloned().unwrap_or_default();
    let axis = |default: i64| Attributes(n).int("axis").unwrap_or(default);
    Ok(Some(match name.as_str() {
        "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => {
            let classifier = name == "TreeEnsembleClassifier";
            if classifier && n.output.first().is_some_and(|o| o == output) {
                return Ok(None);
            }
            let tree = TreeEnsemble::from_node(n)?;
            if class_labels.is_empty() {
                class_labels.clone_from(&tree.class_labels);
            }
            *max_feature = (*max_feature).max(tree.max_feature);
            Step::Trees {
                tree: Box::new(tree),
                input: arg(0),
                output: out(usize::from(classifier)),
            }
        }
        "Identity" | "Sigmoid" => Step::Unary {
            op: name,
            input: arg(0),
            output: out(0),
        },
        "Softmax" if matches!(axis(-1), -1 | 1) => Step::Unary {
            op: name,
            input: arg(0),
            output: out(0),
        },
        "Mul" | "Add" | "Sub" | "Div" => Step::Binary {
            op: name,
            a: arg(0),
            b: arg(1),
            output: out(0),
        },
        "Concat" => Step::Concat {
            inputs: n.input.clone(),
            axis: axis(0),
            output: out(0),
        },
        "Reshape" => Step::Reshape {
            input: arg(0),
            shape: arg(1),
            output: out(0),
        },
        "Flatten" => Step::Flatten {
            input: arg(0),
            axis: axis(1),
            output: out(0),
        },
        _ => match MlOp::compile(n) {
            Some(op) => Step::Ml {
                op: op?,
                inputs: n.input.clone(),
                output: out(0),
            },
            None => return Ok(None),
        },
    }))
}

/// A tree ensemble over the rows of `x` (its last axis is the features).
fn run_trees(tree: &TreeEnsemble, x: &Tensor) -> Result<Tensor, String> {
    let cols = x.last().max(1);
    if cols <= tree.max_feature {
        return Err(format!(
            "tree ensemble reads feature {} of {cols}",
            tree.max_feature
        ));
    }
    let data = x.to_f32();
    let n = data.len() / cols;
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
    Ok(Tensor::f32(vec![n, k], out))
}

/// `a op b` elementwise, a constant of one value or one per column broadcast over the other.
fn binary(op: &str, a: &Tensor, b: &Tensor) -> Result<Tensor, String> {
    let f = |x: f32, y: f32| match op {
        "Mul" => x * y,
        "Add" => x + y,
        "Sub" => x - y,
        _ => x / y,
    };
    let (x, y) = (a.to_f32(), b.to_f32());
    let at = |v: &[f32], i: usize| v[if v.len() == 1 { 0 } else { i % v.len() }];
    let fits = |big: &Tensor, small: &[f32]| small.len() == 1 || small.len() == big.last();
    let (shape, data) = if x.len() == y.len() {
        let shape = if a.shape.len() >= b.shape.len() {
            &a.shape
        } else {
            &b.shape
        };
        (
            shape.clone(),
            x.iter().zip(&y).map(|(&p, &q)| f(p, q)).collect(),
        )
    } else if x.len() > y.len() && fits(a, &y) {
        (
            a.shape.clone(),
            (0..x.len()).map(|i| f(x[i], at(&y, i))).collect(),
        )
    } else if y.len() > x.len() && fits(b, &x) {
        (
            b.shape.clone(),
            (0..y.len()).map(|i| f(at(&x, i), y[i])).collect(),
        )
    } else {
        return Err(format!(
            "{op}: operand shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ));
    };
    Ok(Tensor::f32(shape, data))
}

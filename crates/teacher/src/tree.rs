//! Our evaluator of the `ai.onnx.ml` TreeEnsembleClassifier / TreeEnsembleRegressor
//! operators. tract evaluates these 200–300× slower than onnxruntime (it scans the leaves
//! linearly for every tree: ≈ 2–6 ms per row, 11 minutes to label 240k rows), so we flatten
//! every tree into one array of nodes and walk it directly.
//!
//! Scores, base values and post-transforms follow onnxruntime's CPU kernels
//! (`tree_ensemble_aggregator.h`, `ml_common.h`), including their binary-classification
//! special cases, so probabilities match onnxruntime's to float rounding.

use std::collections::HashMap;

use distillery_onnx::NodeProto;

use crate::tensor::Attributes;

/// Branch comparisons (ONNX `nodes_modes`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    threshold: f32,
    mode: Mode,
    missing_true: bool,
    /// Index of the true / false child in the flat node array.
    on_true: u32,
    on_false: u32,
    /// Leaf weights: `weights[first..first + count]`.
    first: u32,
    count: u32,
}

/// How per-class scores become outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PostTransform {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
    Probit,
}

/// How a regressor combines trees.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// A flattened tree ensemble, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct TreeEnsemble {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    weights: Vec<(u32, f32)>,
    base_values: Vec<f32>,
    post: PostTransform,
    aggregate: Aggregate,
    /// Classes (classifier) or targets (regressor).
    outputs: usize,
    classifier: bool,
    binary_case: bool,
    weights_all_positive: bool,
    pub(crate) class_labels: Vec<String>,
    pub(crate) max_feature: usize,
}

impl TreeEnsemble {
    /// Builds the evaluator from a TreeEnsembleClassifier or TreeEnsembleRegressor node.
    pub(crate) fn from_node(node: &NodeProto) -> Result<TreeEnsemble, String> {
        let op = node.op_type.as_deref().unwrap_or_default();
        let classifier = op == "TreeEnsembleClassifier";
        let a = Attributes(node);
        let tree_ids = a.ints("nodes_treeids");
        let node_ids = a.ints("nodes_nodeids");
        let features = a.ints("nodes_featureids");
        let values = a.floats("nodes_values");
        let modes = a.strings("nodes_modes");
        let trues = a.ints("nodes_truenodeids");
        let falses = a.ints("nodes_falsenodeids");
        let missing = a.ints("nodes_missing_value_tracks_true");
        let n = tree_ids.len();
        if [
            node_ids.len(),
            features.len(),
            values.len(),
            modes.len(),
            trues.len(),
            falses.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return Err(format!("{op}: nodes_* attributes have different lengths"));
        }
        let prefix = if classifier { "class" } else { "target" };
        let w_trees = a.ints(&format!("{prefix}_treeids"));
        let w_nodes = a.ints(&format!("{prefix}_nodeids"));
        let w_ids = a.ints(&format!("{prefix}_ids"));
        let w_values = a.floats(&format!("{prefix}_weights"));
        if [w_nodes.len(), w_ids.len(), w_values.len()]
            .iter()
            .any(|&l| l != w_trees.len())
        {
            return Err(format!(
                "{op}: {prefix}_* attributes have different lengths"
            ));
        }
        let index: HashMap<(i64, i64), u32> = tree_ids
            .iter()
            .zip(&node_ids)
            .enumerate()
            .map(|(i, (&t, &id))| ((t, id), i as u32))
            .collect();
        let mut leaf_weights: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
        for i in 0..w_trees.len() {
            let at = index.get(&(w_trees[i], w_nodes[i])).ok_or_else(|| {
                format!(
                    "{op}: weight for unknown node {}/{}",
                    w_trees[i], w_nodes[i]
                )
            })?;
            leaf_weights[*at as usize].push((w_ids[i].max(0) as u32, w_values[i]));
        }
        let mut nodes = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(w_trees.len());
        let mut has_parent = vec![false; n];
        for i in 0..n {
            let mode = match modes[i].as_str() {
                "BRANCH_LEQ" => Mode::Leq,
                "BRANCH_LT" => Mode::Lt,
                "BRANCH_GTE" => Mode::Gte,
                "BRANCH_GT" => Mode::Gt,
                "BRANCH_EQ" => Mode::Eq,
                "BRANCH_NEQ" => Mode::Neq,
                "LEAF" => Mode::Leaf,
                other => return Err(format!("{op}: unknown node mode '{other}'")),
            };
            let child = |id: i64| -> Result<u32, String> {
                index.get(&(tree_ids[i], id)).copied().ok_or_else(|| {
                    format!(
                        "{op}: node {}/{} points to missing node {id}",
                        tree_ids[i], node_ids[i]
                    )
                })
            };
            let (on_true, on_false) = if mode == Mode::Leaf {
                (0, 0)
            } else {
                let (t, f) = (child(trues[i])?, child(falses[i])?);
                has_parent[t as usize] = true;
                has_parent[f as usize] = true;
                (t, f)
            };
            let first = weights.len() as u32;
            weights.extend_from_slice(&leaf_weights[i]);
            nodes.push(Node {
                feature: features[i].max(0) as u32,
                threshold: values[i],
                mode,
                missing_true: missing.get(i).copied().unwrap_or(0) != 0,
                on_true,
                on_false,
                first,
                count: leaf_weights[i].len() as u32,
            });
        }
        // Roots in ascending tree id: the order onnxruntime sums trees in.
        let mut roots: Vec<(i64, u32)> = (0..n)
            .filter(|&i| !has_parent[i])
            .map(|i| (tree_ids[i], i as u32))
            .collect();
        roots.sort_unstable();
        let post = match a.string("post_transform").as_deref().unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "SOFTMAX" => PostTransform::Softmax,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => return Err(format!("{op}: unknown post_transform '{other}'")),
        };
        let aggregate = match a.string("aggregate_function").as_deref().unwrap_or("SUM") {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => return Err(format!("{op}: unknown aggregate_function '{other}'")),
        };
        let mut class_labels = a.strings("classlabels_strings");
        if class_labels.is_empty() {
            class_labels = a
                .ints("classlabels_int64s")
                .iter()
                .map(i64::to_string)
                .collect();
        }
        let outputs = if classifier {
            class_labels.len()
        } else {
            a.int("n_targets").unwrap_or(1).max(1) as usize
        };
        if outputs == 0 {
            return Err(format!("{op}: no class labels"));
        }
        let distinct_classes: std::collections::HashSet<i64> = w_ids.iter().copied().collect();
        let max_feature = nodes
            .iter()
            .filter(|n| n.mode != Mode::Leaf)
            .map(|n| n.feature as usize)
            .max()
            .unwrap_or(0);
        if weights.iter().any(|&(c, _)| c as usize >= outputs) {
            return Err(format!(
                "{op}: a leaf weight targets output {} of {outputs}",
                outputs
            ));
        }
        Ok(TreeEnsemble {
            nodes,
            roots: roots.into_iter().map(|(_, i)| i).collect(),
            base_values: a.floats("base_values"),
            post,
            aggregate,
            outputs,
            classifier,
            binary_case: classifier && outputs == 2 && distinct_classes.len() == 1,
            weights_all_positive: w_values.iter().all(|&w| w >= 0.0),
            weights,
            class_labels,
            max_feature,
        })
    }

    /// Width of each output row.
    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    fn leaf(&self, x: &[f32], root: u32) -> &Node {
        let mut node = &self.nodes[root as usize];
        while node.mode != Mode::Leaf {
            let v = x[node.feature as usize];
            let go_true = if v.is_nan() {
                // NaN fails every ordered comparison except "!="; tracked missing values go true.
                node.missing_true || node.mode == Mode::Neq
            } else {
                match node.mode {
                    Mode::Leq => v <= node.threshold,
                    Mode::Lt => v < node.threshold,
                    Mode::Gte => v >= node.threshold,
                    Mode::Gt => v > node.threshold,
                    Mode::Eq => v == node.threshold,
                    Mode::Neq => v != node.threshold,
                    Mode::Leaf => false,
                }
            };
            node = &self.nodes[if go_true { node.on_true } else { node.on_false } as usize];
        }
        node
    }

    /// Evaluates one row (`x` covers at least `max_feature + 1` values) into `out`
    /// (`outputs()` values). `scores` and `has` are scratch of length `outputs()`.
    pub(crate) fn eval_row(
        &self,
        x: &[f32],
        out: &mut [f32],
        scores: &mut [f32],
        has: &mut [bool],
    ) {
        scores.fill(0.0);
        has.fill(false);
        for &root in &self.roots {
            let leaf = self.leaf(x, root);
            let ws = &self.weights[leaf.first as usize..(leaf.first + leaf.count) as usize];
            for &(c, w) in ws {
                let c = c as usize;
                scores[c] = match (self.aggregate, has[c]) {
                    (Aggregate::Min, true) => scores[c].min(w),
                    (Aggregate::Max, true) => scores[c].max(w),
                    (Aggregate::Min | Aggregate::Max, false) => w,
                    _ => scores[c] + w,
                };
                has[c] = true;
            }
        }
        if self.classifier {
            self.finalize_classifier(scores, has, out);
        } else {
            for (c, s) in scores.iter_mut().enumerate() {
                if self.aggregate == Aggregate::Average {
                    *s /= self.roots.len() as f32;
                }
                if let Some(b) = self.base_values.get(c) {
                    *s += b;
                }
            }
            write_scores(scores, self.post, out, None);
        }
    }

    fn finalize_classifier(&self, scores: &mut [f32], has: &mut [bool], out: &mut [f32]) {
        let base = &self.base_values;
        if self.outputs > 2 {
            for (c, &b) in base.iter().enumerate().take(self.outputs) {
                scores[c] += b;
                has[c] = true;
            }
            write_scores(scores, self.post, out, None);
            return;
        }
        let mut len = 2;
        let mut add_second = None;
        if base.len() == 2 {
            if has[1] {
                scores[1] = base[1] + scores[0];
                scores[0] = -scores[1];
            } else {
                scores[1] += base[1];
                scores[0] += base[0];
            }
        } else if base.len() == 1 {
            scores[0] += base[0];
            if !has[1] {
                len = 1;
            }
        } else {
            add_second = Some(3);
            if !has[1] {
                len = 1;
            }
        }
        let pos = if len == 2 && has[1] {
            scores[1]
        } else if has[0] {
            scores[0]
        } else {
            0.0
        };
        if self.binary_case {
            add_second = Some(match (self.weights_all_positive, pos) {
                (true, p) if p > 0.5 => 0,
                (true, _) => 1,
                (false, p) if p > 0.0 => 2,
                (false, _) => 3,
            });
        }
        write_scores(&mut scores[..len], self.post, out, add_second);
    }
}

/// onnxruntime's float logistic, computed on |x| for stability.
fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

fn probit(x: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * x - 1.0)
}

/// Inverse error function (Giles 2010 single-precision approximation).
fn erf_inv(x: f32) -> f32 {
    let w = -((1.0 - x) * (1.0 + x)).ln();
    if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_4e-8;
        for c in [
            3.432_739_4e-7,
            -3.523_387_7e-6,
            -4.391_506_5e-6,
            0.000_218_580_87,
            -0.001_253_725_1,
            -0.004_177_681_6,
            0.246_640_73,
            1.501_409_4,
        ] {
            p = c + p * w;
        }
        p * x
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_26;
        for c in [
            0.000_100_950_56,
            0.001_349_343_2,
            -0.003_673_428_4,
            0.005_739_507_7,
            -0.007_622_461_3,
            0.009_438_870_5,
            1.001_674,
            2.832_976_8,
        ] {
            p = c + p * w;
        }
        p * x
    }
}

fn softmax(v: &mut [f32], zero: bool) {
    let max = v.iter().copied().fold(-f32::MAX, f32::max);
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        if !zero || *x > 1e-7 || *x < -1e-7 {
            *x = (*x - max).exp();
            sum += *x;
        } else {
            *x *= (-max).exp();
        }
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Applies the post-transform the way onnxruntime's `write_scores` does, including the
/// single-score binary expansions selected by `add_second`.
fn write_scores(scores: &mut [f32], post: PostTransform, out: &mut [f32], add_second: Option<u8>) {
    if scores.len() >= 2 {
        match post {
            PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => softmax(scores, false),
            PostTransform::SoftmaxZero => softmax(scores, true),
            PostTransform::None => {}
        }
        out[..scores.len()].copy_from_slice(scores);
        return;
    }
    let s = scores[0];
    match (post, add_second) {
        (PostTransform::Probit, _) => {
            out[0] = probit(s);
        }
        (_, Some(0 | 1)) => {
            out[0] = 1.0 - s;
            out[1] = s;
        }
        (PostTransform::Logistic, Some(2 | 3)) => {
            out[0] = logistic(-s);
            out[1] = logistic(s);
        }
        (_, Some(2 | 3)) => {
            out[0] = -s;
            out[1] = s;
        }
        _ => {
            out[0] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_symmetric_and_stable() {
        assert!((logistic(0.0) - 0.5).abs() < 1e-7);
        assert!((logistic(3.0) + logistic(-3.0) - 1.0).abs() < 1e-6);
        assert_eq!(logistic(-200.0), 0.0);
    }

    #[test]
    fn erf_inv_inverts_known_points() {
        // erf(0.5) = 0.5204998778
        assert!((erf_inv(0.520_499_9) - 0.5).abs() < 1e-4);
        assert_eq!(erf_inv(0.0), 0.0);
    }
}

//! The in-house boosted teacher ([`GbdtModel`]) as an ONNX `TreeEnsembleClassifier`: one float
//! input `[N, columns]` (numbers as they are, categories as the codes in the
//! `distillery.categories` metadata, missing as NaN), outputs `label` and `probabilities`.
//! The layout is the one skl2onnx writes for gradient boosting, so onnxruntime, our own tree
//! evaluator and any other engine read it the same way.

use std::collections::BTreeMap;

use distillery_train::{GbdtModel, GbdtNode};
use prost::Message;

use crate::ExportError;
use crate::builder::{Attr, FLOAT, Graph, STRING};

/// What the teacher's file says about its inputs and classes besides the trees.
pub struct TreeTeacherMeta<'a> {
    /// Class names, in the model's class order.
    pub classes: &'a [String],
    /// Input columns, in input order.
    pub inputs: &'a [String],
    /// Levels of the categorical inputs (index = code).
    pub categories: &'a BTreeMap<String, Vec<String>>,
    /// Extra metadata entries (provenance).
    pub extra: Vec<(String, String)>,
}

/// Parallel arrays of the operator's `nodes_*` and `class_*` attributes.
#[derive(Default)]
struct Arrays {
    tree: Vec<i64>,
    node: Vec<i64>,
    feature: Vec<i64>,
    value: Vec<f32>,
    mode: Vec<String>,
    on_true: Vec<i64>,
    on_false: Vec<i64>,
    missing_true: Vec<i64>,
    w_tree: Vec<i64>,
    w_node: Vec<i64>,
    w_class: Vec<i64>,
    w_value: Vec<f32>,
}

impl Arrays {
    fn push_tree(&mut self, id: i64, nodes: &[GbdtNode], class: i64) {
        for (i, n) in nodes.iter().enumerate() {
            self.tree.push(id);
            self.node.push(i as i64);
            match *n {
                GbdtNode::Branch {
                    feature,
                    below,
                    missing_left,
                    left,
                    right,
                } => {
                    self.feature.push(feature as i64);
                    self.value.push(below);
                    self.mode.push("BRANCH_LT".into());
                    self.on_true.push(left as i64);
                    self.on_false.push(right as i64);
                    self.missing_true.push(i64::from(missing_left));
                }
                GbdtNode::Leaf { value } => {
                    self.feature.push(0);
                    self.value.push(0.0);
                    self.mode.push("LEAF".into());
                    self.on_true.push(0);
                    self.on_false.push(0);
                    self.missing_true.push(0);
                    self.w_tree.push(id);
                    self.w_node.push(i as i64);
                    self.w_class.push(class);
                    self.w_value.push(value);
                }
            }
        }
    }
}

/// The boosted teacher as ONNX bytes (deterministic for equal models).
///
/// Two classes use one score (class 1's log-odds, `LOGISTIC`); more use one score per class
/// (`SOFTMAX`), matching [`GbdtModel::predict_proba`] to float rounding.
///
/// # Errors
/// Class or input lists that disagree with the model, or unserialisable metadata.
pub fn gbdt_to_onnx(model: &GbdtModel, meta: &TreeTeacherMeta<'_>) -> Result<Vec<u8>, ExportError> {
    if meta.classes.len() != model.classes || meta.inputs.len() != model.width {
        return Err(ExportError::Metadata(format!(
            "{} classes and {} inputs named for a model of {} classes and {} inputs",
            meta.classes.len(),
            meta.inputs.len(),
            model.classes,
            model.width
        )));
    }
    let mut a = Arrays::default();
    let mut id = 0i64;
    for (h, head) in model.heads.iter().enumerate() {
        for tree in &head.trees {
            a.push_tree(id, tree, h as i64);
            id += 1;
        }
    }
    let mut base: Vec<f32> = model.heads.iter().map(|h| h.base_score as f32).collect();
    // onnxruntime reads a binary model whose leaf weights are all non-negative as
    // probabilities rather than log-odds; a root-only tree of -1 (with the base raised by 1)
    // keeps it on the log-odds path without changing any score.
    if model.classes == 2 && a.w_value.iter().all(|&w| w >= 0.0) {
        a.push_tree(id, &[GbdtNode::Leaf { value: -1.0 }], 0);
        base[0] += 1.0;
    }
    let post = if model.classes == 2 {
        "LOGISTIC"
    } else {
        "SOFTMAX"
    };
    let mut g = Graph::default();
    g.input("input", FLOAT, model.width as i64);
    g.node_outputs(
        "TreeEnsembleClassifier",
        "ai.onnx.ml",
        &["input"],
        &["label", "probabilities"],
        vec![
            ("classlabels_strings", Attr::Strings(meta.classes.to_vec())),
            ("post_transform", Attr::Str(post.into())),
            ("base_values", Attr::Floats(base)),
            ("nodes_treeids", Attr::Ints(a.tree)),
            ("nodes_nodeids", Attr::Ints(a.node)),
            ("nodes_featureids", Attr::Ints(a.feature)),
            ("nodes_values", Attr::Floats(a.value)),
            ("nodes_modes", Attr::Strings(a.mode)),
            ("nodes_truenodeids", Attr::Ints(a.on_true)),
            ("nodes_falsenodeids", Attr::Ints(a.on_false)),
            (
                "nodes_missing_value_tracks_true",
                Attr::Ints(a.missing_true),
            ),
            ("class_treeids", Attr::Ints(a.w_tree)),
            ("class_nodeids", Attr::Ints(a.w_node)),
            ("class_ids", Attr::Ints(a.w_class)),
            ("class_weights", Attr::Floats(a.w_value)),
        ],
    );
    g.output_typed("label", STRING, &[None]);
    g.output_typed("probabilities", FLOAT, &[None, Some(model.classes as i64)]);
    let json = |v: serde_json::Value| {
        serde_json::to_string(&v).map_err(|e| ExportError::Metadata(e.to_string()))
    };
    let mut metadata = vec![
        (
            "distillery.classes".into(),
            json(serde_json::json!(meta.classes))?,
        ),
        (
            "distillery.inputs".into(),
            json(serde_json::json!(meta.inputs))?,
        ),
        (
            "distillery.categories".into(),
            json(serde_json::json!(meta.categories))?,
        ),
    ];
    metadata.extend(meta.extra.iter().cloned());
    Ok(g.model("distillery_gbdt_teacher", metadata).encode_to_vec())
}

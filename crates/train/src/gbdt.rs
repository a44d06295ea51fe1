//! The in-house gradient-boosted tree teacher: trained by `forust-ml` (histogram GBDT, native
//! missing-value splits), one log-loss booster per class for three or more classes (combined by
//! softmax, as LightGBM's one-vs-rest does) and one for two. The trees are copied out into
//! [`GbdtModel`], a plain structure that `distillery-export` writes as an ONNX
//! `TreeEnsembleClassifier`, so the teacher is saved, reloaded and run like any exported one.
//!
//! Why forust-ml: on the shared classification sets it matched or beat perpetual and gbdt-rs
//! on accuracy and log-loss, trained census_kdd (240k rows) fastest, builds on a stable
//! compiler (perpetual's releases need nightly) and handles missing values and many classes
//! (gbdt-rs does neither). The measurement is `bench/gbdt-crates`.

use forust_ml::GradientBooster;
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;

use crate::error::{ParamsError, Result, TrainError};

/// Settings of the boosted teacher. The defaults are the usual ones (learning rate 0.1 as
/// LightGBM's, depth 6 as XGBoost's) with early stopping on the validation rows' log-loss,
/// so small sets stop after tens of trees and large ones may use up to `iterations`.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    /// Most boosting rounds per booster (default 1000).
    pub iterations: usize,
    /// Shrinkage per round (default 0.1).
    pub learning_rate: f32,
    /// Deepest split level (default 6).
    pub max_depth: usize,
    /// Rounds without a better validation log-loss before stopping (default 25).
    pub early_stopping_rounds: usize,
    /// Seed of the booster's sampling.
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            iterations: 1000,
            learning_rate: 0.1,
            max_depth: GbdtParams::DEFAULT_MAX_DEPTH,
            early_stopping_rounds: 25,
            seed: 0,
        }
    }
}

impl GbdtParams {
    /// The default deepest split level (XGBoost's, CatBoost's and forust's default).
    pub const DEFAULT_MAX_DEPTH: usize = 6;

    /// Rejects settings the booster cannot use.
    ///
    /// # Errors
    /// A value out of its range, named as the recipe writes it.
    pub fn check(&self) -> std::result::Result<(), ParamsError> {
        let out = |name: &'static str, value: String, expected: &'static str| {
            Err(ParamsError::OutOfRange {
                name,
                value,
                expected,
            })
        };
        if !(1..=100_000).contains(&self.iterations) {
            return out("iterations", self.iterations.to_string(), "1 to 100000");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return out(
                "learning_rate",
                self.learning_rate.to_string(),
                "above 0 and at most 1",
            );
        }
        if !(1..=16).contains(&self.max_depth) {
            return out("max_depth", self.max_depth.to_string(), "1 to 16");
        }
        if self.early_stopping_rounds == 0 {
            return out("early_stopping_rounds", "0".into(), "at least 1");
        }
        Ok(())
    }
}

/// Rows for the booster: a row-major float matrix (numbers as they are, categories as codes,
/// missing as NaN) and one class index per row.
pub struct GbdtRows<'a> {
    /// `labels.len() × width` values, row-major.
    pub x: &'a [f32],
    /// Values per row.
    pub width: usize,
    /// Class index of each row.
    pub labels: &'a [u32],
}

/// One node of a boosted tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GbdtNode {
    /// Go to `left` when `x[feature] < below`, to `right` otherwise; a missing value goes
    /// left when `missing_left`.
    Branch {
        /// Input column.
        feature: usize,
        /// The split: the smallest float at or above the booster's split value, so a float
        /// input compares exactly as the booster's double did.
        below: f32,
        /// Where a missing value goes.
        missing_left: bool,
        /// Node index for values below the split.
        left: usize,
        /// Node index for the others.
        right: usize,
    },
    /// A leaf adding `value` to its booster's log-odds.
    Leaf {
        /// The leaf's contribution.
        value: f32,
    },
}

/// One booster (one class's log-odds, or the positive class's for two classes).
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtHead {
    /// The log-odds before any tree.
    pub base_score: f64,
    /// Trees; node 0 is each one's root.
    pub trees: Vec<Vec<GbdtNode>>,
}

/// A trained boosted teacher: `heads` has one booster for two classes (class 1's log-odds)
/// and one per class otherwise (softmax of their log-odds).
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    /// Number of classes.
    pub classes: usize,
    /// Values per input row.
    pub width: usize,
    /// The boosters.
    pub heads: Vec<GbdtHead>,
}

impl GbdtModel {
    /// Every tree of every booster.
    pub fn n_trees(&self) -> usize {
        self.heads.iter().map(|h| h.trees.len()).sum()
    }

    /// Class probabilities for `n` rows of `x` (row-major, `width` each), in double
    /// precision: the model's reference semantics, which the ONNX export reproduces.
    pub fn predict_proba(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * self.classes);
        let mut logits = vec![0.0f64; self.heads.len()];
        for row in x.chunks_exact(self.width).take(n) {
            for (l, head) in logits.iter_mut().zip(&self.heads) {
                *l = head.base_score
                    + head
                        .trees
                        .iter()
                        .map(|t| f64::from(leaf(t, row)))
                        .sum::<f64>();
            }
            if self.classes == 2 {
                let p = 1.0 / (1.0 + (-logits[0]).exp());
                out.extend([(1.0 - p) as f32, p as f32]);
            } else {
                let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = logits.iter().map(|l| (l - top).exp()).sum();
                out.extend(logits.iter().map(|l| ((l - top).exp() / z) as f32));
            }
        }
        out
    }
}

fn leaf(tree: &[GbdtNode], row: &[f32]) -> f32 {
    let mut at = 0;
    loop {
        match tree[at] {
            GbdtNode::Leaf { value } => return value,
            GbdtNode::Branch {
                feature,
                below,
                missing_left,
                left,
                right,
            } => {
                let v = row[feature];
                at = if v.is_nan() {
                    if missing_left { left } else { right }
                } else if v < below {
                    left
                } else {
                    right
                };
            }
        }
    }
}

/// Trains the boosted teacher on `train`, stopping early on `validation`'s log-loss when given
/// (else after `iterations` rounds).
///
/// # Errors
/// Invalid parameters, shapes that disagree, fewer than two classes, or a booster failure.
pub fn fit_gbdt(
    train: &GbdtRows<'_>,
    validation: Option<&GbdtRows<'_>>,
    classes: usize,
    params: &GbdtParams,
) -> Result<GbdtModel> {
    params.check()?;
    if classes < 2 {
        return Err(TrainError::Shape(format!(
            "a classifier needs at least two classes, found {classes}"
        )));
    }
    let columns = |rows: &GbdtRows<'_>| -> Result<Vec<f64>> {
        let n = rows.labels.len();
        if rows.width == 0 || rows.x.len() != n * rows.width {
            return Err(TrainError::Shape(format!(
                "{} values for {n} rows of width {}",
                rows.x.len(),
                rows.width
            )));
        }
        Ok((0..rows.width)
            .flat_map(|j| (0..n).map(move |i| f64::from(rows.x[i * rows.width + j])))
            .collect())
    };
    if train.labels.is_empty() {
        return Err(TrainError::Empty("the boosted teacher got no rows".into()));
    }
    let train_cols = columns(train)?;
    let train_matrix = forust_ml::Matrix::new(&train_cols, train.labels.len(), train.width);
    let val_cols = validation.map(columns).transpose()?;
    let weights = vec![1.0; train.labels.len()];
    let val_weights = vec![1.0; validation.map_or(0, |v| v.labels.len())];
    let heads = if classes == 2 { 1 } else { classes };
    let mut out = Vec::with_capacity(heads);
    for head in 0..heads {
        let positive = if classes == 2 { 1 } else { head as u32 };
        let binary = |labels: &[u32]| -> Vec<f64> {
            labels
                .iter()
                .map(|&c| f64::from(u8::from(c == positive)))
                .collect()
        };
        let y = binary(train.labels);
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(params.iterations)
            .set_learning_rate(params.learning_rate)
            .set_max_depth(params.max_depth)
            .set_seed(params.seed.wrapping_add(head as u64));
        let eval_y = validation.map(|v| binary(v.labels));
        let evaluation = match (&val_cols, validation, &eval_y) {
            (Some(cols), Some(v), Some(y)) => {
                booster = booster
                    .set_early_stopping_rounds(Some(params.early_stopping_rounds))
                    .set_evaluation_metric(Some(Metric::LogLoss));
                Some(vec![(
                    forust_ml::Matrix::new(cols, v.labels.len(), v.width),
                    y.as_slice(),
                    val_weights.as_slice(),
                )])
            }
            _ => None,
        };
        booster
            .fit(&train_matrix, &y, &weights, evaluation)
            .map_err(|e| TrainError::Shape(format!("the boosted teacher failed: {e}")))?;
        out.push(copy_head(&booster)?);
    }
    Ok(GbdtModel {
        classes,
        width: train.width,
        heads: out,
    })
}

/// The booster's trees up to its best iteration, as [`GbdtNode`]s.
fn copy_head(booster: &GradientBooster) -> Result<GbdtHead> {
    let used = booster
        .prediction_iteration
        .unwrap_or(booster.trees.len())
        .min(booster.trees.len());
    let mut trees = Vec::with_capacity(used);
    for tree in &booster.trees[..used] {
        let mut nodes = Vec::with_capacity(tree.nodes.len());
        for (i, n) in tree.nodes.iter().enumerate() {
            if n.num != i {
                return Err(TrainError::Shape(format!(
                    "booster node {i} is numbered {}",
                    n.num
                )));
            }
            nodes.push(if n.is_leaf {
                GbdtNode::Leaf {
                    value: n.weight_value,
                }
            } else {
                if n.missing_node != n.left_child && n.missing_node != n.right_child {
                    return Err(TrainError::Shape(
                        "the booster grew a separate missing-value branch".into(),
                    ));
                }
                GbdtNode::Branch {
                    feature: n.split_feature,
                    below: float_at_or_above(n.split_value),
                    missing_left: n.missing_node == n.left_child,
                    left: n.left_child,
                    right: n.right_child,
                }
            });
        }
        trees.push(nodes);
    }
    Ok(GbdtHead {
        base_score: booster.base_score,
        trees,
    })
}

/// The smallest `f32` ≥ `v`: for any float `x`, `x < v` exactly when `x < float_at_or_above(v)`.
fn float_at_or_above(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) >= v || f.is_nan() {
        f
    } else {
        f.next_up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two informative columns (one with missing values) and a noisy label.
    fn rows(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = next() * 4.0 - 2.0;
            let b = if i % 7 == 0 { f32::NAN } else { next() };
            let noise = next() < 0.1;
            let class = u32::from((a + b.max(0.0) > 0.3) != noise);
            x.extend([a, b]);
            y.push(class);
        }
        (x, y)
    }

    #[test]
    fn trees_copied_out_predict_what_the_booster_predicts() {
        let (x, y) = rows(600, 1);
        let (vx, vy) = rows(200, 2);
        let train = GbdtRows {
            x: &x,
            width: 2,
            labels: &y,
        };
        let val = GbdtRows {
            x: &vx,
            width: 2,
            labels: &vy,
        };
        let model = fit_gbdt(&train, Some(&val), 2, &GbdtParams::default()).unwrap();
        assert!(
            model.n_trees() >= 2 && model.n_trees() < 1000,
            "{}",
            model.n_trees()
        );
        let p = model.predict_proba(&vx, 200);
        let right = p
            .chunks_exact(2)
            .zip(&vy)
            .filter(|(r, c)| u32::from(r[1] > r[0]) == **c)
            .count();
        assert!(right > 160, "accuracy {right}/200");
        // The same as forust's own prediction on the same rows, to float rounding.
        let column_major = |v: &[f32], n: usize| -> Vec<f64> {
            (0..2)
                .flat_map(|j| (0..n).map(move |i| f64::from(v[i * 2 + j])))
                .collect()
        };
        let cols = column_major(&vx, 200);
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(model.heads[0].trees.len())
            .set_max_depth(6)
            .set_learning_rate(0.1)
            .set_seed(0);
        let tc = column_major(&x, 600);
        let yy: Vec<f64> = y.iter().map(|&c| f64::from(c)).collect();
        booster
            .fit(
                &forust_ml::Matrix::new(&tc, 600, 2),
                &yy,
                &vec![1.0; 600],
                None,
            )
            .unwrap();
        let logits = booster.predict(&forust_ml::Matrix::new(&cols, 200, 2), false);
        for (row, l) in p.chunks_exact(2).zip(logits) {
            let q = 1.0 / (1.0 + (-l).exp());
            assert!((f64::from(row[1]) - q).abs() < 1e-5, "{} vs {q}", row[1]);
        }
    }

    #[test]
    fn many_classes_get_one_booster_each_and_sum_to_one() {
        let (x, y2) = rows(300, 3);
        let y: Vec<u32> = y2
            .iter()
            .enumerate()
            .map(|(i, &c)| c + (i % 2) as u32 * 2)
            .collect();
        let train = GbdtRows {
            x: &x,
            width: 2,
            labels: &y,
        };
        let model = fit_gbdt(
            &train,
            None,
            4,
            &GbdtParams {
                iterations: 20,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(model.heads.len(), 4);
        assert_eq!(model.n_trees(), 80);
        for row in model.predict_proba(&x, 300).chunks_exact(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn same_seed_same_trees() {
        let (x, y) = rows(400, 4);
        let train = GbdtRows {
            x: &x,
            width: 2,
            labels: &y,
        };
        let a = fit_gbdt(
            &train,
            None,
            2,
            &GbdtParams {
                iterations: 50,
                ..Default::default()
            },
        )
        .unwrap();
        let b = fit_gbdt(
            &train,
            None,
            2,
            &GbdtParams {
                iterations: 50,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn thresholds_keep_float_comparisons_exact() {
        for v in [0.1f64, -0.3, 1e-9, 2.5, 16_777_217.0] {
            let t = float_at_or_above(v);
            assert!(f64::from(t) >= v);
            let below = t.next_down();
            assert!(f64::from(below) < v, "{v}: {below} should stay below");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let e = GbdtParams {
            max_depth: 0,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("max_depth"), "{e}");
        let (x, y) = rows(10, 5);
        let train = GbdtRows {
            x: &x,
            width: 2,
            labels: &y,
        };
        assert!(fit_gbdt(&train, None, 1, &GbdtParams::default()).is_err());
    }
}

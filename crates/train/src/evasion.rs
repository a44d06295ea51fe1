//! Evasion attacks on a student with its exact input gradients: FGSM (Goodfellow, Shlens &
//! Szegedy 2015) and PGD (Madry et al. 2018), L∞ and L2, in the student's encoded input
//! space, where a numeric feature is one standardised number, so ε is in standard deviations.
//!
//! Tabular constraints come in as a box and a mask: every slot stays inside `[lo, hi]` (the
//! training range), and only slots whose mask is 1 move (numeric features that are present
//! and not declared immutable; one-hot slots move by a separate search over valid levels).
//! The arithmetic follows IBM's Adversarial Robustness Toolbox (ART ≥ 1.18) on a PyTorch
//! twin of the same weights, so its examples can be checked against ART's to 1e-5: the
//! gradient is of the cross-entropy of the logits, masked slots get a zero gradient, an L2
//! step divides by the row's gradient norm (a zero gradient gives a zero step), and each
//! step is clipped to the box and then projected onto the ε-ball around the clean row.

use distillery_runtime::Dense;

/// The ball the perturbation lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Every moved feature changes by at most ε.
    Inf,
    /// The perturbation's Euclidean length is at most ε.
    L2,
}

/// One attack: FGSM is PGD with one step of size ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attack {
    /// The ball's norm.
    pub norm: Norm,
    /// The ball's radius, in standardised feature units.
    pub eps: f32,
    /// Length of one step.
    pub eps_step: f32,
    /// Gradient steps.
    pub steps: usize,
}

impl Attack {
    /// The fast gradient (sign) method: one step of length ε.
    pub fn fgsm(norm: Norm, eps: f32) -> Attack {
        Attack {
            norm,
            eps,
            eps_step: eps,
            steps: 1,
        }
    }

    /// Projected gradient descent with `steps` steps of `eps_step`.
    pub fn pgd(norm: Norm, eps: f32, eps_step: f32, steps: usize) -> Attack {
        Attack {
            norm,
            eps,
            eps_step,
            steps,
        }
    }
}

/// Where a row may move: per slot, the range `[lo, hi]` and whether it may move at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraints {
    /// Lowest value per input slot.
    pub lo: Vec<f32>,
    /// Highest value per input slot.
    pub hi: Vec<f32>,
    /// 1 for a slot the attack may move, 0 for one it must not.
    pub movable: Vec<f32>,
    /// Per slot, another slot whose non-zero value in the clean row freezes it: a numeric
    /// feature's missing indicator, so a missing cell stays missing. Empty: none.
    pub frozen_by: Vec<Option<usize>>,
    /// One-hot blocks (the slots of a categorical column's levels) in which, after the
    /// numeric steps, a row may switch its level once: the single switch the input gradient
    /// says raises the loss most. A row with no level set (missing, unseen) keeps it.
    /// Empty: categories never move.
    pub categorical: Vec<std::ops::Range<usize>>,
}

impl Constraints {
    /// No box and every slot movable: what ART does with `clip_values = None` and no mask.
    pub fn free(width: usize) -> Constraints {
        Constraints {
            lo: vec![f32::NEG_INFINITY; width],
            hi: vec![f32::INFINITY; width],
            movable: vec![1.0; width],
            frozen_by: Vec::new(),
            categorical: Vec::new(),
        }
    }

    /// The movable mask for one clean row: slots frozen by that row's indicators are 0.
    fn for_row(&self, clean: &[f32]) -> Vec<f32> {
        let mut movable = self.movable.clone();
        for (m, by) in movable.iter_mut().zip(&self.frozen_by) {
            if by.is_some_and(|j| clean[j] != 0.0) {
                *m = 0.0;
            }
        }
        movable
    }
}

/// The gradient of the cross-entropy of `layers`' logits at label `y` with respect to the
/// input row `x`, written into `grad` (ReLU between layers, as the student computes).
pub fn input_gradient(layers: &[Dense], x: &[f32], y: usize, grad: &mut [f32]) {
    // Forward, keeping every layer's pre-activation for the ReLU masks.
    let mut activations: Vec<Vec<f32>> = Vec::with_capacity(layers.len());
    let mut input: Vec<f32> = x.to_vec();
    for (k, layer) in layers.iter().enumerate() {
        let mut z = layer.bias.clone();
        for (i, &xi) in input.iter().enumerate() {
            if xi != 0.0 {
                let row = &layer.weight[i * layer.outputs..(i + 1) * layer.outputs];
                for (zj, &w) in z.iter_mut().zip(row) {
                    *zj += xi * w;
                }
            }
        }
        activations.push(z.clone());
        if k + 1 < layers.len() {
            input = z.iter().map(|&v| v.max(0.0)).collect();
        }
    }
    // dCE/dlogits = softmax − one-hot.
    let logits = activations.last().map_or(&[][..], Vec::as_slice);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let mut delta: Vec<f32> = exp.iter().map(|&e| e / sum).collect();
    if let Some(d) = delta.get_mut(y) {
        *d -= 1.0;
    }
    for k in (0..layers.len()).rev() {
        let layer = &layers[k];
        let mut below = vec![0.0f32; layer.inputs];
        for (i, b) in below.iter_mut().enumerate() {
            let row = &layer.weight[i * layer.outputs..(i + 1) * layer.outputs];
            *b = row.iter().zip(&delta).map(|(w, d)| w * d).sum();
        }
        if k > 0 {
            for (b, &z) in below.iter_mut().zip(&activations[k - 1]) {
                if z <= 0.0 {
                    *b = 0.0;
                }
            }
        }
        delta = below;
    }
    grad.copy_from_slice(&delta);
}

/// The adversarial rows for `n` encoded rows `x` (`n × width`) with labels `y`: each row is
/// pushed up its own loss within the ball, the box and the mask.
pub fn attack(
    layers: &[Dense],
    x: &[f32],
    y: &[usize],
    constraints: &Constraints,
    attack: &Attack,
) -> Vec<f32> {
    let width = constraints.movable.len();
    let mut out = x.to_vec();
    let mut grad = vec![0.0f32; width];
    let mut step = vec![0.0f32; width];
    for (r, &label) in y.iter().enumerate() {
        let clean = &x[r * width..(r + 1) * width];
        let row = &mut out[r * width..(r + 1) * width];
        let movable = constraints.for_row(clean);
        for _ in 0..attack.steps {
            input_gradient(layers, row, label, &mut grad);
            for (g, m) in grad.iter_mut().zip(&movable) {
                *g *= m;
            }
            direction(attack.norm, &grad, &mut step);
            for (i, v) in row.iter_mut().enumerate() {
                let moved = *v + attack.eps_step * step[i];
                *v = moved.min(constraints.hi[i]).max(constraints.lo[i]);
            }
            project(attack.norm, attack.eps, clean, row);
        }
        if !constraints.categorical.is_empty() {
            input_gradient(layers, row, label, &mut grad);
            switch_category(&constraints.categorical, &grad, row);
        }
    }
    out
}

/// The one level switch, over all `blocks`, with the largest first-order rise of the loss
/// (`grad` at the new level's slot minus at the current one), applied when that rise is
/// positive. One forward and backward pass, where trying every level would take a forward
/// pass per level: cheap enough for every training batch.
fn switch_category(blocks: &[std::ops::Range<usize>], grad: &[f32], row: &mut [f32]) {
    let mut best: Option<(f32, usize, usize)> = None;
    for block in blocks {
        let Some(from) = block.clone().find(|&i| row[i] == 1.0) else {
            continue;
        };
        for to in block.clone().filter(|&to| to != from) {
            let rise = grad[to] - grad[from];
            if rise > 0.0 && best.is_none_or(|(b, _, _)| rise > b) {
                best = Some((rise, from, to));
            }
        }
    }
    if let Some((_, from, to)) = best {
        row[from] = 0.0;
        row[to] = 1.0;
    }
}

/// The unit step along `grad`: its sign (L∞) or the gradient over its norm (L2; zero for a
/// zero gradient).
fn direction(norm: Norm, grad: &[f32], step: &mut [f32]) {
    match norm {
        Norm::Inf => {
            for (s, &g) in step.iter_mut().zip(grad) {
                *s = if g > 0.0 {
                    1.0
                } else if g < 0.0 {
                    -1.0
                } else {
                    0.0
                };
            }
        }
        Norm::L2 => {
            let length = grad.iter().map(|g| g * g).sum::<f32>().sqrt();
            let inverse = if length > 0.0 { 1.0 / length } else { 0.0 };
            for (s, &g) in step.iter_mut().zip(grad) {
                *s = g * inverse;
            }
        }
    }
}

/// Moves `row` back inside the ε-ball around `clean`: clip each difference to ±ε (L∞), or
/// scale the difference by min(1, ε / ‖δ‖) (L2), the scale taken in `f64` as ART does.
fn project(norm: Norm, eps: f32, clean: &[f32], row: &mut [f32]) {
    match norm {
        Norm::Inf => {
            for (v, &c) in row.iter_mut().zip(clean) {
                *v = c + (*v - c).clamp(-eps, eps);
            }
        }
        Norm::L2 => {
            let length = row
                .iter()
                .zip(clean)
                .map(|(v, c)| (v - c) * (v - c))
                .sum::<f32>()
                .sqrt();
            let scale = if length > 0.0 {
                (f64::from(eps) / f64::from(length)).min(1.0)
            } else {
                0.0
            };
            for (v, &c) in row.iter_mut().zip(clean) {
                *v = c + (f64::from(*v - c) * scale) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<Dense> {
        vec![
            Dense {
                inputs: 2,
                outputs: 3,
                weight: vec![1.0, -0.5, 0.25, 0.5, 1.0, -1.0].into(),
                bias: vec![0.1, 0.0, -0.1],
            },
            Dense {
                inputs: 3,
                outputs: 2,
                weight: vec![1.0, -1.0, -0.5, 0.5, 0.3, 0.2].into(),
                bias: vec![0.0, 0.05],
            },
        ]
    }

    fn loss(layers: &[Dense], x: &[f32], y: usize) -> f64 {
        let mut h: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        for (k, l) in layers.iter().enumerate() {
            let mut z: Vec<f64> = l.bias.iter().map(|&b| f64::from(b)).collect();
            for (i, xi) in h.iter().enumerate() {
                for (j, zj) in z.iter_mut().enumerate() {
                    *zj += xi * f64::from(l.weight[i * l.outputs + j]);
                }
            }
            h = if k + 1 < layers.len() {
                z.iter().map(|v| v.max(0.0)).collect()
            } else {
                z
            };
        }
        let max = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = h.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        log_sum - h[y]
    }

    #[test]
    fn the_input_gradient_matches_finite_differences() {
        let l = layers();
        let x = [0.7f32, -0.3];
        let mut g = [0.0f32; 2];
        input_gradient(&l, &x, 1, &mut g);
        for i in 0..2 {
            let (mut up, mut down) = (x, x);
            up[i] += 1e-3;
            down[i] -= 1e-3;
            let numeric = (loss(&l, &up, 1) - loss(&l, &down, 1)) / 2e-3;
            assert!(
                (f64::from(g[i]) - numeric).abs() < 1e-3,
                "{i}: {g:?} vs {numeric}"
            );
        }
    }

    #[test]
    fn pgd_raises_the_loss_and_stays_in_the_ball_the_box_and_the_mask() {
        let l = layers();
        let x = [0.7f32, -0.3, 0.65, 0.4];
        let y = [1usize, 0];
        for norm in [Norm::Inf, Norm::L2] {
            let a = Attack::pgd(norm, 0.3, 0.1, 10);
            let free = attack(&l, &x, &y, &Constraints::free(2), &a);
            for r in 0..2 {
                let (c, v) = (&x[r * 2..r * 2 + 2], &free[r * 2..r * 2 + 2]);
                assert!(loss(&l, v, y[r]) > loss(&l, c, y[r]), "{norm:?} row {r}");
                let d: Vec<f32> = v.iter().zip(c).map(|(a, b)| a - b).collect();
                let size = match norm {
                    Norm::Inf => d.iter().fold(0.0f32, |m, v| m.max(v.abs())),
                    Norm::L2 => d.iter().map(|v| v * v).sum::<f32>().sqrt(),
                };
                assert!(size <= 0.3 + 1e-6, "{norm:?}: {size}");
            }
            let boxed = Constraints {
                lo: vec![0.6, -1.0],
                hi: vec![0.75, 1.0],
                movable: vec![1.0, 0.0],
                frozen_by: Vec::new(),
                categorical: Vec::new(),
            };
            let held = attack(&l, &x, &y, &boxed, &a);
            for r in 0..2 {
                assert_eq!(held[r * 2 + 1], x[r * 2 + 1], "a masked slot never moves");
                assert!((0.6..=0.75).contains(&held[r * 2]));
            }
        }
    }

    #[test]
    fn a_row_switches_the_level_the_gradient_favours_once_and_keeps_a_missing_one() {
        // Slot 0 numeric; slots 1..4 one categorical column's three levels.
        let blocks = [std::ops::Range { start: 1, end: 4 }];
        let mut row = [0.3f32, 1.0, 0.0, 0.0];
        switch_category(&blocks, &[5.0, -1.0, 0.5, 2.0], &mut row);
        assert_eq!(
            row,
            [0.3, 0.0, 0.0, 1.0],
            "the largest rise: level 1 to level 3"
        );
        let mut none = [0.3f32, 1.0, 0.0, 0.0];
        switch_category(&blocks, &[5.0, 1.0, 0.5, -2.0], &mut none);
        assert_eq!(none, [0.3, 1.0, 0.0, 0.0], "no switch raises the loss");
        let mut missing = [0.3f32, 0.0, 0.0, 0.0];
        switch_category(&blocks, &[5.0, -1.0, 0.5, 2.0], &mut missing);
        assert_eq!(
            missing,
            [0.3, 0.0, 0.0, 0.0],
            "no level set: nothing to switch"
        );
    }

    #[test]
    fn the_attack_switches_a_category_only_when_asked() {
        let l = layers();
        let a = Attack::fgsm(Norm::Inf, 0.0);
        let c = Constraints {
            categorical: vec![std::ops::Range { start: 0, end: 2 }],
            ..Constraints::free(2)
        };
        for (x, label) in [([1.0f32, 0.0], 0), ([0.0, 1.0], 0), ([1.0, 0.0], 1)] {
            assert_eq!(attack(&l, &x, &[label], &Constraints::free(2), &a), x);
            let mut grad = [0.0f32; 2];
            input_gradient(&l, &x, label, &mut grad);
            let mut want = x;
            switch_category(&c.categorical, &grad, &mut want);
            let got = attack(&l, &x, &[label], &c, &a);
            assert_eq!(got, want, "{x:?} label {label}");
            assert_eq!(got.iter().sum::<f32>(), 1.0, "still one level");
        }
    }

    #[test]
    fn a_slot_frozen_by_its_missing_indicator_stays_put() {
        let l = layers();
        let x = [0.0f32, 1.0, 0.5, 0.0];
        let c = Constraints {
            frozen_by: vec![Some(1), None],
            movable: vec![1.0, 0.0],
            ..Constraints::free(2)
        };
        let out = attack(&l, &x, &[0, 1], &c, &Attack::fgsm(Norm::Inf, 0.5));
        assert_eq!(out[0], 0.0, "row 0's first slot is missing");
        assert_ne!(out[2], 0.5, "row 1's first slot is present and moves");
    }
}

//! The distillation objective (Hinton et al. 2015, "Distilling the Knowledge in a Neural
//! Network", eq. 2 and the T² scaling of §2):
//!
//! `L = soft_weight · T² · KL(q_T ‖ s_T) + (1 − soft_weight) · CE(y, s_1)`
//!
//! where `q_T = softmax(teacher_logits / T)`, `s_T = softmax(student_logits / T)` and
//! `s_1` is the student's ordinary softmax. Rows without a label use `T² · KL` alone.
//! The gradient with respect to the student logits is analytic:
//! `soft_weight · T · (s_T − q_T) + (1 − soft_weight) · (s_1 − onehot(y))`.

/// Teacher probabilities softened at temperature `t`: `softmax(ln p / t)` per row of `k`.
/// Zero probabilities stay zero (their log is clamped far below every other class).
pub fn soften(probabilities: &[f32], k: usize, t: f32) -> Vec<f32> {
    let mut out: Vec<f32> = probabilities
        .iter()
        .map(|&p| p.max(1e-30).ln() / t)
        .collect();
    for row in out.chunks_exact_mut(k) {
        distillery_runtime::softmax_in_place(row);
    }
    out
}

/// What the loss knows about one row.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Teacher distribution at temperature T (`None` when training on labels only).
    pub soft: Option<&'a [f32]>,
    /// The hard label, if the row has one.
    pub label: Option<u32>,
}

/// Loss of one row and its gradient with respect to the student's logits (written to `grad`).
/// `buf` needs `2 · k` floats of scratch space.
pub fn loss_and_grad(
    logits: &[f32],
    target: Target<'_>,
    temperature: f32,
    soft_weight: f32,
    grad: &mut [f32],
    buf: &mut [f32],
) -> f32 {
    let k = logits.len();
    let (s1, st) = buf.split_at_mut(k);
    s1.copy_from_slice(logits);
    distillery_runtime::softmax_in_place(s1);
    grad.fill(0.0);
    let (w_soft, w_hard) = match (target.soft, target.label) {
        (Some(_), Some(_)) => (soft_weight, 1.0 - soft_weight),
        (Some(_), None) => (1.0, 0.0),
        (None, Some(_)) => (0.0, 1.0),
        (None, None) => return 0.0,
    };
    let mut loss = 0.0;
    if let (Some(q), true) = (target.soft, w_soft > 0.0) {
        let t = temperature;
        for (s, &z) in st.iter_mut().zip(logits) {
            *s = z / t;
        }
        distillery_runtime::softmax_in_place(&mut st[..k]);
        let mut kl = 0.0;
        for j in 0..k {
            if q[j] > 0.0 {
                kl += q[j] * (q[j].ln() - st[j].max(1e-30).ln());
            }
            grad[j] += w_soft * t * (st[j] - q[j]);
        }
        loss += w_soft * t * t * kl;
    }
    if let (Some(y), true) = (target.label, w_hard > 0.0) {
        let y = y as usize;
        loss += -w_hard * s1[y].max(1e-30).ln();
        for j in 0..k {
            grad[j] += w_hard * (s1[j] - if j == y { 1.0 } else { 0.0 });
        }
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #2's reference vector: T = 2, teacher logits [2, 1, 0], student logits
    /// [1, 1, 1] → T²·KL(q_T ‖ s_T) = 0.313684 (q_T = softmax([1, 0.5, 0]), s_T uniform).
    #[test]
    fn kd_loss_matches_known_vector() {
        let teacher_logits: [f32; 3] = [2.0, 1.0, 0.0];
        let mut probs = teacher_logits;
        distillery_runtime::softmax_in_place(&mut probs);
        let q = soften(&probs, 3, 2.0);
        let (mut g, mut buf) = ([0.0; 3], [0.0; 6]);
        let t = Target {
            soft: Some(&q),
            label: None,
        };
        let loss = loss_and_grad(&[1.0, 1.0, 1.0], t, 2.0, 1.0, &mut g, &mut buf);
        assert!((loss - 0.313684).abs() < 1e-5, "{loss}");
    }

    /// Central finite differences of the full objective (soft + hard term) agree with the
    /// analytic gradient to 1e-3 (f32 arithmetic, step 1e-3).
    #[test]
    fn gradient_matches_finite_differences() {
        let probs = [0.7f32, 0.2, 0.1];
        let q = soften(&probs, 3, 3.0);
        let z = [0.3f32, -1.2, 0.8];
        for (label, sw) in [(Some(2), 0.6), (None, 0.6), (Some(0), 0.0), (Some(1), 1.0)] {
            let t = Target {
                soft: Some(&q),
                label,
            };
            let (mut g, mut buf, mut scratch) = ([0.0; 3], [0.0; 6], [0.0; 3]);
            loss_and_grad(&z, t, 3.0, sw, &mut g, &mut buf);
            for j in 0..3 {
                let h = 1e-3;
                let (mut zp, mut zm) = (z, z);
                zp[j] += h;
                zm[j] -= h;
                let lp = loss_and_grad(&zp, t, 3.0, sw, &mut scratch, &mut buf);
                let lm = loss_and_grad(&zm, t, 3.0, sw, &mut scratch, &mut buf);
                let numeric = (lp - lm) / (2.0 * h);
                assert!(
                    (numeric - g[j]).abs() < 1e-3,
                    "label {label:?} sw {sw} j {j}: {numeric} vs {}",
                    g[j]
                );
            }
        }
    }

    #[test]
    fn soften_at_temperature_one_is_identity() {
        let p = [0.5f32, 0.25, 0.25, 0.0];
        let q = soften(&p, 4, 1.0);
        for (a, b) in p.iter().zip(&q) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}

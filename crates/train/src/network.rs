//! The trainable MLP: batched forward with cached activations, analytic backward pass and
//! decoupled-weight-decay Adam (AdamW, Loshchilov & Hutter 2019) with a cosine schedule.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use distillery_runtime::Dense;

use crate::gemm::{Mat, gemm};

/// Weights and biases of every layer, plus AdamW moments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Network {
    pub(crate) layers: Vec<Dense>,
    pub(crate) m: Vec<Vec<f32>>,
    pub(crate) v: Vec<Vec<f32>>,
    pub(crate) step: u64,
}

/// Per-batch buffers reused across steps so an epoch does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    /// Outputs of each layer (post-ReLU for hidden layers, logits for the last).
    pub(crate) acts: Vec<Vec<f32>>,
    delta: Vec<f32>,
    delta_prev: Vec<f32>,
    /// Per-layer output deltas of the private backward pass (kept until clipping is known).
    deltas: Vec<Vec<f32>>,
    /// Gradients in the same flat layout as the parameters (weights then bias per layer).
    pub(crate) grads: Vec<Vec<f32>>,
}

impl Network {
    /// PyTorch's default `nn.Linear` initialisation: U(−1/√fan_in, 1/√fan_in) for weights
    /// and biases, so comparisons with PyTorch start from the same distribution.
    pub(crate) fn init(dims: &[usize], seed: u64) -> Network {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers: Vec<Dense> = dims
            .windows(2)
            .map(|w| {
                let (i, o) = (w[0], w[1]);
                let bound = 1.0 / (i as f32).sqrt();
                let mut draw = |n: usize| -> Vec<f32> {
                    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
                };
                let weight = draw(i * o);
                let bias = draw(o);
                Dense {
                    inputs: i,
                    outputs: o,
                    weight: weight.into(),
                    bias,
                }
            })
            .collect();
        let zeros: Vec<Vec<f32>> = layers
            .iter()
            .map(|l| vec![0.0; l.weight.len() + l.bias.len()])
            .collect();
        Network {
            layers,
            m: zeros.clone(),
            v: zeros,
            step: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Forward pass of `n` rows of `x`; logits end up in `ws.acts.last()`.
    pub(crate) fn forward(&self, x: &[f32], n: usize, ws: &mut Workspace) {
        ws.acts.resize_with(self.layers.len(), Vec::new);
        let last = self.layers.len() - 1;
        for (k, layer) in self.layers.iter().enumerate() {
            let (before, rest) = ws.acts.split_at_mut(k);
            let input = if k == 0 { x } else { &before[k - 1][..] };
            let out = &mut rest[0];
            out.resize(n * layer.outputs, 0.0);
            for row in out.chunks_exact_mut(layer.outputs) {
                row.copy_from_slice(&layer.bias);
            }
            gemm(
                Mat::new(input, n, layer.inputs),
                Mat::new(&layer.weight, layer.inputs, layer.outputs),
                1.0,
                out,
            );
            if k < last {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
    }

    /// Backward pass given dLoss/dlogits (already divided by the batch size) in `dlogits`.
    pub(crate) fn backward(&self, x: &[f32], n: usize, dlogits: &[f32], ws: &mut Workspace) {
        ws.grads.resize_with(self.layers.len(), Vec::new);
        ws.delta.clear();
        ws.delta.extend_from_slice(dlogits);
        for k in (0..self.layers.len()).rev() {
            let layer = &self.layers[k];
            let input = if k == 0 { x } else { &ws.acts[k - 1][..] };
            layer_grads(layer, input, &ws.delta, n, &mut ws.grads[k]);
            if k > 0 {
                delta_below(layer, &ws.delta, n, &ws.acts[k - 1], &mut ws.delta_prev);
                std::mem::swap(&mut ws.delta, &mut ws.delta_prev);
            }
        }
    }

    /// DP-SGD's gradient (Abadi et al. 2016, as Opacus computes it): each example's
    /// gradient over all parameters is clipped to L2 norm `clip`, the clipped gradients
    /// are summed, Gaussian noise of standard deviation `noise_multiplier · clip` is added to
    /// every coordinate, and the sum is divided by `expected_batch` (rows × sample rate).
    /// `dlogits` holds each example's own dLoss/dlogits (not divided by the batch).
    ///
    /// Per-example norms need no per-example gradients: a dense layer's weight gradient for
    /// one example is the outer product of its input `a` and output delta `δ`, whose norm is
    /// ‖a‖·‖δ‖ (and the bias gradient's is ‖δ‖). Clipping is then a scale on each example's
    /// deltas before the usual GEMMs.
    #[allow(
        clippy::too_many_arguments,
        reason = "the private step's inputs: batch, targets, clipping, noise and its generator"
    )]
    pub(crate) fn backward_private(
        &self,
        x: &[f32],
        n: usize,
        dlogits: &[f32],
        clip: f32,
        noise_multiplier: f32,
        expected_batch: f32,
        rng: &mut ChaCha8Rng,
        ws: &mut Workspace,
    ) {
        let layers = self.layers.len();
        ws.grads.resize_with(layers, Vec::new);
        ws.deltas.resize_with(layers, Vec::new);
        ws.deltas[layers - 1].clear();
        ws.deltas[layers - 1].extend_from_slice(dlogits);
        for k in (1..layers).rev() {
            let (below, above) = ws.deltas.split_at_mut(k);
            delta_below(
                &self.layers[k],
                &above[0],
                n,
                &ws.acts[k - 1],
                &mut below[k - 1],
            );
        }
        // Per-example squared norms, then the clipping factors.
        let mut norms = vec![0.0f64; n];
        for (k, layer) in self.layers.iter().enumerate() {
            let input = if k == 0 { x } else { &ws.acts[k - 1][..] };
            let rows = input
                .chunks_exact(layer.inputs)
                .zip(ws.deltas[k].chunks_exact(layer.outputs));
            for (norm, (a, d)) in norms.iter_mut().zip(rows) {
                let a2: f64 = a.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                let d2: f64 = d.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                *norm += (a2 + 1.0) * d2;
            }
        }
        for (i, norm) in norms.iter().enumerate() {
            let factor = (f64::from(clip) / (norm.sqrt() + 1e-6)).min(1.0) as f32;
            for delta in ws.deltas.iter_mut() {
                let width = delta.len() / n.max(1);
                delta[i * width..(i + 1) * width]
                    .iter_mut()
                    .for_each(|v| *v *= factor);
            }
        }
        let std = f64::from(noise_multiplier) * f64::from(clip);
        for (k, layer) in self.layers.iter().enumerate() {
            let input = if k == 0 { x } else { &ws.acts[k - 1][..] };
            let g = &mut ws.grads[k];
            layer_grads(layer, input, &ws.deltas[k], n, g);
            for v in g.iter_mut() {
                *v = ((f64::from(*v) + std * gaussian(rng)) / f64::from(expected_batch)) as f32;
            }
        }
    }

    /// One AdamW step (β = 0.9, 0.999; ε = 1e-8); weight decay applies to weights only.
    pub(crate) fn adamw(&mut self, grads: &[Vec<f32>], lr: f32, weight_decay: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-8;
        self.step += 1;
        let t = self.step as i32;
        let c1 = 1.0 - B1.powi(t);
        let c2 = 1.0 - B2.powi(t);
        for (k, layer) in self.layers.iter_mut().enumerate() {
            let nw = layer.weight.len();
            let (m, v, g) = (&mut self.m[k], &mut self.v[k], &grads[k]);
            let params = layer.weight.iter_mut().chain(layer.bias.iter_mut());
            for (i, p) in params.enumerate() {
                m[i] = B1 * m[i] + (1.0 - B1) * g[i];
                v[i] = B2 * v[i] + (1.0 - B2) * g[i] * g[i];
                let update = (m[i] / c1) / ((v[i] / c2).sqrt() + EPS);
                let decay = if i < nw { weight_decay * *p } else { 0.0 };
                *p -= lr * (update + decay);
            }
        }
    }
}

/// A layer's weight and bias gradients (`g`: weights, then biases) from its `n` input rows
/// and output deltas.
fn layer_grads(layer: &Dense, input: &[f32], delta: &[f32], n: usize, g: &mut Vec<f32>) {
    g.resize(layer.weight.len() + layer.bias.len(), 0.0);
    let (gw, gb) = g.split_at_mut(layer.weight.len());
    gemm(
        Mat::new(input, n, layer.inputs).t(),
        Mat::new(delta, n, layer.outputs),
        0.0,
        gw,
    );
    gb.fill(0.0);
    for row in delta.chunks_exact(layer.outputs) {
        for (b, d) in gb.iter_mut().zip(row) {
            *b += d;
        }
    }
}

/// The deltas of the layer below: `delta · Wᵀ`, zero where the lower layer's ReLU was off.
fn delta_below(layer: &Dense, delta: &[f32], n: usize, acts_below: &[f32], out: &mut Vec<f32>) {
    out.resize(n * layer.inputs, 0.0);
    gemm(
        Mat::new(delta, n, layer.outputs),
        Mat::new(&layer.weight, layer.inputs, layer.outputs).t(),
        0.0,
        out,
    );
    for (d, &a) in out.iter_mut().zip(acts_below) {
        if a <= 0.0 {
            *d = 0.0;
        }
    }
}

/// A standard normal draw (Box–Muller on two uniforms in (0, 1]).
pub(crate) fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Cosine-annealed learning rate from `peak` at step 0 to 0 at `total` steps.
pub(crate) fn cosine_lr(peak: f32, step: u64, total: u64) -> f32 {
    let progress = (step as f64 / total.max(1) as f64).min(1.0);
    (0.5 * f64::from(peak) * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{Target, loss_and_grad, soften};

    fn batch_loss(net: &Network, x: &[f32], n: usize, q: &[f32], y: &[u32]) -> (f32, Vec<f32>) {
        let mut ws = Workspace::default();
        net.forward(x, n, &mut ws);
        let k = net.classes();
        let logits = ws.acts.last().unwrap().clone();
        let mut d = vec![0.0; n * k];
        let mut buf = vec![0.0; 2 * k];
        let mut total = 0.0;
        for r in 0..n {
            let t = Target {
                soft: Some(&q[r * k..(r + 1) * k]),
                label: Some(y[r]),
            };
            total += loss_and_grad(
                &logits[r * k..(r + 1) * k],
                t,
                2.0,
                0.5,
                &mut d[r * k..(r + 1) * k],
                &mut buf,
            );
        }
        d.iter_mut().for_each(|g| *g /= n as f32);
        (total / n as f32, d)
    }

    /// Backpropagated parameter gradients agree with central finite differences of the
    /// mean KD loss (f32; step 1e-2, tolerance 2e-3 relative to the gradient scale).
    #[test]
    fn private_backward_clips_each_example_and_otherwise_equals_backward() {
        let net = Network::init(&[4, 5, 3], 3);
        let x: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) * 2.0).collect();
        let q = soften(&[0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.1, 0.8, 0.1], 3, 2.0);
        let y = [0, 2, 1];
        let (_, d) = batch_loss(&net, &x, 3, &q, &y);
        // Per-example dlogits (batch_loss divides by the batch of 3).
        let per_example: Vec<f32> = d.iter().map(|g| g * 3.0).collect();
        let mut ws = Workspace::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        net.forward(&x, 3, &mut ws);
        net.backward(&x, 3, &d, &mut ws);
        let plain = ws.grads.clone();
        // No clipping, no noise, divided by the batch: the ordinary gradient.
        net.backward_private(&x, 3, &per_example, 1e9, 0.0, 3.0, &mut rng, &mut ws);
        for (a, b) in plain.iter().flatten().zip(ws.grads.iter().flatten()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // One example at a time: its gradient's norm is cut to the clipping norm.
        let norm = |ws: &Workspace| -> f64 {
            ws.grads
                .iter()
                .flatten()
                .map(|&g| f64::from(g) * f64::from(g))
                .sum::<f64>()
                .sqrt()
        };
        for i in 0..3 {
            let xi = &x[i * 4..(i + 1) * 4];
            let di = &per_example[i * 3..(i + 1) * 3];
            net.forward(xi, 1, &mut ws);
            net.backward_private(xi, 1, di, 1e9, 0.0, 1.0, &mut rng, &mut ws);
            let full = norm(&ws);
            net.backward_private(xi, 1, di, 0.05, 0.0, 1.0, &mut rng, &mut ws);
            let clipped = norm(&ws);
            assert!(
                full > 0.05,
                "example {i}: norm {full} should exceed the clip"
            );
            assert!((clipped - 0.05).abs() < 1e-4, "example {i}: {clipped}");
        }
        // Noise: σ · clip per coordinate, seeded.
        net.forward(&x, 3, &mut ws);
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let mut b = ChaCha8Rng::seed_from_u64(9);
        net.backward_private(&x, 3, &per_example, 1.0, 1.0, 3.0, &mut a, &mut ws);
        let first = ws.grads.clone();
        net.backward_private(&x, 3, &per_example, 1.0, 1.0, 3.0, &mut b, &mut ws);
        assert_eq!(first, ws.grads, "the same seed gives the same noise");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let net = Network::init(&[4, 5, 3], 3);
        let x: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let q = soften(&[0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.1, 0.8, 0.1], 3, 2.0);
        let y = [0, 2, 1];
        let (_, d) = batch_loss(&net, &x, 3, &q, &y);
        let mut ws = Workspace::default();
        net.forward(&x, 3, &mut ws);
        net.backward(&x, 3, &d, &mut ws);
        for k in 0..2 {
            let n_params = net.layers[k].weight.len() + net.layers[k].bias.len();
            for i in 0..n_params {
                let h = 1e-2;
                let perturb = |delta: f32| {
                    let mut p = net.clone();
                    let l = &mut p.layers[k];
                    let nw = l.weight.len();
                    if i < nw {
                        l.weight[i] += delta
                    } else {
                        l.bias[i - nw] += delta
                    }
                    batch_loss(&p, &x, 3, &q, &y).0
                };
                let numeric = (perturb(h) - perturb(-h)) / (2.0 * h);
                let analytic = ws.grads[k][i];
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "layer {k} param {i}: {numeric} vs {analytic}"
                );
            }
        }
    }

    #[test]
    fn cosine_schedule_starts_at_peak_and_ends_at_zero() {
        assert_eq!(cosine_lr(0.1, 0, 100), 0.1);
        assert!((cosine_lr(0.1, 50, 100) - 0.05).abs() < 1e-7);
        assert!(cosine_lr(0.1, 100, 100).abs() < 1e-9);
    }
}

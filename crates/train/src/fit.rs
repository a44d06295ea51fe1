//! The training loop: seeded shuffles, mini-batch AdamW on the distillation objective under
//! a step budget (linear warm-up, then cosine decay), validation after every epoch (KL to
//! the teacher when there is one), early stopping with the best weights restored, and a
//! checkpoint after every epoch so an interrupted run resumes where it stopped.
//!
//! Every random choice derives from `(seed, epoch)`, so a resumed run produces exactly the
//! weights an uninterrupted one would, and two runs with one seed give identical bytes.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use distillery_runtime::Dense;

use crate::error::{Result, TrainError};
use crate::loss::{Target, loss_and_grad};
use crate::network::{Network, Workspace, cosine_lr};
use crate::params::ValidDistillParams;

/// Rows to learn from: encoded inputs, optional teacher targets, optional labels.
#[derive(Debug, Clone, Copy)]
pub struct TransferSet<'a> {
    /// `n × width` encoded inputs, row-major.
    pub x: &'a [f32],
    /// Input width.
    pub width: usize,
    /// `n × classes` teacher distribution at the training temperature ([`crate::soften`]);
    /// `None` trains on hard labels alone (the scratch baseline).
    pub soft: Option<&'a [f32]>,
    /// Hard label per row (`None` = unlabelled).
    pub labels: &'a [Option<u32>],
    /// Number of classes.
    pub classes: usize,
}

impl TransferSet<'_> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn check(&self, what: &str) -> Result<()> {
        let n = self.len();
        let soft_ok = self.soft.is_none_or(|s| s.len() == n * self.classes);
        if self.x.len() != n * self.width || !soft_ok {
            return Err(TrainError::Shape(format!(
                "{what}: {n} labels, {} inputs of width {}, {:?} soft targets for {} classes",
                self.x.len(),
                self.width,
                self.soft.map(<[f32]>::len),
                self.classes
            )));
        }
        Ok(())
    }

    fn target(&self, row: usize) -> Target<'_> {
        Target {
            soft: self
                .soft
                .map(|s| &s[row * self.classes..(row + 1) * self.classes]),
            label: self.labels[row],
        }
    }
}

/// Losses after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training objective over the epoch.
    pub train_loss: f32,
    /// The validation score early stopping watches (equal to `train_loss` without
    /// validation rows): T² · KL to the teacher when the rows carry teacher targets (up to a
    /// constant), else cross-entropy on the labels.
    pub validation_loss: f32,
}

/// Differentially private training (DP-SGD): Poisson-sampled batches, per-example
/// gradients clipped to `max_grad_norm`, Gaussian noise of `noise_multiplier ·
/// max_grad_norm`. The privacy spent is the accountant's (`crate::accountant`) for the
/// steps [`FitOutcome::steps`] reports at sample rate batch size / rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpSgd {
    /// Noise standard deviation over the clipping norm (σ).
    pub noise_multiplier: f32,
    /// Per-example L2 clipping norm (C).
    pub max_grad_norm: f32,
}

/// Checkpointing, progress reporting and privacy for [`fit`].
#[derive(Default)]
pub struct FitOptions<'a> {
    /// Train with DP-SGD instead of plain mini-batches.
    pub privacy: Option<DpSgd>,
    /// Where to write the per-epoch checkpoint (`None` = no checkpoint).
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint if it exists and belongs to this job.
    pub resume: bool,
    /// Identifies the job (recipe + data); a checkpoint with another key is refused.
    pub job_key: String,
    /// Called after every epoch.
    pub on_epoch: Option<&'a (dyn Fn(&EpochRecord) + Sync)>,
    /// Stop after this epoch even if more remain, as an interruption would; a later call
    /// with `resume` continues from the checkpoint.
    pub stop_after: Option<usize>,
    /// Train on adversarial rows instead of clean ones.
    pub adversarial: Option<Adversarial<'a>>,
}

/// Adversarial training as adversarially robust distillation (Madry et al. 2018; Goldblum
/// et al. 2020): every batch's rows are replaced by PGD examples against the current
/// network, aimed at the row's hard target (the teacher's top class, else its label), and
/// the network learns the clean rows' targets on them.
#[derive(Debug, Clone, Copy)]
pub struct Adversarial<'a> {
    /// The attack run on every batch.
    pub attack: crate::evasion::Attack,
    /// Where rows may move.
    pub constraints: &'a crate::evasion::Constraints,
}

/// A trained network and how training went.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// The best layers (lowest validation loss).
    pub layers: Vec<Dense>,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// True when early stopping ended training before the last epoch.
    pub stopped_early: bool,
    /// Epoch the run resumed after, if it resumed from a checkpoint.
    pub resumed_after: Option<usize>,
    /// Steps of the epochs run, empty Poisson batches included (with DP-SGD, what the
    /// accountant charges for).
    pub steps: u64,
    /// Batch size over usable rows: each row's chance to be in a step's batch under DP-SGD.
    pub sample_rate: f64,
}

/// Trains a student network on `train`, early-stopping on `validation`.
///
/// # Errors
/// Inconsistent shapes, an empty training set, divergence, or checkpoint I/O problems.
pub fn fit(
    params: &ValidDistillParams,
    train: &TransferSet<'_>,
    validation: Option<&TransferSet<'_>>,
    options: &FitOptions<'_>,
) -> Result<FitOutcome> {
    train.check("training set")?;
    if let Some(v) = validation {
        v.check("validation set")?;
    }
    let usable: Vec<usize> = (0..train.len())
        .filter(|&r| train.soft.is_some() || train.labels[r].is_some())
        .collect();
    if usable.is_empty() {
        return Err(TrainError::Empty(
            "no labelled rows and no teacher targets".into(),
        ));
    }
    let mut dims = vec![train.width];
    dims.extend(&params.hidden);
    dims.push(train.classes);
    let mut state = State {
        net: Network::init(&dims, params.seed),
        best: None,
        best_loss: f32::INFINITY,
        best_epoch: 0,
        bad_epochs: 0,
        history: Vec::new(),
    };
    let mut resumed_after = None;
    if let (true, Some(path)) = (options.resume, &options.checkpoint)
        && path.exists()
    {
        state = State::load(path, &options.job_key, &dims)?;
        resumed_after = state.history.last().map(|r| r.epoch);
    }
    let bs = params.batch_size.min(usable.len());
    let steps_per_epoch = usable.len().div_ceil(bs) as u64;
    let epochs = params.epochs_for(usable.len());
    let total_steps = steps_per_epoch * epochs as u64;
    let warmup = warmup_steps(total_steps);
    // Patience as a count of epochs: given in steps, it is rounded up to whole epochs
    // (validation runs after each epoch).
    let patience = match params.patience_steps {
        Some(steps) => steps.div_ceil(steps_per_epoch).max(1) as usize,
        None => params.patience,
    };
    let k = train.classes;
    let mut ws = Workspace::default();
    let mut xb = vec![0.0f32; bs * train.width];
    let mut dlogits = vec![0.0f32; bs * k];
    let mut buf = vec![0.0f32; 2 * k];
    let mut stopped_early = false;
    let start_epoch = state.history.len() + 1;
    if patience > 0 && state.bad_epochs >= patience {
        stopped_early = true;
    }
    for epoch in start_epoch..=epochs {
        if stopped_early {
            break;
        }
        let batches: Vec<Vec<usize>> = match options.privacy {
            // Poisson sampling: every row joins each step's batch with probability
            // batch / rows, independently (what the accountant assumes).
            Some(_) => {
                let q = bs as f64 / usable.len() as f64;
                let mut rng = ChaCha8Rng::seed_from_u64(
                    params.seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
                );
                (0..steps_per_epoch)
                    .map(|_| {
                        usable
                            .iter()
                            .copied()
                            .filter(|_| rng.random::<f64>() < q)
                            .collect()
                    })
                    .collect()
            }
            None => {
                let mut order = usable.clone();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                    params.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ));
                order.chunks(bs).map(<[usize]>::to_vec).collect()
            }
        };
        let mut noise = ChaCha8Rng::seed_from_u64(
            params.seed ^ (epoch as u64).wrapping_mul(0x94D0_49BB_1331_11EB),
        );
        let mut total = 0.0f64;
        for batch in &batches {
            let n = batch.len();
            if n == 0 {
                // An empty Poisson batch: no update (the accountant still counts the step).
                continue;
            }
            if xb.len() < n * train.width {
                xb.resize(n * train.width, 0.0);
                dlogits.resize(n * k, 0.0);
            }
            for (i, &r) in batch.iter().enumerate() {
                xb[i * train.width..(i + 1) * train.width]
                    .copy_from_slice(&train.x[r * train.width..(r + 1) * train.width]);
            }
            if let Some(adv) = &options.adversarial {
                let aim: Vec<usize> = batch.iter().map(|&r| hard_target(train, r)).collect();
                let moved = crate::evasion::attack(
                    &state.net.layers,
                    &xb[..n * train.width],
                    &aim,
                    adv.constraints,
                    &adv.attack,
                );
                xb[..n * train.width].copy_from_slice(&moved);
            }
            state.net.forward(&xb[..n * train.width], n, &mut ws);
            let logits = &ws.acts[ws.acts.len() - 1];
            for (i, &r) in batch.iter().enumerate() {
                let row = i * k..(i + 1) * k;
                let l = loss_and_grad(
                    &logits[row.clone()],
                    train.target(r),
                    params.temperature,
                    params.soft_weight,
                    &mut dlogits[row],
                    &mut buf,
                );
                total += f64::from(l);
            }
            match options.privacy {
                Some(dp) => state.net.backward_private(
                    &xb[..n * train.width],
                    n,
                    &dlogits[..n * k],
                    dp.max_grad_norm,
                    dp.noise_multiplier,
                    bs as f32,
                    &mut noise,
                    &mut ws,
                ),
                None => {
                    let scale = 1.0 / n as f32;
                    dlogits[..n * k].iter_mut().for_each(|g| *g *= scale);
                    state
                        .net
                        .backward(&xb[..n * train.width], n, &dlogits[..n * k], &mut ws);
                }
            }
            let lr = schedule(params.learning_rate, state.net.step, total_steps, warmup);
            state.net.adamw(&ws.grads, lr, params.weight_decay);
        }
        let train_loss = (total / usable.len() as f64) as f32;
        let validation_loss = match validation {
            Some(v) if !v.is_empty() => mean_loss(&state.net, v, params, &mut ws),
            _ => train_loss,
        };
        if !train_loss.is_finite() || !validation_loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch,
                loss: train_loss,
            });
        }
        let record = EpochRecord {
            epoch,
            train_loss,
            validation_loss,
        };
        if validation_loss < state.best_loss {
            state.best_loss = validation_loss;
            state.best_epoch = epoch;
            state.best = Some(state.net.layers.clone());
            state.bad_epochs = 0;
        } else {
            state.bad_epochs += 1;
        }
        state.history.push(record.clone());
        if let Some(path) = &options.checkpoint {
            state.save(path, &options.job_key)?;
        }
        if let Some(cb) = options.on_epoch {
            cb(&record);
        }
        if patience > 0 && state.bad_epochs >= patience && epoch < epochs {
            stopped_early = true;
        }
        if options.stop_after == Some(epoch) {
            break;
        }
    }
    let steps = state.history.len() as u64 * steps_per_epoch;
    Ok(FitOutcome {
        layers: state.best.unwrap_or(state.net.layers),
        history: state.history,
        best_epoch: state.best_epoch,
        stopped_early,
        resumed_after,
        steps,
        sample_rate: bs as f64 / usable.len() as f64,
    })
}

/// The class an adversarial example is aimed away from: the teacher's top class, else the
/// label.
fn hard_target(train: &TransferSet<'_>, row: usize) -> usize {
    let t = train.target(row);
    match (t.soft, t.label) {
        (Some(p), _) => p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i),
        (None, Some(y)) => y as usize,
        (None, None) => 0,
    }
}

/// Linear warm-up steps before the cosine decay: 1% of the run, at most 100 steps, so the
/// first AdamW updates (whose second-moment estimates are still noisy) stay small.
fn warmup_steps(total: u64) -> u64 {
    (total / 100).min(100)
}

/// The learning rate at `step`: linear warm-up to `peak` over `warmup` steps, then cosine
/// decay to 0 at `total`.
fn schedule(peak: f32, step: u64, total: u64, warmup: u64) -> f32 {
    if step < warmup {
        return peak * (step + 1) as f32 / warmup as f32;
    }
    cosine_lr(peak, step - warmup, total.saturating_sub(warmup))
}

/// The validation score early stopping watches: with teacher targets, the distillation
/// term alone (T² · KL from the teacher's softened distribution to the student's, up to a
/// constant), i.e. how well the student imitates its teacher; without, cross-entropy on
/// the labels.
fn mean_loss(
    net: &Network,
    set: &TransferSet<'_>,
    params: &ValidDistillParams,
    ws: &mut Workspace,
) -> f32 {
    const CHUNK: usize = 4096;
    let k = set.classes;
    let mut grad = vec![0.0; k];
    let mut buf = vec![0.0; 2 * k];
    let (mut total, mut count) = (0.0f64, 0usize);
    for start in (0..set.len()).step_by(CHUNK) {
        let n = CHUNK.min(set.len() - start);
        net.forward(&set.x[start * set.width..(start + n) * set.width], n, ws);
        let logits = &ws.acts[ws.acts.len() - 1];
        for i in 0..n {
            let t = set.target(start + i);
            if t.soft.is_none() && t.label.is_none() {
                continue;
            }
            let soft_weight = if t.soft.is_some() {
                1.0
            } else {
                params.soft_weight
            };
            total += f64::from(loss_and_grad(
                &logits[i * k..(i + 1) * k],
                t,
                params.temperature,
                soft_weight,
                &mut grad,
                &mut buf,
            ));
            count += 1;
        }
    }
    (total / count.max(1) as f64) as f32
}

/// Everything needed to continue training exactly where it stopped.
struct State {
    net: Network,
    best: Option<Vec<Dense>>,
    best_loss: f32,
    best_epoch: usize,
    bad_epochs: usize,
    history: Vec<EpochRecord>,
}

#[derive(Serialize, Deserialize)]
struct CheckpointHeader {
    job_key: String,
    dims: Vec<usize>,
    step: u64,
    best_loss: f32,
    best_epoch: usize,
    bad_epochs: usize,
    history: Vec<EpochRecord>,
    has_best: bool,
}

impl State {
    fn dims(&self) -> Vec<usize> {
        let mut d = vec![self.net.layers[0].inputs];
        d.extend(self.net.layers.iter().map(|l| l.outputs));
        d
    }

    fn save(&self, path: &Path, job_key: &str) -> Result<()> {
        let header = CheckpointHeader {
            job_key: job_key.to_string(),
            dims: self.dims(),
            step: self.net.step,
            best_loss: self.best_loss,
            best_epoch: self.best_epoch,
            bad_epochs: self.bad_epochs,
            history: self.history.clone(),
            has_best: self.best.is_some(),
        };
        let mut blobs: Vec<&[f32]> = Vec::new();
        for (k, l) in self.net.layers.iter().enumerate() {
            blobs.extend([
                &l.weight[..],
                &l.bias[..],
                &self.net.m[k][..],
                &self.net.v[k][..],
            ]);
        }
        if let Some(best) = &self.best {
            for l in best {
                blobs.extend([&l.weight[..], &l.bias[..]]);
            }
        }
        let json = serde_json::to_vec(&header).map_err(|e| ckpt_error(path, e))?;
        let mut bytes =
            Vec::with_capacity(8 + json.len() + blobs.iter().map(|b| 4 * b.len()).sum::<usize>());
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for b in blobs {
            bytes.extend(b.iter().flat_map(|x| x.to_le_bytes()));
        }
        distillery_runtime::write_atomic(path, &bytes).map_err(|e| ckpt_error(path, e))
    }

    fn load(path: &Path, job_key: &str, dims: &[usize]) -> Result<State> {
        let bytes = std::fs::read(path).map_err(|e| ckpt_error(path, e))?;
        let corrupt = || {
            ckpt_error(
                path,
                "truncated or corrupt checkpoint; delete it and run without --resume",
            )
        };
        let len = bytes.get(..8).ok_or_else(corrupt)?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let json = bytes.get(8..8 + len).ok_or_else(corrupt)?;
        let header: CheckpointHeader =
            serde_json::from_slice(json).map_err(|e| ckpt_error(path, e))?;
        if header.job_key != job_key || header.dims != dims {
            return Err(ckpt_error(
                path,
                "it was written by a different recipe or dataset; delete it or run without --resume",
            ));
        }
        let mut floats = bytes[8 + len..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut take = |n: usize| -> Result<Vec<f32>> {
            let v: Vec<f32> = floats.by_ref().take(n).collect();
            if v.len() == n { Ok(v) } else { Err(corrupt()) }
        };
        let mut net = Network::init(dims, 0);
        for k in 0..net.layers.len() {
            let (nw, nb) = (net.layers[k].weight.len(), net.layers[k].bias.len());
            net.layers[k].weight = take(nw)?.into();
            net.layers[k].bias = take(nb)?;
            net.m[k] = take(nw + nb)?;
            net.v[k] = take(nw + nb)?;
        }
        net.step = header.step;
        let best = if header.has_best {
            let mut layers = net.layers.clone();
            for l in &mut layers {
                l.weight = take(l.weight.len())?.into();
                l.bias = take(l.bias.len())?;
            }
            Some(layers)
        } else {
            None
        };
        Ok(State {
            net,
            best,
            best_loss: header.best_loss,
            best_epoch: header.best_epoch,
            bad_epochs: header.bad_epochs,
            history: header.history,
        })
    }
}

fn ckpt_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{DistillParams, MAX_EPOCHS};

    /// Two Gaussian-ish blobs in 2-D, labels by sign of x0 + x1.
    fn blobs(n: usize) -> (Vec<f32>, Vec<Option<u32>>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = ((i * 37 % 101) as f32 / 50.0) - 1.0;
            let b = ((i * 53 % 97) as f32 / 48.0) - 1.0;
            x.extend([a, b]);
            y.push(Some(u32::from(a + b > 0.0)));
        }
        (x, y)
    }

    fn params(epochs: usize) -> ValidDistillParams {
        DistillParams {
            hidden: vec![8],
            epochs,
            batch_size: 32,
            learning_rate: 0.02,
            patience: 0,
            ..Default::default()
        }
        .check()
        .unwrap()
    }

    #[test]
    fn a_step_budget_becomes_whole_epochs_and_patience_in_steps_stops_training() {
        let (x, y) = blobs(400);
        let set = TransferSet {
            x: &x,
            width: 2,
            soft: None,
            labels: &y,
            classes: 2,
        };
        // 400 rows in batches of 32 = 13 steps per epoch: 100 steps = 8 epochs.
        let budget = DistillParams {
            steps: Some(100),
            ..(*params(1)).clone()
        }
        .check()
        .unwrap();
        assert_eq!(budget.epochs_for(400), 8);
        assert_eq!(budget.epochs_for(1), MAX_EPOCHS.min(100));
        let out = fit(&budget, &set, None, &FitOptions::default()).unwrap();
        assert_eq!(out.history.len(), 8);
        // A validation set the network cannot improve on (labels independent of x) stops
        // training once 30 steps (3 epochs) pass without a better score.
        let noise: Vec<Option<u32>> = (0..400).map(|i| Some((i * 7 % 3 == 0) as u32)).collect();
        let val = TransferSet {
            labels: &noise,
            ..set
        };
        let patient = DistillParams {
            steps: Some(2000),
            patience_steps: Some(30),
            ..(*params(1)).clone()
        }
        .check()
        .unwrap();
        let out = fit(&patient, &set, Some(&val), &FitOptions::default()).unwrap();
        assert!(out.stopped_early, "{} epochs", out.history.len());
        assert_eq!(out.history.len(), out.best_epoch + 3);
    }

    #[test]
    fn the_schedule_warms_up_then_decays_to_zero() {
        assert_eq!(warmup_steps(50), 0);
        assert_eq!(warmup_steps(5_000), 50);
        assert_eq!(warmup_steps(1_000_000), 100);
        assert!((schedule(1.0, 0, 5_000, 50) - 0.02).abs() < 1e-6);
        assert!((schedule(1.0, 49, 5_000, 50) - 1.0).abs() < 1e-6);
        assert!((schedule(1.0, 50, 5_000, 50) - 1.0).abs() < 1e-6);
        assert!(schedule(1.0, 4_999, 5_000, 50) < 1e-3);
        assert!((schedule(1.0, 10, 100, 0) - cosine_lr(1.0, 10, 100)).abs() < 1e-9);
    }

    #[test]
    fn dp_sgd_still_learns_and_is_deterministic() {
        let (x, y) = blobs(400);
        let set = TransferSet {
            x: &x,
            width: 2,
            soft: None,
            labels: &y,
            classes: 2,
        };
        let p = params(20);
        let options = FitOptions {
            privacy: Some(DpSgd {
                noise_multiplier: 1.0,
                max_grad_norm: 1.0,
            }),
            ..FitOptions::default()
        };
        let a = fit(&p, &set, None, &options).unwrap();
        let b = fit(&p, &set, None, &options).unwrap();
        assert_eq!(a.layers, b.layers, "same seed, same private student");
        assert_eq!(a.steps, 20 * 13, "every scheduled step is charged");
        let plain = fit(&p, &set, None, &FitOptions::default()).unwrap();
        assert_ne!(a.layers, plain.layers, "the noise changes the student");
        let first = a.history[0].train_loss;
        let last = a.history.last().unwrap().train_loss;
        assert!(last < 0.7 * first, "DP-SGD loss {first} -> {last}");
    }

    #[test]
    fn training_learns_a_separable_problem_and_is_deterministic() {
        let (x, y) = blobs(400);
        let set = TransferSet {
            x: &x,
            width: 2,
            soft: None,
            labels: &y,
            classes: 2,
        };
        let a = fit(&params(20), &set, None, &FitOptions::default()).unwrap();
        let b = fit(&params(20), &set, None, &FitOptions::default()).unwrap();
        assert_eq!(a.layers, b.layers);
        let first = a.history[0].train_loss;
        let last = a.history.last().unwrap().train_loss;
        assert!(last < 0.5 * first, "loss {first} -> {last}");
    }

    #[test]
    fn resumed_training_equals_uninterrupted_training() {
        let (x, y) = blobs(300);
        let set = TransferSet {
            x: &x,
            width: 2,
            soft: None,
            labels: &y,
            classes: 2,
        };
        let dir = std::env::temp_dir().join(format!("distillery-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ckpt = dir.join("c.bin");
        let opts = FitOptions {
            checkpoint: Some(ckpt),
            resume: true,
            job_key: "job".into(),
            ..FitOptions::default()
        };
        let full = fit(&params(8), &set, None, &FitOptions::default()).unwrap();
        let interrupted = FitOptions {
            stop_after: Some(3),
            ..opts
        };
        let partial = fit(&params(8), &set, None, &interrupted).unwrap();
        assert_eq!(partial.history.len(), 3);
        assert_ne!(partial.layers, full.layers);
        let opts = FitOptions {
            stop_after: None,
            ..interrupted
        };
        let resumed = fit(&params(8), &set, None, &opts).unwrap();
        assert_eq!(resumed.resumed_after, Some(3));
        assert_eq!(resumed.layers, full.layers, "resume is bit-exact");
        assert_eq!(resumed.history, full.history);
        let wrong = FitOptions {
            job_key: "other".into(),
            ..opts
        };
        assert!(fit(&params(8), &set, None, &wrong).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

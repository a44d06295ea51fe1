//! Membership inference finds an over-fitted model, and DP-SGD closes the leak: a wide
//! network trained for many epochs on 300 noisy rows (no validation to stop it) is attacked
//! with the loss attack on its 300 training rows against 300 fresh rows.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use distillery_eval::membership::attacks_on;
use distillery_runtime::{Encoder, Provenance, Student};
use distillery_train::accountant;
use distillery_train::{DistillParams, DpSgd, FitOptions, TransferSet, fit};

const WIDTH: usize = 10;

/// `n` rows of 10 features; the label follows the first feature's sign, flipped for 30%.
fn rows(n: usize, seed: u64) -> (Vec<f32>, Vec<Option<u32>>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(n * WIDTH);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..WIDTH).map(|_| (uniform() * 2.0 - 1.0) as f32).collect();
        let clean = u32::from(row[0] > 0.0);
        y.push(Some(if uniform() < 0.3 { 1 - clean } else { clean }));
        x.extend(row);
    }
    (x, y)
}

fn student(layers: Vec<distillery_runtime::Dense>) -> Student {
    Student::new(
        Encoder::identity(WIDTH),
        vec!["0".into(), "1".into()],
        layers,
        Vec::new(),
        Provenance::new(),
    )
    .unwrap()
}

fn loss_auc(privacy: Option<DpSgd>) -> f64 {
    let (x, y) = rows(300, 1);
    let (tx, ty) = rows(300, 2);
    let params = DistillParams {
        hidden: vec![128, 128],
        epochs: 200,
        batch_size: 32,
        learning_rate: 0.003,
        weight_decay: 0.0,
        patience: 0,
        ..DistillParams::default()
    }
    .check()
    .unwrap();
    let set = TransferSet {
        x: &x,
        width: WIDTH,
        soft: None,
        labels: &y,
        classes: 2,
    };
    let out = fit(
        &params,
        &set,
        None,
        &FitOptions {
            privacy,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let s = student(out.layers);
    let members = s.predict_encoded_batch(&x, 300);
    let others = s.predict_encoded_batch(&tx, 300);
    attacks_on("student", 2, &members, &y, &others, &ty)[0].auc
}

#[test]
fn the_loss_attack_sees_overfitting_and_dp_sgd_hides_it() {
    let overfit = loss_auc(None);
    eprintln!("loss-attack AUC, over-fitted: {overfit:.3}");
    assert!(overfit > 0.7, "over-fitted model: AUC {overfit}");
    // ε = 1 at δ = 1e-5 for 200 epochs of batches of 32 over 300 rows.
    let steps = 200 * 300_u64.div_ceil(32);
    let (sigma, _) = accountant::noise_multiplier(1.0, 1e-5, 32.0 / 300.0, steps, 0.01).unwrap();
    let private = loss_auc(Some(DpSgd {
        noise_multiplier: sigma as f32,
        max_grad_norm: 1.0,
    }));
    eprintln!("loss-attack AUC, DP-SGD at ε = 1: {private:.3}");
    assert!(
        (private - 0.5).abs() < 0.06,
        "DP student (σ = {sigma:.2}): AUC {private}"
    );
}

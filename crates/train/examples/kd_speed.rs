//! Training-speed benchmark driver (used by `bench/train_speed.py`): distils a student from
//! a CSV of features `f*`, a label column `y` and teacher probabilities `p*`, with the same
//! loss, optimiser, schedule and batch as the PyTorch side, and prints per-epoch wall times
//! and test accuracy as JSON.
//!
//! Usage: kd_speed <train.csv> <test.csv> <hidden> <epochs> <batch> <lr> <temperature> <soft_weight>

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark driver: aborting with a message is the right failure mode"
)]

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use distillery_data::{Column, ReadOptions, Table};
use distillery_train::{DistillParams, FitOptions, TransferSet, fit, soften};

fn load(path: &str) -> (Vec<f32>, usize, Vec<f32>, usize, Vec<Option<u32>>) {
    let t = Table::read(Path::new(path), &ReadOptions::default()).expect("read csv");
    let num = |c: &Column, r: usize| c.number(r).unwrap_or(0.0) as f32;
    let fs: Vec<&Column> = t
        .names()
        .iter()
        .zip(t.columns())
        .filter(|(n, _)| n.starts_with('f'))
        .map(|(_, c)| c)
        .collect();
    let ps: Vec<&Column> = t
        .names()
        .iter()
        .zip(t.columns())
        .filter(|(n, _)| n.starts_with('p'))
        .map(|(_, c)| c)
        .collect();
    let y = t.column("y").expect("y column");
    let n = t.n_rows();
    let x: Vec<f32> = (0..n)
        .flat_map(|r| fs.iter().map(move |c| num(c, r)))
        .collect();
    let p: Vec<f32> = (0..n)
        .flat_map(|r| ps.iter().map(move |c| num(c, r)))
        .collect();
    let labels = (0..n).map(|r| y.number(r).map(|v| v as u32)).collect();
    (x, fs.len(), p, ps.len(), labels)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        a.get(i).cloned().unwrap_or_else(|| {
            panic!("usage: kd_speed train.csv test.csv hidden epochs batch lr T soft_weight")
        })
    };
    let (x, width, p, k, y) = load(&arg(1));
    let (tx, _, _, _, ty) = load(&arg(2));
    let params = DistillParams {
        hidden: vec![arg(3).parse().expect("hidden")],
        epochs: arg(4).parse().expect("epochs"),
        batch_size: arg(5).parse().expect("batch"),
        learning_rate: arg(6).parse().expect("lr"),
        temperature: arg(7).parse().expect("T"),
        soft_weight: arg(8).parse().expect("soft_weight"),
        weight_decay: 1e-2,
        patience: 0,
        steps: None,
        patience_steps: None,
        seed: 7,
    }
    .check()
    .expect("params");
    let soft = soften(&p, k, params.temperature);
    let set = TransferSet {
        x: &x,
        width,
        soft: Some(&soft),
        labels: &y,
        classes: k,
    };
    let times = Mutex::new(Vec::new());
    let last = Mutex::new(Instant::now());
    let on_epoch = |_: &distillery_train::EpochRecord| {
        let mut l = last.lock().expect("lock");
        times.lock().expect("lock").push(l.elapsed().as_secs_f64());
        *l = Instant::now();
    };
    *last.lock().expect("lock") = Instant::now();
    let out = fit(
        &params,
        &set,
        None,
        &FitOptions {
            on_epoch: Some(&on_epoch),
            ..Default::default()
        },
    )
    .expect("fit");
    let student = distillery_runtime::Student::new(
        distillery_runtime::Encoder::new(
            (0..width)
                .map(|i| distillery_runtime::FeatureEncoder::Numeric {
                    name: format!("f{i}"),
                    mean: 0.0,
                    scale: 1.0,
                    missing_indicator: false,
                    levels: Vec::new(),
                    bins: Vec::new(),
                })
                .collect(),
        ),
        (0..k).map(|c| c.to_string()).collect(),
        out.layers,
        vec![],
        Default::default(),
    )
    .expect("student");
    let probs = student.predict_encoded_batch(&tx, ty.len());
    let acc = accuracy(&probs, k, &ty);
    let times = times.into_inner().expect("lock");
    println!("{{\"epoch_seconds\": {times:?}, \"test_accuracy\": {acc}}}");
}

fn accuracy(p: &[f32], k: usize, y: &[Option<u32>]) -> f64 {
    let hits = p
        .chunks_exact(k)
        .zip(y)
        .filter(|(row, y)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (j, &v)| if v > row[b] { j } else { b });
            Some(best as u32) == **y
        })
        .count();
    hits as f64 / y.len() as f64
}

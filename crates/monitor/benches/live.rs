//! Live monitoring throughput: one-row records (the demo's 14 Adult features, as the
//! server hands them over) pushed through a `LiveMonitor` with windows of 1,000 rows and
//! no teacher. Prints microseconds per record (best of five rounds of 100,000), split into
//! buffering and window work.
//!
//! Usage: cargo bench -p distillery-monitor --bench live -- <a run's profile.json>

#![allow(clippy::expect_used, reason = "a benchmark binary stops on bad input")]

use std::path::Path;
use std::time::Instant;

use distillery_monitor::Profile;
use distillery_monitor::live::{LiveConfig, LiveMonitor};
use serde_json::{Value, json};

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a != "--bench") else {
        eprintln!("usage: live <profile.json>");
        return;
    };
    let profile = Profile::load(Path::new(&path)).expect("profile");
    let sample = profile.sample.clone().expect("a row sample");
    let rows = sample.rows();
    let records: Vec<distillery_monitor::PredictionRecord> = (0..rows)
        .map(|r| {
            let inputs: Vec<Value> = profile
                .columns
                .iter()
                .zip(&sample.columns)
                .map(|(c, cells)| {
                    let (datatype, cell) = match cells {
                        distillery_monitor::multivariate::SampleColumn::Numeric(v) => ("FP64", json!(v[r])),
                        distillery_monitor::multivariate::SampleColumn::Categorical(v) => ("BYTES", json!(v[r])),
                    };
                    json!({"name": c.name, "datatype": datatype, "shape": [1, 1], "data": [cell]})
                })
                .collect();
            distillery_monitor::PredictionRecord {
                rows: Some(1),
                inputs: Some(json!(inputs)),
                outputs: Some(
                    json!([{"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.7, 0.3]}]),
                ),
                ..distillery_monitor::PredictionRecord::default()
            }
        })
        .collect();
    for (label, window) in [("buffering only", usize::MAX), ("windows of 1,000", 1000)] {
        let config = LiveConfig {
            window,
            teacher_fraction: 0.0,
            ..LiveConfig::default()
        };
        // The best of five rounds: the machine's other work only ever slows a round.
        let n = 100_000;
        let us = (0..5)
            .map(|_| {
                let mut monitor = LiveMonitor::new("m", profile.clone(), config.clone(), None);
                let start = Instant::now();
                for i in 0..n {
                    let _ = monitor.observe(&records[i % records.len()]);
                }
                start.elapsed().as_secs_f64() * 1e6 / n as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!("{{\"case\": \"{label}\", \"us_per_record\": {us:.2}}}");
    }
}

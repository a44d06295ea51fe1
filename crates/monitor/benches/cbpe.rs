//! CBPE on the whole car-loan data (NannyML's synthetic car_loan_drift): fit on the
//! reference period, estimate the analysis period in chunks of 5,000, print one JSON line
//! per chunk for `bench/cbpe.sh` to compare with NannyML.
//!
//! Usage: cargo bench -p distillery-monitor --bench cbpe -- <car_loan_drift.csv>

#![allow(clippy::expect_used, reason = "a benchmark binary stops on bad input")]

use std::path::Path;
use std::time::Instant;

use distillery_data::{ReadOptions, Table};
use distillery_monitor::cbpe::{BinaryReference, Cbpe};

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a != "--bench") else {
        eprintln!("usage: cbpe <car_loan_drift.csv>");
        return;
    };
    let table = Table::read(Path::new(&path), &ReadOptions::default()).expect("readable data");
    let number = |name: &str| {
        let c = table.column(name).expect("column");
        (0..table.n_rows())
            .map(|r| c.number(r).expect("number"))
            .collect::<Vec<f64>>()
    };
    let (p, pred, truth) = (number("y_pred_proba"), number("y_pred"), number("repaid"));
    let period = table.column("period").expect("period");
    let split = |want: &str| {
        let rows: Vec<usize> = (0..table.n_rows())
            .filter(|&r| period.text(r) == Some(want))
            .collect();
        (
            rows.iter().map(|&r| p[r]).collect::<Vec<f64>>(),
            rows.iter().map(|&r| pred[r] as u8).collect::<Vec<u8>>(),
            rows.iter().map(|&r| truth[r] as u8).collect::<Vec<u8>>(),
        )
    };
    let (rp, rpred, rtruth) = split("reference");
    let (ap, apred, atruth) = split("analysis");
    let start = Instant::now();
    let cbpe = Cbpe::fit(
        &BinaryReference {
            probability: &rp,
            predicted: &rpred,
            truth: &rtruth,
        },
        5000,
        42,
    )
    .expect("fit");
    let mut chunks = cbpe.estimate(&rp, &rpred, Some(&rtruth));
    chunks.extend(cbpe.estimate(&ap, &apred, Some(&atruth)));
    let seconds = start.elapsed().as_secs_f64();
    for c in &chunks {
        println!(
            "{}",
            serde_json::json!({"tool": "distillery", "accuracy": c.accuracy, "f1": c.f1, "alert": c.alert})
        );
    }
    println!(
        "{}",
        serde_json::json!({"tool": "distillery", "seconds": seconds, "calibrated": cbpe.calibrator.is_some()})
    );
}

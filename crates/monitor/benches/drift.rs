//! Batch drift speed: profiles of two data files plus the per-column report, timed in
//! memory (the files are read first, untimed, as the Python peers get DataFrames).
//!
//! Usage: cargo bench -p distillery-monitor --bench drift -- <reference.csv> <current.csv> <numeric,...> <categorical,...>
//! Prints one JSON line: best and median seconds over 5 repetitions.

#![allow(clippy::expect_used, reason = "a benchmark binary stops on bad input")]

use std::path::Path;
use std::time::Instant;

use distillery_data::{Kind, ReadOptions, Table};
use distillery_monitor::{DriftOptions, DriftReport, Profile};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() < 4 {
        eprintln!("usage: drift <reference> <current> <numeric,...> <categorical,...>");
        return;
    }
    let mut features: Vec<(String, Kind)> = Vec::new();
    for (list, kind) in [(&args[2], Kind::Numeric), (&args[3], Kind::Categorical)] {
        features.extend(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| (s.to_string(), kind)),
        );
    }
    let options = ReadOptions {
        keep_text: features
            .iter()
            .filter(|(_, k)| *k == Kind::Categorical)
            .map(|(n, _)| n.clone())
            .collect(),
        ..ReadOptions::default()
    };
    let read = |p: &str| Table::read(Path::new(p), &options).expect("readable data");
    let (reference, current) = (read(&args[0]), read(&args[1]));
    let mut times = Vec::new();
    let mut drifted = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let r = Profile::from_table(&reference, &features).expect("reference");
        let c = Profile::from_table(&current, &features).expect("current");
        let report = DriftReport::compare(&r, &c, &DriftOptions::default()).expect("report");
        times.push(start.elapsed().as_secs_f64());
        drifted = report.drifted_columns;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"tool\": \"distillery\", \"best_s\": {:.6}, \"median_s\": {:.6}, \"columns\": {}, \"drifted\": {drifted}, \"threads\": {}}}",
        times[0],
        times[2],
        features.len(),
        rayon::current_num_threads()
    );
}

//! Batch drift speed: profiles of two data files plus the per-column report, timed in
//! memory (the files are read first, untimed, as the Python peers get DataFrames).
//!
//! Usage: cargo bench -p distillery-monitor --bench drift -- <reference.csv> <current.csv>
//! <numeric,...> <categorical,...> [numeric test,categorical test]
//! With the fifth argument (e.g. `ks,chisquare`, what `bench/drift/peers.py` runs in scipy)
//! every column gets that test instead of the size-based default.
//! Prints one JSON line: best and median seconds over 5 repetitions, and each column's
//! p-value (or distance) for the cross-check against the peers.

#![allow(clippy::expect_used, reason = "a benchmark binary stops on bad input")]

use std::path::Path;
use std::time::Instant;

use distillery_data::{Kind, ReadOptions, Table};
use distillery_monitor::{DriftOptions, DriftReport, Profile, StatTest};

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
    let mut drift = DriftOptions::default();
    if let Some(tests) = args.get(4) {
        let (numeric, categorical) = tests.split_once(',').expect("tests as numeric,categorical");
        for (name, kind) in &features {
            let test = if *kind == Kind::Numeric {
                numeric
            } else {
                categorical
            };
            drift
                .tests
                .insert(name.clone(), StatTest::parse(test).expect("a known test"));
        }
    }
    let read = |p: &str| Table::read(Path::new(p), &options).expect("readable data");
    let start = Instant::now();
    let (reference, current) = (read(&args[0]), read(&args[1]));
    let read_s = start.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut drifted = 0;
    let mut scores = String::new();
    for _ in 0..5 {
        let start = Instant::now();
        let r = Profile::from_table(&reference, &features).expect("reference");
        let c = Profile::from_table(&current, &features).expect("current");
        let report = DriftReport::compare(&r, &c, &drift).expect("report");
        times.push(start.elapsed().as_secs_f64());
        drifted = report.drifted_columns;
        scores = report
            .columns
            .iter()
            .map(|c| format!("\"{}\": {:e}", c.column, c.outcome.score))
            .collect::<Vec<_>>()
            .join(", ");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"tool\": \"distillery\", \"tests\": \"{}\", \"read_s\": {read_s:.6}, \"best_s\": {:.6}, \"median_s\": {:.6}, \"columns\": {}, \"drifted\": {drifted}, \"threads\": {}, \"scores\": {{{scores}}}}}",
        args.get(4).map_or("default", String::as_str),
        times[0],
        times[2],
        features.len(),
        rayon::current_num_threads()
    );
}

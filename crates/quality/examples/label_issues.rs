//! `label_issues <probs.f32> <labels.u32> <k> [--rows]`: times `find_label_issues` on row-major
//! little-endian f32 probabilities and u32 labels (the files `bench/label_issues.py`
//! writes) and prints the seconds and the number of rows flagged (and, with `--rows`, the
//! flagged rows).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark driver")]

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let probs = std::fs::read(&args[1]).expect("probabilities file");
    let labels = std::fs::read(&args[2]).expect("labels file");
    let k: usize = args[3].parse().expect("class count");
    let p: Vec<f64> = probs
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    let y: Vec<usize> = labels
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
        .collect();
    let start = Instant::now();
    let found = distillery_quality::find_label_issues(&p, k, &y);
    let seconds = start.elapsed().as_secs_f64();
    print!("{seconds:.4} {}", found.rows.len());
    if args.get(4).is_some_and(|a| a == "--rows") {
        for r in &found.rows {
            print!(" {r}");
        }
    }
    println!();
}

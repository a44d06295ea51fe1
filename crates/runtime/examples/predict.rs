//! Loads a student and scores the rows of a small CSV through the single-row path, printing
//! each row's probabilities and the mean time per row.
//!
//! Usage: cargo run --release -p distillery-runtime --example predict -- <student.safetensors> <rows.csv> [repeats]
//! (the CSV needs the student's feature columns by name; other columns are ignored).

use std::time::Instant;

use distillery_runtime::{RawValue, Scratch, Student};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: predict <student.safetensors> <rows.csv> [repeats]");
        std::process::exit(2);
    }
    let student = Student::load(args[1].as_ref())?;
    let repeats: usize = args.get(3).map_or(Ok(1), |r| r.parse())?;
    let text = std::fs::read_to_string(&args[2])?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let columns: Vec<usize> = student
        .encoder()
        .names()
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| format!("no column '{n}'"))
        })
        .collect::<Result<_, _>>()?;
    let missing = student.missing_tokens();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let raw: Vec<Vec<RawValue<'_>>> = rows
        .iter()
        .map(|cells| {
            columns
                .iter()
                .map(|&c| match cells.get(c).map(|s| s.trim()) {
                    Some(s) if !missing.iter().any(|m| m == s) => {
                        s.parse::<f64>().map_or(RawValue::Text(s), RawValue::Number)
                    }
                    _ => RawValue::Missing,
                })
                .collect()
        })
        .collect();
    let mut scratch = Scratch::default();
    let mut out = vec![0.0; student.classes().len()];
    let start = Instant::now();
    for _ in 0..repeats {
        for row in &raw {
            student.predict_one_into(row, &mut scratch, &mut out)?;
        }
    }
    let per_row = start.elapsed().as_secs_f64() * 1e6 / (repeats * raw.len()).max(1) as f64;
    for row in raw.iter().take(5) {
        student.predict_one_into(row, &mut scratch, &mut out)?;
        println!(
            "{:?}",
            student.classes().iter().zip(&out).collect::<Vec<_>>()
        );
    }
    println!(
        "{} rows × {repeats}: {per_row:.3} µs per row (encode + forward)",
        raw.len()
    );
    Ok(())
}

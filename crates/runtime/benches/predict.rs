//! `cargo bench -p distillery-runtime`: the student's single-row and batch paths on the
//! shapes the issues name (a 54→64→7 MLP on numeric inputs; a one-hot-heavy census-like
//! student), fp32 and int8. The README states how close they get to the arithmetic limit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark harness"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use distillery_runtime::{
    Calibration, Dense, Encoder, FeatureEncoder, Int8Scratch, Provenance, QuantizedStudent,
    RawValue, Scratch, Student,
};

/// A deterministic pseudo-random weight in [-0.5, 0.5).
fn weight(i: usize) -> f32 {
    ((i.wrapping_mul(2_654_435_761) % 1000) as f32 / 1000.0) - 0.5
}

fn dense(inputs: usize, outputs: usize, seed: usize) -> Dense {
    Dense {
        inputs,
        outputs,
        weight: (0..inputs * outputs).map(|i| weight(i + seed)).collect(),
        bias: (0..outputs).map(|i| weight(i + seed + 7)).collect(),
    }
}

/// 54 numeric features → 64 → 7 (the covertype shape named in issues #2 and #4).
fn numeric_student() -> Student {
    let features = (0..54)
        .map(|i| FeatureEncoder::Numeric {
            name: format!("f{i}"),
            mean: 0.0,
            scale: 1.0,
            missing_indicator: false,
            levels: Vec::new(),
            bins: Vec::new(),
        })
        .collect();
    let classes = (0..7).map(|c| c.to_string()).collect();
    Student::new(
        Encoder::new(features),
        classes,
        vec![dense(54, 64, 1), dense(64, 7, 2)],
        vec![],
        Provenance::new(),
    )
    .unwrap()
}

/// 10 numeric + 20 categorical features (12 levels each) → 8 → 2, like the census student.
fn categorical_student() -> Student {
    let mut features: Vec<FeatureEncoder> = (0..10)
        .map(|i| FeatureEncoder::Numeric {
            name: format!("n{i}"),
            mean: 1.0,
            scale: 2.0,
            missing_indicator: true,
            levels: Vec::new(),
            bins: Vec::new(),
        })
        .collect();
    features.extend((0..20).map(|i| {
        FeatureEncoder::Categorical {
            name: format!("c{i}"),
            levels: (0..12)
                .map(|l| format!("Not in universe level {l}"))
                .collect(),
            missing_indicator: true,
        }
    }));
    let encoder = Encoder::new(features);
    let w = encoder.width();
    Student::new(
        encoder,
        vec!["no".into(), "yes".into()],
        vec![dense(w, 8, 3), dense(8, 2, 4)],
        vec![],
        Provenance::new(),
    )
    .unwrap()
}

fn rows<'a>(student: &Student, n: usize, levels: &'a [String]) -> Vec<Vec<RawValue<'a>>> {
    (0..n)
        .map(|r| {
            student
                .encoder()
                .features
                .iter()
                .enumerate()
                .map(|(i, f)| match f {
                    FeatureEncoder::Numeric { .. } => {
                        RawValue::Number(f64::from(weight(r * 31 + i)))
                    }
                    FeatureEncoder::Categorical { .. } | FeatureEncoder::Text { .. } => {
                        RawValue::Text(&levels[(r + i) % levels.len()])
                    }
                })
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let levels: Vec<String> = (0..12)
        .map(|l| format!("Not in universe level {l}"))
        .collect();
    for (name, student) in [
        ("numeric_54_64_7", numeric_student()),
        ("census_like_30_8_2", categorical_student()),
    ] {
        let data = rows(&student, 1024, &levels);
        let refs: Vec<&[RawValue<'_>]> = data.iter().map(Vec::as_slice).collect();
        let mut x = vec![0.0; 1024 * student.encoder().width()];
        for (row, out) in refs
            .iter()
            .zip(x.chunks_exact_mut(student.encoder().width()))
        {
            student.encoder().encode_into(row, out).unwrap();
        }
        let int8 = QuantizedStudent::quantize(&student, &x, 1024, Calibration::MinMax);
        let mut group = c.benchmark_group(name);
        let mut out = vec![0.0; student.classes().len()];
        let mut scratch = Scratch::default();
        let mut i = 0;
        group.bench_function("fp32_single_row", |b| {
            b.iter(|| {
                i = (i + 1) % 1024;
                student
                    .predict_one_into(black_box(refs[i]), &mut scratch, &mut out)
                    .unwrap();
            })
        });
        let mut iscratch = Int8Scratch::default();
        group.bench_function("int8_single_row", |b| {
            b.iter(|| {
                i = (i + 1) % 1024;
                int8.predict_one_into(black_box(refs[i]), &mut iscratch, &mut out)
                    .unwrap();
            })
        });
        group.throughput(Throughput::Elements(1024));
        group.bench_function("fp32_batch_1024", |b| {
            b.iter(|| student.predict_batch(black_box(&refs)).unwrap())
        });
        // The network alone, on rows already encoded: what a plain [N, d] graph computes.
        group.bench_function("fp32_encoded_batch_1024", |b| {
            b.iter(|| student.predict_encoded_batch(black_box(&x), 1024))
        });
        group.bench_function("int8_encoded_batch_1024", |b| {
            b.iter(|| int8.predict_encoded_batch(black_box(&x), 1024))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

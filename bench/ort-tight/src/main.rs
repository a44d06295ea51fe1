//! `ort-tight <libonnxruntime.so> <run dir> <rows.csv>`: median single-row latency of the
//! native student (`predict_one_into` from raw values) and of onnxruntime running the
//! run's `student.onnx` (one thread, all graph optimisations, inputs built before timing),
//! both in one tight loop over the same rows.
//!
//! `ort-tight plain <libonnxruntime.so> <plain.onnx> [batch]`: batch and single-row speed
//! on a plain `[N, d]` graph and on distillery's exported graph (see `plain.rs`).

mod plain;

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use distillery_data::{Column, ReadOptions, Table};
use distillery_runtime::{FeatureEncoder, RawValue, Scratch, Student};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;

/// Median µs per call over groups of calls (timer cost amortised), after a warm-up.
fn median_us(mut f: impl FnMut(usize)) -> (f64, f64) {
    for i in 0..2000 {
        f(i);
    }
    let group = 200;
    let mut times: Vec<f64> = (0..300)
        .map(|g| {
            let t = Instant::now();
            for j in 0..group {
                f(g * group + j);
            }
            t.elapsed().as_secs_f64() * 1e6 / group as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("plain") {
        let lib = args
            .get(2)
            .ok_or("usage: ort-tight plain <lib> <plain.onnx> [batch]")?;
        let model = args
            .get(3)
            .ok_or("usage: ort-tight plain <lib> <plain.onnx> [batch]")?;
        let batch = args.get(4).map_or(Ok(1024), |b| b.parse())?;
        return plain::run(lib, std::path::Path::new(model), batch);
    }
    let [_, lib, run, rows] = args.as_slice() else {
        return Err("usage: ort-tight <libonnxruntime.so> <run dir> <rows.csv>".into());
    };
    let run = PathBuf::from(run);
    let student = Student::load(&run.join("student.safetensors"))?;
    let text: std::collections::HashSet<String> = student
        .encoder()
        .features
        .iter()
        .filter(|f| matches!(f, FeatureEncoder::Categorical { .. }))
        .map(|f| f.name().to_string())
        .collect();
    let table = Table::read(
        &PathBuf::from(rows),
        &ReadOptions {
            missing: student.missing_tokens().to_vec(),
            keep_text: text.clone(),
        },
    )?;
    let names: Vec<String> = student
        .encoder()
        .names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let columns: Vec<&Column> = names
        .iter()
        .map(|n| table.column(n))
        .collect::<Result<_, _>>()?;
    let n = table.n_rows().min(256);
    let raw: Vec<Vec<RawValue<'_>>> = (0..n)
        .map(|r| {
            columns
                .iter()
                .map(|c| distillery_train::raw_value(c, r))
                .collect()
        })
        .collect();

    ort::init_from(lib).commit()?;
    let mut session = Session::builder()?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(1)?
        .with_inter_threads(1)?
        .commit_from_file(run.join("student.onnx"))?;
    // One prepared input set per row, in the model's input order.
    let order: Vec<usize> = session
        .inputs
        .iter()
        .map(|i| {
            names
                .iter()
                .position(|n| *n == i.name)
                .ok_or("input not a feature")
        })
        .collect::<Result<_, _>>()?;
    let inputs: Vec<Vec<SessionInputValue<'static>>> = (0..n)
        .map(|r| {
            order
                .iter()
                .map(|&f| -> Result<SessionInputValue<'static>, Box<dyn Error>> {
                    Ok(match (&raw[r][f], text.contains(&names[f])) {
                        (RawValue::Text(s), true) => {
                            Tensor::from_string_array(([1usize, 1], &[s.to_string()][..]))?
                                .into_dyn()
                                .into()
                        }
                        (_, true) => {
                            Tensor::from_string_array(([1usize, 1], &[String::new()][..]))?
                                .into_dyn()
                                .into()
                        }
                        (RawValue::Number(v), false) => {
                            Tensor::from_array(([1usize, 1], vec![*v as f32]))?
                                .into_dyn()
                                .into()
                        }
                        (_, false) => Tensor::from_array(([1usize, 1], vec![f32::NAN]))?
                            .into_dyn()
                            .into(),
                    })
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;

    // Both engines must give the same probabilities before timing means anything.
    let k = student.classes().len();
    let mut scratch = Scratch::default();
    let mut out = vec![0.0f32; k];
    let mut worst = 0.0f32;
    for r in 0..n {
        student.predict_one_into(&raw[r], &mut scratch, &mut out)?;
        let outputs = session.run(&inputs[r][..])?;
        let (_, p) = outputs["probabilities"].try_extract_tensor::<f32>()?;
        for (a, b) in out.iter().zip(p) {
            worst = worst.max((a - b).abs());
        }
    }
    let (native, native_p99) = median_us(|i| {
        let _ = student.predict_one_into(&raw[i % n], &mut scratch, &mut out);
        std::hint::black_box(&out);
    });
    let (onnx, onnx_p99) = median_us(|i| {
        let outputs = session.run(&inputs[i % n][..]);
        let _ = std::hint::black_box(outputs);
    });
    println!("rows {n}, max |Δp| native vs onnxruntime {worst:.2e}");
    println!("distillery native   median {native:.3} µs  p99 {native_p99:.3} µs");
    println!("onnxruntime C API   median {onnx:.3} µs  p99 {onnx_p99:.3} µs");
    println!("ratio (onnxruntime / native): {:.1}×", onnx / native);
    Ok(())
}

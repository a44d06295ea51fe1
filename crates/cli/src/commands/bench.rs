//! `distillery bench --run runs/<id> --data rows.csv`: single-row latency (median, p99),
//! batch-1024 throughput and peak memory of the native fp32 and int8 student, the same
//! exported student in onnxruntime (through `bench/ort_bench.py`), and the teacher's
//! latency as measured during the run. Speed targets live here, never in unit tests.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use distillery_runtime::{Calibration, Int8Scratch, QuantizedStudent, RawValue, Scratch, Student};
use distillery_train::raw_value;
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::exit::ExitStatus;

/// One engine's measurements.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Measure {
    engine: String,
    single_median_us: f64,
    single_p99_us: Option<f64>,
    batch1024_rows_per_s: Option<f64>,
    peak_rss_mb: Option<f64>,
}

/// Median and 99th percentile of per-call time, from groups of calls (the clock's own cost
/// would otherwise dominate sub-microsecond calls).
fn single(mut f: impl FnMut(usize)) -> (f64, f64) {
    for i in 0..2000 {
        f(i);
    }
    let t = distillery_pipeline::latency::per_call_us(16, 4000, f);
    (t[t.len() / 2], t[t.len() * 99 / 100])
}

/// Median rows/s of `f` over a 1,024-row batch.
fn batch(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..50)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    1024.0 / t[t.len() / 2]
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(crate) fn run(args: &BenchArgs) -> Result<ExitStatus> {
    let student_path = args.run.join("student.safetensors");
    let student = Student::load(&student_path)
        .with_context(|| format!("loading {}", student_path.display()))?;
    let table = crate::student_input::read_for(&student, &args.data)?;
    let columns: Vec<_> = student
        .encoder()
        .names()
        .iter()
        .map(|n| table.column(n))
        .collect::<Result<_, _>>()?;
    let n = table.n_rows().min(1024);
    let mut raw: Vec<Vec<RawValue<'_>>> = (0..n)
        .map(|r| columns.iter().map(|c| raw_value(c, r)).collect())
        .collect();
    while raw.len() < 1024 {
        let again = raw[..raw.len().min(1024 - raw.len())].to_vec();
        raw.extend(again);
    }
    let refs: Vec<&[RawValue<'_>]> = raw.iter().map(Vec::as_slice).collect();
    let int8_path = args.run.join("student.int8.safetensors");
    let int8 = if int8_path.exists() {
        QuantizedStudent::load(&int8_path)?
    } else {
        let rows: Vec<usize> = (0..table.n_rows().min(2000)).collect();
        let x = distillery_train::encode_rows(student.encoder(), &table, &rows)?;
        QuantizedStudent::quantize(&student, &x, rows.len(), Calibration::Percentile(99.99))
    };
    let k = student.classes().len();
    let mut out = vec![0.0f32; k];
    let mut scratch = Scratch::default();
    let (fp_med, fp_p99) = single(|i| {
        let _ = student.predict_one_into(refs[i % 1024], &mut scratch, &mut out);
        std::hint::black_box(&out);
    });
    let fp_batch = batch(|| {
        let _ = std::hint::black_box(student.predict_batch(&refs));
    });
    let mut iscratch = Int8Scratch::default();
    let (q_med, q_p99) = single(|i| {
        let _ = int8.predict_one_into(refs[i % 1024], &mut iscratch, &mut out);
        std::hint::black_box(&out);
    });
    let width = student.encoder().width();
    let q_batch = batch(|| {
        let mut x = vec![0.0f32; 1024 * width];
        for (row, o) in refs.iter().zip(x.chunks_exact_mut(width)) {
            let _ = student.encoder().encode_into(row, o);
        }
        std::hint::black_box(int8.predict_encoded_batch(&x, 1024));
    });
    let rss = peak_rss_mb();
    let mut rows = vec![
        Measure {
            engine: "distillery fp32 (native)".into(),
            single_median_us: fp_med,
            single_p99_us: Some(fp_p99),
            batch1024_rows_per_s: Some(fp_batch),
            peak_rss_mb: rss,
        },
        Measure {
            engine: "distillery int8 (native)".into(),
            single_median_us: q_med,
            single_p99_us: Some(q_p99),
            batch1024_rows_per_s: Some(q_batch),
            peak_rss_mb: rss,
        },
    ];
    if !args.no_ort {
        for (name, file) in [("fp32", "student.onnx"), ("int8 QDQ", "student.int8.onnx")] {
            let model = args.run.join(file);
            if !model.exists() {
                continue;
            }
            match ort(args, &model) {
                Ok(mut m) => {
                    m.engine = format!("{} {name}", m.engine);
                    rows.push(m);
                }
                Err(e) => tracing::warn!("onnxruntime comparison skipped for {file}: {e:#}"),
            }
        }
    }
    let summary: Option<serde_json::Value> = std::fs::read(args.run.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(t) = summary
        .as_ref()
        .and_then(|s| s["teacher"]["latency_us"].as_f64())
    {
        let kind = summary
            .as_ref()
            .and_then(|s| s["teacher"]["kind"].as_str())
            .unwrap_or("teacher")
            .to_string();
        rows.push(Measure {
            engine: format!("teacher: {kind} (from the run)"),
            single_median_us: t,
            single_p99_us: None,
            batch1024_rows_per_s: None,
            peak_rss_mb: None,
        });
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &rows)?;
        writeln!(stdout)?;
        return Ok(ExitStatus::Ok);
    }
    let opt = |v: Option<f64>, p: usize| v.map_or("–".to_string(), |v| format!("{v:.p$}"));
    writeln!(
        stdout,
        "{:<58} {:>10} {:>9} {:>15} {:>8} {:>9}",
        "engine", "median µs", "p99 µs", "batch rows/s", "peak MB", "vs fp32"
    )?;
    for r in &rows {
        writeln!(
            stdout,
            "{:<58} {:>10.3} {:>9} {:>15} {:>8} {:>8.1}×",
            r.engine,
            r.single_median_us,
            opt(r.single_p99_us, 3),
            opt(r.batch1024_rows_per_s, 0),
            opt(r.peak_rss_mb, 0),
            r.single_median_us / fp_med
        )?;
    }
    Ok(ExitStatus::Ok)
}

fn ort(args: &BenchArgs, model: &std::path::Path) -> Result<Measure> {
    let out = std::process::Command::new("python3")
        .arg(&args.ort_script)
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(&args.data)
        .output()
        .context("running python3")?;
    if !out.status.success() {
        anyhow::bail!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(
        text.lines().last().unwrap_or_default(),
    )?)
}

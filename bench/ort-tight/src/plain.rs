//! `ort-tight plain <libonnxruntime.so> <plain.onnx> [batch]`: the fair inference comparison
//! of issue #20. The plain graph (`[N, d]` float input → Gemm/Relu → Softmax, written by
//! `bench/plain_graph.py` the way `torch.onnx.export` writes it) runs in onnxruntime's C
//! API; the same weights run in the distillery runtime. Timed, one thread each, same input
//! matrix, after checking both give the same probabilities:
//! - (a) the network alone: onnxruntime on the plain graph vs `predict_encoded_batch`;
//! - (b) from raw values: onnxruntime on distillery's exported graph (one `[N, 1]` input per
//!   feature plus its encoder nodes) vs `predict_batch` / `predict_one_into`;
//! - the encoding alone, and the core's measured FMA peak for GFLOP/s.
//!
//! Prints a human-readable table, then one JSON line (`{"plain": …}`) for `bench/peers.py`.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use distillery_onnx::ModelProto;
use distillery_runtime::{
    AlignedF32, Calibration, Dense, Encoder, Provenance, QuantizedStudent, RawValue, Scratch,
    Student,
};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use prost::Message;

/// Median seconds per call of `f`, `inner` calls per sample, after a warm-up.
fn median_s(samples: usize, inner: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..inner.max(3) {
        f();
    }
    let mut t: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..inner {
                f();
            }
            start.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The Gemm layers of the plain graph, as the runtime's input-major dense layers.
fn layers(model: &Path) -> Result<Vec<Dense>, Box<dyn Error>> {
    let proto = ModelProto::decode(std::fs::read(model)?.as_slice())?;
    let graph = proto.graph.ok_or("no graph")?;
    let tensor = |name: &str| -> Result<(Vec<i64>, Vec<f32>), Box<dyn Error>> {
        let t = graph
            .initializer
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| format!("no initializer {name}"))?;
        let values = if t.raw_data().is_empty() {
            t.float_data.clone()
        } else {
            t.raw_data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        Ok((t.dims.clone(), values))
    };
    let mut out = Vec::new();
    for node in graph.node.iter().filter(|n| n.op_type() == "Gemm") {
        let (dims, w) = tensor(&node.input[1])?;
        let (_, bias) = tensor(&node.input[2])?;
        let (outputs, inputs) = (dims[0] as usize, dims[1] as usize);
        // Gemm(transB = 1) stores W as [out, in]; the runtime stores it input-major.
        let mut weight = AlignedF32::new();
        weight.resize(inputs * outputs, 0.0);
        for o in 0..outputs {
            for i in 0..inputs {
                weight[i * outputs + o] = w[o * inputs + i];
            }
        }
        out.push(Dense {
            inputs,
            outputs,
            weight,
            bias,
        });
    }
    Ok(out)
}

/// A seeded standard-normal-ish matrix (sum of uniforms), the same on every machine.
fn matrix(rows: usize, cols: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..rows * cols)
        .map(|_| (0..4).map(|_| uniform()).sum::<f32>() - 2.0)
        .collect()
}

/// One core's fp32 FMA throughput in GFLOP/s, measured with independent 16-lane (or
/// 8-lane) FMA chains: the arithmetic limit the kernels are judged against.
fn peak_gflops() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F present.
            return unsafe { peak::avx512() };
        }
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2/FMA present.
            return unsafe { peak::avx2() };
        }
    }
    f64::NAN
}

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;
    use std::time::Instant;

    const ITERS: usize = 20_000_000;

    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn avx512() -> f64 {
        let mut acc = [_mm512_set1_ps(0.0); 12];
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        let t = Instant::now();
        for _ in 0..ITERS {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        let s = t.elapsed().as_secs_f64();
        let sum: f32 = acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum();
        std::hint::black_box(sum);
        (ITERS * 12 * 16 * 2) as f64 / s / 1e9
    }

    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn avx2() -> f64 {
        let mut acc = [_mm256_set1_ps(0.0); 12];
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        let t = Instant::now();
        for _ in 0..ITERS {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let s = t.elapsed().as_secs_f64();
        let mut lanes = [0f32; 8];
        for v in &acc {
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *v) };
            std::hint::black_box(lanes);
        }
        (ITERS * 12 * 8 * 2) as f64 / s / 1e9
    }
}

fn session(
    lib_ready: &mut bool,
    lib: &str,
) -> Result<ort::session::builder::SessionBuilder, Box<dyn Error>> {
    if !*lib_ready {
        ort::init_from(lib).commit()?;
        *lib_ready = true;
    }
    Ok(Session::builder()?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(1)?
        .with_inter_threads(1)?)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub(crate) fn run(lib: &str, model: &Path, batch: usize) -> Result<(), Box<dyn Error>> {
    let dense = layers(model)?;
    let d = dense.first().ok_or("no Gemm layers")?.inputs;
    let classes = dense.last().map_or(0, |l| l.outputs);
    let flops_per_row: usize = dense.iter().map(|l| 2 * l.inputs * l.outputs).sum();
    let student = Student::new(
        Encoder::identity(d),
        (0..classes).map(|c| c.to_string()).collect(),
        dense,
        Vec::new(),
        Provenance::new(),
    )?;
    let x = matrix(batch, d);
    let raw: Vec<Vec<RawValue<'_>>> = x
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| RawValue::Number(f64::from(v))).collect())
        .collect();
    let refs: Vec<&[RawValue<'_>]> = raw.iter().map(Vec::as_slice).collect();

    let mut ready = false;
    let mut plain = session(&mut ready, lib)?.commit_from_file(model)?;
    let batch_input: Vec<SessionInputValue<'static>> = vec![
        Tensor::from_array(([batch, d], x.clone()))?
            .into_dyn()
            .into(),
    ];
    let one_input: Vec<SessionInputValue<'static>> = vec![
        Tensor::from_array(([1usize, d], x[..d].to_vec()))?
            .into_dyn()
            .into(),
    ];
    let exported = distillery_export::to_onnx(&student)?;
    let mut encoded_graph = session(&mut ready, lib)?.commit_from_memory(&exported)?;
    let column_inputs = |rows: usize| -> Result<Vec<SessionInputValue<'static>>, Box<dyn Error>> {
        let order: Vec<usize> = encoded_graph_inputs(&exported)?;
        order
            .iter()
            .map(|&f| {
                let col: Vec<f32> = (0..rows).map(|r| x[r * d + f]).collect();
                Ok(Tensor::from_array(([rows, 1usize], col))?.into_dyn().into())
            })
            .collect()
    };
    let graph_batch = column_inputs(batch)?;
    let graph_one = column_inputs(1)?;

    // Same probabilities from every engine before any timing.
    let ours = student.predict_encoded_batch(&x, batch);
    let theirs = {
        let out = plain.run(&batch_input[..])?;
        out["probabilities"].try_extract_tensor::<f32>()?.1.to_vec()
    };
    let via_graph = {
        let out = encoded_graph.run(&graph_batch[..])?;
        out["probabilities"].try_extract_tensor::<f32>()?.1.to_vec()
    };
    let raw_ours = student.predict_batch(&refs)?;
    let agreement = max_diff(&ours, &theirs)
        .max(max_diff(&ours, &via_graph))
        .max(max_diff(&ours, &raw_ours));
    if agreement > 1e-5 {
        return Err(format!("engines disagree: max |Δp| = {agreement:.2e}").into());
    }
    let int8 = QuantizedStudent::quantize(&student, &x, batch, Calibration::MinMax);

    let (samples, inner) = (30, 20);
    let ours_net = median_s(samples, inner, || {
        std::hint::black_box(student.predict_encoded_batch(std::hint::black_box(&x), batch));
    });
    let ort_net = median_s(samples, inner, || {
        std::hint::black_box(plain.run(&batch_input[..]).ok());
    });
    let ours_raw = median_s(samples, inner, || {
        std::hint::black_box(student.predict_batch(std::hint::black_box(&refs)).ok());
    });
    let ort_graph = median_s(samples, inner, || {
        std::hint::black_box(encoded_graph.run(&graph_batch[..]).ok());
    });
    let mut encoded = vec![0.0f32; batch * d];
    let encode = median_s(samples, inner, || {
        for (row, out) in refs.iter().zip(encoded.chunks_exact_mut(d)) {
            let _ = student.encoder().encode_into(row, out);
        }
        std::hint::black_box(&encoded);
    });
    let int8_net = median_s(samples, inner, || {
        std::hint::black_box(int8.predict_encoded_batch(std::hint::black_box(&x), batch));
    });
    let mut scratch = Scratch::default();
    let mut out = vec![0.0f32; classes];
    let mut i = 0;
    let ours_one = median_s(300, 200, || {
        i = (i + 1) % batch;
        let _ = student.predict_one_into(refs[i], &mut scratch, &mut out);
        std::hint::black_box(&out);
    });
    let ort_one = median_s(300, 200, || {
        std::hint::black_box(plain.run(&one_input[..]).ok());
    });
    let ort_graph_one = median_s(300, 50, || {
        std::hint::black_box(encoded_graph.run(&graph_one[..]).ok());
    });
    let peak = peak_gflops();

    let rate = |s: f64| batch as f64 / s;
    let gflops = |s: f64| rate(s) * flops_per_row as f64 / 1e9;
    println!(
        "plain graph {d} → {} → {classes}, batch {batch}, 1 thread, max |Δp| {agreement:.1e}",
        student
            .layers()
            .iter()
            .skip(1)
            .map(|l| l.inputs.to_string())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    println!("core peak (measured FMA chains): {peak:.1} GFLOP/s");
    println!(
        "(a) network     distillery {:>10.0} rows/s ({:.1} GFLOP/s)  onnxruntime {:>10.0} rows/s ({:.1} GFLOP/s)  ratio {:.2}×",
        rate(ours_net),
        gflops(ours_net),
        rate(ort_net),
        gflops(ort_net),
        ort_net / ours_net
    );
    println!(
        "(b) raw values  distillery {:>10.0} rows/s  onnxruntime (exported graph) {:>10.0} rows/s  ratio {:.2}×  (encoding alone {:.0} ns/row)",
        rate(ours_raw),
        rate(ort_graph),
        ort_graph / ours_raw,
        encode * 1e9 / batch as f64
    );
    println!(
        "int8 network    distillery {:>10.0} rows/s ({:.2}× its fp32)",
        rate(int8_net),
        ours_net / int8_net
    );
    println!(
        "single row      distillery {:.3} µs  onnxruntime plain {:.3} µs  exported graph {:.3} µs",
        ours_one * 1e6,
        ort_one * 1e6,
        ort_graph_one * 1e6
    );
    println!(
        "{{\"plain\":{{\"inputs\":{d},\"classes\":{classes},\"batch\":{batch},\"flops_per_row\":{flops_per_row},\"peak_gflops\":{peak:.2},\"max_abs_diff\":{agreement:.3e},\"distillery_network_rows_per_s\":{:.0},\"onnxruntime_plain_rows_per_s\":{:.0},\"distillery_raw_rows_per_s\":{:.0},\"onnxruntime_exported_rows_per_s\":{:.0},\"encode_ns_per_row\":{:.1},\"distillery_int8_network_rows_per_s\":{:.0},\"distillery_single_row_us\":{:.4},\"onnxruntime_plain_single_row_us\":{:.4},\"onnxruntime_exported_single_row_us\":{:.4}}}}}",
        rate(ours_net),
        rate(ort_net),
        rate(ours_raw),
        rate(ort_graph),
        encode * 1e9 / batch as f64,
        rate(int8_net),
        ours_one * 1e6,
        ort_one * 1e6,
        ort_graph_one * 1e6
    );
    Ok(())
}

/// The feature index behind each input of distillery's exported graph, in input order.
fn encoded_graph_inputs(bytes: &[u8]) -> Result<Vec<usize>, Box<dyn Error>> {
    let proto = ModelProto::decode(bytes)?;
    let graph = proto.graph.ok_or("no graph")?;
    graph
        .input
        .iter()
        .map(|i| {
            i.name()
                .strip_prefix('x')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("unexpected input {}", i.name()).into())
        })
        .collect()
}

//! `[evaluate] extraction = true`: the extraction curve of `distillery_eval::extraction`.
//! The attacker's public sample is half of the test rows; the other half measures the
//! clone's fidelity, so no row is both queried and scored. Budgets of 100 to 10,000
//! queries, two strategies, a clone of the student's own size trained on the student's
//! answers with 3,000 steps: about ten small trainings, run in parallel.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use distillery_eval::extraction::{ExtractionPoint, ExtractionReport};
use distillery_runtime::Student;
use distillery_train::{DistillParams, FitOptions, TransferSet, fit};

use crate::data::Prepared;
use crate::error::{Context, Result};

/// Query budgets tried, per strategy.
const BUDGETS: [usize; 5] = [100, 300, 1_000, 3_000, 10_000];

/// Optimizer steps of each clone.
const CLONE_STEPS: u64 = 3_000;

/// The curve for `student`, seeded.
pub(crate) fn curve(
    data: &Prepared,
    student: &Student,
    seed: u64,
) -> Result<Option<ExtractionReport>> {
    let width = data.encoder.width();
    let n_test = data.test_rows.len();
    if n_test < 20 || width == 0 {
        return Ok(None);
    }
    let k = student.classes().len();
    let half = n_test / 2;
    let (pool, held) = data.test_x.split_at(half * width);
    let held_n = n_test - half;
    let truth: Vec<usize> = argmax(&student.predict_encoded_batch(held, held_n), k);
    // Each encoded input's observed range over the public half, for the uniform attacker.
    let mut ranges = vec![(f32::INFINITY, f32::NEG_INFINITY); width];
    for row in pool.chunks_exact(width) {
        for (r, &v) in ranges.iter_mut().zip(row) {
            *r = (r.0.min(v), r.1.max(v));
        }
    }
    let hidden: Vec<usize> = student.layers()[..student.layers().len() - 1]
        .iter()
        .map(|l| l.outputs)
        .collect();
    let jobs: Vec<(&str, usize)> = ["public sample", "uniform"]
        .into_iter()
        .flat_map(|s| BUDGETS.map(|b| (s, b)))
        .collect();
    let threads = crate::distill::threads().min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<ExtractionPoint>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(strategy, budget)) = jobs.get(i) else {
                        break;
                    };
                    let mut rng =
                        ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9));
                    let queries: Vec<f32> = match strategy {
                        "uniform" => (0..budget)
                            .flat_map(|_| {
                                ranges
                                    .iter()
                                    .map(|&(lo, hi)| {
                                        if hi > lo {
                                            rng.random_range(lo..=hi)
                                        } else {
                                            lo
                                        }
                                    })
                                    .collect::<Vec<f32>>()
                            })
                            .collect(),
                        _ => (0..budget)
                            .flat_map(|_| {
                                let r = rng.random_range(0..half);
                                pool[r * width..(r + 1) * width].to_vec()
                            })
                            .collect(),
                    };
                    let out = clone_fidelity(
                        student, &queries, budget, width, k, &hidden, seed, held, held_n, &truth,
                    )
                    .map(|fidelity| ExtractionPoint {
                        strategy: strategy.into(),
                        queries: budget,
                        fidelity,
                    });
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(out);
                    }
                }
            });
        }
    });
    let mut points = Vec::with_capacity(jobs.len());
    for slot in results {
        if let Some(p) = slot.into_inner().ok().flatten() {
            points.push(p?);
        }
    }
    let mut counts = vec![0usize; k];
    for &c in &truth {
        counts[c] += 1;
    }
    let constant = counts.iter().copied().max().unwrap_or(0) as f64 / held_n.max(1) as f64;
    Ok(Some(ExtractionReport::from_points(
        points,
        constant,
        format!(
            "The attacker queries the student and trains a clone of its size ({hidden:?}) on the answers ({CLONE_STEPS} steps); fidelity is measured on {held_n} held-out test rows. 'public sample' draws queries from the other {half} test rows (an attacker with data like yours), 'uniform' draws each encoded input uniformly over its observed range (an attacker without data). Set a per-client [limits] quota well below the queries that reach the fidelity you must protect."
        ),
    )))
}

/// Each row's predicted class.
fn argmax(p: &[f32], k: usize) -> Vec<usize> {
    p.chunks_exact(k).map(distillery_eval::argmax).collect()
}

#[allow(
    clippy::too_many_arguments,
    reason = "one clone: the victim, the queries and where to score it"
)]
fn clone_fidelity(
    student: &Student,
    queries: &[f32],
    n: usize,
    width: usize,
    k: usize,
    hidden: &[usize],
    seed: u64,
    held: &[f32],
    held_n: usize,
    truth: &[usize],
) -> Result<f64> {
    let answers = student.predict_encoded_batch(queries, n);
    let labels = vec![None; n];
    let set = TransferSet {
        x: queries,
        width,
        soft: Some(&answers),
        labels: &labels,
        classes: k,
    };
    let params = DistillParams {
        hidden: hidden.to_vec(),
        temperature: 1.0,
        soft_weight: 1.0,
        steps: Some(CLONE_STEPS),
        patience: 0,
        patience_steps: None,
        seed,
        ..DistillParams::default()
    }
    .check()
    .map_err(|e| crate::error::PipelineError::Recipe(format!("extraction clone: {e:?}")))?;
    let out =
        fit(&params, &set, None, &FitOptions::default()).context("training an extraction clone")?;
    let clone = Student::new(
        student.encoder().clone(),
        student.classes().to_vec(),
        out.layers,
        Vec::new(),
        distillery_runtime::Provenance::new(),
    )
    .context("building an extraction clone")?;
    let got = argmax(&clone.predict_encoded_batch(held, held_n), k);
    let agree = got.iter().zip(truth).filter(|(a, b)| a == b).count();
    Ok(agree as f64 / held_n.max(1) as f64)
}

//! The likelihood-ratio membership attack (LiRA, Carlini et al. 2022), online variant, on
//! the distilled student: `[evaluate] shadow_models = K`.
//!
//! A pool of up to 1,000 training rows (members) and 1,000 test rows (non-members) is
//! split in half K times at random. A shadow student is trained on each half the way the
//! student was (same architecture, temperature and soft weight, the teacher's soft labels,
//! as many passes as the student's best epoch), so every pool row is *in* about half the
//! shadows and *out* of the rest. For each row, the shadows' logit-scaled confidence in
//! its true label, φ = ln p − ln(1 − p), is fitted by one Gaussian over the shadows that
//! trained on it and one over those that did not (with the variances pooled over all
//! rows, as the paper advises below 64 shadows). A row's score is the log likelihood
//! ratio of the student's own φ under the two. Per-row calibration is what makes LiRA
//! stronger than a global loss threshold at low false-positive rates.

use distillery_eval::membership::MembershipAttack;
use distillery_runtime::{Provenance, Student};
use distillery_train::{DistillParams, FitOptions, TransferSet, fit, soften};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::data::Prepared;
use crate::error::{Result, data_error};
use crate::recipe::ValidRecipe;
use crate::teacher::TeacherOutputs;

/// Most rows taken from each side (members, non-members) into the pool.
const POOL_SIDE: usize = 1000;

/// The pool: encoded rows, labels, teacher probabilities and who is a member.
struct Pool {
    x: Vec<f32>,
    y: Vec<u32>,
    teacher: Vec<f32>,
    member: Vec<bool>,
}

/// LiRA against `student`; `None` when there are too few labelled rows on either side.
///
/// # Errors
/// A shadow's training failed.
pub(crate) fn attack(
    recipe: &ValidRecipe,
    data: &Prepared,
    teacher: &TeacherOutputs,
    student: &Student,
    best_epoch: usize,
    shadows: usize,
) -> Result<Option<MembershipAttack>> {
    let k = data.labels.n_classes();
    let width = data.encoder.width();
    let seed = recipe.params.seed;
    let Some(pool) = pool(data, teacher, seed) else {
        return Ok(None);
    };
    let n = pool.y.len();
    let phi_of = |p: &[f32]| -> Vec<f64> {
        p.chunks_exact(k)
            .zip(&pool.y)
            .map(|(row, &y)| {
                let q = f64::from(row[y as usize]).clamp(1e-7, 1.0 - 1e-7);
                q.ln() - (1.0 - q).ln()
            })
            .collect()
    };
    let target = phi_of(&student.predict_encoded_batch(&pool.x, n));
    let params = DistillParams {
        epochs: best_epoch.max(1),
        steps: None,
        patience: 0,
        patience_steps: None,
        ..(*recipe.params).clone()
    }
    .check()
    .map_err(|e| data_error!("shadow models: {e:?}"))?;
    let soft = soften(&pool.teacher, k, params.temperature);
    // Shadow s trains on the rows of halves[s].
    let halves: Vec<Vec<usize>> = (0..shadows)
        .map(|s| {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
                seed ^ (s as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407),
            ));
            order.truncate(n / 2);
            order
        })
        .collect();
    let train_shadow = |half: &[usize]| -> Result<Vec<f64>> {
        let x: Vec<f32> = half
            .iter()
            .flat_map(|&i| pool.x[i * width..(i + 1) * width].iter().copied())
            .collect();
        let s: Vec<f32> = half
            .iter()
            .flat_map(|&i| soft[i * k..(i + 1) * k].iter().copied())
            .collect();
        let labels: Vec<Option<u32>> = half.iter().map(|&i| Some(pool.y[i])).collect();
        let set = TransferSet {
            x: &x,
            width,
            soft: Some(&s),
            labels: &labels,
            classes: k,
        };
        let fitted = fit(&params, &set, None, &FitOptions::default())?;
        let shadow = crate::distill::student(recipe, data, &fitted, &Provenance::new(), "shadow")?;
        Ok(phi_of(&shadow.predict_encoded_batch(&pool.x, n)))
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut results: Vec<Option<Result<Vec<f64>>>> = (0..shadows).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (chunk_halves, chunk_out) in halves
            .chunks(shadows.div_ceil(threads).max(1))
            .zip(results.chunks_mut(shadows.div_ceil(threads).max(1)))
        {
            let train_shadow = &train_shadow;
            scope.spawn(move || {
                for (half, out) in chunk_halves.iter().zip(chunk_out.iter_mut()) {
                    *out = Some(train_shadow(half));
                }
            });
        }
    });
    let phis: Vec<Vec<f64>> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(data_error!("a shadow model did not finish"))))
        .collect::<Result<_>>()?;
    let mut is_in = vec![vec![false; n]; shadows];
    for (s, half) in halves.iter().enumerate() {
        for &i in half {
            is_in[s][i] = true;
        }
    }
    let scores = likelihood_ratios(&target, &phis, &is_in);
    let side = |member: bool| -> Vec<f64> {
        scores
            .iter()
            .zip(&pool.member)
            .filter(|(_, m)| **m == member)
            .map(|(s, _)| *s)
            .collect()
    };
    let (members, others) = (side(true), side(false));
    let (auc, tpr_01, tpr_1, advantage) = distillery_eval::membership::attack(&members, &others);
    Ok(Some(MembershipAttack {
        model: "student".into(),
        attack: format!("lira ({shadows} shadows)"),
        auc,
        tpr_at_0_1_pct_fpr: tpr_01,
        tpr_at_1_pct_fpr: tpr_1,
        advantage,
        members: members.len(),
        non_members: others.len(),
    }))
}

/// Up to [`POOL_SIDE`] labelled training rows and as many labelled test rows, seeded.
fn pool(data: &Prepared, teacher: &TeacherOutputs, seed: u64) -> Option<Pool> {
    let k = data.labels.n_classes();
    let width = data.encoder.width();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x005E_ED0F_11FA);
    let mut members: Vec<usize> = (0..data.train_rows.len())
        .filter(|&i| data.labels.y[data.train_rows[i]].is_some())
        .collect();
    let mut others: Vec<usize> = (0..data.test_rows.len())
        .filter(|&j| data.test_labels[j].is_some())
        .collect();
    if members.len() < 20 || others.len() < 20 || teacher.train.len() < data.train_rows.len() * k {
        return None;
    }
    members.shuffle(&mut rng);
    others.shuffle(&mut rng);
    members.truncate(POOL_SIDE);
    others.truncate(POOL_SIDE);
    let mut pool = Pool {
        x: Vec::new(),
        y: Vec::new(),
        teacher: Vec::new(),
        member: Vec::new(),
    };
    for &i in &members {
        pool.x
            .extend_from_slice(&data.train_x[i * width..(i + 1) * width]);
        pool.y.push(data.labels.y[data.train_rows[i]].unwrap_or(0));
        pool.teacher
            .extend_from_slice(&teacher.train[i * k..(i + 1) * k]);
        pool.member.push(true);
    }
    for &j in &others {
        pool.x
            .extend_from_slice(&data.test_x[j * width..(j + 1) * width]);
        pool.y.push(data.test_labels[j].unwrap_or(0));
        pool.teacher
            .extend_from_slice(&teacher.test[j * k..(j + 1) * k]);
        pool.member.push(false);
    }
    Some(pool)
}

/// Per row, log N(φ; μ_in, σ_in) − log N(φ; μ_out, σ_out) of the target's φ, with the
/// means per row and the variances pooled over rows.
fn likelihood_ratios(target: &[f64], shadows: &[Vec<f64>], is_in: &[Vec<bool>]) -> Vec<f64> {
    let n = target.len();
    let mut mean_in = vec![0.0; n];
    let mut mean_out = vec![0.0; n];
    let (mut sq_in, mut sq_out, mut count_in, mut count_out) = (0.0, 0.0, 0usize, 0usize);
    for i in 0..n {
        let pick = |inside: bool| -> Vec<f64> {
            shadows
                .iter()
                .zip(is_in)
                .filter(|(_, flags)| flags[i] == inside)
                .map(|(phi, _)| phi[i])
                .collect()
        };
        let (ins, outs) = (pick(true), pick(false));
        let mean = |v: &[f64]| {
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        mean_in[i] = mean(&ins);
        mean_out[i] = mean(&outs);
        for v in &ins {
            sq_in += (v - mean_in[i]).powi(2);
        }
        for v in &outs {
            sq_out += (v - mean_out[i]).powi(2);
        }
        count_in += ins.len();
        count_out += outs.len();
    }
    let sd_in = (sq_in / count_in.max(1) as f64).sqrt().max(1e-3);
    let sd_out = (sq_out / count_out.max(1) as f64).sqrt().max(1e-3);
    let log_normal = |x: f64, m: f64, sd: f64| -((x - m) / sd).powi(2) / 2.0 - sd.ln();
    (0..n)
        .map(|i| {
            // A row in no shadow (or in all) falls back on the other side's fit alone.
            let m_in = if mean_in[i].is_nan() {
                mean_out[i]
            } else {
                mean_in[i]
            };
            let m_out = if mean_out[i].is_nan() {
                mean_in[i]
            } else {
                mean_out[i]
            };
            log_normal(target[i], m_in, sd_in) - log_normal(target[i], m_out, sd_out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_that_looks_like_the_in_shadows_scores_higher() {
        // Two rows; shadows 0 and 1 trained on row 0, shadows 2 and 3 did not.
        let shadows = vec![
            vec![3.0, 0.1],
            vec![3.2, -0.1],
            vec![0.9, 0.0],
            vec![1.1, 0.2],
        ];
        let is_in = vec![
            vec![true, false],
            vec![true, false],
            vec![false, true],
            vec![false, true],
        ];
        let member_like = likelihood_ratios(&[3.1, 0.0], &shadows, &is_in);
        let outsider_like = likelihood_ratios(&[1.0, 0.0], &shadows, &is_in);
        assert!(
            member_like[0] > 0.0 && outsider_like[0] < 0.0,
            "{member_like:?} {outsider_like:?}"
        );
    }
}

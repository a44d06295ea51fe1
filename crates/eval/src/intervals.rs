//! Seeded 95% bootstrap intervals for every headline metric at once. A resample is stored
//! as how many times each row was drawn (the same draws as [`crate::bootstrap_ci`]), and
//! every metric is computed from those weights in one pass — ROC-AUC from rows sorted by
//! score once — so 1,000 resamples of all metrics cost about as much as sorting the rows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Interval, argmax};

/// 95% percentile-bootstrap intervals of the headline metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricIntervals {
    /// Accuracy.
    pub accuracy: Interval,
    /// Macro-averaged F1.
    pub macro_f1: Interval,
    /// Log loss.
    pub log_loss: Interval,
    /// ROC-AUC (`None` when it is undefined on the rows themselves).
    pub roc_auc: Option<Interval>,
    /// Multiclass Brier score.
    pub brier: Interval,
    /// Expected calibration error (15 bins).
    pub ece: Interval,
    /// Agreement with the teacher (`None` without one).
    pub fidelity: Option<Interval>,
}

const BINS: usize = 15;

/// Per-row facts the weighted metrics are built from.
struct Rows {
    k: usize,
    /// `Some` for labelled rows: (true class, predicted class, −ln p(true) clipped, Brier term).
    label: Vec<Option<(usize, usize, f64, f64)>>,
    /// Top-label confidence and its reliability bin.
    confidence: Vec<(f64, usize)>,
    agree: Option<Vec<bool>>,
    /// Per ROC class: labelled rows sorted by that class's probability, with the score.
    auc_order: Vec<(usize, Vec<(f32, usize)>)>,
}

impl Rows {
    fn new(p: &[f32], k: usize, y: &[Option<u32>], teacher: Option<&[f32]>) -> Rows {
        let label = p
            .chunks_exact(k)
            .zip(y)
            .map(|(row, y)| {
                y.map(|y| {
                    let y = y as usize;
                    let q = f64::from(row[y]).clamp(f64::EPSILON, 1.0 - f64::EPSILON);
                    let brier = row
                        .iter()
                        .enumerate()
                        .map(|(c, &v)| (f64::from(v) - f64::from(u8::from(c == y))).powi(2))
                        .sum();
                    (y, argmax(row), -q.ln(), brier)
                })
            })
            .collect();
        let confidence = p
            .chunks_exact(k)
            .map(|row| {
                let c = f64::from(row[argmax(row)]);
                let b = ((c * BINS as f64).ceil() as usize)
                    .saturating_sub(1)
                    .min(BINS - 1);
                (c, b)
            })
            .collect();
        let agree = teacher.map(|t| {
            p.chunks_exact(k)
                .zip(t.chunks_exact(k))
                .map(|(s, t)| argmax(s) == argmax(t))
                .collect()
        });
        let classes: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
        let auc_order = classes
            .into_iter()
            .map(|c| {
                let mut rows: Vec<(f32, usize)> = p
                    .chunks_exact(k)
                    .zip(y)
                    .enumerate()
                    .filter(|(_, (_, y))| y.is_some())
                    .map(|(i, (row, _))| (row[c], i))
                    .collect();
                rows.sort_by(|a, b| a.0.total_cmp(&b.0));
                (c, rows)
            })
            .collect();
        Rows {
            k,
            label,
            confidence,
            agree,
            auc_order,
        }
    }

    /// [accuracy, macro-F1, log loss, ROC-AUC, Brier, ECE, fidelity] on the resample where
    /// row i was drawn `w[i]` times (NaN where undefined).
    fn metrics(&self, w: &[u32]) -> [f64; 7] {
        let k = self.k;
        let (mut n, mut hits, mut ll, mut brier) = (0.0, 0.0, 0.0, 0.0);
        let (mut tp, mut fp, mut fneg) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        let (mut bin_conf, mut bin_hits) = ([0.0f64; BINS], [0.0f64; BINS]);
        for (i, l) in self.label.iter().enumerate() {
            let Some((y, pred, loss, b)) = *l else {
                continue;
            };
            let wi = f64::from(w[i]);
            if wi == 0.0 {
                continue;
            }
            n += wi;
            ll += wi * loss;
            brier += wi * b;
            let (c, bin) = self.confidence[i];
            bin_conf[bin] += wi * c;
            if pred == y {
                hits += wi;
                tp[y] += wi;
                bin_hits[bin] += wi;
            } else {
                fp[pred] += wi;
                fneg[y] += wi;
            }
        }
        let present: Vec<usize> = (0..k).filter(|&c| tp[c] + fp[c] + fneg[c] > 0.0).collect();
        let f1: f64 = present
            .iter()
            .map(|&c| 2.0 * tp[c] / (2.0 * tp[c] + fp[c] + fneg[c]))
            .sum();
        let ece: f64 = (0..BINS).map(|b| (bin_hits[b] - bin_conf[b]).abs()).sum();
        let fidelity = self.agree.as_ref().map_or(f64::NAN, |a| {
            let (same, all) = a.iter().zip(w).fold((0.0, 0.0), |(s, t), (&a, &w)| {
                let w = f64::from(w);
                (s + if a { w } else { 0.0 }, t + w)
            });
            same / all
        });
        [
            hits / n,
            f1 / present.len().max(1) as f64,
            ll / n,
            self.auc(w),
            brier / n,
            ece / n,
            fidelity,
        ]
    }

    /// Weighted Mann–Whitney ROC-AUC (ties count half), macro over the OvR classes.
    fn auc(&self, w: &[u32]) -> f64 {
        let mut total = 0.0;
        for (c, order) in &self.auc_order {
            let (mut num, mut neg_below, mut pos_all) = (0.0, 0.0, 0.0);
            let mut i = 0;
            while i < order.len() {
                let (mut pos, mut neg) = (0.0, 0.0);
                let score = order[i].0;
                while i < order.len() && order[i].0 == score {
                    let row = order[i].1;
                    let wi = f64::from(w[row]);
                    match self.label[row] {
                        Some((y, ..)) if y == *c => pos += wi,
                        _ => neg += wi,
                    }
                    i += 1;
                }
                num += pos * (neg_below + 0.5 * neg);
                neg_below += neg;
                pos_all += pos;
            }
            if pos_all == 0.0 || neg_below == 0.0 {
                return f64::NAN;
            }
            total += num / (pos_all * neg_below);
        }
        total / self.auc_order.len() as f64
    }
}

/// Intervals of every headline metric of `p` (`n × k`) against `y`, and of the agreement
/// with `teacher` when given: `resamples` bootstrap resamples of the rows (ChaCha8 seeded
/// by `seed`), 2.5th and 97.5th percentiles. Accuracy's interval equals
/// [`crate::bootstrap_ci`]'s for the same seed.
pub fn metric_intervals(
    p: &[f32],
    k: usize,
    y: &[Option<u32>],
    teacher: Option<&[f32]>,
    resamples: usize,
    seed: u64,
) -> MetricIntervals {
    let rows = Rows::new(p, k, y, teacher);
    let n = y.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = vec![0u32; n];
    let mut values: [Vec<f64>; 7] = Default::default();
    for _ in 0..resamples {
        w.iter_mut().for_each(|v| *v = 0);
        for _ in 0..n {
            w[rng.random_range(0..n.max(1))] += 1;
        }
        for (v, m) in values.iter_mut().zip(rows.metrics(&w)) {
            v.push(m);
        }
    }
    let interval = |v: &mut Vec<f64>| -> Option<Interval> {
        v.retain(|x| !x.is_nan());
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        (!v.is_empty()).then(|| Interval {
            lo: at(0.025),
            hi: at(0.975),
        })
    };
    let nan = Interval {
        lo: f64::NAN,
        hi: f64::NAN,
    };
    let [acc, f1, ll, auc, brier, ece, fid] = &mut values;
    MetricIntervals {
        accuracy: interval(acc).unwrap_or(nan),
        macro_f1: interval(f1).unwrap_or(nan),
        log_loss: interval(ll).unwrap_or(nan),
        roc_auc: crate::roc_auc(p, k, y).and_then(|_| interval(auc)),
        brier: interval(brier).unwrap_or(nan),
        ece: interval(ece).unwrap_or(nan),
        fidelity: teacher.and_then(|_| interval(fid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded random probabilities over `k` classes, labels correlated with them, with ties.
    fn case(n: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<Option<u32>>, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Vec::new();
        let mut t = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            for out in [&mut p, &mut t] {
                let raw: Vec<f32> = (0..k).map(|_| rng.random_range(1..10) as f32).collect();
                let s: f32 = raw.iter().sum();
                out.extend(raw.iter().map(|v| v / s));
            }
            y.push(Some(rng.random_range(0..k as u32)));
        }
        (p, y, t)
    }

    /// The weighted metrics on a resample equal the plain metrics (themselves checked
    /// against scikit-learn) on the explicitly resampled rows.
    #[test]
    fn weighted_metrics_equal_metrics_on_the_resampled_rows() {
        for (k, seed) in [(2, 1), (3, 2), (4, 3)] {
            let (p, y, t) = case(300, k, seed);
            let rows = Rows::new(&p, k, &y, Some(&t));
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 10);
            for _ in 0..5 {
                let idx: Vec<usize> = (0..300).map(|_| rng.random_range(0..300)).collect();
                let mut w = vec![0u32; 300];
                idx.iter().for_each(|&i| w[i] += 1);
                let gp: Vec<f32> = idx
                    .iter()
                    .flat_map(|&i| p[i * k..(i + 1) * k].to_vec())
                    .collect();
                let gt: Vec<f32> = idx
                    .iter()
                    .flat_map(|&i| t[i * k..(i + 1) * k].to_vec())
                    .collect();
                let gy: Vec<Option<u32>> = idx.iter().map(|&i| y[i]).collect();
                let want = [
                    crate::accuracy(&gp, k, &gy),
                    crate::macro_f1(&gp, k, &gy),
                    crate::log_loss(&gp, k, &gy),
                    crate::roc_auc(&gp, k, &gy).unwrap_or(f64::NAN),
                    crate::brier(&gp, k, &gy),
                    crate::ece(&gp, k, &gy, BINS),
                    crate::fidelity(&gp, &gt, k),
                ];
                let got = rows.metrics(&w);
                for (m, (a, b)) in got.iter().zip(want).enumerate() {
                    assert!((a - b).abs() < 1e-9, "k={k} metric {m}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn accuracy_interval_matches_bootstrap_ci_and_covers_the_estimate() {
        let (p, y, t) = case(500, 3, 9);
        let iv = metric_intervals(&p, 3, &y, Some(&t), 1000, 7);
        let hits: Vec<f64> = p
            .chunks_exact(3)
            .zip(&y)
            .map(|(r, y)| f64::from(u8::from(Some(argmax(r) as u32) == *y)))
            .collect();
        let direct = crate::bootstrap_ci(500, 1000, 7, |idx| {
            idx.iter().map(|&i| hits[i]).sum::<f64>() / idx.len() as f64
        });
        assert_eq!(iv.accuracy, direct);
        for (value, i) in [
            (crate::macro_f1(&p, 3, &y), iv.macro_f1),
            (crate::log_loss(&p, 3, &y), iv.log_loss),
            (crate::brier(&p, 3, &y), iv.brier),
            (crate::roc_auc(&p, 3, &y).unwrap(), iv.roc_auc.unwrap()),
            (crate::fidelity(&p, &t, 3), iv.fidelity.unwrap()),
        ] {
            assert!(i.lo < value && value < i.hi, "{value} outside {i:?}");
        }
        assert!(iv.ece.lo < iv.ece.hi);
        assert!(metric_intervals(&p, 3, &y, None, 50, 7).fidelity.is_none());
    }
}

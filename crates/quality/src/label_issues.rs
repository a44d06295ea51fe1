//! Label errors by confident learning (Northcutt, Jiang & Chuang 2021), the way cleanlab
//! 2.x's `find_label_issues(filter_by="prune_by_noise_rate")` finds them, from
//! out-of-fold predicted probabilities:
//!
//! 1. per-class thresholds: the mean predicted probability of class k over rows labelled k;
//! 2. the confident joint: each row whose probability reaches a threshold is counted under
//!    (given label, likely true label), calibrated to the label counts and rounded with row
//!    totals preserved;
//! 3. for each given class k and each other class j, the joint's (j, k) count of rows with
//!    the largest margin p(j) − p(k) are flagged;
//! 4. rows whose prediction equals their label are never flagged.
//!
//! Flagged rows are ranked by self-confidence (the probability of the given label), lowest
//! first.

/// Rows whose label looks wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelIssues {
    /// Flagged rows, least self-confident first.
    pub rows: Vec<usize>,
    /// Self-confidence of each flagged row (same order).
    pub self_confidence: Vec<f64>,
    /// The most likely class of each flagged row (same order).
    pub suggested: Vec<usize>,
    /// The calibrated confident joint: `[given label][likely true label]` counts.
    pub confident_joint: Vec<Vec<i64>>,
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Rounds each value so that the rounded values keep the rounded total: round half to
/// even, then move the largest (or smallest) remainders up (or down) until the sums agree.
fn round_preserving_sum(values: &[f64]) -> Vec<i64> {
    let mut ints: Vec<f64> = values.iter().map(|v| v.round_ties_even()).collect();
    let target = values.iter().sum::<f64>().round_ties_even();
    let mut total: f64 = ints.iter().sum::<f64>().round_ties_even();
    while (total - target).abs() > 1e-6 {
        let diff = (target - total).round_ties_even();
        let step = if diff < 0.0 { -1.0 } else { 1.0 };
        let changes = (diff.abs() as usize).min(values.len());
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| (values[a] - ints[a]).total_cmp(&(values[b] - ints[b])));
        if step > 0.0 {
            order.reverse();
        }
        for &i in order.iter().take(changes) {
            ints[i] += step;
        }
        total = ints.iter().sum::<f64>().round_ties_even();
    }
    ints.iter().map(|&v| v as i64).collect()
}

/// Finds label issues in `labels` given out-of-fold probabilities `p` (`n × k`).
pub fn find_label_issues(p: &[f64], k: usize, labels: &[usize]) -> LabelIssues {
    let n = labels.len();
    let row = |i: usize| &p[i * k..(i + 1) * k];
    let mut counts = vec![0usize; k];
    let mut sums = vec![0.0f64; k];
    for (i, &y) in labels.iter().enumerate() {
        counts[y] += 1;
        sums[y] += row(i)[y];
    }
    let thresholds: Vec<f64> = (0..k)
        .map(|c| {
            let t = if counts[c] > 0 {
                sums[c] / counts[c] as f64
            } else {
                2.0
            };
            t.max(2e-6)
        })
        .collect();
    // Confident joint, [given][true guess].
    let mut cj = vec![vec![0i64; k]; k];
    for (i, &y) in labels.iter().enumerate() {
        let r = row(i);
        let (mut first, mut confident) = (usize::MAX, 0usize);
        for c in 0..k {
            if r[c] >= thresholds[c] - 1e-6 {
                if confident == 0 {
                    first = c;
                }
                confident += 1;
            }
        }
        let guess = match confident {
            0 => continue,
            1 => first,
            _ => argmax(r),
        };
        cj[y][guess] += 1;
    }
    for (c, row) in cj.iter_mut().enumerate() {
        row[c] = row[c].max(1);
    }
    // Calibrate rows to the label counts, then the whole to n.
    let mut cal: Vec<Vec<f64>> = cj
        .iter()
        .enumerate()
        .map(|(c, r)| {
            let s = r.iter().sum::<i64>().max(1) as f64;
            r.iter().map(|&v| v as f64 / s * counts[c] as f64).collect()
        })
        .collect();
    let total: f64 = cal.iter().flatten().sum::<f64>().max(1e-100);
    cal.iter_mut()
        .flatten()
        .for_each(|v| *v = *v / total * n as f64);
    let joint: Vec<Vec<i64>> = cal.iter().map(|r| round_preserving_sum(r)).collect();
    let prune = keep_at_least_one_per_class(&joint);
    // Prune by noise rate: per given class, the `count` largest margins p(j) − p(given),
    // found by selection (linear) rather than a full sort; classes split across threads.
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &y) in labels.iter().enumerate() {
        members[y].push(i as u32);
    }
    let prune_class = |given: usize| -> Vec<u32> {
        let rows = &members[given];
        let mut out = Vec::new();
        if rows.len() <= 1 {
            return out;
        }
        let mut scored: Vec<(f64, u32)> = Vec::with_capacity(rows.len());
        for (j, prune_row) in prune.iter().enumerate() {
            let count = prune_row[given].max(0) as usize;
            if j == given || count == 0 {
                continue;
            }
            scored.clear();
            scored.extend(rows.iter().map(|&i| {
                let r = row(i as usize);
                (r[j] - r[given], i)
            }));
            let take = count.min(scored.len());
            if take < scored.len() {
                scored.select_nth_unstable_by(take - 1, |a, b| {
                    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
                });
            }
            out.extend(scored[..take].iter().map(|&(_, i)| i));
        }
        out
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, k.max(1));
    let per_thread: Vec<Vec<u32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let prune_class = &prune_class;
                scope.spawn(move || {
                    (t..k)
                        .step_by(threads)
                        .flat_map(prune_class)
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut flagged = vec![false; n];
    per_thread
        .iter()
        .flatten()
        .for_each(|&i| flagged[i as usize] = true);
    let mut rows: Vec<usize> = (0..n)
        .filter(|&i| flagged[i] && argmax(row(i)) != labels[i])
        .collect();
    rows.sort_by(|&a, &b| {
        row(a)[labels[a]]
            .total_cmp(&row(b)[labels[b]])
            .then(a.cmp(&b))
    });
    LabelIssues {
        self_confidence: rows.iter().map(|&i| row(i)[labels[i]]).collect(),
        suggested: rows.iter().map(|&i| argmax(row(i))).collect(),
        rows,
        confident_joint: joint,
    }
}

/// The prune-count matrix (`[true][given]`, the joint transposed) with every diagonal at
/// least 1, the increase taken evenly from the column's non-zero noise counts, each row's
/// total preserved by rounding.
fn keep_at_least_one_per_class(joint: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let k = joint.len();
    let m: Vec<Vec<f64>> = (0..k)
        .map(|t| (0..k).map(|g| joint[g][t] as f64).collect())
        .collect();
    let mut out = m.clone();
    for col in 0..k {
        let diag = m[col][col];
        let new_diag = diag.max(1.0);
        let diff = new_diag - diag;
        let nonzero = (0..k).filter(|&r| m[r][col] != 0.0).count() as f64;
        let per = diff / (nonzero - 1.0).max(1.0);
        for r in 0..k {
            out[r][col] = (m[r][col] - per).max(0.0);
        }
        out[col][col] = new_diag;
    }
    out.iter().map(|r| round_preserving_sum(r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_the_total() {
        // numpy: argsort of the remainders, reversed, takes the last of the tied 0.4s.
        assert_eq!(round_preserving_sum(&[0.4, 0.4, 0.4, 1.8]), [0, 0, 1, 2]);
        assert_eq!(round_preserving_sum(&[2.5, 2.5]).iter().sum::<i64>(), 5);
    }

    #[test]
    fn an_obvious_flip_is_found_and_a_clean_row_is_not() {
        // Three classes; row 3 is labelled 0 but looks like class 2.
        let p = [
            0.9, 0.05, 0.05, 0.85, 0.1, 0.05, 0.8, 0.1, 0.1, 0.05, 0.05, 0.9, //
            0.1, 0.8, 0.1, 0.1, 0.85, 0.05, 0.05, 0.1, 0.85, 0.1, 0.05, 0.85,
        ];
        let labels = [0, 0, 0, 0, 1, 1, 2, 2];
        let found = find_label_issues(&p, 3, &labels);
        assert_eq!(found.rows, [3]);
        assert_eq!(found.suggested, [2]);
    }
}

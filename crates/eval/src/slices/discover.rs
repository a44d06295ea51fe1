//! Automatic discovery of the weakest slices (after SliceFinder, Chung et al. 2019): every
//! single-feature slice and every conjunction of two is tested against the rest of the
//! rows with a one-sided two-proportion z-test; Benjamini–Hochberg keeps the false
//! discovery rate at `fdr`; a slice must also reach `min_effect` standardised effect size.
//! Redundant findings are explained away by a greedy covering: taken most significant
//! first, a slice is kept only if it is still weak once the rows of the slices kept
//! before it are set aside.

use serde::{Deserialize, Serialize};

use super::{Condition, Outcomes, SliceFeature, SliceStats, Tally};
use crate::stats::{benjamini_hochberg, effect_size, lower_rate_p_value};

/// Knobs of the slice search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryOptions {
    /// Smallest slice (and rest) tested, in rows.
    pub min_rows: usize,
    /// Smallest standardised effect size reported.
    pub min_effect: f64,
    /// False-discovery rate for Benjamini–Hochberg.
    pub fdr: f64,
    /// Findings kept per metric, worst first.
    pub max_findings: usize,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            min_rows: 30,
            min_effect: 0.2,
            fdr: 0.05,
            max_findings: 10,
        }
    }
}

/// What a slice is weak at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SliceMetric {
    /// The student's accuracy on labelled rows.
    Accuracy,
    /// The student's agreement with the teacher.
    Fidelity,
}

impl SliceMetric {
    fn successes(self, t: &Tally) -> (usize, usize) {
        match self {
            SliceMetric::Accuracy => (t.student_ok, t.labelled),
            SliceMetric::Fidelity => (t.agree, t.rows),
        }
    }
}

/// One significantly weak slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The metric the slice is weak at.
    pub metric: SliceMetric,
    /// The slice.
    pub slice: SliceStats,
    /// The metric on the slice.
    pub value: f64,
    /// The metric on all other rows.
    pub rest: f64,
    /// Standardised difference (rest − slice).
    pub effect_size: f64,
    /// One-sided p-value of "the slice is worse".
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value.
    pub q_value: f64,
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    /// The settings used.
    pub options: DiscoveryOptions,
    /// Features searched.
    pub features: Vec<String>,
    /// Slices tested for accuracy (at least `min_rows` labelled rows inside and outside).
    pub tested_accuracy: usize,
    /// Slices tested for fidelity.
    pub tested_fidelity: usize,
    /// Every single-feature slice with at least `min_rows` rows.
    pub single: Vec<SliceStats>,
    /// Weak slices for accuracy, worst (largest effect) first.
    pub accuracy: Vec<Finding>,
    /// Weak slices for fidelity, worst first.
    pub fidelity: Vec<Finding>,
}

/// Most flagged slices re-examined by the greedy covering (each costs a pass over the rows).
const MAX_COVERING: usize = 256;

/// A candidate slice: one or two (feature, level) conditions and their counts.
struct Candidate {
    conds: Vec<(usize, u32)>,
    tally: Tally,
}

/// Searches 1- and 2-feature conjunctions of `features` for slices where the student is
/// significantly weaker than on the other rows.
pub fn discover(
    features: &[SliceFeature],
    outcomes: &Outcomes,
    options: DiscoveryOptions,
) -> Discovery {
    let total = Tally::total(outcomes);
    let singles: Vec<Vec<Tally>> = features
        .iter()
        .map(|f| {
            let mut t = vec![Tally::default(); f.levels.len()];
            for (row, &c) in f.codes.iter().enumerate() {
                t[c as usize].add(outcomes, row);
            }
            t
        })
        .collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (f, levels) in singles.iter().enumerate() {
        for (l, &tally) in levels.iter().enumerate() {
            candidates.push(Candidate {
                conds: vec![(f, l as u32)],
                tally,
            });
        }
    }
    for f in 0..features.len() {
        for g in f + 1..features.len() {
            let width = features[g].levels.len();
            let mut cells = vec![Tally::default(); features[f].levels.len() * width];
            for (row, (&a, &b)) in features[f].codes.iter().zip(&features[g].codes).enumerate() {
                cells[a as usize * width + b as usize].add(outcomes, row);
            }
            for (cell, tally) in cells.into_iter().enumerate() {
                if tally.rows >= options.min_rows {
                    candidates.push(Candidate {
                        conds: vec![(f, (cell / width) as u32), (g, (cell % width) as u32)],
                        tally,
                    });
                }
            }
        }
    }
    let stats = |c: &Candidate| {
        let conditions = c
            .conds
            .iter()
            .map(|&(f, l)| Condition {
                feature: features[f].name.clone(),
                level: features[f].levels[l as usize].clone(),
            })
            .collect();
        let name = c
            .conds
            .iter()
            .map(|&(f, l)| features[f].condition(l))
            .collect::<Vec<_>>()
            .join(" ∧ ");
        SliceStats::of(name, conditions, c.tally, outcomes.has_teacher)
    };
    let single = candidates
        .iter()
        .filter(|c| c.conds.len() == 1 && c.tally.rows >= options.min_rows)
        .map(stats)
        .collect();
    let search = |metric| {
        search(
            metric,
            &candidates,
            total,
            options,
            &stats,
            features,
            outcomes,
        )
    };
    let (tested_accuracy, accuracy) = search(SliceMetric::Accuracy);
    let (tested_fidelity, fidelity) = if outcomes.has_teacher {
        search(SliceMetric::Fidelity)
    } else {
        (0, Vec::new())
    };
    Discovery {
        options,
        features: features.iter().map(|f| f.name.clone()).collect(),
        tested_accuracy,
        tested_fidelity,
        single,
        accuracy,
        fidelity,
    }
}

/// Tests, FDR-controls and prunes the candidates for one metric.
fn search(
    metric: SliceMetric,
    candidates: &[Candidate],
    total: Tally,
    options: DiscoveryOptions,
    stats: &dyn Fn(&Candidate) -> SliceStats,
    features: &[SliceFeature],
    rows: &Outcomes,
) -> (usize, Vec<Finding>) {
    let (x_all, n_all) = metric.successes(&total);
    let tested: Vec<(usize, f64, f64)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let (x, n) = metric.successes(&c.tally);
            (n >= options.min_rows && n_all - n >= options.min_rows).then(|| {
                let (xr, nr) = (x_all - x, n_all - n);
                (
                    i,
                    lower_rate_p_value(x, n, xr, nr),
                    effect_size(x, n, xr, nr),
                )
            })
        })
        .collect();
    let p: Vec<f64> = tested.iter().map(|t| t.1).collect();
    let q = benjamini_hochberg(&p);
    let flagged: Vec<(usize, f64, f64, f64)> = tested
        .iter()
        .zip(&q)
        .filter(|((_, _, e), q)| **q <= options.fdr && *e >= options.min_effect)
        .map(|(&(i, p, e), &q)| (i, p, e, q))
        .collect();
    // Greedy covering, most significant first: a flagged slice is kept only if, once the
    // rows of the slices kept before it are set aside, it is still significantly and
    // substantially worse than the remaining rows. A parent that is weak only because of a
    // planted conjunction inside it (or a conjunction that is weak only because it
    // overlaps a kept slice) is thereby explained away.
    let mut order: Vec<&(usize, f64, f64, f64)> = flagged.iter().collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut covered = vec![false; rows.len()];
    let mut open = total;
    let mut kept: Vec<&(usize, f64, f64, f64)> = Vec::new();
    for f in order.into_iter().take(MAX_COVERING) {
        let conds = &candidates[f.0].conds;
        let members: Vec<usize> = (0..rows.len())
            .filter(|&r| !covered[r] && conds.iter().all(|&(g, l)| features[g].codes[r] == l))
            .collect();
        let mut t = Tally::default();
        members.iter().for_each(|&r| t.add(rows, r));
        let rest = open.minus(t);
        let (x, n) = metric.successes(&t);
        let (xr, nr) = metric.successes(&rest);
        if n >= options.min_rows
            && nr >= options.min_rows
            && lower_rate_p_value(x, n, xr, nr) <= options.fdr
            && effect_size(x, n, xr, nr) >= options.min_effect
        {
            members.iter().for_each(|&r| covered[r] = true);
            open = rest;
            kept.push(f);
        }
    }
    let mut findings: Vec<Finding> = kept
        .into_iter()
        .map(|&(i, p_value, effect_size, q_value)| {
            let t = candidates[i].tally;
            let (x, n) = metric.successes(&t);
            Finding {
                metric,
                slice: stats(&candidates[i]),
                value: x as f64 / n as f64,
                rest: (x_all - x) as f64 / (n_all - n) as f64,
                effect_size,
                p_value,
                q_value,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        b.effect_size
            .total_cmp(&a.effect_size)
            .then_with(|| a.slice.name.cmp(&b.slice.name))
    });
    findings.truncate(options.max_findings);
    (tested.len(), findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Four random categorical features over `n` rows, and outcomes where the student is
    /// right with probability 0.85 and agrees with the teacher with probability 0.95,
    /// except on `a = 1 ∧ b = 2` when `plant` is set, where it is always wrong.
    fn data(n: usize, seed: u64, plant: bool) -> (Vec<SliceFeature>, Outcomes) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let names = ["a", "b", "c", "d"];
        let levels: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let codes: Vec<Vec<u32>> = names
            .iter()
            .map(|_| (0..n).map(|_| rng.random_range(0..4)).collect())
            .collect();
        let mut o = Outcomes {
            student_ok: Vec::new(),
            teacher_ok: Vec::new(),
            agree: Vec::new(),
            kl: Vec::new(),
            has_teacher: true,
        };
        for (&a, &b) in codes[0].iter().zip(&codes[1]) {
            let planted = plant && a == 1 && b == 2;
            let ok = !planted && rng.random_bool(0.85);
            o.student_ok.push(Some(ok));
            o.teacher_ok.push(Some(rng.random_bool(0.87)));
            o.agree.push(!planted && rng.random_bool(0.95));
            o.kl.push(0.0);
        }
        let features = names
            .iter()
            .zip(&codes)
            .map(|(name, c)| SliceFeature::categorical(name, &levels, c))
            .collect();
        (features, o)
    }

    #[test]
    fn finds_the_planted_conjunction_and_only_it() {
        let (features, o) = data(4000, 1, true);
        let d = discover(&features, &o, DiscoveryOptions::default());
        for findings in [&d.accuracy, &d.fidelity] {
            assert_eq!(findings.len(), 1, "{findings:#?}");
            assert_eq!(findings[0].slice.name, "a = 1 ∧ b = 2");
            assert_eq!(findings[0].value, 0.0);
        }
        assert!(d.tested_accuracy > 16, "singles and pairs were tested");
    }

    #[test]
    fn reports_nothing_when_nothing_is_planted() {
        // Under the global null, Benjamini–Hochberg at 5% reports anything in at most ~5%
        // of datasets (exact tests make it a little conservative); without the correction,
        // ~100 tests at p < 0.05 would flag slices in nearly every dataset. 300 seeded
        // datasets: allow 8% per metric.
        let (mut accuracy, mut fidelity) = (0, 0);
        for seed in 100..400 {
            let (features, o) = data(4000, seed, false);
            let d = discover(&features, &o, DiscoveryOptions::default());
            accuracy += usize::from(!d.accuracy.is_empty());
            fidelity += usize::from(!d.fidelity.is_empty());
        }
        assert!(
            accuracy <= 24 && fidelity <= 24,
            "{accuracy}, {fidelity} of 300"
        );
    }

    #[test]
    fn small_slices_are_not_tested() {
        let (features, o) = data(100, 3, true);
        let options = DiscoveryOptions {
            min_rows: 60,
            ..DiscoveryOptions::default()
        };
        let d = discover(&features, &o, options);
        assert_eq!(d.tested_accuracy, 0);
        assert!(d.single.is_empty());
    }
}

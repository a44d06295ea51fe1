//! Did distillation help? The distilled student and the scratch baseline (same network,
//! labels only) are scored on the *same* rows, so the honest test is a paired one:
//! McNemar's exact test on the rows where exactly one of the two is right (Edwards 1948;
//! the exact form is a two-sided binomial test of the discordant counts at ½).

use serde::{Deserialize, Serialize};

use crate::argmax;

/// Two models on the same labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Labelled rows compared.
    pub rows: usize,
    /// Accuracy of the first model (the distilled student).
    pub accuracy: f64,
    /// Accuracy of the second (the scratch baseline).
    pub baseline_accuracy: f64,
    /// Rows only the first model gets right.
    pub only_model_right: u64,
    /// Rows only the baseline gets right.
    pub only_baseline_right: u64,
    /// McNemar's exact two-sided p-value (1 when no row is discordant).
    pub p_value: f64,
    /// "better", "worse" (p < 0.05 either way) or "no different".
    pub verdict: String,
}

/// Significance level of the verdict.
pub const ALPHA: f64 = 0.05;

/// Compares `model` with `baseline` (`n × k` probabilities each) on the rows of `y` that
/// have a label.
pub fn compare(model: &[f32], baseline: &[f32], k: usize, y: &[Option<u32>]) -> PairedComparison {
    let (mut right, mut base_right, mut only_model, mut only_base, mut rows) =
        (0u64, 0u64, 0, 0, 0);
    for (i, truth) in y.iter().enumerate() {
        let Some(t) = truth else { continue };
        let t = *t as usize;
        let a = argmax(&model[i * k..(i + 1) * k]) == t;
        let b = argmax(&baseline[i * k..(i + 1) * k]) == t;
        rows += 1;
        right += u64::from(a);
        base_right += u64::from(b);
        only_model += u64::from(a && !b);
        only_base += u64::from(b && !a);
    }
    let p_value = mcnemar_exact(only_model, only_base);
    let verdict = if p_value < ALPHA && only_model > only_base {
        "better"
    } else if p_value < ALPHA {
        "worse"
    } else {
        "no different"
    };
    let share = |n: u64| {
        if rows == 0 {
            f64::NAN
        } else {
            n as f64 / rows as f64
        }
    };
    PairedComparison {
        rows,
        accuracy: share(right),
        baseline_accuracy: share(base_right),
        only_model_right: only_model,
        only_baseline_right: only_base,
        p_value,
        verdict: verdict.into(),
    }
}

/// McNemar's exact test: the two-sided binomial p-value of `b` successes in `b + c` trials
/// at ½ (twice the smaller tail, at most 1), summed in log space so it holds for any count.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let small = b.min(c);
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let log_terms: Vec<f64> = (0..=small).map(|i| ln_choose(n, i) - ln_half_n).collect();
    let top = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * log_terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// ln C(n, k).
fn ln_choose(n: u64, k: u64) -> f64 {
    let lg = |x: u64| libm::lgamma(x as f64 + 1.0);
    lg(n) - lg(k) - lg(n - k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy 1.17 `binomtest(b, b + c, 0.5).pvalue` (the exact McNemar test), computed by
    /// `tools/make_paired_fixtures.py`.
    const SCIPY: &[(u64, u64, f64)] = include!("../tests/fixtures/mcnemar.in");

    #[test]
    fn mcnemar_matches_scipy() {
        for &(b, c, want) in SCIPY {
            let got = mcnemar_exact(b, c);
            assert!(
                (got - want).abs() <= 1e-9 * want.max(1e-300) + 1e-12,
                "b={b} c={c}: {got} vs scipy {want}"
            );
        }
    }

    #[test]
    fn the_verdict_follows_the_discordant_rows() {
        // Ten rows, two classes; the model is right on 9, the baseline on 4.
        let y: Vec<Option<u32>> = vec![Some(1); 10];
        let model: Vec<f32> = (0..10)
            .flat_map(|i| if i < 9 { [0.1, 0.9] } else { [0.9, 0.1] })
            .collect();
        let base: Vec<f32> = (0..10)
            .flat_map(|i| if i < 4 { [0.1, 0.9] } else { [0.9, 0.1] })
            .collect();
        let c = compare(&model, &base, 2, &y);
        assert_eq!((c.only_model_right, c.only_baseline_right), (5, 0));
        assert!((c.accuracy - 0.9).abs() < 1e-12 && (c.baseline_accuracy - 0.4).abs() < 1e-12);
        assert!((c.p_value - 0.0625).abs() < 1e-12, "2 × ½⁵");
        assert_eq!(c.verdict, "no different", "five rows cannot reach p < 0.05");
        let same = compare(&model, &model, 2, &y);
        assert_eq!((same.p_value, same.verdict.as_str()), (1.0, "no different"));
    }
}

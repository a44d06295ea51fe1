//! Seeded, stratified train / validation / test splits.
//!
//! Each class is shuffled on its own and cut at the requested fractions, so every split
//! keeps the class ratios of the whole file (to within one row per class). Unlabelled
//! rows can only teach through the teacher, so they always go to the training split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Row indices of each split, each sorted ascending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Rows the student learns from.
    pub train: Vec<usize>,
    /// Rows for early stopping.
    pub validation: Vec<usize>,
    /// Rows held out for the final report.
    pub test: Vec<usize>,
}

/// Splits rows with labels `y` into train / validation / test, stratified by class.
///
/// `test_fraction` and `validation_fraction` are shares of the labelled rows of each class.
///
/// # Errors
/// Fractions outside [0, 1) or summing to 1 or more.
pub fn stratified_split(
    y: &[Option<u32>],
    test_fraction: f64,
    validation_fraction: f64,
    seed: u64,
) -> Result<Split> {
    if !(0.0..1.0).contains(&test_fraction)
        || !(0.0..1.0).contains(&validation_fraction)
        || test_fraction + validation_fraction >= 1.0
    {
        return Err(DataError::Split(format!(
            "test_fraction {test_fraction} and validation_fraction {validation_fraction} must each be in [0, 1) and sum to less than 1"
        )));
    }
    let (strata, unlabelled) = strata(y);
    let mut split = Split {
        train: unlabelled,
        validation: Vec::new(),
        test: Vec::new(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for mut rows in strata {
        rows.shuffle(&mut rng);
        let n = rows.len() as f64;
        let n_test = (n * test_fraction).round() as usize;
        let n_val = ((n * validation_fraction).round() as usize).min(rows.len() - n_test);
        split.test.extend_from_slice(&rows[..n_test]);
        split
            .validation
            .extend_from_slice(&rows[n_test..n_test + n_val]);
        split.train.extend_from_slice(&rows[n_test + n_val..]);
    }
    split.train.sort_unstable();
    split.validation.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

/// The rows of each class, in row order, and the unlabelled rows.
fn strata(y: &[Option<u32>]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n_classes = y
        .iter()
        .flatten()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0);
    let mut strata: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    let mut unlabelled = Vec::new();
    for (row, label) in y.iter().enumerate() {
        match label {
            Some(c) => strata[*c as usize].push(row),
            None => unlabelled.push(row),
        }
    }
    (strata, unlabelled)
}

/// Assigns the labelled rows of `y` to `k` folds, stratified by class: each class is
/// shuffled (ChaCha8 seeded by `seed`) and dealt round-robin, continuing where the previous
/// class stopped, so fold sizes differ by at most one row and class ratios are kept.
/// Unlabelled rows are in no fold (they can only ever be training rows).
///
/// # Errors
/// `k` below 2 or above the number of labelled rows.
pub fn stratified_folds(y: &[Option<u32>], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let labelled = y.iter().filter(|v| v.is_some()).count();
    if k < 2 || k > labelled {
        return Err(DataError::Split(format!(
            "{k} folds need at least 2 folds and at most one per labelled row ({labelled})"
        )));
    }
    let (strata, _) = strata(y);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut next = 0;
    for mut rows in strata {
        rows.shuffle(&mut rng);
        for row in rows {
            folds[next].push(row);
            next = (next + 1) % k;
        }
    }
    folds.iter_mut().for_each(|f| f.sort_unstable());
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<Option<u32>> {
        (0..1000).map(|i| Some(u32::from(i % 10 == 0))).collect()
    }

    #[test]
    fn folds_partition_labelled_rows_and_keep_ratios() {
        let mut y = labels();
        y[3] = None;
        let folds = stratified_folds(&y, 5, 7).unwrap();
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(all.len(), 999, "the unlabelled row is in no fold");
        assert!(!all.contains(&3));
        all.dedup();
        assert_eq!(all.len(), 999, "no row is in two folds");
        for f in &folds {
            assert!((199..=200).contains(&f.len()), "{}", f.len());
            let pos = f.iter().filter(|&&r| y[r] == Some(1)).count();
            assert_eq!(pos, 20);
        }
        assert!(stratified_folds(&y, 1, 7).is_err());
    }

    #[test]
    fn stratified_split_keeps_class_ratios() {
        let y = labels();
        let s = stratified_split(&y, 0.2, 0.1, 7).unwrap();
        assert_eq!(s.test.len(), 200);
        assert_eq!(s.validation.len(), 100);
        assert_eq!(s.train.len(), 700);
        let positives = |rows: &[usize]| rows.iter().filter(|&&r| y[r] == Some(1)).count();
        assert_eq!(positives(&s.test), 20);
        assert_eq!(positives(&s.validation), 10);
        assert_eq!(positives(&s.train), 70);
    }

    #[test]
    fn splits_are_disjoint_cover_all_rows_and_follow_the_seed() {
        let y = labels();
        let a = stratified_split(&y, 0.2, 0.1, 7).unwrap();
        let mut all: Vec<usize> = [a.train.clone(), a.validation.clone(), a.test.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, stratified_split(&y, 0.2, 0.1, 7).unwrap());
        assert_ne!(a, stratified_split(&y, 0.2, 0.1, 8).unwrap());
    }

    #[test]
    fn unlabelled_rows_stay_in_train() {
        let y = vec![None, Some(0), Some(1), Some(0), Some(1), None];
        let s = stratified_split(&y, 0.5, 0.0, 1).unwrap();
        assert!(s.train.contains(&0) && s.train.contains(&5));
    }

    #[test]
    fn bad_fractions_are_rejected() {
        assert!(stratified_split(&labels(), 0.6, 0.5, 1).is_err());
    }
}

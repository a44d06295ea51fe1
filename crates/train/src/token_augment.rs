//! New texts for the transfer set when unlabelled text is scarce: each synthetic row is a
//! training row whose text columns lost some words and had some neighbouring words
//! swapped, as in Tang et al. 2019 ("Distilling Task-Specific Knowledge from BERT into
//! Simple Neural Networks", §3.2), which the teacher then labels. MUNGE and Gibbs sampling
//! cannot make new texts; this can.
//!
//! Per word (split on whitespace, punctuation kept with its word): dropped with
//! probability `drop`, then each remaining neighbouring pair swapped with probability
//! `swap` (a swapped word is not swapped again). At least one word always survives. Other
//! columns are copied from the row. Every synthetic row has its own seeded generator, so
//! the result does not depend on the order rows are made in.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use distillery_data::{Column, MISSING, Table};

use crate::error::Result;
use crate::munge::source_columns;

/// Token dropout / swap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenParams {
    /// Synthetic rows per original row.
    pub factor: usize,
    /// Probability that a word is dropped. Default 0.1.
    pub drop: f64,
    /// Probability that a word changes place with the next one. Default 0.1.
    pub swap: f64,
    /// Seed.
    pub seed: u64,
}

impl TokenParams {
    /// Tang et al.'s rates (0.1 each) at `factor` rows per row.
    pub fn new(factor: usize, seed: u64) -> TokenParams {
        TokenParams {
            factor,
            drop: 0.1,
            swap: 0.1,
            seed,
        }
    }
}

/// `factor × rows.len()` synthetic rows from rows `rows` of `table`: the columns `features`,
/// with the columns named in `text` perturbed and the others copied. Copy `c` of every row
/// comes before copy `c + 1`.
///
/// # Errors
/// A named column is missing from the table.
pub fn token_rows(
    table: &Table,
    features: &[String],
    text: &[String],
    rows: &[usize],
    params: &TokenParams,
) -> Result<Table> {
    let columns = source_columns(table, features)?;
    let order: Vec<usize> = (0..params.factor)
        .flat_map(|_| rows.iter().copied())
        .collect();
    let out = columns
        .iter()
        .zip(features)
        .enumerate()
        .map(|(j, (col, name))| {
            if !text.contains(name) {
                return col.take(&order);
            }
            let mut levels = Vec::with_capacity(order.len());
            let mut codes = Vec::with_capacity(order.len());
            for (i, &row) in order.iter().enumerate() {
                let Some(cell) = col.text(row) else {
                    codes.push(MISSING);
                    continue;
                };
                let mut rng = ChaCha8Rng::seed_from_u64(
                    params.seed ^ ((i as u64) << 20) ^ (j as u64).wrapping_mul(0x9E37_79B9),
                );
                codes.push(levels.len() as u32);
                levels.push(perturb(cell, params, &mut rng));
            }
            Column::Text { levels, codes }
        })
        .collect();
    Table::from_columns(table.path().to_path_buf(), features.to_vec(), out)
        .map_err(|e| crate::error::TrainError::Shape(e.to_string()))
}

/// One perturbed copy of `text`.
fn perturb(text: &str, params: &TokenParams, rng: &mut ChaCha8Rng) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|_| !rng.random_bool(params.drop))
        .collect();
    if kept.is_empty()
        && let Some(&w) = words.get(rng.random_range(0..words.len().max(1)))
    {
        kept.push(w);
    }
    let mut i = 0;
    while i + 1 < kept.len() {
        if rng.random_bool(params.swap) {
            kept.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    kept.join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table() -> Table {
        Table::from_columns(
            "t.csv".into(),
            vec!["body".into(), "n".into()],
            vec![
                Column::Text {
                    levels: vec![
                        "the quick brown fox jumps over the lazy dog today".into(),
                        "win money now".into(),
                    ],
                    codes: vec![0, 1, MISSING],
                },
                Column::Numeric(vec![1.0, 2.0, 3.0]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn copies_keep_words_and_other_columns_and_are_deterministic() {
        let t = table();
        let names = vec!["body".to_string(), "n".to_string()];
        let p = TokenParams::new(3, 7);
        let a = token_rows(&t, &names, &names[..1], &[0, 1, 2], &p).unwrap();
        let b = token_rows(&t, &names, &names[..1], &[0, 1, 2], &p).unwrap();
        assert_eq!(a.n_rows(), 9);
        assert_eq!(a.columns(), b.columns(), "same seed, same texts");
        let original: Vec<&str> = "the quick brown fox jumps over the lazy dog today"
            .split(' ')
            .collect();
        let mut changed = 0;
        for r in (0..9).step_by(3) {
            let s = a.column("body").unwrap().text(r).unwrap();
            let words: Vec<&str> = s.split(' ').collect();
            assert!(!words.is_empty() && words.len() <= original.len());
            assert!(words.iter().all(|w| original.contains(w)), "{s}");
            changed += usize::from(words != original);
            assert_eq!(a.column("n").unwrap().number(r), Some(1.0));
        }
        assert!(changed > 0, "some copy differs from the original");
        assert!(
            a.column("body").unwrap().is_missing(2),
            "a missing text stays missing"
        );
        let other =
            token_rows(&t, &names, &names[..1], &[0, 1, 2], &TokenParams::new(3, 8)).unwrap();
        assert_ne!(a.columns(), other.columns(), "another seed, other texts");
    }

    #[test]
    fn a_text_never_loses_every_word() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let all = TokenParams {
            factor: 1,
            drop: 1.0,
            swap: 0.0,
            seed: 1,
        };
        let s = perturb("only these words", &all, &mut rng);
        assert_eq!(s.split(' ').count(), 1);
        assert!(["only", "these", "words"].contains(&s.as_str()));
        assert_eq!(perturb("", &all, &mut rng), "");
    }
}

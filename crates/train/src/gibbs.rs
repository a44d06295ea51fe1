//! A second synthetic-row generator that respects column types and dependencies: Gibbs-style
//! resampling of one column at a time from its conditional given the others, as FAST-DAD
//! does (Fakoor et al. 2020, "Fast, Accurate, and Simple Models for Tabular Data via
//! Augmented Distillation"), with the conditional estimated non-parametrically.
//!
//! FAST-DAD learns each conditional `p(x_j | x_-j)` with a self-attention network. We take
//! the empirical conditional among a row's `k` nearest neighbours instead: each synthetic
//! row starts from a real row, visits the columns in a random order, and replaces the value
//! of each visited column by that column's value in one of the row's neighbours (or the row
//! itself), drawn uniformly. Every value is one the data holds (a category stays a real
//! category, an integer column stays integral, a missing value stays possible where it
//! occurs), and values move together only within a neighbourhood, where the columns'
//! dependencies hold. Unlike MUNGE, no value is invented between two rows.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use distillery_data::{Column, Table};

use crate::error::{Result, TrainError};
use crate::munge::{empty_like, nearest_k, neighbour_pool, source_columns};

/// Settings of the Gibbs generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GibbsParams {
    /// Synthetic rows per original row.
    pub factor: usize,
    /// Neighbours each row's conditionals are estimated from (default 10).
    pub neighbours: usize,
    /// Share of the columns resampled per synthetic row (default 0.5): one Gibbs sweep
    /// over a random subset, so a synthetic row stays near its origin.
    pub share: f64,
    /// Seed.
    pub seed: u64,
}

/// Generates `factor × rows.len()` synthetic rows from rows `rows` of `table`, columns
/// `features` only; `encoded` holds those rows encoded (`rows.len() × width`) for the
/// neighbour search.
///
/// # Errors
/// A feature column is missing from the table.
pub fn gibbs(
    table: &Table,
    features: &[String],
    rows: &[usize],
    encoded: &[f32],
    width: usize,
    params: &GibbsParams,
) -> Result<Table> {
    let n = rows.len();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x6769_6262_7321);
    let pool = neighbour_pool(&mut rng, n);
    let near = nearest_k(encoded, width, n, &pool, params.neighbours.max(1));
    let columns = source_columns(table, features)?;
    let mut out = empty_like(&columns, n * params.factor);
    let mut order: Vec<usize> = (0..columns.len()).collect();
    let visits =
        ((columns.len() as f64 * params.share).round() as usize).clamp(1, columns.len().max(1));
    let mut donor = vec![0usize; columns.len()];
    for _ in 0..params.factor {
        for (i, &row) in rows.iter().enumerate() {
            donor.fill(row);
            order.shuffle(&mut rng);
            let candidates = &near[i];
            for &j in order.iter().take(visits) {
                // The row itself is a candidate too: its own value has conditional mass.
                let pick = rng.random_range(0..=candidates.len());
                donor[j] = candidates.get(pick).map_or(row, |&c| rows[c]);
            }
            for ((src, dst), &from) in columns.iter().zip(out.iter_mut()).zip(&donor) {
                match (src, dst) {
                    (Column::Numeric(v), Column::Numeric(d)) => d.push(v[from]),
                    (Column::Text { codes, .. }, Column::Text { codes: d, .. }) => {
                        d.push(codes[from]);
                    }
                    _ => {}
                }
            }
        }
    }
    Table::from_columns(table.path().to_path_buf(), features.to_vec(), out)
        .map_err(|e| TrainError::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Two clusters whose columns move together: x near 0 ⇔ c = "a", x near 10 ⇔ c = "b".
    fn clusters() -> (Table, Vec<f32>) {
        let xs = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let t = Table::from_columns(
            PathBuf::from("mem"),
            vec!["x".into(), "c".into()],
            vec![
                Column::Numeric(xs.to_vec()),
                Column::Text {
                    levels: vec!["a".into(), "b".into()],
                    codes: vec![0, 0, 0, 1, 1, 1],
                },
            ],
        )
        .unwrap();
        let enc: Vec<f32> = xs
            .iter()
            .flat_map(|&x| [x as f32 / 10.0, (x >= 10.0) as u8 as f32])
            .collect();
        (t, enc)
    }

    #[test]
    fn synthetic_values_are_observed_values_and_dependencies_hold() {
        let (t, enc) = clusters();
        let p = GibbsParams {
            factor: 20,
            neighbours: 2,
            share: 1.0,
            seed: 3,
        };
        let names = ["x".to_string(), "c".to_string()];
        let rows: Vec<usize> = (0..6).collect();
        let g = gibbs(&t, &names, &rows, &enc, 2, &p).unwrap();
        assert_eq!(g.n_rows(), 120);
        let x = g.column("x").unwrap();
        let c = g.column("c").unwrap();
        for r in 0..120 {
            let v = x.number(r).unwrap();
            assert!(
                [0.0, 1.0, 2.0, 10.0, 11.0, 12.0].contains(&v),
                "{v} is not an observed value"
            );
            // With 2 neighbours every donor is in the same cluster, so x and c agree.
            assert_eq!(
                c.text(r),
                Some(if v >= 10.0 { "b" } else { "a" }),
                "row {r}"
            );
        }
        assert_eq!(
            g.columns(),
            gibbs(&t, &names, &rows, &enc, 2, &p).unwrap().columns()
        );
    }
}

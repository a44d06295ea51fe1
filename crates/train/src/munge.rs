//! MUNGE (Buciluǎ, Caruana & Niculescu-Mizil 2006, "Model Compression", §3 Algorithm 1):
//! synthetic neighbours of the training rows that the teacher labels, enlarging the
//! transfer set where the data are sparse.
//!
//! For each row `e` we take its nearest neighbour `e'` (Euclidean distance in the
//! encoded space) and, per feature with probability `p`, move `e` towards `e'`: a numeric
//! value is redrawn from N(e'_a, |e_a − e'_a| / s), a categorical value is replaced by
//! `e'_a`. Unlike the paper we leave `e'` untouched, so each synthetic row depends only on
//! its own original and neighbour (rows can be generated in any order, same result).
//! Neighbours are searched among a seeded sample of at most [`POOL`] rows, which keeps the
//! search to one GEMM per block on large files.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr_free::normal;

use distillery_data::{Column, MISSING, Table};

use crate::error::Result;
use crate::gemm::{Mat, gemm};

/// Largest neighbour pool; beyond it, neighbours are approximate (nearest within the pool).
pub const POOL: usize = 4096;

/// MUNGE settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MungeParams {
    /// Synthetic rows per original row.
    pub factor: usize,
    /// Per-feature swap probability `p`. Default 0.5.
    pub probability: f64,
    /// Local variance parameter `s`. Default 1.
    pub spread: f64,
    /// Seed.
    pub seed: u64,
}

/// Generates `factor × rows.len()` synthetic rows from rows `rows` of `table`.
///
/// `encoded` holds the encoded rows (`rows.len() × width`, same order) used for distances;
/// `features` are the feature column names to perturb. The result has exactly those columns.
///
/// # Errors
/// A feature column is missing from the table.
pub fn munge(
    table: &Table,
    features: &[String],
    rows: &[usize],
    encoded: &[f32],
    width: usize,
    params: &MungeParams,
) -> Result<Table> {
    let n = rows.len();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let pool = neighbour_pool(&mut rng, n);
    let neighbour = nearest_neighbours(encoded, width, n, &pool);
    let columns = source_columns(table, features)?;
    let mut out = empty_like(&columns, n * params.factor);
    for _ in 0..params.factor {
        for (i, &row) in rows.iter().enumerate() {
            let other = rows[neighbour[i]];
            for (src, dst) in columns.iter().zip(out.iter_mut()) {
                let swap = rng.random_bool(params.probability);
                match (src, dst) {
                    (Column::Numeric(v), Column::Numeric(d)) => {
                        let (a, b) = (v[row], v[other]);
                        d.push(if !swap || a.is_nan() || b.is_nan() {
                            if swap { b } else { a }
                        } else {
                            let sd = (a - b).abs() / params.spread;
                            b + sd * normal(&mut rng)
                        });
                    }
                    (Column::Text { codes, .. }, Column::Text { codes: d, .. }) => {
                        let c = if swap { codes[other] } else { codes[row] };
                        d.push(if c == MISSING { MISSING } else { c });
                    }
                    _ => {}
                }
            }
        }
    }
    Table::from_columns(table.path().to_path_buf(), features.to_vec(), out)
        .map_err(|e| crate::error::TrainError::Shape(e.to_string()))
}

/// The rows (of `n`) neighbours are searched among: all of them, or a seeded sample of
/// [`POOL`].
pub(crate) fn neighbour_pool(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    if n > POOL {
        let mut p = sample(rng, n, POOL).into_vec();
        p.sort_unstable();
        p
    } else {
        (0..n).collect()
    }
}

/// The table's `features` columns, in order.
pub(crate) fn source_columns<'t>(table: &'t Table, features: &[String]) -> Result<Vec<&'t Column>> {
    features
        .iter()
        .map(|f| {
            table
                .column(f)
                .map_err(|e| crate::error::TrainError::Shape(e.to_string()))
        })
        .collect()
}

/// Empty columns of the same kinds (and category levels) as `columns`, room for `rows`.
pub(crate) fn empty_like(columns: &[&Column], rows: usize) -> Vec<Column> {
    columns
        .iter()
        .map(|c| match c {
            Column::Numeric(_) => Column::Numeric(Vec::with_capacity(rows)),
            Column::Text { levels, .. } => Column::Text {
                levels: levels.clone(),
                codes: Vec::with_capacity(rows),
            },
        })
        .collect()
}

/// For each of the `n` rows, the index of its nearest other row within `pool`.
fn nearest_neighbours(x: &[f32], width: usize, n: usize, pool: &[usize]) -> Vec<usize> {
    nearest_k(x, width, n, pool, 1)
        .into_iter()
        .map(|near| near.first().copied().unwrap_or(0))
        .collect()
}

/// For each of the `n` rows, its `k` nearest other rows within `pool` (closest first;
/// Euclidean distance in the encoded space), one GEMM per block of rows.
pub(crate) fn nearest_k(
    x: &[f32],
    width: usize,
    n: usize,
    pool: &[usize],
    k: usize,
) -> Vec<Vec<usize>> {
    const BLOCK: usize = 1024;
    let p: Vec<f32> = pool
        .iter()
        .flat_map(|&r| x[r * width..(r + 1) * width].iter().copied())
        .collect();
    let norms = |m: &[f32]| -> Vec<f32> {
        m.chunks_exact(width)
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect()
    };
    let pool_norm = norms(&p);
    let mut out = vec![Vec::new(); n];
    let mut dots = vec![0.0f32; BLOCK * pool.len()];
    for start in (0..n).step_by(BLOCK) {
        let m = BLOCK.min(n - start);
        let block = &x[start * width..(start + m) * width];
        let block_norm = norms(block);
        gemm(
            Mat::new(block, m, width),
            Mat::new(&p, pool.len(), width).t(),
            0.0,
            &mut dots[..m * pool.len()],
        );
        for i in 0..m {
            let row = start + i;
            // (distance, candidate), kept sorted, at most k long.
            let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
            for (j, &candidate) in pool.iter().enumerate() {
                if candidate == row {
                    continue;
                }
                let d = block_norm[i] + pool_norm[j] - 2.0 * dots[i * pool.len() + j];
                if best.len() < k || d < best[best.len() - 1].0 {
                    let at = best.partition_point(|&(e, _)| e <= d);
                    best.insert(at, (d, candidate));
                    best.truncate(k);
                }
            }
            out[row] = best.into_iter().map(|(_, c)| c).collect();
        }
    }
    out
}

/// Standard normal draws without another dependency (Box–Muller).
mod rand_distr_free {
    use rand::Rng;

    pub(super) fn normal<R: Rng>(rng: &mut R) -> f64 {
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn nearest_neighbour_is_the_closest_other_row() {
        let x = [0.0, 0.0, 10.0, 10.0, 0.5, 0.0, 9.0, 10.0];
        let nn = nearest_neighbours(&x, 2, 4, &[0, 1, 2, 3]);
        assert_eq!(nn, [2, 3, 0, 1]);
    }

    #[test]
    fn munge_keeps_values_between_neighbours_and_is_seeded() {
        let t = Table::from_columns(
            PathBuf::from("mem"),
            vec!["x".into(), "c".into()],
            vec![
                Column::Numeric(vec![0.0, 1.0, 10.0, 11.0]),
                Column::Text {
                    levels: vec!["a".into(), "b".into()],
                    codes: vec![0, 0, 1, 1],
                },
            ],
        )
        .unwrap();
        let enc = [0.0, 0.0, 0.1, 0.0, 1.0, 1.0, 1.1, 1.0];
        let p = MungeParams {
            factor: 3,
            probability: 0.5,
            spread: 1.0,
            seed: 9,
        };
        let names = ["x".to_string(), "c".to_string()];
        let a = munge(&t, &names, &[0, 1, 2, 3], &enc, 2, &p).unwrap();
        assert_eq!(a.n_rows(), 12);
        assert_eq!(
            a.columns(),
            munge(&t, &names, &[0, 1, 2, 3], &enc, 2, &p)
                .unwrap()
                .columns()
        );
        // Category "b" only ever comes from the far cluster, so rows 2, 3 keep "b".
        for r in 0..12 {
            if r % 4 >= 2 {
                assert_eq!(a.column("c").unwrap().text(r), Some("b"));
            }
        }
    }
}

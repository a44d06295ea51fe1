//! `[student.text] vectors`: static word vectors for a text feature, read from a `.vec` file
//! (the word2vec / fastText text format: an optional `count dim` header line, then one
//! `word v1 … vdim` line per word; GloVe's files, which have no header, read too) and
//! fitted to the training texts: kept only for words that occur in them (the most
//! frequent [`MAX_VECTOR_WORDS`]), standardised so the training texts' mean vectors have
//! mean 0 and standard deviation `1 / √dim` per dimension (the block then has about unit
//! norm, like the hashed n-gram block beside it), and stored as int8 steps of one scale.

use std::collections::{HashMap, HashSet};

use distillery_data::Column;
use distillery_runtime::{WordVectors, text_tokens};

use crate::error::{Result, TrainError};

/// Most words kept per text feature (by the number of training texts they occur in), which
/// bounds the student's size: 20,000 words of 64 int8 values are 1.3 MB.
pub const MAX_VECTOR_WORDS: usize = 20_000;

/// Word vectors as read from a `.vec` file, before they are fitted to a text column.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorFile {
    /// Values per word.
    pub dim: usize,
    /// Row of each word (lowercased; the first occurrence wins).
    pub rows: HashMap<String, usize>,
    /// `rows.len() × dim` values, row-major.
    pub values: Vec<f32>,
}

impl VectorFile {
    /// Parses the text of a `.vec` file.
    ///
    /// # Errors
    /// A line whose value count differs from the others', a value that is not a finite
    /// number, or no vectors at all; the message names the line.
    pub fn parse(text: &str) -> std::result::Result<VectorFile, String> {
        let mut dim = 0usize;
        let mut rows = HashMap::new();
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let row: Vec<&str> = parts.collect();
            if i == 0 && row.len() == 1 && word.parse::<u64>().is_ok() {
                continue; // the `count dim` header
            }
            if dim == 0 {
                dim = row.len();
                if dim == 0 {
                    return Err(format!("line {}: the word '{word}' has no values", i + 1));
                }
            }
            if row.len() != dim {
                return Err(format!(
                    "line {}: '{word}' has {} values, the file's first vector has {dim}",
                    i + 1,
                    row.len()
                ));
            }
            let word = word.to_lowercase();
            if rows.contains_key(&word) {
                continue;
            }
            for v in row {
                match v.parse::<f32>() {
                    Ok(x) if x.is_finite() => values.push(x),
                    _ => return Err(format!("line {}: '{v}' is not a finite number", i + 1)),
                }
            }
            rows.insert(word, rows.len());
        }
        if rows.is_empty() {
            return Err("no word vectors in the file".into());
        }
        Ok(VectorFile { dim, rows, values })
    }

    /// The vectors as a `.vec` file's text (a `count dim` header, then one word and its
    /// values per line, in row order), which [`VectorFile::parse`] reads back exactly.
    pub fn to_vec_text(&self) -> String {
        let mut words: Vec<(&String, usize)> = self.rows.iter().map(|(w, &r)| (w, r)).collect();
        words.sort_unstable_by_key(|&(_, r)| r);
        let mut out = format!("{} {}\n", words.len(), self.dim);
        for (word, row) in words {
            out.push_str(word);
            for v in &self.values[row * self.dim..(row + 1) * self.dim] {
                out.push(' ');
                out.push_str(&v.to_string());
            }
            out.push('\n');
        }
        out
    }

    /// Vectors from raw embeddings (`words.len() × dim`, row-major) projected on their top
    /// `keep` principal components, as `tools/word_vectors.py` writes them.
    pub fn from_embeddings(
        words: &[String],
        values: &[f32],
        dim: usize,
        keep: usize,
    ) -> VectorFile {
        let keep = keep.min(dim).max(1);
        let components = principal_components(values, dim, keep);
        let n = words.len();
        let mut center = vec![0.0f64; dim];
        for row in values.chunks_exact(dim) {
            for (c, &x) in center.iter_mut().zip(row) {
                *c += f64::from(x) / n as f64;
            }
        }
        let mut projected = Vec::with_capacity(n * keep);
        for row in values.chunks_exact(dim) {
            for axis in components.chunks_exact(dim) {
                let dot: f64 = row
                    .iter()
                    .zip(&center)
                    .zip(axis)
                    .map(|((&x, c), a)| (f64::from(x) - c) * a)
                    .sum();
                projected.push(dot as f32);
            }
        }
        let mut rows = HashMap::new();
        let mut kept = Vec::with_capacity(projected.len());
        for (w, v) in words.iter().zip(projected.chunks_exact(keep)) {
            if !rows.contains_key(w) {
                rows.insert(w.clone(), rows.len());
                kept.extend_from_slice(v);
            }
        }
        VectorFile {
            dim: keep,
            rows,
            values: kept,
        }
    }

    /// The vectors of the words in `rows` of `column`'s texts, standardised on those texts.
    ///
    /// # Errors
    /// No training text has a word with a vector (the file does not fit this text).
    pub fn fit(
        &self,
        name: &str,
        column: &Column,
        rows: &[usize],
        max_tokens: usize,
    ) -> Result<WordVectors> {
        let texts: Vec<Vec<String>> = rows
            .iter()
            .map(|&r| text_tokens(column.text(r).unwrap_or(""), max_tokens))
            .collect();
        let mut df: HashMap<&str, usize> = HashMap::new();
        for tokens in &texts {
            let mut seen: Vec<&str> = tokens
                .iter()
                .map(String::as_str)
                .filter(|t| self.rows.contains_key(*t))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
        }
        if df.is_empty() {
            return Err(TrainError::Shape(format!(
                "[student.text] vectors: none of the {} words in the vectors file occurs in the training texts of '{}'; give vectors for this text's language and tokens (lowercased alphanumeric runs)",
                self.rows.len(),
                name
            )));
        }
        let mut words: Vec<(&str, usize)> = df.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        words.truncate(MAX_VECTOR_WORDS);
        let dim = self.dim;
        let raw = |w: &str| {
            let r = self.rows[w];
            &self.values[r * dim..(r + 1) * dim]
        };
        // Mean vector of every training text with a known word, then its per-dimension
        // mean and standard deviation.
        let kept: HashSet<&str> = words.iter().map(|&(w, _)| w).collect();
        let mut sum = vec![0.0f64; dim];
        let mut sq = vec![0.0f64; dim];
        let mut n = 0usize;
        for tokens in &texts {
            let mut mean = vec![0.0f64; dim];
            let mut found = 0usize;
            for t in tokens.iter().filter(|t| kept.contains(t.as_str())) {
                found += 1;
                for (m, &x) in mean.iter_mut().zip(raw(t)) {
                    *m += f64::from(x);
                }
            }
            if found == 0 {
                continue;
            }
            n += 1;
            for ((s, q), m) in sum.iter_mut().zip(&mut sq).zip(&mean) {
                let m = m / found as f64;
                *s += m;
                *q += m * m;
            }
        }
        let n = n as f64;
        let scale = 1.0 / (dim as f64).sqrt();
        let center: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let inv: Vec<f64> = sq
            .iter()
            .zip(&center)
            .map(|(q, c)| {
                let sd = (q / n - c * c).max(0.0).sqrt();
                if sd > 1e-12 { scale / sd } else { 0.0 }
            })
            .collect();
        let mut standard = Vec::with_capacity(words.len() * dim);
        for &(w, _) in &words {
            for ((&x, c), s) in raw(w).iter().zip(&center).zip(&inv) {
                standard.push((f64::from(x) - c) * s);
            }
        }
        let top = standard.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let step = if top > 0.0 { top / 127.0 } else { 1.0 };
        Ok(WordVectors {
            dim: dim as u32,
            words: words.into_iter().map(|(w, _)| w.to_string()).collect(),
            scale: step as f32,
            values: standard
                .iter()
                .map(|v| (v / step).round().clamp(-127.0, 127.0) as i8)
                .collect(),
        })
    }
}

/// The `keep` leading eigenvectors (`keep × dim`, row-major, unit length) of the covariance
/// of `values`' rows, by orthogonal iteration from a fixed start: deterministic, and exact
/// enough for a projection (200 rounds; the covariance is `dim × dim`, so a round is cheap).
fn principal_components(values: &[f32], dim: usize, keep: usize) -> Vec<f64> {
    let n = (values.len() / dim.max(1)).max(1);
    let mut center = vec![0.0f64; dim];
    for row in values.chunks_exact(dim) {
        for (c, &x) in center.iter_mut().zip(row) {
            *c += f64::from(x);
        }
    }
    center.iter_mut().for_each(|c| *c /= n as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for row in values.chunks_exact(dim) {
        for ((d, &x), c) in centred.iter_mut().zip(row).zip(&center) {
            *d = f64::from(x) - c;
        }
        for i in 0..dim {
            let di = centred[i];
            for (c, &dj) in cov[i * dim..(i + 1) * dim].iter_mut().zip(&centred) {
                *c += di * dj;
            }
        }
    }
    // Start from a fixed, full-rank set of directions.
    let mut q: Vec<f64> = (0..keep * dim)
        .map(|i| (((i * 2_654_435_761) % 1_000_003) as f64 / 1_000_003.0) - 0.5)
        .collect();
    orthonormalise(&mut q, dim);
    let mut next = vec![0.0f64; keep * dim];
    for _ in 0..200 {
        for (axis, out) in q.chunks_exact(dim).zip(next.chunks_exact_mut(dim)) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = cov[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(axis)
                    .map(|(c, a)| c * a)
                    .sum();
            }
        }
        std::mem::swap(&mut q, &mut next);
        orthonormalise(&mut q, dim);
    }
    q
}

/// Gram–Schmidt (twice, for stability) on the rows of `q` (`dim` values each).
fn orthonormalise(q: &mut [f64], dim: usize) {
    let rows = q.len() / dim;
    for _ in 0..2 {
        for r in 0..rows {
            for p in 0..r {
                let dot: f64 = (0..dim).map(|j| q[r * dim + j] * q[p * dim + j]).sum();
                for j in 0..dim {
                    q[r * dim + j] -= dot * q[p * dim + j];
                }
            }
            let norm = (0..dim).map(|j| q[r * dim + j].powi(2)).sum::<f64>().sqrt();
            if norm > 0.0 {
                q[r * dim..(r + 1) * dim]
                    .iter_mut()
                    .for_each(|v| *v /= norm);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_with_and_without_a_header_and_names_bad_lines() {
        let a = VectorFile::parse("2 3\ngood 1 2 3\nBad -1 0 0.5\n").unwrap();
        assert_eq!(a.dim, 3);
        assert_eq!(a.rows["bad"], 1);
        assert_eq!(a.values, [1.0, 2.0, 3.0, -1.0, 0.0, 0.5]);
        let glove = VectorFile::parse("good 1 2\nbad 3 4\n").unwrap();
        assert_eq!((glove.dim, glove.rows.len()), (2, 2));
        let err = VectorFile::parse("good 1 2\nbad 3\n").unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("'bad' has 1 values"),
            "{err}"
        );
        assert!(
            VectorFile::parse("w nan 1\n")
                .unwrap_err()
                .contains("'nan'")
        );
        assert!(VectorFile::parse("\n\n").is_err());
    }

    #[test]
    fn written_vectors_read_back_exactly() {
        let words: Vec<String> = ["free", "offer", "meeting"].map(String::from).to_vec();
        let values = [0.1f32, -2.5, 1e-7, 3.0, 0.333_333_34, -0.0];
        let v = VectorFile {
            dim: 2,
            rows: words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.clone(), i))
                .collect(),
            values: values.to_vec(),
        };
        let text = v.to_vec_text();
        assert!(text.starts_with("3 2\nfree 0.1 -2.5\n"), "{text}");
        assert_eq!(VectorFile::parse(&text).unwrap(), v);
    }

    #[test]
    fn principal_components_find_the_directions_of_most_variance() {
        // Points spread 10× along (1, 1, 0)/√2, 3× along z, little along (1, −1, 0)/√2.
        let mut values = Vec::new();
        for i in 0..200 {
            let (a, b, c) = (
                ((i * 37) % 101) as f32 / 10.0 - 5.0,
                ((i * 53) % 97) as f32 / 32.0 - 1.5,
                ((i * 71) % 89) as f32 / 440.0 - 0.1,
            );
            let s = std::f32::consts::FRAC_1_SQRT_2;
            values.extend([a * s + c * s, a * s - c * s, b]);
        }
        let pc = principal_components(&values, 3, 2);
        // numpy on the same rows (`np.linalg.svd` of the centred matrix) gives the axes
        // (0.70764876, 0.7063219, 0.01850953) and (0.01286272, 0.01331414, -0.99982863):
        // the sample's own small correlations tilt them off the construction's.
        let numpy = [
            0.707_648_76,
            0.706_321_9,
            0.018_509_53,
            0.012_862_72,
            0.013_314_14,
            -0.999_828_63,
        ];
        for axis in 0..2 {
            let sign = pc[axis * 3..axis * 3 + 3]
                .iter()
                .zip(&numpy[axis * 3..axis * 3 + 3])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                .signum();
            for j in 0..3 {
                let (ours, theirs) = (pc[axis * 3 + j] * sign, numpy[axis * 3 + j]);
                assert!((ours - theirs).abs() < 1e-6, "{pc:?}");
            }
        }
        let dot: f64 = (0..3).map(|j| pc[j] * pc[3 + j]).sum();
        assert!(dot.abs() < 1e-9, "orthogonal: {dot}");
        let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let file = VectorFile::from_embeddings(&words, &values, 3, 2);
        assert_eq!(
            (file.dim, file.rows.len(), file.values.len()),
            (2, 200, 400)
        );
    }
}

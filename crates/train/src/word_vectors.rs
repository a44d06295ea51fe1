//! `[student.text] vectors`: static word vectors for a text feature, read from a `.vec` file
//! (the word2vec / fastText text format: an optional `count dim` header line, then one
//! `word v1 … vdim` line per word; GloVe's files, which have no header, read too) and
//! fitted to the training texts: kept only for words that occur in them (the most
//! frequent [`MAX_VECTOR_WORDS`]), standardised so the training texts' mean vectors have
//! mean 0 and standard deviation `1 / √dim` per dimension (the block then has about unit
//! norm, like the hashed n-gram block beside it), and stored as int8 steps of one scale.

use std::collections::HashMap;

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
        let kept: HashMap<&str, ()> = words.iter().map(|&(w, _)| (w, ())).collect();
        let mut sum = vec![0.0f64; dim];
        let mut sq = vec![0.0f64; dim];
        let mut n = 0usize;
        for tokens in &texts {
            let mut mean = vec![0.0f64; dim];
            let mut found = 0usize;
            for t in tokens.iter().filter(|t| kept.contains_key(t.as_str())) {
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
}

//! Drift signals for free text, beyond its length: the share of a document's words the
//! training texts never used (their most frequent [`VOCABULARY`] words; a training text
//! itself is measured as if left out, so both sides are out-of-sample), and a small
//! embedding of its words. Each becomes a numeric profile column of its own
//! (`body: unseen words`, `body: embedding 1` … [`EMBEDDING_DIMS`]), so every drift test,
//! report and live window treats it like any other number.
//!
//! The embedding is a random projection of the text's bag of words (Johnson–Lindenstrauss):
//! words are lowercased alphanumeric runs, as the student reads them; each word's 64-bit
//! FNV-1a hash gives it a sign (+1 / −1) per dimension (bit `d` of the hash), and a text's
//! coordinate `d` is the sum of its words' signs over the square root of its word count.
//! A shift in topic or vocabulary moves these coordinates' distributions. Nothing is
//! stored for it: the same text gives the same embedding in any process.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// Words kept in a text column's vocabulary (the most frequent in the profiled rows).
pub const VOCABULARY: usize = 5000;

/// Dimensions of the random-projection embedding.
pub const EMBEDDING_DIMS: usize = 4;

/// The words a text column's reference rows used most, against which later texts'
/// unseen words are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// The text column.
    pub column: String,
    /// Its most frequent words, most frequent first (ties alphabetical).
    pub words: Vec<String>,
}

impl Vocabulary {
    /// The [`VOCABULARY`] most frequent of the words that occur in at least two of
    /// `texts` (a word met once is no vocabulary), and those among them that occur in at
    /// least three (what [`unseen_share_held_out`] needs: left out, a text still finds
    /// them in two others).
    pub fn build<'a>(
        column: &str,
        texts: impl Iterator<Item = &'a str>,
    ) -> (Vocabulary, FxHashSet<String>) {
        // Per word: occurrences, texts it occurs in, and the last text that counted.
        let mut counts: FxHashMap<String, (u64, u32, usize)> = FxHashMap::default();
        for (i, text) in texts.enumerate() {
            for w in words(text) {
                let e = counts.entry(w).or_insert((0, 0, usize::MAX));
                e.0 += 1;
                if e.2 != i {
                    e.1 += 1;
                    e.2 = i;
                }
            }
        }
        let shared = counts
            .iter()
            .filter(|(_, c)| c.1 >= 3)
            .map(|(w, _)| w.clone())
            .collect();
        let mut ranked: Vec<(String, u64)> = counts
            .into_iter()
            .filter(|(_, c)| c.1 >= 2)
            .map(|(w, c)| (w, c.0))
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(VOCABULARY);
        let vocabulary = Vocabulary {
            column: column.to_string(),
            words: ranked.into_iter().map(|(w, _)| w).collect(),
        };
        (vocabulary, shared)
    }

    /// The vocabulary as a set, for [`unseen_share`].
    pub fn set(&self) -> FxHashSet<&str> {
        self.words.iter().map(String::as_str).collect()
    }
}

/// The profile column names derived from text column `column`, in order.
pub fn derived_names(column: &str) -> Vec<String> {
    std::iter::once(format!("{column}: unseen words"))
        .chain((1..=EMBEDDING_DIMS).map(|d| format!("{column}: embedding {d}")))
        .collect()
}

/// Share of the words of `text` outside `vocabulary`; `None` for a text without words.
pub fn unseen_share(text: &str, vocabulary: &FxHashSet<&str>) -> Option<f64> {
    let (mut all, mut unseen) = (0usize, 0usize);
    for w in words(text) {
        all += 1;
        unseen += usize::from(!vocabulary.contains(w.as_str()));
    }
    (all > 0).then(|| unseen as f64 / all as f64)
}

/// As [`unseen_share`] for a text of the rows the vocabulary was built from, as if it had
/// been left out: a word counts as seen only when it is in the vocabulary and occurs in
/// two other texts (`shared`), so the reference's shares are out-of-sample like those of
/// later data.
pub fn unseen_share_held_out(
    text: &str,
    vocabulary: &FxHashSet<&str>,
    shared: &FxHashSet<String>,
) -> Option<f64> {
    let (mut all, mut unseen) = (0usize, 0usize);
    for w in words(text) {
        all += 1;
        unseen += usize::from(!(vocabulary.contains(w.as_str()) && shared.contains(&w)));
    }
    (all > 0).then(|| unseen as f64 / all as f64)
}

/// The random-projection embedding of `text`; `None` for a text without words.
pub fn embedding(text: &str) -> Option<[f64; EMBEDDING_DIMS]> {
    let mut e = [0.0; EMBEDDING_DIMS];
    let mut n = 0usize;
    for w in words(text) {
        let h = fnv1a(w.as_bytes());
        for (d, x) in e.iter_mut().enumerate() {
            *x += if (h >> d) & 1 == 1 { 1.0 } else { -1.0 };
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let scale = (n as f64).sqrt();
    e.iter_mut().for_each(|x| *x /= scale);
    Some(e)
}

/// Lowercased alphanumeric runs: the words the student reads.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_keeps_the_most_frequent_words_and_counts_unseen_ones() {
        let texts = ["Win money NOW", "win a prize", "win money", "a win"];
        let (v, shared) = Vocabulary::build("t", texts.into_iter());
        // Words met in two texts or more, most frequent first.
        assert_eq!(v.words, ["win", "a", "money"]);
        let set = v.set();
        assert_eq!(unseen_share("win big money", &set), Some(1.0 / 3.0));
        assert_eq!(unseen_share("  ... ", &set), None);
        // Left out, "win money" would find "win" in two other texts, "money" in one only.
        assert_eq!(
            unseen_share_held_out("win money", &set, &shared),
            Some(1.0 / 2.0)
        );
    }

    #[test]
    fn the_embedding_is_a_deterministic_normalised_projection() {
        let a = embedding("the cat sat on the mat").unwrap();
        assert_eq!(a, embedding("The cat, sat on the mat!").unwrap());
        // Each coordinate is a sum of ±1 over sqrt(n): bounded by sqrt(n).
        assert!(a.iter().all(|x| x.abs() <= 6f64.sqrt() + 1e-12));
        assert_ne!(a, embedding("stock prices fell sharply today").unwrap());
        assert_eq!(embedding("!!"), None);
    }
}

//! Hashed n-gram features of a text column (fastText-style), computed the same way in
//! training, in the runtime and in any other tool that wants to reproduce them:
//!
//! 1. The text is lowercased (Unicode) and split into tokens: maximal runs of alphanumeric
//!    characters; everything else separates. At most `max_tokens` tokens are kept.
//! 2. Word n-grams for n = 1..=`word_ngrams`: the tokens joined by one space, hashed with
//!    the tag byte `w` in front. Character n-grams for n in `char_ngrams` (inclusive; off
//!    when the range is empty): the characters of `<token>` (with the two boundary marks),
//!    hashed with the tag byte `c` in front.
//! 3. Hash: 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over
//!    the tag byte and the n-gram's UTF-8 bytes; the slot is the hash modulo `buckets`.
//! 4. Each slot's value is `ln(1 + count)`, and the text's values are scaled to unit L2
//!    norm, so a long e-mail and a short one weigh alike.
//!
//! With [`WordVectors`], `dim` dense inputs follow the hashed slots: the mean of the stored
//! vectors of the text's tokens that have one (each occurrence counts; zeros when none
//! has). A hashed n-gram is only known if it occurred in training; a word vector carries
//! what the teacher's encoder knows about a word, so synonyms and rare words share
//! directions.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// How a text column becomes hashed n-gram features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextHashing {
    /// Number of hashed slots (the feature's width).
    pub buckets: u32,
    /// Longest word n-gram (1 = words only).
    pub word_ngrams: u8,
    /// Shortest and longest character n-gram; `[0, 0]` turns them off.
    pub char_ngrams: [u8; 2],
    /// Tokens read per text; the rest is ignored (bounds the time per document).
    pub max_tokens: u32,
}

impl Default for TextHashing {
    fn default() -> Self {
        TextHashing {
            buckets: 1 << 14,
            word_ngrams: 2,
            char_ngrams: [0, 0],
            max_tokens: 2000,
        }
    }
}

/// 64-bit FNV-1a of `tag` followed by `bytes`, continued from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The tokens of `text`: lowercased runs of alphanumeric characters, at most `max`.
pub fn tokens(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(core::mem::take(&mut current));
            if out.len() == max {
                return out;
            }
        }
    }
    if !current.is_empty() && out.len() < max {
        out.push(current);
    }
    out
}

/// Static word vectors of a text feature: taken from the teacher's encoder one word at a
/// time (Model2Vec-style, `tools/word_vectors.py`) or from any fastText / GloVe `.vec`
/// file, restricted to the training texts' vocabulary and stored standardised (the training
/// texts' mean vectors have mean 0 per dimension) as int8 with one scale: a 20,000-word,
/// 64-dimension table is then 1.3 MB rather than 5 MB of floats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordVectors {
    /// Values per word.
    pub dim: u32,
    /// The words (lowercased tokens), in row order.
    pub words: Vec<String>,
    /// What one step of `values` is worth.
    pub scale: f32,
    /// `words.len() × dim` values, row-major, in steps of `scale`.
    pub values: Vec<i8>,
}

impl WordVectors {
    /// Adds the mean vector of `tokens` (rows found by `row`) to `out[..dim]`; false when no
    /// token has a vector (then `out` is untouched).
    pub(crate) fn mean_into(
        &self,
        tokens: &[String],
        row: impl Fn(&str) -> Option<usize>,
        out: &mut [f32],
    ) -> bool {
        let dim = self.dim as usize;
        let mut found = 0usize;
        for t in tokens {
            if let Some(r) = row(t) {
                found += 1;
                let v = &self.values[r * dim..(r + 1) * dim];
                for (o, &x) in out.iter_mut().zip(v) {
                    *o += f32::from(x);
                }
            }
        }
        if found > 0 {
            let step = self.scale / found as f32;
            out.iter_mut().take(dim).for_each(|o| *o *= step);
        }
        found > 0
    }
}

impl TextHashing {
    /// The non-zero slots of `text`'s features as (slot, value), sorted by slot, each once.
    pub fn features(&self, text: &str) -> Vec<(u32, f32)> {
        self.features_of_tokens(&self.tokens(text))
    }

    /// The tokens of `text` these features read (at most `max_tokens`).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        tokens(text, self.max_tokens as usize)
    }

    /// [`TextHashing::features`] of a text already split by [`TextHashing::tokens`], so a
    /// caller that needs the tokens too (word vectors) splits the text once.
    pub fn features_of_tokens(&self, tokens: &[String]) -> Vec<(u32, f32)> {
        let buckets = u64::from(self.buckets.max(1));
        let mut slots: Vec<u32> = Vec::with_capacity(tokens.len() * 2);
        let mut push = |h: u64| slots.push((h % buckets) as u32);
        for n in 1..=usize::from(self.word_ngrams.max(1)) {
            for window in tokens.windows(n) {
                let mut h = fnv(FNV_OFFSET, b"w");
                for (i, t) in window.iter().enumerate() {
                    if i > 0 {
                        h = fnv(h, b" ");
                    }
                    h = fnv(h, t.as_bytes());
                }
                push(h);
            }
        }
        let [lo, hi] = self.char_ngrams;
        if lo > 0 && hi >= lo {
            let mut chars: Vec<char> = Vec::new();
            let mut buf = [0u8; 4];
            for t in tokens {
                chars.clear();
                chars.push('<');
                chars.extend(t.chars());
                chars.push('>');
                for n in usize::from(lo)..=usize::from(hi) {
                    for window in chars.windows(n) {
                        let mut h = fnv(FNV_OFFSET, b"c");
                        for c in window {
                            h = fnv(h, c.encode_utf8(&mut buf).as_bytes());
                        }
                        push(h);
                    }
                }
            }
        }
        slots.sort_unstable();
        let mut out: Vec<(u32, f32)> = Vec::with_capacity(slots.len());
        for s in slots {
            match out.last_mut() {
                Some((last, count)) if *last == s => *count += 1.0,
                _ => out.push((s, 1.0)),
            }
        }
        let mut norm = 0.0f32;
        for (_, v) in &mut out {
            *v = libm::log1pf(*v);
            norm += *v * *v;
        }
        if norm > 0.0 {
            let inv = 1.0 / libm::sqrtf(norm);
            for (_, v) in &mut out {
                *v *= inv;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            tokens("Hello, WORLD!  Ünïcode-42", 10),
            ["hello", "world", "ünïcode", "42"]
        );
        assert_eq!(tokens("a b c", 2), ["a", "b"]);
        assert!(tokens("  ,.; ", 5).is_empty());
    }

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        // FNV-1a 64 of "" and "a" (Fowler–Noll–Vo reference values).
        assert_eq!(fnv(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn features_are_sorted_unique_and_unit_length() {
        let h = TextHashing {
            char_ngrams: [3, 4],
            ..TextHashing::default()
        };
        let f = h.features("Free money free MONEY now");
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        let norm: f32 = f.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(f, h.features("free  money, free money... now"));
        assert!(h.features("").is_empty());
        // A repeated word counts more, but sub-linearly.
        let words = TextHashing::default().features("spam spam ham");
        let big = words.iter().map(|(_, v)| *v).fold(0.0, f32::max);
        let small = words.iter().map(|(_, v)| *v).fold(1.0, f32::min);
        assert!(big > small && big < 2.0 * small, "{words:?}");
    }
}

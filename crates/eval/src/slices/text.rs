//! Slices of free text by what a document is like, since each document is its own value:
//! its length in words, its language, and whether it contains a keyword. The automatic
//! search gets the length quartiles, the language when the texts hold more than one, and
//! the commonest content words as keywords; a recipe can declare any of them
//! (`"body:words"`, `"body:language"`, `"body:contains(refund, money back)"`).

use std::collections::{HashMap, HashSet};

use super::SliceFeature;
use super::feature::MISSING_LEVEL;

/// Level of texts whose language the detector could not name with confidence (short or
/// mixed texts).
pub const UNSURE_LANGUAGE: &str = "(unsure)";

/// Least `whatlang` confidence (its margin over the runner-up language, 0–1) for a text's
/// language to be named. Its own "reliable" mark (above 0.9) leaves most one-sentence
/// English texts unnamed; at 0.2 a sentence is named and two words are not.
const LANGUAGE_CONFIDENCE: f64 = 0.2;

/// Most keywords the automatic search tries per text column.
pub const SEARCH_KEYWORDS: usize = 12;

/// Function words of the languages most texts arrive in; they say nothing about a topic, so
/// they are never picked as search keywords.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "all", "any", "can", "had", "her",
    "was", "one", "our", "out", "has", "have", "his", "him", "how", "its", "may", "who", "did",
    "get", "got", "she", "too", "use", "that", "with", "this", "from", "they", "will", "would",
    "there", "their", "what", "about", "which", "when", "make", "like", "than", "then", "them",
    "these", "some", "could", "into", "been", "were", "more", "also", "just", "only", "other",
    "such", "very", "here", "where", "does", "should", "because", "being", "over", "after",
    "before", "while", "each", "both", "same", "own", "off", "why", "yes", "i'm", "it's", "der",
    "die", "das", "und", "les", "des", "una", "por", "que", "con", "para", "del",
];

/// A text's words as the slices see them: the student's own tokens (lowercased runs of
/// letters and digits, `distillery_runtime::text_tokens`), so a keyword slice reads the
/// words the student reads.
pub fn words(text: &str) -> Vec<String> {
    distillery_runtime::text_tokens(text, usize::MAX)
}

/// Documents by their length in words: at `edges` when given, else at the quartiles.
/// Named `<column> words`, so a level reads `body words ≤ 120`.
pub fn length(column: &str, texts: &[Option<&str>], edges: Option<&[f64]>) -> SliceFeature {
    let counts: Vec<f64> = texts
        .iter()
        .map(|t| t.map_or(f64::NAN, |t| t.split_whitespace().count() as f64))
        .collect();
    let name = format!("{column} words");
    match edges {
        Some(edges) => SliceFeature::bins(&name, &counts, edges),
        None => SliceFeature::quantiles(&name, &counts, 4),
    }
}

/// Documents by the language `whatlang` detects (its English name), or
/// [`UNSURE_LANGUAGE`] when it is not confident enough. Named `<column> language`.
pub fn language(column: &str, texts: &[Option<&str>]) -> SliceFeature {
    let mut levels: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut code_of = |level: &str| -> u32 {
        *index.entry(level.to_string()).or_insert_with(|| {
            levels.push(level.to_string());
            (levels.len() - 1) as u32
        })
    };
    let codes: Vec<u32> = texts
        .iter()
        .map(|t| match t {
            None => code_of(MISSING_LEVEL),
            Some(t) => match whatlang::detect(t) {
                Some(info) if info.confidence() >= LANGUAGE_CONFIDENCE => {
                    code_of(info.lang().eng_name())
                }
                _ => code_of(UNSURE_LANGUAGE),
            },
        })
        .collect();
    SliceFeature {
        name: format!("{column} language"),
        levels,
        codes,
    }
}

/// Documents that contain any of `keywords` (whole words or phrases, case-insensitive)
/// against the rest. Levels read `body ∋ "refund"` and `body ∌ "refund"`.
pub fn contains(column: &str, texts: &[Option<&str>], keywords: &[String]) -> SliceFeature {
    let phrases: Vec<Vec<String>> = keywords
        .iter()
        .map(|k| words(k))
        .filter(|p| !p.is_empty())
        .collect();
    let quoted: Vec<String> = keywords
        .iter()
        .map(|k| format!("\"{}\"", k.trim()))
        .collect();
    let levels = vec![
        format!("∋ {}", quoted.join(" or ")),
        format!("∌ {}", quoted.join(" nor ")),
    ];
    let mut has_missing = false;
    let codes: Vec<u32> = texts
        .iter()
        .map(|t| match t {
            None => {
                has_missing = true;
                2
            }
            Some(t) => {
                let w = words(t);
                u32::from(!phrases.iter().any(|p| holds(&w, p)))
            }
        })
        .collect();
    let mut levels = levels;
    if has_missing {
        levels.push(MISSING_LEVEL.into());
    }
    SliceFeature {
        name: column.to_string(),
        levels,
        codes,
    }
}

/// True when `phrase` occurs in `words` as consecutive words.
fn holds(words: &[String], phrase: &[String]) -> bool {
    match phrase {
        [one] => words.iter().any(|w| w == one),
        _ => words.windows(phrase.len()).any(|w| w == phrase),
    }
}

/// The keywords the automatic search tries: content words (three letters or more, not a
/// function word, not a number) met in at least `min_rows` documents and at most half of
/// them, the `max` most frequent first (ties alphabetical, so the choice is reproducible).
pub fn search_keywords(texts: &[Option<&str>], min_rows: usize, max: usize) -> Vec<String> {
    let stop: HashSet<&str> = STOPWORDS.iter().copied().collect();
    let mut frequency: HashMap<String, usize> = HashMap::new();
    for text in texts.iter().flatten() {
        let mut seen: HashSet<String> = HashSet::new();
        for w in words(text) {
            if w.chars().count() >= 3
                && w.chars().any(char::is_alphabetic)
                && !stop.contains(w.as_str())
                && seen.insert(w.clone())
            {
                *frequency.entry(w).or_default() += 1;
            }
        }
    }
    let documents = texts.iter().flatten().count();
    let mut picked: Vec<(String, usize)> = frequency
        .into_iter()
        .filter(|&(_, f)| f >= min_rows.max(1) && 2 * f <= documents)
        .collect();
    picked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    picked.into_iter().take(max).map(|(w, _)| w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(t: &[&'a str]) -> Vec<Option<&'a str>> {
        t.iter().map(|s| Some(*s)).collect()
    }

    #[test]
    fn keywords_match_whole_words_and_phrases_case_insensitively() {
        let t = texts(&[
            "I want a Refund now",
            "refunded twice",
            "money back please",
            "money is back",
        ]);
        let f = contains("body", &t, &["refund".into(), "Money back".into()]);
        assert_eq!(f.codes, [0, 1, 0, 1]);
        assert_eq!(f.condition(0), "body ∋ \"refund\" or \"Money back\"");
        assert_eq!(f.condition(1), "body ∌ \"refund\" nor \"Money back\"");
    }

    #[test]
    fn missing_texts_get_their_own_level() {
        let t = vec![Some("spam spam"), None];
        let f = contains("body", &t, &["spam".into()]);
        assert_eq!(f.codes, [0, 2]);
        assert_eq!(f.levels[2], MISSING_LEVEL);
        let l = language("body", &t);
        assert_eq!(l.levels[l.codes[1] as usize], MISSING_LEVEL);
    }

    #[test]
    fn languages_are_named_and_short_texts_are_unsure() {
        let t = texts(&[
            "The quick brown fox jumps over the lazy dog and keeps on running through the field",
            "Der schnelle braune Fuchs springt über den faulen Hund und läuft weiter über das Feld",
            "great movie",
        ]);
        let f = language("body", &t);
        let named: Vec<&str> = f
            .codes
            .iter()
            .map(|&c| f.levels[c as usize].as_str())
            .collect();
        assert_eq!(named, ["English", "German", UNSURE_LANGUAGE]);
        assert_eq!(f.condition(0), "body language = English");
    }

    #[test]
    fn lengths_cut_at_quartiles_or_given_edges() {
        let t = texts(&["a", "a b", "a b c", "a b c d"]);
        let f = length("body", &t, Some(&[2.0]));
        assert_eq!(f.codes, [0, 0, 1, 1]);
        assert_eq!(f.condition(0), "body words ≤ 2");
    }

    #[test]
    fn search_keywords_skip_function_words_rare_words_and_words_in_most_texts() {
        let t = texts(&[
            "the invoice is attached",
            "the invoice was paid",
            "the meeting is moved",
            "the meeting invoice",
            "the lunch",
            "the 2024 2024 report",
        ]);
        // "the" is everywhere (and a function word), "lunch" is in one text only, "2024" is
        // a number; "invoice" (3 of 6) and "meeting" (2) qualify.
        assert_eq!(search_keywords(&t, 2, 10), ["invoice", "meeting"]);
        assert_eq!(search_keywords(&t, 2, 1), ["invoice"]);
    }
}

//! Checks of free-text feature columns: empty texts (nothing for the student to read) and
//! texts that repeat another row's after normalisation (lowercased, whitespace collapsed),
//! the usual sign of a corpus that was scraped or exported twice; repeats whose labels
//! disagree are counted apart, since one of the two labels is wrong.

use std::collections::HashMap;

use crate::{Finding, Input, Severity, finding};

/// Share of empty texts from which the check warns (below, it informs).
const EMPTY_WARN: f64 = 0.01;

/// A text as compared for repeats.
fn normalised(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the text checks on each of `text_columns`.
pub(crate) fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for name in input.text_columns {
        let Ok(column) = input.train.column(name) else {
            continue;
        };
        let n = column.len();
        let empty: Vec<usize> = (0..n)
            .filter(|&r| column.text(r).is_none_or(|t| t.trim().is_empty()))
            .collect();
        if !empty.is_empty() {
            let share = empty.len() as f64 / n.max(1) as f64;
            out.push(finding(
                "empty_text",
                Some(name),
                if share >= EMPTY_WARN {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                format!(
                    "{} of {n} '{name}' texts are empty or missing; the student can only guess their class from the other columns",
                    empty.len()
                ),
                empty.len(),
                n,
                empty.iter().take(3).map(|r| format!("row {}", r + 1)).collect(),
            ));
        }
        let mut first: HashMap<String, usize> = HashMap::new();
        let (mut repeats, mut conflicting) = (0usize, 0usize);
        let mut examples = Vec::new();
        for r in 0..n {
            let Some(t) = column.text(r).filter(|t| !t.trim().is_empty()) else {
                continue;
            };
            match first.entry(normalised(t)) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    repeats += 1;
                    let a = input.train_labels.get(*e.get()).copied().flatten();
                    let b = input.train_labels.get(r).copied().flatten();
                    if a != b {
                        conflicting += 1;
                    }
                    if examples.len() < 3 {
                        examples.push(format!("row {} repeats row {}", r + 1, e.get() + 1));
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(r);
                }
            }
        }
        if repeats > 0 {
            out.push(finding(
                "duplicate_text",
                Some(name),
                if conflicting > 0 {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                format!(
                    "{repeats} '{name}' texts repeat an earlier row's (lowercased, spaces collapsed), {conflicting} of them with another label; drop the repeats or fix the labels"
                ),
                repeats,
                n,
                examples,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use distillery_data::{Column, Table};

    #[test]
    fn empty_and_repeated_texts_are_found_and_conflicts_counted() {
        let texts = [
            "Win cash NOW",
            "win  cash now",
            "",
            "hello there",
            "Hello There",
        ];
        let levels: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        let table = Table::from_columns(
            "t".into(),
            vec!["body".into()],
            vec![Column::Text {
                levels,
                codes: vec![0, 1, 2, 3, 4],
            }],
        )
        .unwrap();
        let labels = [Some(1), Some(0), Some(0), Some(0), Some(0)];
        let (features, text) = (["body".to_string()], ["body".to_string()]);
        let input = Input {
            train: &table,
            test: None,
            target: "y",
            features: &features,
            text_columns: &text,
            train_labels: &labels,
            test_labels: None,
            classes: &[],
            time_column: None,
            held_out: &[],
        };
        let mut out = Vec::new();
        check(&input, &mut out);
        let empty = out.iter().find(|f| f.check == "empty_text").unwrap();
        assert_eq!(empty.count, 1);
        let dup = out.iter().find(|f| f.check == "duplicate_text").unwrap();
        assert_eq!(dup.count, 2);
        assert!(
            dup.message.contains("1 of them with another label"),
            "{}",
            dup.message
        );
        assert_eq!(dup.severity, Severity::Warn);
    }
}

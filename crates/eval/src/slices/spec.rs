//! Declared slice specifications (`"sex"`, `"age:quantile(4)"`, `"hours:bins(20, 40)"`,
//! `"race × sex"`) and turning table columns into [`SliceFeature`]s for the slice report,
//! as a recipe's `[evaluate] slices` and `distillery eval --slice` declare them.

use distillery_data::{Column, Kind, Table};

use super::{SliceFeature, text};

/// Why a declared slice cannot be built on a table.
#[derive(Debug, thiserror::Error)]
pub enum SliceError {
    /// The specification does not fit the data (a missing column, text where numbers are
    /// needed); the message says what to write instead.
    #[error("{0}")]
    Invalid(String),
    /// The table could not give the column.
    #[error(transparent)]
    Data(#[from] distillery_data::DataError),
}

/// Results of building slices.
type Result<T> = std::result::Result<T, SliceError>;

/// Most levels a column keeps in the automatic search; rarer ones merge into `(other)`.
const MAX_SEARCH_LEVELS: usize = 32;

/// How a numeric column is cut.
#[derive(Debug, Clone, PartialEq)]
pub enum Binning {
    /// Its values when there are at most 8, else quartiles; text columns by value.
    Auto,
    /// At its q-quantiles.
    Quantile(usize),
    /// At fixed edges.
    Bins(Vec<f64>),
    /// Free text by its length in words: at these edges, or at the quartiles (`None`).
    Words(Option<Vec<f64>>),
    /// Free text by its detected language.
    Language,
    /// Free text containing any of these words or phrases, against the rest.
    Contains(Vec<String>),
}

/// One declared slice: a column, or a cross of columns, each with a binning.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceSpec {
    /// Each crossed column with its binning (one or two).
    pub parts: Vec<(String, Binning)>,
}

impl SliceSpec {
    /// Parses the recipe syntax; crosses are written with `×`, ` x ` or `*` (outside
    /// parentheses, so `contains(tax x rate)` keeps its phrase).
    pub fn parse(text: &str) -> std::result::Result<SliceSpec, String> {
        let parts = split_cross(text)?
            .into_iter()
            .map(|p| parse_part(p.trim(), text))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if parts.len() > 2 {
            return Err(format!(
                "'{text}' crosses {} columns; cross at most two",
                parts.len()
            ));
        }
        Ok(SliceSpec { parts })
    }

    /// The slice feature over `rows` of `table`.
    pub fn build(&self, table: &Table, rows: &[usize]) -> Result<SliceFeature> {
        let mut features = self
            .parts
            .iter()
            .map(|(column, binning)| column_feature(table, column, binning, rows));
        let first = features
            .next()
            .unwrap_or_else(|| Err(SliceError::Invalid("empty slice specification".into())))?;
        match features.next() {
            Some(second) => Ok(first.cross(&second?)),
            None => Ok(first),
        }
    }
}

/// `text` cut at each cross sign (`×`, ` x `, `*`) that is not inside parentheses; an
/// unbalanced parenthesis is an error.
fn split_cross(text: &str) -> std::result::Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let sign = match c {
            '(' => {
                depth += 1;
                0
            }
            ')' if depth == 0 => {
                return Err(format!("'{text}' closes a parenthesis it never opened"));
            }
            ')' => {
                depth -= 1;
                0
            }
            '×' | '*' => c.len_utf8(),
            ' ' if text[i..].starts_with(" x ") => 3,
            _ => 0,
        };
        if depth == 0 && sign > 0 {
            parts.push(&text[start..i]);
            start = i + sign;
            while chars.peek().is_some_and(|&(j, _)| j < start) {
                chars.next();
            }
        }
    }
    if depth > 0 {
        return Err(format!("'{text}' opens a parenthesis it never closes"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_part(part: &str, whole: &str) -> std::result::Result<(String, Binning), String> {
    if part.is_empty() {
        return Err(format!("'{whole}' has an empty column name"));
    }
    // The rule follows the last ':' before any '(' (keywords may hold a ':').
    let head = part.find('(').map_or(part, |i| &part[..i]);
    let Some(at) = head.rfind(':') else {
        return Ok((part.to_string(), Binning::Auto));
    };
    let (column, rule) = (&part[..at], &part[at + 1..]);
    let column = column.trim().to_string();
    let rule = rule.trim();
    let args = |name: &str| {
        rule.strip_prefix(name)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    if let Some(q) = args("quantile") {
        return match q.trim().parse::<usize>() {
            Ok(q) if (2..=100).contains(&q) => Ok((column, Binning::Quantile(q))),
            _ => Err(format!(
                "'{whole}': quantile({q}) needs a whole number of bins from 2 to 100"
            )),
        };
    }
    if let Some(edges) = args("bins") {
        return match numbers(edges) {
            Some(e) => Ok((column, Binning::Bins(e))),
            None => Err(format!(
                "'{whole}': bins(…) needs comma-separated numbers, e.g. bins(25, 45, 65)"
            )),
        };
    }
    match rule {
        "words" => return Ok((column, Binning::Words(None))),
        "language" => return Ok((column, Binning::Language)),
        _ => {}
    }
    if let Some(edges) = args("words") {
        return match numbers(edges) {
            Some(e) => Ok((column, Binning::Words(Some(e)))),
            None => Err(format!(
                "'{whole}': words(…) needs comma-separated word counts, e.g. words(20, 100)"
            )),
        };
    }
    if let Some(keywords) = args("contains") {
        let keywords: Vec<String> = keywords
            .split(',')
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        if keywords.is_empty() || keywords.iter().any(|k| text::words(k).is_empty()) {
            return Err(format!(
                "'{whole}': contains(…) needs comma-separated words or phrases, e.g. contains(refund, money back)"
            ));
        }
        return Ok((column, Binning::Contains(keywords)));
    }
    Err(format!(
        "'{whole}': unknown binning '{rule}'; use column:quantile(4) or column:bins(25, 45, 65), and for text column:words, column:language or column:contains(refund)"
    ))
}

/// The values of a numeric column at `rows`.
fn numbers_at(values: &[f64], rows: &[usize]) -> Vec<f64> {
    rows.iter().map(|&r| values[r]).collect()
}

/// Comma-separated finite numbers, or `None`.
fn numbers(list: &str) -> Option<Vec<f64>> {
    let values: Vec<f64> = list
        .split(',')
        .map(|e| e.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    (!values.is_empty() && values.iter().all(|v| v.is_finite())).then_some(values)
}

/// One column over `rows` as a slice feature.
fn column_feature(
    table: &Table,
    name: &str,
    binning: &Binning,
    rows: &[usize],
) -> Result<SliceFeature> {
    let column = table.column(name).map_err(|_| {
        let hint = distillery_data::nearest(name, table.names())
            .map(|n| format!("; did you mean '{n}'?"))
            .unwrap_or_default();
        SliceError::Invalid(format!(
            "slice column '{name}' is not in {}{hint}",
            table.path().display()
        ))
    })?;
    let texts = || -> Vec<Option<&str>> { rows.iter().map(|&r| column.text(r)).collect() };
    Ok(match (column, binning) {
        (Column::Text { .. }, Binning::Words(edges)) => {
            text::length(name, &texts(), edges.as_deref())
        }
        (Column::Text { .. }, Binning::Language) => text::language(name, &texts()),
        (Column::Text { .. }, Binning::Contains(keywords)) => {
            text::contains(name, &texts(), keywords)
        }
        (Column::Numeric(_), Binning::Words(_) | Binning::Language | Binning::Contains(_)) => {
            return Err(SliceError::Invalid(format!(
                "slice column '{name}' holds numbers; words, language and contains(…) slice text, so write \"{name}\" or \"{name}:quantile(4)\""
            )));
        }
        (Column::Text { levels, codes }, Binning::Auto) => {
            let codes: Vec<u32> = rows.iter().map(|&r| codes[r]).collect();
            SliceFeature::categorical(name, levels, &codes)
        }
        (Column::Text { .. }, _) => {
            return Err(SliceError::Invalid(format!(
                "slice column '{name}' holds text; quantile() and bins() need numbers, so write just \"{name}\""
            )));
        }
        (Column::Numeric(v), Binning::Auto) => SliceFeature::numeric(name, &numbers_at(v, rows)),
        (Column::Numeric(v), Binning::Quantile(q)) => {
            SliceFeature::quantiles(name, &numbers_at(v, rows), *q)
        }
        (Column::Numeric(v), Binning::Bins(edges)) => {
            SliceFeature::bins(name, &numbers_at(v, rows), edges)
        }
    })
}

/// Every feature column over `rows`, as the automatic search sees it: categorical columns
/// by value (capped at 32 levels), numeric ones by value or quartile. Free text, where each
/// document is its own value, is seen through its properties: the quartile of its length in
/// words (`body words ≤ 120`), its language when the texts hold more than one, and the
/// presence of each of its commonest content words (`body ∋ "invoice"`, see
/// [`text::search_keywords`]).
pub fn search_features(
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
) -> Result<Vec<SliceFeature>> {
    let mut out = Vec::new();
    for (name, kind) in features {
        let column = table.column(name)?;
        match (column, kind) {
            (_, Kind::Text) => out.extend(text_features(name, column, rows)),
            (Column::Numeric(v), Kind::Categorical) => {
                let values = numbers_at(v, rows);
                out.push(
                    SliceFeature::numeric_values(name, &values, usize::MAX)
                        .unwrap_or_else(|| SliceFeature::numeric(name, &values)),
                );
            }
            _ => out.push(column_feature(table, name, &Binning::Auto, rows)?),
        }
    }
    Ok(out
        .into_iter()
        .map(|f| f.capped(MAX_SEARCH_LEVELS))
        .collect())
}

/// The search's view of one free-text column (see [`search_features`]).
fn text_features(name: &str, column: &Column, rows: &[usize]) -> Vec<SliceFeature> {
    let texts: Vec<Option<&str>> = rows.iter().map(|&r| column.text(r)).collect();
    let mut features = vec![text::length(name, &texts, None)];
    let language = text::language(name, &texts);
    if language.levels.len() > 1 {
        features.push(language);
    }
    // Keywords frequent enough to make slices the search would keep (its default minimum).
    let min_rows = (rows.len() / 100).max(30);
    for keyword in text::search_keywords(&texts, min_rows, text::SEARCH_KEYWORDS) {
        features.push(text::contains(name, &texts, &[keyword]));
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            SliceSpec::parse("sex").unwrap().parts,
            [("sex".to_string(), Binning::Auto)]
        );
        assert_eq!(
            SliceSpec::parse("age:quantile(4)").unwrap().parts,
            [("age".to_string(), Binning::Quantile(4))]
        );
        assert_eq!(SliceSpec::parse("workclass × sex").unwrap().parts.len(), 2);
        assert_eq!(
            SliceSpec::parse("hours:bins(20, 40) x sex").unwrap().parts[0],
            ("hours".to_string(), Binning::Bins(vec![20.0, 40.0]))
        );
    }

    #[test]
    fn a_cross_sign_inside_parentheses_is_part_of_a_keyword() {
        let spec = SliceSpec::parse("body:contains(tax x rate, 2*3) x sex").unwrap();
        assert_eq!(
            spec.parts,
            [
                (
                    "body".to_string(),
                    Binning::Contains(vec!["tax x rate".into(), "2*3".into()])
                ),
                ("sex".to_string(), Binning::Auto)
            ]
        );
        assert_eq!(split_cross("a×b*c x d").unwrap(), ["a", "b", "c", "d"]);
        let e = SliceSpec::parse("body:contains(tax x sex").unwrap_err();
        assert!(e.contains("never closes"), "{e}");
        let e = SliceSpec::parse("body:contains)tax(").unwrap_err();
        assert!(e.contains("never opened"), "{e}");
    }

    #[test]
    fn parses_the_text_forms() {
        let rule = |s: &str| SliceSpec::parse(s).unwrap().parts[0].clone();
        assert_eq!(rule("body:words"), ("body".into(), Binning::Words(None)));
        assert_eq!(
            rule("body:words(20, 100)"),
            ("body".into(), Binning::Words(Some(vec![20.0, 100.0])))
        );
        assert_eq!(rule("body:language"), ("body".into(), Binning::Language));
        assert_eq!(
            rule("body:contains(refund, money back, re: order)"),
            (
                "body".into(),
                Binning::Contains(vec![
                    "refund".into(),
                    "money back".into(),
                    "re: order".into()
                ])
            )
        );
        let e = SliceSpec::parse("body:contains( , )").unwrap_err();
        assert!(e.contains("contains(refund"), "{e}");
        let e = SliceSpec::parse("body:words(many)").unwrap_err();
        assert!(e.contains("words(20, 100)"), "{e}");
    }

    #[test]
    fn bad_specs_say_what_to_write() {
        let e = SliceSpec::parse("age:quantile(x)").unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = SliceSpec::parse("age:deciles").unwrap_err();
        assert!(e.contains("quantile(4)"), "{e}");
        let e = SliceSpec::parse("a × b × c").unwrap_err();
        assert!(e.contains("at most two"), "{e}");
    }
}

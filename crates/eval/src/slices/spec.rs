//! Declared slice specifications (`"sex"`, `"age:quantile(4)"`, `"hours:bins(20, 40)"`,
//! `"race × sex"`) and turning table columns into [`SliceFeature`]s for the slice report,
//! as a recipe's `[evaluate] slices` and `distillery eval --slice` declare them.

use distillery_data::{Column, Kind, Table};

use super::SliceFeature;

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
}

/// One declared slice: a column, or a cross of columns, each with a binning.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceSpec {
    /// Each crossed column with its binning (one or two).
    pub parts: Vec<(String, Binning)>,
}

impl SliceSpec {
    /// Parses the recipe syntax; crosses are written with `×`, ` x ` or `*`.
    pub fn parse(text: &str) -> std::result::Result<SliceSpec, String> {
        let normalised = text.replace(" x ", " × ").replace('*', "×");
        let parts = normalised
            .split('×')
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

fn parse_part(part: &str, whole: &str) -> std::result::Result<(String, Binning), String> {
    if part.is_empty() {
        return Err(format!("'{whole}' has an empty column name"));
    }
    let Some((column, rule)) = part.rsplit_once(':') else {
        return Ok((part.to_string(), Binning::Auto));
    };
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
        let edges: std::result::Result<Vec<f64>, _> =
            edges.split(',').map(|e| e.trim().parse::<f64>()).collect();
        return match edges {
            Ok(e) if !e.is_empty() && e.iter().all(|v| v.is_finite()) => {
                Ok((column, Binning::Bins(e)))
            }
            _ => Err(format!(
                "'{whole}': bins(…) needs comma-separated numbers, e.g. bins(25, 45, 65)"
            )),
        };
    }
    Err(format!(
        "'{whole}': unknown binning '{rule}'; use column:quantile(4) or column:bins(25, 45, 65)"
    ))
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
            "[evaluate] slices: column '{name}' is not in {}{hint}",
            table.path().display()
        ))
    })?;
    Ok(match (column, binning) {
        (Column::Text { levels, codes }, Binning::Auto) => {
            let codes: Vec<u32> = rows.iter().map(|&r| codes[r]).collect();
            SliceFeature::categorical(name, levels, &codes)
        }
        (Column::Text { .. }, _) => {
            return Err(SliceError::Invalid(format!(
                "[evaluate] slices: column '{name}' holds text; quantile() and bins() need numbers, so write just \"{name}\""
            )));
        }
        (Column::Numeric(v), binning) => {
            let values: Vec<f64> = rows.iter().map(|&r| v[r]).collect();
            match binning {
                Binning::Auto => SliceFeature::numeric(name, &values),
                Binning::Quantile(q) => SliceFeature::quantiles(name, &values, *q),
                Binning::Bins(edges) => SliceFeature::bins(name, &values, edges),
            }
        }
    })
}

/// Every feature column over `rows`, as the automatic search sees it: categorical columns
/// by value (capped at 32 levels), numeric ones by value or quartile, free text by the
/// quartile of its length in words (`body words ≤ 120`): each document is its own value,
/// so only its properties make slices.
pub fn search_features(
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
) -> Result<Vec<SliceFeature>> {
    features
        .iter()
        .map(|(name, kind)| {
            let column = table.column(name)?;
            let feature = match (column, kind) {
                (_, Kind::Text) => {
                    let words: Vec<f64> = rows
                        .iter()
                        .map(|&r| {
                            column
                                .text(r)
                                .map_or(f64::NAN, |t| t.split_whitespace().count() as f64)
                        })
                        .collect();
                    SliceFeature::quantiles(&format!("{name} words"), &words, 4)
                }
                (Column::Numeric(v), Kind::Categorical) => {
                    let values: Vec<f64> = rows.iter().map(|&r| v[r]).collect();
                    SliceFeature::numeric_values(name, &values, usize::MAX)
                        .unwrap_or_else(|| SliceFeature::numeric(name, &values))
                }
                _ => column_feature(table, name, &Binning::Auto, rows)?,
            };
            Ok(feature.capped(MAX_SEARCH_LEVELS))
        })
        .collect()
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
    fn bad_specs_say_what_to_write() {
        let e = SliceSpec::parse("age:quantile(x)").unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = SliceSpec::parse("age:deciles").unwrap_err();
        assert!(e.contains("quantile(4)"), "{e}");
        let e = SliceSpec::parse("a × b × c").unwrap_err();
        assert!(e.contains("at most two"), "{e}");
    }
}

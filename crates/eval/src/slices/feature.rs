//! How a column divides rows into slice levels: categorical values, numeric quantile or
//! fixed bins, and crosses of two columns. Missing cells form their own level.

use serde::{Deserialize, Serialize};

/// Level name of rows whose cell is missing.
pub const MISSING_LEVEL: &str = "(missing)";
/// Level name that rare levels are merged into when a column has too many.
pub const OTHER_LEVEL: &str = "(other)";

/// A column seen as a partition of the rows: one level code per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceFeature {
    /// Column name, or `a × b` for a cross.
    pub name: String,
    /// Level names, rendered so that `name` + level reads as a condition.
    pub levels: Vec<String>,
    /// One index into `levels` per row.
    pub codes: Vec<u32>,
}

impl SliceFeature {
    /// A text column: `codes` index `levels`; any code outside it (the reader's missing
    /// marker) becomes the missing level.
    pub fn categorical(name: &str, levels: &[String], codes: &[u32]) -> SliceFeature {
        let mut out_levels = levels.to_vec();
        let missing = levels.len() as u32;
        let codes: Vec<u32> = codes.iter().map(|&c| c.min(missing)).collect();
        if codes.contains(&missing) {
            out_levels.push(MISSING_LEVEL.into());
        }
        SliceFeature {
            name: name.into(),
            levels: out_levels,
            codes,
        }
    }

    /// A numeric column with at most `max_values` distinct values: one level per value.
    /// `None` when it has more.
    pub fn numeric_values(name: &str, values: &[f64], max_values: usize) -> Option<SliceFeature> {
        let mut distinct: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() > max_values {
            return None;
        }
        let mut levels: Vec<String> = distinct.iter().map(|&v| format_value(v)).collect();
        let missing = levels.len() as u32;
        let codes: Vec<u32> = values
            .iter()
            .map(|v| {
                distinct
                    .binary_search_by(|d| d.total_cmp(v))
                    .map_or(missing, |i| i as u32)
            })
            .collect();
        if codes.contains(&missing) {
            levels.push(MISSING_LEVEL.into());
        }
        Some(SliceFeature {
            name: name.into(),
            levels,
            codes,
        })
    }

    /// A numeric column cut at its `q`-quantiles (numpy's linear interpolation; repeated
    /// edges merged), bins `(lo, hi]`.
    pub fn quantiles(name: &str, values: &[f64], q: usize) -> SliceFeature {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let edges: Vec<f64> = if sorted.is_empty() {
            Vec::new()
        } else {
            (1..q.max(1))
                .map(|i| {
                    let pos = i as f64 / q as f64 * (sorted.len() - 1) as f64;
                    let (lo, frac) = (pos.floor() as usize, pos.fract());
                    let hi = (lo + 1).min(sorted.len() - 1);
                    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
                })
                .collect()
        };
        SliceFeature::bins(name, values, &edges)
    }

    /// A numeric column cut at `edges` (sorted, duplicates dropped): bins `≤ e₀`,
    /// `(e₀, e₁]`, …, `> eₘ`.
    pub fn bins(name: &str, values: &[f64], edges: &[f64]) -> SliceFeature {
        let mut edges: Vec<f64> = edges.iter().copied().filter(|e| e.is_finite()).collect();
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        let mut levels: Vec<String> = Vec::with_capacity(edges.len() + 2);
        if edges.is_empty() {
            levels.push("all".into());
        } else {
            levels.push(format!("≤ {}", format_value(edges[0])));
            for w in edges.windows(2) {
                levels.push(format!(
                    "in ({}, {}]",
                    format_value(w[0]),
                    format_value(w[1])
                ));
            }
            levels.push(format!("> {}", format_value(edges[edges.len() - 1])));
        }
        let missing = levels.len() as u32;
        let codes: Vec<u32> = values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    missing
                } else {
                    edges.partition_point(|&e| e < v) as u32
                }
            })
            .collect();
        if codes.contains(&missing) {
            levels.push(MISSING_LEVEL.into());
        }
        SliceFeature {
            name: name.into(),
            levels,
            codes,
        }
    }

    /// The default view of a numeric column: its values when there are at most 8, else
    /// quartile bins.
    pub fn numeric(name: &str, values: &[f64]) -> SliceFeature {
        SliceFeature::numeric_values(name, values, 8)
            .unwrap_or_else(|| SliceFeature::quantiles(name, values, 4))
    }

    /// Every combination of a level of `self` with a level of `other` (empty combinations
    /// are dropped). Levels read `a-level ∧ b = b-level`.
    pub fn cross(&self, other: &SliceFeature) -> SliceFeature {
        let width = other.levels.len() as u32;
        let mut used: Vec<Option<u32>> = vec![None; self.levels.len() * other.levels.len()];
        let mut levels = Vec::new();
        let codes = self
            .codes
            .iter()
            .zip(&other.codes)
            .map(|(&a, &b)| {
                let cell = (a * width + b) as usize;
                *used[cell].get_or_insert_with(|| {
                    levels.push(format!("{} ∧ {}", self.level_phrase(a), other.condition(b)));
                    (levels.len() - 1) as u32
                })
            })
            .collect();
        SliceFeature {
            name: format!("{} × {}", self.name, other.name),
            levels,
            codes,
        }
    }

    /// Keeps the `max_levels − 1` most frequent levels and merges the rest into
    /// `(other)`, so identifier-like columns do not explode the slice search.
    pub fn capped(self, max_levels: usize) -> SliceFeature {
        if self.levels.len() <= max_levels {
            return self;
        }
        let mut counts = vec![0usize; self.levels.len()];
        for &c in &self.codes {
            counts[c as usize] += 1;
        }
        let mut order: Vec<usize> = (0..self.levels.len()).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        let keep = max_levels.saturating_sub(1);
        let mut map = vec![keep as u32; self.levels.len()];
        let mut levels = Vec::with_capacity(max_levels);
        for (new, &old) in order.iter().take(keep).enumerate() {
            map[old] = new as u32;
            levels.push(self.levels[old].clone());
        }
        levels.push(OTHER_LEVEL.into());
        SliceFeature {
            name: self.name,
            levels,
            codes: self.codes.iter().map(|&c| map[c as usize]).collect(),
        }
    }

    /// `name = level`, `name ≤ 3`, `name in (3, 5]`, `body ∋ "refund"`: the condition a level
    /// stands for.
    pub fn condition(&self, level: u32) -> String {
        condition(&self.name, &self.levels[level as usize])
    }

    /// A level as a condition, unless this is a cross whose levels already are conditions.
    fn level_phrase(&self, level: u32) -> String {
        if self.name.contains(" × ") {
            self.levels[level as usize].clone()
        } else {
            self.condition(level)
        }
    }
}

/// Renders `feature` + `level` as a readable condition.
pub fn condition(feature: &str, level: &str) -> String {
    if ['≤', '>', '∋', '∌'].iter().any(|&c| level.starts_with(c)) || level.starts_with("in (")
    {
        format!("{feature} {level}")
    } else if feature.contains(" × ") {
        level.to_string()
    } else {
        format!("{feature} = {level}")
    }
}

/// Short decimal form of a number: integers without a fraction, others to 4 significant
/// digits with trailing zeros dropped.
fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_bins_are_half_open_and_missing_is_a_level() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, f64::NAN];
        let f = SliceFeature::quantiles("age", &v, 4);
        // numpy.quantile([1..8], [.25, .5, .75]) = 2.75, 4.5, 6.25
        assert_eq!(
            f.levels,
            [
                "≤ 2.75",
                "in (2.75, 4.5]",
                "in (4.5, 6.25]",
                "> 6.25",
                MISSING_LEVEL
            ]
        );
        assert_eq!(f.codes, [0, 0, 1, 1, 2, 2, 3, 3, 4]);
        assert_eq!(f.condition(1), "age in (2.75, 4.5]");
    }

    #[test]
    fn edge_values_fall_in_the_lower_bin() {
        let f = SliceFeature::bins("x", &[30.0, 30.5, 50.0], &[30.0, 50.0]);
        assert_eq!(f.codes, [0, 1, 1]);
    }

    #[test]
    fn crosses_name_both_conditions() {
        let a = SliceFeature::categorical("sex", &["F".into(), "M".into()], &[0, 1, 0, 1]);
        let b = SliceFeature::numeric("kids", &[0.0, 0.0, 1.0, 1.0]);
        let c = a.cross(&b);
        assert_eq!(c.name, "sex × kids");
        assert_eq!(c.levels[c.codes[2] as usize], "sex = F ∧ kids = 1");
        assert_eq!(c.condition(c.codes[2]), "sex = F ∧ kids = 1");
        assert_eq!(c.levels.len(), 4);
    }

    #[test]
    fn capping_keeps_the_most_frequent_levels() {
        let levels: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let f = SliceFeature::categorical("id", &levels, &[0, 1, 1, 2, 2, 2, 3, 4]).capped(3);
        assert_eq!(f.levels, ["2", "1", OTHER_LEVEL]);
        assert_eq!(f.codes, [2, 1, 1, 0, 0, 0, 2, 2]);
    }

    #[test]
    fn missing_text_cells_get_their_own_level() {
        let f = SliceFeature::categorical("c", &["a".into()], &[0, u32::MAX]);
        assert_eq!(f.levels, ["a", MISSING_LEVEL]);
        assert_eq!(f.codes, [0, 1]);
    }
}

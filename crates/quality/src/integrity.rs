//! Integrity of the training file: missing values, constant and near-constant columns,
//! identifier-like and high-cardinality columns, extreme outliers, duplicate rows and
//! rows whose features agree but whose labels do not.

use distillery_data::{Column, Table};
use rustc_hash::FxHashMap;

use crate::{Finding, Input, MissingCount, Severity, finding};

/// Missing cells per column (after the recipe's missing tokens such as `?`).
pub(crate) fn missing(table: &Table, out: &mut Vec<Finding>) -> Vec<MissingCount> {
    let n = table.n_rows();
    table
        .names()
        .iter()
        .zip(table.columns())
        .map(|(name, c)| {
            let count = (0..n).filter(|&r| c.is_missing(r)).count();
            let share = count as f64 / n.max(1) as f64;
            if count > 0 {
                let example: Vec<String> = (0..n)
                    .filter(|&r| c.is_missing(r))
                    .take(3)
                    .map(|r| format!("row {}", r + 1))
                    .collect();
                out.push(finding(
                    "missing",
                    Some(name),
                    if share >= 0.5 {
                        Severity::Warn
                    } else {
                        Severity::Info
                    },
                    format!("{count} missing cells in '{name}' ({:.1}%)", share * 100.0),
                    count,
                    n,
                    example,
                ));
            }
            MissingCount {
                column: name.clone(),
                count,
                share,
            }
        })
        .collect()
}

/// Column-level checks on the feature columns.
pub(crate) fn columns(input: &Input<'_>, out: &mut Vec<Finding>) {
    let t = input.train;
    let n = t.n_rows();
    for name in input.features {
        let Ok(c) = t.column(name) else { continue };
        let mut counts: FxHashMap<u64, usize> = FxHashMap::default();
        let mut present = 0;
        for r in 0..n {
            if c.is_missing(r) {
                continue;
            }
            present += 1;
            let key = match c {
                Column::Numeric(v) => v[r].to_bits(),
                Column::Text { codes, .. } => u64::from(codes[r]),
            };
            *counts.entry(key).or_default() += 1;
        }
        if present == 0 {
            continue;
        }
        let distinct = counts.len();
        let top = counts.values().copied().max().unwrap_or(0);
        if distinct == 1 {
            out.push(finding(
                "constant",
                Some(name),
                Severity::Warn,
                format!(
                    "'{name}' has one value in every non-missing row; it cannot help the model"
                ),
                present,
                n,
                Vec::new(),
            ));
        } else if top as f64 / present as f64 >= 0.99 {
            out.push(finding(
                "near_constant",
                Some(name),
                Severity::Info,
                format!(
                    "one value of '{name}' covers {:.2}% of the rows",
                    100.0 * top as f64 / present as f64
                ),
                top,
                n,
                Vec::new(),
            ));
        }
        let integral = matches!(c, Column::Text { .. })
            || matches!(c, Column::Numeric(v) if v.iter().all(|x| x.is_nan() || x.fract() == 0.0));
        if distinct == present && present > 50 && integral {
            out.push(finding("identifier", Some(name), Severity::Warn, format!("every row of '{name}' has its own value: an identifier teaches nothing that generalises; add it to [data] ignore"), present, n, Vec::new()));
        } else if matches!(c, Column::Text { .. }) && distinct > 100 {
            out.push(finding(
                "high_cardinality",
                Some(name),
                Severity::Info,
                format!("'{name}' has {distinct} categories; rare ones carry little signal"),
                distinct,
                n,
                Vec::new(),
            ));
        }
        if let Column::Numeric(v) = c {
            outliers(name, v, n, out);
        }
    }
}

/// Values more than 10 robust standard deviations (1.4826 · MAD) from the median.
fn outliers(name: &str, v: &[f64], n: usize, out: &mut Vec<Finding>) {
    let mut x: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if x.len() < 10 {
        return;
    }
    x.sort_by(f64::total_cmp);
    let median = x[x.len() / 2];
    let mut dev: Vec<f64> = x.iter().map(|v| (v - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = dev[dev.len() / 2] * 1.4826;
    if mad == 0.0 {
        return;
    }
    let rows: Vec<usize> = (0..v.len())
        .filter(|&r| !v[r].is_nan() && ((v[r] - median) / mad).abs() > 10.0)
        .collect();
    if !rows.is_empty() {
        let examples = rows
            .iter()
            .take(3)
            .map(|&r| format!("row {}: {}", r + 1, v[r]))
            .collect();
        out.push(finding("outliers", Some(name), Severity::Info, format!("{} values of '{name}' lie more than 10 robust standard deviations from its median {median}", rows.len()), rows.len(), n, examples));
    }
}

/// A 128-bit fingerprint of some cells of a row; `normalise` lower-cases and trims text and
/// rounds numbers to 9 significant digits.
pub(crate) fn row_key(table: &Table, columns: &[&Column], row: usize, normalise: bool) -> u128 {
    let _ = table;
    let mut h = blake3::Hasher::new();
    for c in columns {
        match c {
            Column::Numeric(v) => {
                let x = v[row];
                if x.is_nan() {
                    h.update(b"\x00na");
                } else if normalise {
                    h.update(format!("{x:.8e}").as_bytes());
                } else {
                    h.update(&x.to_bits().to_le_bytes());
                }
            }
            Column::Text { levels, codes } => match levels.get(codes[row] as usize) {
                Some(s) if normalise => {
                    h.update(s.trim().to_lowercase().as_bytes());
                }
                Some(s) => {
                    h.update(s.as_bytes());
                }
                None => {
                    h.update(b"\x00na");
                }
            },
        }
        h.update(b"\x1f");
    }
    let b = h.finalize();
    u128::from_le_bytes(b.as_bytes()[..16].try_into().unwrap_or([0; 16]))
}

/// Duplicate rows and conflicting labels in the training file.
pub(crate) fn rows(input: &Input<'_>, out: &mut Vec<Finding>) {
    let t = input.train;
    let n = t.n_rows();
    let cols: Vec<&Column> = input
        .features
        .iter()
        .filter_map(|f| t.column(f).ok())
        .collect();
    let mut first: FxHashMap<u128, (usize, Option<u32>)> = FxHashMap::default();
    let (mut duplicates, mut conflicts) = (Vec::new(), Vec::new());
    for r in 0..n {
        let key = row_key(t, &cols, r, false);
        match first.get(&key) {
            Some(&(r0, y0)) if y0 == input.train_labels[r] => duplicates.push((r0, r)),
            Some(&(r0, _)) => conflicts.push((r0, r)),
            None => {
                first.insert(key, (r, input.train_labels[r]));
            }
        }
    }
    let ex = |v: &[(usize, usize)]| {
        v.iter()
            .take(3)
            .map(|(a, b)| format!("row {} = row {}", b + 1, a + 1))
            .collect()
    };
    if !duplicates.is_empty() {
        out.push(finding(
            "duplicates",
            None,
            Severity::Info,
            format!(
                "{} rows repeat an earlier row exactly (features and label)",
                duplicates.len()
            ),
            duplicates.len(),
            n,
            ex(&duplicates),
        ));
    }
    if !conflicts.is_empty() {
        out.push(finding(
            "conflicting_labels",
            None,
            Severity::Warn,
            format!(
                "{} rows have the same features as an earlier row but another label",
                conflicts.len()
            ),
            conflicts.len(),
            n,
            ex(&conflicts),
        ));
    }
}

//! Train/test hygiene: rows shared between the files, single features that predict the
//! label almost perfectly (leakage), class imbalance and label shift between the files.

use distillery_data::Column;
use rustc_hash::FxHashSet;

use crate::integrity::row_key;
use crate::{Finding, Input, Severity, finding};

/// Test rows that also occur in the training file, exactly and after normalisation.
pub(crate) fn overlap(input: &Input<'_>, out: &mut Vec<Finding>) {
    let Some(test) = input.test else { return };
    let train_cols: Vec<&Column> = input
        .features
        .iter()
        .filter_map(|f| input.train.column(f).ok())
        .collect();
    let test_cols: Vec<&Column> = input
        .features
        .iter()
        .filter_map(|f| test.column(f).ok())
        .collect();
    if train_cols.len() != test_cols.len() {
        return;
    }
    for (normalise, check) in [(false, "overlap"), (true, "overlap_normalised")] {
        let seen: FxHashSet<u128> = (0..input.train.n_rows())
            .map(|r| row_key(input.train, &train_cols, r, normalise))
            .collect();
        let shared: Vec<usize> = (0..test.n_rows())
            .filter(|&r| seen.contains(&row_key(test, &test_cols, r, normalise)))
            .collect();
        if !shared.is_empty() {
            let how = if normalise {
                "after lower-casing, trimming and rounding"
            } else {
                "exactly"
            };
            out.push(finding(
                check,
                None,
                if normalise { Severity::Warn } else { Severity::Block },
                format!("{} test rows repeat a training row {how}: the test score overstates the model; deduplicate, or acknowledge {check}", shared.len()),
                shared.len(),
                test.n_rows(),
                shared.iter().take(3).map(|r| format!("test row {}", r + 1)).collect(),
            ));
        }
    }
}

/// Features that alone predict the label with ≥ 99% accuracy (majority label per value,
/// per category or per quantile bin), well above the majority-class rate.
pub(crate) fn leakage(input: &Input<'_>, out: &mut Vec<Finding>) {
    let k = input.classes.len();
    let labelled: Vec<(usize, u32)> = input
        .train_labels
        .iter()
        .enumerate()
        .filter_map(|(r, y)| y.map(|y| (r, y)))
        .collect();
    let n = labelled.len();
    if n < 20 || k < 2 {
        return;
    }
    let mut base = vec![0usize; k];
    labelled.iter().for_each(|&(_, y)| base[y as usize] += 1);
    let majority = *base.iter().max().unwrap_or(&0) as f64 / n as f64;
    for name in input.features {
        let Ok(c) = input.train.column(name) else {
            continue;
        };
        let groups: Vec<u64> = match c {
            Column::Text { codes, .. } => {
                labelled.iter().map(|&(r, _)| u64::from(codes[r])).collect()
            }
            Column::Numeric(v) => {
                let mut sorted: Vec<f64> = labelled
                    .iter()
                    .map(|&(r, _)| v[r])
                    .filter(|x| !x.is_nan())
                    .collect();
                sorted.sort_by(f64::total_cmp);
                let edges: Vec<f64> = (1..50)
                    .map(|i| sorted.get(i * sorted.len() / 50).copied().unwrap_or(0.0))
                    .collect();
                labelled
                    .iter()
                    .map(|&(r, _)| {
                        if v[r].is_nan() {
                            u64::MAX
                        } else {
                            edges.partition_point(|&e| e < v[r]) as u64
                        }
                    })
                    .collect()
            }
        };
        let mut table: rustc_hash::FxHashMap<u64, Vec<usize>> = rustc_hash::FxHashMap::default();
        for (g, &(_, y)) in groups.iter().zip(&labelled) {
            table.entry(*g).or_insert_with(|| vec![0; k])[y as usize] += 1;
        }
        if table.len() * 2 > n {
            continue; // identifier-like: reported by the integrity checks
        }
        let right: usize = table
            .values()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .sum();
        let accuracy = right as f64 / n as f64;
        if accuracy >= 0.99 && accuracy - majority > 0.05 {
            out.push(finding(
                "leakage",
                Some(name),
                Severity::Block,
                format!("'{name}' alone predicts '{}' with {:.2}% accuracy (majority class: {:.2}%): it probably encodes the label; drop it ([data] ignore) or acknowledge leakage:{name}", input.target, accuracy * 100.0, majority * 100.0),
                right,
                n,
                Vec::new(),
            ));
        }
    }
}

/// Class shares, the minority class, and the shift of shares between train and test.
pub(crate) fn balance(input: &Input<'_>, out: &mut Vec<Finding>) {
    let shares = |y: &[Option<u32>]| {
        let mut c = vec![0usize; input.classes.len()];
        y.iter().flatten().for_each(|&v| c[v as usize] += 1);
        let n = c.iter().sum::<usize>().max(1);
        c.iter().map(|&x| x as f64 / n as f64).collect::<Vec<f64>>()
    };
    let train = shares(input.train_labels);
    let (mi, &min) = train
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((0, &0.0));
    let listing: Vec<String> = input
        .classes
        .iter()
        .zip(&train)
        .map(|(c, s)| format!("{c}: {:.1}%", s * 100.0))
        .collect();
    out.push(finding(
        "imbalance",
        None,
        if min < 0.1 {
            Severity::Warn
        } else {
            Severity::Info
        },
        format!(
            "minority class '{}' is {:.1}% of the labelled rows",
            input.classes.get(mi).map_or("?", String::as_str),
            min * 100.0
        ),
        0,
        1,
        listing,
    ));
    if let Some(test) = input.test_labels {
        let t = shares(test);
        let (ci, shift) = train
            .iter()
            .zip(&t)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        if shift > 0.05 {
            out.push(finding(
                "label_shift",
                None,
                Severity::Warn,
                format!(
                    "class '{}' is {:.1}% of training labels but {:.1}% of test labels",
                    input.classes.get(ci).map_or("?", String::as_str),
                    train[ci] * 100.0,
                    t[ci] * 100.0
                ),
                0,
                1,
                Vec::new(),
            ));
        }
    }
}

//! Train/test hygiene: rows shared between the files, single features that predict the
//! label almost perfectly (leakage), class imbalance and label shift between the files.

use distillery_data::{Column, Table};
use rustc_hash::FxHashSet;

use crate::integrity::row_key;
use crate::{Finding, Input, Severity, finding};

/// Test rows whose features repeat a training row exactly (0-based test row numbers): the
/// rows to leave out for the de-duplicated test score.
pub fn overlapping_test_rows(
    train: &Table,
    train_rows: &[usize],
    test: &Table,
    test_rows: &[usize],
    features: &[String],
) -> Vec<usize> {
    let cols = |t: &'_ Table| -> Option<Vec<Column>> {
        features.iter().map(|f| t.column(f).ok().cloned()).collect()
    };
    let (Some(train_cols), Some(test_cols)) = (cols(train), cols(test)) else {
        return Vec::new();
    };
    let train_refs: Vec<&Column> = train_cols.iter().collect();
    let test_refs: Vec<&Column> = test_cols.iter().collect();
    let seen: FxHashSet<u128> = train_rows
        .iter()
        .map(|&r| row_key(train, &train_refs, r, false))
        .collect();
    test_rows
        .iter()
        .copied()
        .filter(|&r| seen.contains(&row_key(test, &test_refs, r, false)))
        .collect()
}

/// Test rows that also occur in the training file, exactly and after normalisation. A
/// few repeats are common in honest data (two customers with the same profile) and only
/// warn: the run reports its test scores with and without them. A test file whose every
/// row repeats a training row is the training file again, and blocks.
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
        if shared.is_empty() {
            continue;
        }
        if !normalise && shared.len() == test.n_rows() {
            out.push(finding(
                "test_is_train",
                None,
                Severity::Block,
                format!("every one of the {} test rows repeats a training row: the test file is the training data again, so no score would mean anything; give a separate test file", shared.len()),
                shared.len(),
                test.n_rows(),
                shared.iter().take(3).map(|r| format!("test row {}", r + 1)).collect(),
            ));
            continue;
        }
        let how = if normalise {
            "after lower-casing, trimming and rounding"
        } else {
            "exactly"
        };
        out.push(finding(
            check,
            None,
            Severity::Warn,
            format!("{} test rows repeat a training row {how}: the run reports test scores on the de-duplicated rows next to the full ones", shared.len()),
            shared.len(),
            test.n_rows(),
            shared.iter().take(3).map(|r| format!("test row {}", r + 1)).collect(),
        ));
    }
}

/// Features that alone predict the label with ≥ 99% accuracy (majority label per value,
/// per category or per quantile bin), well above the majority-class rate. A strong sensor
/// reading can do that honestly, so this warns; it blocks only a copy of the label: a
/// one-to-one mapping of values to labels that holds on the training rows and on the test
/// rows too.
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
        let groups = groups(c, &labelled);
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
        if accuracy < 0.99 || accuracy - majority <= 0.05 {
            continue;
        }
        let copy = label_copy(input, name, c);
        let (severity, message) = match copy {
            Some(test_rows) => (
                Severity::Block,
                format!(
                    "'{name}' is a copy of '{}': each of its values maps to one label on every training row{}; drop it ([data] ignore) or acknowledge leakage:{name}",
                    input.target,
                    if test_rows > 0 {
                        format!(" and on all {test_rows} test rows")
                    } else {
                        String::new()
                    }
                ),
            ),
            None => (
                Severity::Warn,
                format!(
                    "'{name}' alone predicts '{}' with {:.2}% accuracy (majority class: {:.2}%): a very strong feature; make sure it is known at prediction time and does not encode the label",
                    input.target,
                    accuracy * 100.0,
                    majority * 100.0
                ),
            ),
        };
        out.push(finding(
            "leakage",
            Some(name),
            severity,
            message,
            right,
            n,
            Vec::new(),
        ));
    }
}

/// Each labelled row's group: its category code, or the 50-quantile bin of its number.
fn groups(c: &Column, labelled: &[(usize, u32)]) -> Vec<u64> {
    match c {
        Column::Text { codes, .. } => labelled.iter().map(|&(r, _)| u64::from(codes[r])).collect(),
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
    }
}

/// A column value as an exact group key (category code, or the number's bits).
fn exact(c: &Column, r: usize) -> u64 {
    match c {
        Column::Text { codes, .. } => u64::from(codes[r]),
        Column::Numeric(v) if v[r].is_nan() => u64::MAX,
        Column::Numeric(v) => v[r].to_bits(),
    }
}

/// When `column` is a one-to-one copy of the label: every exact value maps to a single
/// label on the training rows (held-out rows excluded), each label to a single value, and
/// the mapping predicts every test row whose label is known. Returns the test rows checked.
fn label_copy(input: &Input<'_>, name: &str, column: &Column) -> Option<usize> {
    let held: FxHashSet<usize> = input.held_out.iter().copied().collect();
    let mut value_label: rustc_hash::FxHashMap<u64, u32> = rustc_hash::FxHashMap::default();
    let mut label_value: rustc_hash::FxHashMap<u32, u64> = rustc_hash::FxHashMap::default();
    for (r, y) in input.train_labels.iter().enumerate() {
        let Some(y) = *y else { continue };
        if held.contains(&r) {
            continue;
        }
        let v = exact(column, r);
        if *value_label.entry(v).or_insert(y) != y || *label_value.entry(y).or_insert(v) != v {
            return None;
        }
    }
    // The test rows: the separate test file, or the held-out rows of the training file.
    let mut checked = 0;
    let mut agree = |v: u64, y: u32| -> bool {
        checked += 1;
        value_label.get(&v) == Some(&y)
    };
    match (input.test, input.test_labels) {
        (Some(test), Some(labels)) => {
            let tc = test.column(name).ok()?;
            for (r, y) in labels.iter().enumerate() {
                if let Some(y) = *y
                    && !agree(exact(tc, r), y)
                {
                    return None;
                }
            }
        }
        _ => {
            for &r in input.held_out {
                if let Some(y) = input.train_labels[r]
                    && !agree(exact(column, r), y)
                {
                    return None;
                }
            }
        }
    }
    Some(checked)
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

/// With a time column: test rows stamped before the latest training row mean the test
/// measures interpolation, not the future the model will face.
pub(crate) fn time_order(input: &Input<'_>, out: &mut Vec<Finding>) {
    let Some(name) = input.time_column else {
        return;
    };
    let Ok(train) = input.train.column(name) else {
        out.push(finding(
            "time_order",
            Some(name),
            Severity::Warn,
            format!("time column '{name}' is not in the training file"),
            0,
            1,
            Vec::new(),
        ));
        return;
    };
    // Comparable keys: numbers as they are, text (ISO 8601 sorts as text) by its string.
    #[derive(PartialEq, PartialOrd)]
    enum Key<'s> {
        Number(f64),
        Text(&'s str),
    }
    fn key(c: &Column, r: usize) -> Option<Key<'_>> {
        match c {
            Column::Numeric(v) => (!v[r].is_nan()).then_some(Key::Number(v[r])),
            Column::Text { .. } => c.text(r).map(Key::Text),
        }
    }
    let held: FxHashSet<usize> = input.held_out.iter().copied().collect();
    let train_rows: Vec<usize> = (0..input.train.n_rows())
        .filter(|r| !held.contains(r))
        .collect();
    let latest = train_rows.iter().filter_map(|&r| key(train, r)).fold(
        None,
        |m: Option<Key<'_>>, k| match m {
            Some(m) if m >= k => Some(m),
            _ => Some(k),
        },
    );
    let Some(latest) = latest else { return };
    let (test_col, test_rows): (&Column, Vec<usize>) = match input.test {
        Some(t) => match t.column(name) {
            Ok(c) => (c, (0..t.n_rows()).collect()),
            Err(_) => return,
        },
        None => (train, input.held_out.to_vec()),
    };
    let early: Vec<usize> = test_rows
        .iter()
        .copied()
        .filter(|&r| key(test_col, r).is_some_and(|k| k < latest))
        .collect();
    if !early.is_empty() {
        out.push(finding(
            "time_order",
            Some(name),
            Severity::Warn,
            format!("{} test rows are dated before the latest training row: the test measures the past, not the future the model will face; split by time instead", early.len()),
            early.len(),
            test_rows.len(),
            early.iter().take(3).map(|r| format!("test row {}", r + 1)).collect(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_data::Table;

    fn table(dates: &[&str], y: &[&str]) -> Table {
        let text = |v: &[&str]| {
            let levels: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            Column::Text {
                codes: (0..v.len() as u32).collect(),
                levels,
            }
        };
        Table::from_columns(
            "t.csv".into(),
            vec!["date".into(), "y".into()],
            vec![text(dates), text(y)],
        )
        .unwrap()
    }

    #[test]
    fn test_rows_dated_before_training_rows_are_reported() {
        let train = table(
            &["2024-01-05", "2024-02-01", "2024-03-09"],
            &["a", "b", "a"],
        );
        let test = table(&["2024-04-01", "2023-12-31"], &["a", "b"]);
        let labels = [Some(0), Some(1), Some(0)];
        let classes = ["a".to_string(), "b".to_string()];
        let features = ["date".to_string()];
        let input = Input {
            train: &train,
            test: Some(&test),
            target: "y",
            features: &features,
            text_columns: &[],
            train_labels: &labels,
            test_labels: None,
            classes: &classes,
            time_column: Some("date"),
            held_out: &[],
        };
        let mut out = Vec::new();
        time_order(&input, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 1);
        assert_eq!(out[0].examples, ["test row 2"]);
        // A held-out split of one file: row 0 (January) is held out, later rows train.
        let held = [0usize];
        let input = Input {
            test: None,
            held_out: &held,
            ..input
        };
        let mut out = Vec::new();
        time_order(&input, &mut out);
        assert_eq!(out[0].count, 1, "a random split puts the past in the test");
    }
}

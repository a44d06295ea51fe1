//! The test scores again without the test rows that repeat a training row, so a report
//! can show how much of the headline number is memorised rows.

use distillery_eval::Scores;

use crate::data::Prepared;

/// Probabilities on the test rows, per model, for [`deduplicated_test`].
pub(crate) struct DedupScores<'a> {
    pub teacher: Option<&'a [f32]>,
    pub student: &'a [f32],
    pub scratch: Option<&'a [f32]>,
}

/// The test scores without the test rows whose features repeat a training or validation
/// row exactly; `None` when no test row does.
pub(crate) fn deduplicated_test(
    prepared: &Prepared,
    p: &DedupScores<'_>,
) -> Option<distillery_eval::run_report::DeduplicatedTest> {
    let features: Vec<String> = prepared.features.iter().map(|(n, _)| n.clone()).collect();
    let seen: Vec<usize> = prepared
        .train_rows
        .iter()
        .chain(&prepared.val_rows)
        .copied()
        .collect();
    let repeated: std::collections::HashSet<usize> = distillery_quality::overlapping_test_rows(
        &prepared.train_table,
        &seen,
        prepared.test_table(),
        &prepared.test_rows,
        &features,
    )
    .into_iter()
    .collect();
    if repeated.is_empty() {
        return None;
    }
    let k = prepared.labels.n_classes();
    let keep: Vec<usize> = (0..prepared.test_rows.len())
        .filter(|&i| !repeated.contains(&prepared.test_rows[i]))
        .collect();
    let y: Vec<Option<u32>> = keep.iter().map(|&i| prepared.test_labels[i]).collect();
    let scores = |q: &[f32]| {
        let rows: Vec<f32> = keep
            .iter()
            .flat_map(|&i| q[i * k..(i + 1) * k].iter().copied())
            .collect();
        Scores::of(&rows, k, &y)
    };
    Some(distillery_eval::run_report::DeduplicatedTest {
        repeated_rows: repeated.len(),
        rows: keep.len(),
        teacher: p.teacher.map(scores),
        student: scores(p.student),
        scratch: p.scratch.map(scores),
    })
}

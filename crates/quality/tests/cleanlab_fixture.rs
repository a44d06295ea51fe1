//! Confident learning against cleanlab 2.x on the same out-of-fold probabilities
//! (`tests/data/label_issues/`, made by `tools/make_label_issue_fixtures.py`): 3,000 rows of
//! UCI Letter with 5% of the labels flipped.

#![allow(clippy::unwrap_used, reason = "test")]

use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn flags_the_same_rows_as_cleanlab() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/label_issues");
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("probs.f32")).unwrap();
    let p: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    let k = cases["k"].as_u64().unwrap() as usize;
    let labels: Vec<usize> = cases["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(p.len(), labels.len() * k);
    let set = |v: &serde_json::Value| -> BTreeSet<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    };
    let theirs = set(&cases["cleanlab_issues"]);
    let flipped = set(&cases["flipped"]);
    let found = distillery_quality::find_label_issues(&p, k, &labels);
    let ours: BTreeSet<usize> = found.rows.iter().copied().collect();
    let jaccard = ours.intersection(&theirs).count() as f64 / ours.union(&theirs).count() as f64;
    eprintln!(
        "ours {} rows, cleanlab {} rows, Jaccard {jaccard:.4}; {} of {} flipped rows found",
        ours.len(),
        theirs.len(),
        ours.intersection(&flipped).count(),
        flipped.len()
    );
    assert!(jaccard >= 0.95, "Jaccard {jaccard}");
    assert!(
        found.self_confidence.windows(2).all(|w| w[0] <= w[1]),
        "ranked by self-confidence"
    );
}

//! Confident learning against cleanlab 2.x on the same out-of-fold probabilities
//! (`tests/data/label_issues/`, made by `tools/make_label_issue_fixtures.py`): all 20,000
//! rows of UCI Letter with 5% of the labels flipped at random, each row's five most
//! probable classes kept.

#![allow(clippy::unwrap_used, reason = "test")]

use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn flags_the_same_rows_as_cleanlab_and_finds_the_flipped_labels() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/label_issues");
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let k = cases["k"].as_u64().unwrap() as usize;
    let top = cases["top"].as_u64().unwrap() as usize;
    let labels: Vec<usize> = cases["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    // Rebuild the probabilities exactly as the script did: top classes, value / 65535,
    // rows renormalised.
    let bytes = std::fs::read(dir.join("top5.bin")).unwrap();
    assert_eq!(bytes.len(), labels.len() * top * 3);
    let mut p = vec![0.0f64; labels.len() * k];
    for (i, row) in bytes.chunks_exact(top * 3).enumerate() {
        for e in row.chunks_exact(3) {
            p[i * k + e[0] as usize] = f64::from(u16::from_le_bytes([e[1], e[2]])) / 65535.0;
        }
        let sum: f64 = p[i * k..(i + 1) * k].iter().sum();
        p[i * k..(i + 1) * k].iter_mut().for_each(|v| *v /= sum);
    }
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
    let hit = ours.intersection(&flipped).count() as f64;
    let (recall, precision) = (hit / flipped.len() as f64, hit / ours.len() as f64);
    eprintln!(
        "ours {} rows, cleanlab {} rows, Jaccard {jaccard:.4}; recall {recall:.3}, precision {precision:.3}",
        ours.len(),
        theirs.len()
    );
    assert!(jaccard >= 0.95, "Jaccard {jaccard}");
    assert!(
        recall >= 0.7 && precision >= 0.7,
        "recall {recall}, precision {precision}"
    );
    assert!(
        found.self_confidence.windows(2).all(|w| w[0] <= w[1]),
        "ranked by self-confidence"
    );
}

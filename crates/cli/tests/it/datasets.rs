//! Issue #15: honest data is not blocked. A sample of every dataset in the shared data
//! folder (tests/data/datasets, see its README) goes through `distillery init` and a run
//! with the default data checks: none may block, none may fail.

use crate::util::{json, repo, setup, stderr};

/// Each sample and its target, as the shared data's MANIFEST names them.
const DATASETS: [(&str, &str); 10] = [
    ("mlc_churn", "churn"),
    ("credit_data", "Status"),
    ("phishing", "is_phishing"),
    ("adult", "income-per-year"),
    ("magic", "class"),
    ("letter", "lettr"),
    ("census_kdd", "income_gt_50k"),
    ("rainfall", "rain"),
    ("car_loan_drift", "repaid"),
    ("spam_assassin", "label"),
];

#[test]
fn every_shared_dataset_runs_with_the_default_checks() {
    for (name, target) in DATASETS {
        let s = setup();
        let file = repo().join(format!("tests/data/datasets/{name}.csv"));
        let init = s.cmd(&["init", file.to_str().unwrap(), "--target", target]);
        assert_eq!(init.status.code(), Some(0), "{name}: {}", stderr(&init));
        let check = s.cmd(&["check", "recipe.toml", "--json"]);
        assert_eq!(check.status.code(), Some(0), "{name}: {}", stderr(&check));
        let blocking: Vec<String> = json(&check)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "block")
            .map(|f| f["message"].to_string())
            .collect();
        assert!(blocking.is_empty(), "{name}: {blocking:?}");
        let run = s.cmd(&["run", "recipe.toml", "--no-register", "--json"]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", stderr(&run));
        let report = json(&run);
        assert!(
            report["student"]["accuracy"].as_f64().unwrap() > 0.0,
            "{name}: {report}"
        );
    }
}

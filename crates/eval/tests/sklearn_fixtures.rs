//! Every metric against scikit-learn 1.9.1 (`tools/make_metric_fixtures.py`) to 1e-9;
//! ECE against the script's independent numpy implementation.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use distillery_eval::{ClassReport, accuracy, brier, confusion_matrix, ece, log_loss, roc_auc};

const TOL: f64 = 1e-9;

fn close(name: &str, what: &str, a: f64, b: f64) {
    assert!(
        (a - b).abs() < TOL,
        "{name} {what}: ours {a} vs sklearn {b}"
    );
}

#[test]
fn metrics_equal_scikit_learn() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/metrics.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let y: Vec<Option<u32>> = case["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Some(v.as_u64().unwrap() as u32))
            .collect();
        let p: Vec<f32> = case["p"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
            })
            .collect();
        close(
            name,
            "accuracy",
            accuracy(&p, k, &y),
            case["accuracy"].as_f64().unwrap(),
        );
        let cm = confusion_matrix(&p, k, &y);
        let want: Vec<Vec<u64>> = serde_json::from_value(case["confusion"].clone()).unwrap();
        assert_eq!(cm, want, "{name} confusion matrix");
        let report = ClassReport::from_confusion(&cm);
        for (j, c) in report.per_class.iter().enumerate() {
            for (what, ours) in [
                ("precision", c.precision),
                ("recall", c.recall),
                ("f1", c.f1),
            ] {
                close(
                    name,
                    &format!("{what}[{j}]"),
                    ours,
                    case["per_class"][what][j].as_f64().unwrap(),
                );
            }
            assert_eq!(c.support, case["per_class"]["support"][j].as_u64().unwrap());
        }
        for (avg, ours) in [
            ("macro", &report.macro_avg),
            ("micro", &report.micro_avg),
            ("weighted", &report.weighted_avg),
        ] {
            let want = &case["averages"][avg];
            close(
                name,
                &format!("{avg} precision"),
                ours.precision,
                want["precision"].as_f64().unwrap(),
            );
            close(
                name,
                &format!("{avg} recall"),
                ours.recall,
                want["recall"].as_f64().unwrap(),
            );
            close(
                name,
                &format!("{avg} f1"),
                ours.f1,
                want["f1"].as_f64().unwrap(),
            );
        }
        close(
            name,
            "macro f1 shortcut",
            distillery_eval::macro_f1(&p, k, &y),
            case["averages"]["macro"]["f1"].as_f64().unwrap(),
        );
        match case["roc_auc"].as_f64() {
            Some(want) => close(name, "roc_auc", roc_auc(&p, k, &y).unwrap(), want),
            None => assert!(
                roc_auc(&p, k, &y).is_none(),
                "{name}: AUC undefined when a class is absent"
            ),
        }
        close(
            name,
            "log_loss",
            log_loss(&p, k, &y),
            case["log_loss"].as_f64().unwrap(),
        );
        close(
            name,
            "brier",
            brier(&p, k, &y),
            case["brier"].as_f64().unwrap(),
        );
        close(
            name,
            "ece",
            ece(&p, k, &y, 15),
            case["ece"].as_f64().unwrap(),
        );
    }
}

//! Drift numerics against the reference implementations: scipy 1.17.1 for the KS test,
//! chi-square, Wasserstein and Jensen–Shannon, and Evidently 0.7.23's DataDriftTable for
//! the whole per-column report (test choice, score, threshold, verdict). Fixtures come
//! from `tools/make_drift_fixtures.py`; every score must agree to 1e-9.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use distillery_data::{Kind, ReadOptions, Table};
use distillery_monitor::stattest::{distance, ks, proportions};
use distillery_monitor::{
    Categories, Distribution, DriftOptions, DriftReport, Numbers, Profile, StatTest,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/drift")
        .join(name)
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(data(name)).expect("fixture")).expect("json")
}

/// The integer recipe of `tools/make_drift_fixtures.py`.
fn generated(spec: &Value) -> Vec<f64> {
    let p: Vec<f64> = spec
        .as_array()
        .expect("spec")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let (n, a, b, m, scale, shift, digits) = (
        p[0] as i64,
        p[1] as i64,
        p[2] as i64,
        p[3] as i64,
        p[4],
        p[5],
        p[6],
    );
    (0..n)
        .map(|i| {
            let x = ((i * a + b) % m) as f64 * scale / m as f64 + shift;
            if digits >= 0.0 {
                // numpy rounds half to even at the given decimals.
                let f = 10f64.powi(digits as i32);
                (x * f).round_ties_even() / f
            } else {
                x
            }
        })
        .collect()
}

fn close(label: &str, what: &str, ours: f64, theirs: f64) {
    assert!(
        (ours - theirs).abs() <= TOLERANCE || (ours.is_infinite() && theirs.is_infinite()),
        "{label}: {what} = {ours:e}, reference {theirs:e}"
    );
}

#[test]
fn ks_and_wasserstein_match_scipy_on_every_branch() {
    let f = fixture("scipy.json");
    for case in f["ks_and_wasserstein"].as_array().expect("cases") {
        let label = case["label"].as_str().expect("label");
        let x = Numbers::from_values(generated(&case["first"]));
        let y = Numbers::from_values(generated(&case["second"]));
        let r = ks::ks_2samp(&x, &y);
        close(
            label,
            "KS statistic",
            r.statistic,
            case["ks_statistic"].as_f64().expect("d"),
        );
        close(
            label,
            "KS p-value",
            r.p_value,
            case["ks_p_value"].as_f64().expect("p"),
        );
        close(
            label,
            "Wasserstein",
            distance::wasserstein(&x, &y),
            case["wasserstein"].as_f64().expect("w"),
        );
        close(
            label,
            "std",
            x.std,
            case["std_first"].as_f64().expect("std"),
        );
    }
}

#[test]
fn chi_square_and_jensen_shannon_match_scipy() {
    let f = fixture("scipy.json");
    for case in f["counts"].as_array().expect("cases") {
        let side = |key: &str| {
            let counts: Vec<u64> = case[key]
                .as_array()
                .expect("counts")
                .iter()
                .map(|v| v.as_u64().expect("n"))
                .collect();
            let names: Vec<String> = (0..counts.len()).map(|i| format!("level{i}")).collect();
            Distribution::Categorical(Categories::from_counts(
                names.iter().map(String::as_str).zip(counts),
            ))
        };
        let (reference, observed) = (side("reference"), side("observed"));
        let (stat, p) = proportions::chi_square(&reference, &observed);
        close(
            "counts",
            "chi-square",
            stat,
            case["chisquare_statistic"].as_f64().expect("stat"),
        );
        close(
            "counts",
            "chi-square p",
            p,
            case["chisquare_p_value"].as_f64().expect("p"),
        );
        let js = distance::jensen_shannon(&reference, &observed);
        close(
            "counts",
            "Jensen-Shannon",
            js,
            case["jensenshannon"].as_f64().expect("js"),
        );
    }
}

fn evidently_test(display: &str) -> StatTest {
    match display {
        "K-S p_value" => StatTest::Ks,
        "chi-square p_value" => StatTest::ChiSquare,
        "Z-test p_value" => StatTest::Z,
        "Wasserstein distance (normed)" => StatTest::Wasserstein,
        "Jensen-Shannon distance" => StatTest::JensenShannon,
        "PSI" => StatTest::Psi,
        other => panic!("unexpected Evidently test {other}"),
    }
}

#[test]
fn drift_report_matches_evidently_data_drift_table() {
    let f = fixture("evidently.json");
    let table = Table::read(&data("car_loan_sample.csv"), &ReadOptions::default()).expect("sample");
    let ids = table.column("id").expect("id");
    let row_of: HashMap<i64, usize> = (0..table.n_rows())
        .map(|r| (ids.number(r).expect("id") as i64, r))
        .collect();
    let mut features: Vec<(String, Kind)> = Vec::new();
    for (key, kind) in [
        ("numeric", Kind::Numeric),
        ("categorical", Kind::Categorical),
    ] {
        for name in f[key].as_array().expect("names") {
            features.push((name.as_str().expect("name").to_string(), kind));
        }
    }
    let side = |case: &Value, key: &str| {
        let rows: Vec<usize> = case[key]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| row_of[&v.as_i64().expect("id")])
            .collect();
        Profile::from_table(&table.take(&rows), &features).expect("profile")
    };
    for case in f["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let mut options = DriftOptions::default();
        for (column, expected) in case["columns"].as_object().expect("columns") {
            if expected["test"] == "PSI" {
                options.tests.insert(column.clone(), StatTest::Psi);
            }
        }
        let report = DriftReport::compare(
            &side(case, "reference_ids"),
            &side(case, "current_ids"),
            &options,
        )
        .expect("report");
        for column in &report.columns {
            let expected = &case["columns"][&column.column];
            let label = format!("{name} / {}", column.column);
            assert_eq!(
                column.outcome.test,
                evidently_test(expected["test"].as_str().expect("test")),
                "{label}"
            );
            close(
                &label,
                "score",
                column.outcome.score,
                expected["score"].as_f64().expect("score"),
            );
            close(
                &label,
                "threshold",
                column.outcome.threshold,
                expected["threshold"].as_f64().expect("t"),
            );
            assert_eq!(
                column.outcome.drifted,
                expected["drifted"].as_bool().expect("drifted"),
                "{label}"
            );
        }
        assert_eq!(
            report.drifted_columns as u64,
            case["drifted_columns"].as_u64().expect("n"),
            "{name}"
        );
        assert_eq!(
            report.dataset_drift,
            case["dataset_drift"].as_bool().expect("drift"),
            "{name}"
        );
    }
}

#[test]
fn cbpe_estimates_match_nannyml_within_a_hundredth() {
    use distillery_monitor::cbpe::{BinaryReference, Cbpe};
    let f = fixture("nannyml.json");
    let table = Table::read(&data("car_loan_sample.csv"), &ReadOptions::default()).expect("sample");
    let column = |name: &str| {
        let c = table.column(name).expect("column");
        (0..table.n_rows())
            .map(|r| c.number(r).expect("number"))
            .collect::<Vec<f64>>()
    };
    let period = table.column("period").expect("period");
    let (p, pred, truth) = (column("y_pred_proba"), column("y_pred"), column("repaid"));
    let split = |want: &str| {
        let rows: Vec<usize> = (0..table.n_rows())
            .filter(|&r| period.text(r) == Some(want))
            .collect();
        let pick = |v: &[f64]| rows.iter().map(|&r| v[r]).collect::<Vec<f64>>();
        let bits = |v: &[f64]| rows.iter().map(|&r| v[r] as u8).collect::<Vec<u8>>();
        (pick(&p), bits(&pred), bits(&truth))
    };
    let (rp, rpred, rtruth) = split("reference");
    let (ap, apred, atruth) = split("analysis");
    let chunk = f["chunk_size"].as_u64().expect("size") as usize;
    let cbpe = Cbpe::fit(
        &BinaryReference {
            probability: &rp,
            predicted: &rpred,
            truth: &rtruth,
        },
        chunk,
        42,
    )
    .expect("fit");
    assert_eq!(
        cbpe.calibrator.is_some(),
        f["needs_calibration"].as_bool().expect("flag")
    );
    let mut ours = cbpe.estimate(&rp, &rpred, Some(&rtruth));
    ours.extend(cbpe.estimate(&ap, &apred, Some(&atruth)));
    assert_matches_nannyml(
        &ours,
        &f["chunks"],
        (cbpe.accuracy_thresholds, cbpe.f1_thresholds),
        "F1",
    );
}

#[test]
fn multiclass_cbpe_matches_nannyml() {
    use distillery_monitor::cbpe_multiclass::{MulticlassCbpe, MulticlassReference};
    let f = fixture("nannyml_multiclass.json");
    let classes: Vec<String> = f["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| c.as_str().expect("class").to_string())
        .collect();
    let table =
        Table::read(&data("multiclass_sample.csv"), &ReadOptions::default()).expect("sample");
    let period = table.column("period").expect("period");
    let class_of = |column: &str, r: usize| {
        let text = table.column(column).expect("column").text(r).expect("text");
        classes.iter().position(|c| c == text).expect("known class")
    };
    let side = |want: &str| {
        let rows: Vec<usize> = (0..table.n_rows())
            .filter(|&r| period.text(r) == Some(want))
            .collect();
        let probabilities: Vec<Vec<f64>> = rows
            .iter()
            .map(|&r| {
                classes
                    .iter()
                    .map(|c| {
                        table
                            .column(&format!("y_pred_proba_{c}"))
                            .expect("proba")
                            .number(r)
                            .expect("number")
                    })
                    .collect()
            })
            .collect();
        let predicted: Vec<usize> = rows.iter().map(|&r| class_of("y_pred", r)).collect();
        let truth: Vec<usize> = rows.iter().map(|&r| class_of("y_true", r)).collect();
        (probabilities, predicted, truth)
    };
    let (rp, rpred, rtruth) = side("reference");
    let (ap, apred, atruth) = side("analysis");
    let chunk = f["chunk_size"].as_u64().expect("size") as usize;
    let cbpe = MulticlassCbpe::fit(
        &MulticlassReference {
            probabilities: &rp,
            predicted: &rpred,
            truth: &rtruth,
        },
        chunk,
        42,
    )
    .expect("fit");
    let mut ours = cbpe.estimate(&rp, &rpred, Some(&rtruth));
    ours.extend(cbpe.estimate(&ap, &apred, Some(&atruth)));
    assert_matches_nannyml(
        &ours,
        &f["chunks"],
        (cbpe.accuracy_thresholds, cbpe.f1_thresholds),
        "macro F1",
    );
}

/// Our chunks against NannyML's: estimates within 0.01 (the bar), realized values,
/// sampling errors and lower thresholds within 1e-12, and the same alerts.
fn assert_matches_nannyml(
    ours: &[distillery_monitor::cbpe::ChunkEstimate],
    theirs: &Value,
    (accuracy_thresholds, f1_thresholds): ((f64, f64), (f64, f64)),
    f1: &str,
) {
    let theirs = theirs.as_array().expect("chunks");
    assert_eq!(ours.len(), theirs.len());
    let within = |what: &str, a: f64, b: &Value, tol: f64| {
        let b = b.as_f64().expect(what);
        assert!((a - b).abs() <= tol, "{what}: ours {a}, NannyML {b}");
    };
    for (o, t) in ours.iter().zip(theirs) {
        within("estimated accuracy", o.accuracy, &t["accuracy_value"], 0.01);
        within(&format!("estimated {f1}"), o.f1, &t["f1_value"], 0.01);
        let (acc, realized_f1) = o.realized.expect("realized");
        within("realized accuracy", acc, &t["accuracy_realized"], 1e-12);
        within(
            &format!("realized {f1}"),
            realized_f1,
            &t["f1_realized"],
            1e-12,
        );
        within(
            "accuracy sampling error",
            o.accuracy_sampling_error,
            &t["accuracy_sampling_error"],
            1e-12,
        );
        within(
            "F1 sampling error",
            o.f1_sampling_error,
            &t["f1_sampling_error"],
            1e-12,
        );
        within(
            "accuracy threshold",
            accuracy_thresholds.0,
            &t["accuracy_lower_threshold"],
            1e-12,
        );
        within(
            "F1 threshold",
            f1_thresholds.0,
            &t["f1_lower_threshold"],
            1e-12,
        );
        let alert = t["accuracy_alert"].as_bool().expect("alert")
            || t["f1_alert"].as_bool().expect("alert");
        assert_eq!(o.alert, alert, "alert of chunk {}..{}", o.start, o.end);
    }
}

//! The Rényi-DP accountant against Opacus' `RDPAccountant` and `get_noise_multiplier`
//! (fixtures: `tools/make_privacy_fixtures.py`, tests/data/privacy/opacus_rdp.json).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use distillery_train::accountant::{self, SgmSteps};
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/privacy/opacus_rdp.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn epsilon_equals_opacus_on_the_grid() {
    let fx = fixtures();
    let cases = fx["epsilon"].as_array().unwrap();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let orders = accountant::default_orders();
    for c in cases {
        let spent = accountant::epsilon(
            &[SgmSteps {
                sample_rate: f(c, "sample_rate"),
                noise_multiplier: f(c, "noise_multiplier"),
                steps: c["steps"].as_u64().unwrap(),
            }],
            f(c, "delta"),
            &orders,
        )
        .unwrap();
        let want = f(c, "epsilon");
        assert!(
            (spent.epsilon - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{c}: ε {} vs Opacus {want}",
            spent.epsilon
        );
        assert_eq!(spent.order, f(c, "order"), "{c}: best order");
    }
}

#[test]
fn noise_multiplier_equals_opacus() {
    let fx = fixtures();
    for c in fx["noise_multiplier"].as_array().unwrap() {
        let (sigma, _) = accountant::noise_multiplier(
            f(c, "target_epsilon"),
            f(c, "delta"),
            f(c, "sample_rate"),
            c["steps"].as_u64().unwrap(),
            0.01,
        )
        .unwrap();
        let want = f(c, "noise_multiplier");
        assert!(
            (sigma - want).abs() <= 1e-6 * want,
            "{c}: σ {sigma} vs Opacus {want}"
        );
    }
}

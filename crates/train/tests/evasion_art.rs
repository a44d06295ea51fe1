//! FGSM and PGD (L∞ and L2, with a box and a mask) give the adversarial rows IBM's
//! Adversarial Robustness Toolbox gives on a PyTorch twin of the same weights
//! (`tests/data/evasion/art.json`, from `tools/make_evasion_fixtures.py`), to 1e-5.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test")]

use distillery_runtime::Dense;
use distillery_train::evasion::{Attack, Constraints, Norm, attack};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn fgsm_and_pgd_equal_art_to_1e_5() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/evasion/art.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let layers: Vec<Dense> = fixture["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| Dense {
            inputs: l["inputs"].as_u64().unwrap() as usize,
            outputs: l["outputs"].as_u64().unwrap() as usize,
            weight: floats(&l["weight"]).into(),
            bias: floats(&l["bias"]),
        })
        .collect();
    let x = floats(&fixture["x"]);
    let y: Vec<usize> = fixture["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let constraints = Constraints {
        lo: floats(&fixture["lo"]),
        hi: floats(&fixture["hi"]),
        movable: floats(&fixture["movable"]),
        frozen_by: Vec::new(),
        categorical: Vec::new(),
    };
    let mut moved = 0usize;
    for case in fixture["attacks"].as_array().unwrap() {
        let norm = match case["norm"].as_str().unwrap() {
            "inf" => Norm::Inf,
            _ => Norm::L2,
        };
        let eps = case["eps"].as_f64().unwrap() as f32;
        let eps_step = case["eps_step"].as_f64().unwrap() as f32;
        let steps = case["steps"].as_u64().unwrap() as usize;
        let a = if steps == 1 {
            Attack::fgsm(norm, eps)
        } else {
            Attack::pgd(norm, eps, eps_step, steps)
        };
        let ours = attack(&layers, &x, &y, &constraints, &a);
        let theirs = floats(&case["adversarial"]);
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-5,
            "{norm:?} ε = {eps}, step {eps_step}, {steps} steps: largest difference {worst}"
        );
        moved += ours.iter().zip(&x).filter(|(a, b)| a != b).count();
    }
    assert!(moved > 100, "the attacks moved rows ({moved} values)");
}

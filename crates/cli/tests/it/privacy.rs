//! Issue #16: `distillery privacy`, the DP-SGD accountant, against Opacus' numbers.

use crate::util::{json, repo, setup, stderr};

#[test]
fn privacy_epsilon_and_noise_print_opacus_numbers_and_refuse_bad_input() {
    let s = setup();
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/data/privacy/opacus_rdp.json")).unwrap(),
    )
    .unwrap();
    let case = fixture["epsilon"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sample_rate"] == 0.01 && c["noise_multiplier"] == 1.0 && c["steps"] == 3000)
        .unwrap()
        .clone();
    let arg = |k: &str| case[k].to_string();
    let out = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        &arg("sample_rate"),
        "--noise-multiplier",
        &arg("noise_multiplier"),
        "--steps",
        &arg("steps"),
        "--delta",
        &arg("delta"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let (got, want) = (
        r["epsilon"].as_f64().unwrap(),
        case["epsilon"].as_f64().unwrap(),
    );
    assert!((got - want).abs() < 1e-6 * want, "{got} vs Opacus {want}");
    assert_eq!(r["order"], case["order"]);

    let noise = &fixture["noise_multiplier"][0];
    let out = s.cmd(&[
        "privacy",
        "noise",
        "--epsilon",
        &noise["target_epsilon"].to_string(),
        "--sample-rate",
        &noise["sample_rate"].to_string(),
        "--steps",
        &noise["steps"].to_string(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sigma = json(&out)["noise_multiplier"].as_f64().unwrap();
    let want = noise["noise_multiplier"].as_f64().unwrap();
    assert!(
        (sigma - want).abs() < 1e-6 * want,
        "{sigma} vs Opacus {want}"
    );

    // Bad input: exit 2 with what was wrong.
    let bad = s.cmd(&[
        "privacy",
        "epsilon",
        "--sample-rate",
        "1.5",
        "--noise-multiplier",
        "1",
        "--steps",
        "10",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("not a probability"),
        "{}",
        stderr(&bad)
    );
    let impossible = s.cmd(&[
        "privacy",
        "noise",
        "--epsilon",
        "0.00001",
        "--sample-rate",
        "1",
        "--steps",
        "100000",
    ]);
    assert_eq!(impossible.status.code(), Some(2));
    assert!(
        stderr(&impossible).contains("raise ε or δ"),
        "{}",
        stderr(&impossible)
    );
}

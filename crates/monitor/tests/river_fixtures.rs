//! The streaming detectors against river 0.26.1 (`tools/make_stream_fixtures.py`): on the
//! same generated streams they must fire at exactly the same indices.

#![allow(
    clippy::expect_used,
    reason = "test helpers fail the test by panicking"
)]

use std::path::Path;

use distillery_monitor::stream::{Adwin, Ddm, Detector, Kswin, PageHinkley, Signal, detections};
use serde_json::Value;

fn uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// The value of the segment in force at index `i` (segments sorted by start).
fn segment(segments: &[Value], i: usize) -> &Vec<Value> {
    segments
        .iter()
        .rev()
        .map(|s| s.as_array().expect("segment"))
        .find(|s| s[0].as_u64().expect("start") as usize <= i)
        .expect("a segment starts at 0")
}

fn stream(case: &Value) -> Vec<f64> {
    let n = case["n"].as_u64().expect("n") as usize;
    let segments = case["segments"].as_array().expect("segments");
    let bits = case["kind"] == "bits";
    uniforms(case["seed"].as_u64().expect("seed"), n)
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            let s = segment(segments, i);
            if bits {
                f64::from(u8::from(u < s[1].as_f64().expect("p")))
            } else {
                u * s[1].as_f64().expect("scale") + s[2].as_f64().expect("shift")
            }
        })
        .collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("indices")
        .iter()
        .map(|i| i.as_u64().expect("index") as usize)
        .collect()
}

#[test]
fn detectors_fire_where_river_fires() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/drift/river.json");
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
    let mut checked = 0;
    for case in fixture["cases"].as_array().expect("cases") {
        let values = stream(case);
        let label = format!("{} stream, seed {}", case["kind"], case["seed"]);
        let mut run = |name: &str, detector: &mut dyn Detector| {
            assert_eq!(
                detections(detector, values.iter().copied()),
                indices(&case[name]),
                "{name} on the {label}"
            );
            checked += 1;
        };
        run("adwin", &mut Adwin::default());
        if case["kind"] == "real" {
            run("page_hinkley", &mut PageHinkley::default());
            run("kswin", &mut Kswin::new(42));
        } else {
            run("ddm", &mut Ddm::default());
            let mut ddm = Ddm::default();
            let warnings: Vec<usize> = values
                .iter()
                .enumerate()
                .filter_map(|(i, &x)| (ddm.update(x) == Signal::Warning).then_some(i))
                .collect();
            assert_eq!(
                warnings,
                indices(&case["ddm_warnings"]),
                "DDM warnings on the {label}"
            );
        }
    }
    assert_eq!(checked, 4 * 3 + 3 * 2);
}

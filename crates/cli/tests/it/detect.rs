//! Issue #8: `distillery detect`, streaming detectors over a data file or the prediction log.

use crate::util::{json, setup, stderr};

#[test]
fn detect_finds_a_shift_in_a_stream_and_refuses_what_it_cannot_watch() {
    let s = setup();
    // 3,000 uniform values (a 64-bit LCG), the mean moving up by 0.5 at row 1,500.
    let mut state: u64 = 9;
    let mut csv = String::from("t,x,err\n");
    for i in 0..3000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let x = u + if i >= 1500 { 0.5 } else { 0.0 };
        let err = u8::from(u < if i >= 1500 { 0.4 } else { 0.1 });
        csv.push_str(&format!("{i},{x},{err}\n"));
    }
    let data = s.write("stream.csv", &csv);
    let out = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "x",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["values"], 3000);
    let hits = |name: &str| -> Vec<u64> {
        r["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["detector"] == name)
            .unwrap()["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    let adwin = hits("adwin");
    assert_eq!(adwin.len(), 1, "{adwin:?}");
    assert!(
        (1500..1700).contains(&adwin[0]),
        "ADWIN fires soon after the shift: {adwin:?}"
    );
    assert!(
        hits("page-hinkley")
            .iter()
            .any(|&i| (1500..1800).contains(&i))
    );
    assert!(
        r["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["detector"] != "ddm"),
        "not a bit stream"
    );

    let scaled = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "x",
        "--standardize",
        "100",
        "--detector",
        "adwin",
        "--json",
    ]);
    assert_eq!(scaled.status.code(), Some(0), "{}", stderr(&scaled));
    let scaled_hits = json(&scaled)["detectors"][0]["detections"].clone();
    assert!(
        scaled_hits
            .as_array()
            .unwrap()
            .iter()
            .any(|i| (1500..1700).contains(&i.as_u64().unwrap())),
        "{scaled_hits}"
    );

    let errors = s.cmd(&[
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--column",
        "err",
        "--detector",
        "ddm",
        "--json",
    ]);
    let ddm: Vec<u64> = json(&errors)["detectors"][0]["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(
        ddm.iter().any(|&i| (1500..1700).contains(&i)),
        "DDM catches the error rate rising: {ddm:?}"
    );

    for (args, needle) in [
        (vec!["--column", "x", "--detector", "ddm"], "0 and 1"),
        (
            vec!["--column", "x", "--detector", "cusum"],
            "unknown detector `cusum`",
        ),
        (vec!["--column", "nope"], "nope"),
    ] {
        let mut full = vec!["detect", "--data", data.to_str().unwrap()];
        full.extend(args);
        let out = s.cmd(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}");
        assert!(stderr(&out).contains(needle), "{full:?}: {}", stderr(&out));
    }
}

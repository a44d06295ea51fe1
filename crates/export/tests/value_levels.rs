//! A student whose numeric feature also one-hot encodes exact values
//! (`[student] value_levels`) and bends at piecewise-linear bins (`numeric_bins`): the
//! exported graph and tract give the native runtime's probabilities, including for level
//! values, values below, inside and above the bins, and missing ones.

#![allow(clippy::unwrap_used, reason = "test")]

use distillery_runtime::{Dense, Encoder, FeatureEncoder, Provenance, RawValue, Student};
use tract_onnx::prelude::*;

fn student() -> Student {
    let encoder = Encoder::new(vec![
        FeatureEncoder::Numeric {
            name: "loss".into(),
            mean: 90.0,
            scale: 400.0,
            missing_indicator: true,
            levels: vec![0.0, 1602.0, 1902.0, 1977.0],
            bins: vec![0.0, 500.0, 1900.0, 2000.0],
        },
        FeatureEncoder::Categorical {
            name: "sex".into(),
            levels: vec!["Female".into(), "Male".into()],
            missing_indicator: false,
        },
    ]);
    let width = encoder.width();
    let weight = |n: usize, seed: f32| -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.77 + seed).sin()) * 0.9)
            .collect()
    };
    let layers = vec![
        Dense {
            inputs: width,
            outputs: 4,
            weight: weight(width * 4, 0.3).into(),
            bias: vec![0.1, -0.2, 0.05, 0.0],
        },
        Dense {
            inputs: 4,
            outputs: 2,
            weight: weight(8, 1.1).into(),
            bias: vec![0.0, 0.1],
        },
    ];
    Student::new(
        encoder,
        vec!["<=50K".into(), ">50K".into()],
        layers,
        vec![],
        Provenance::new(),
    )
    .unwrap()
}

#[test]
fn exported_value_levels_match_the_runtime_in_tract() {
    let s = student();
    let rows: Vec<(f32, &str)> = vec![
        (0.0, "Male"),
        (1902.0, "Female"),
        (1977.0, "Male"),
        (1900.0, "Female"),
        (f32::NAN, "Male"),
        (1602.0, "Other"),
        (-40.0, "Male"),
        (250.0, "Female"),
        (1950.5, "Male"),
        (8000.0, "Female"),
    ];
    let bytes = distillery_export::to_onnx(&s).unwrap();
    let n = rows.len();
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut bytes.as_slice())
        .unwrap();
    model.set_input_fact(0, f32::fact([n, 1]).into()).unwrap();
    model
        .set_input_fact(1, String::fact([n, 1]).into())
        .unwrap();
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let x: Tensor =
        tract_ndarray::Array2::from_shape_vec((n, 1), rows.iter().map(|r| r.0).collect())
            .unwrap()
            .into();
    let c: Tensor = tract_ndarray::Array2::from_shape_vec(
        (n, 1),
        rows.iter().map(|r| r.1.to_string()).collect(),
    )
    .unwrap()
    .into();
    let out = plan.run(tvec![x.into(), c.into()]).unwrap();
    let got: Vec<f32> = out[0]
        .to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect();
    for (i, (v, sex)) in rows.iter().enumerate() {
        let raw = [
            if v.is_nan() {
                RawValue::Missing
            } else {
                RawValue::Number(f64::from(*v))
            },
            RawValue::Text(sex),
        ];
        let native = s.predict_one(&raw).unwrap();
        for (a, b) in native.iter().zip(&got[i * 2..i * 2 + 2]) {
            assert!(
                (a - b).abs() < 1e-5,
                "row {i}: native {native:?} vs tract {:?}",
                &got[i * 2..i * 2 + 2]
            );
        }
    }
    // The level slots matter: 1902 (a level) and 1900 (not one) differ by more than the
    // small numeric step between them.
    let p = |v: f64| {
        s.predict_one(&[RawValue::Number(v), RawValue::Text("Male")])
            .unwrap()[1]
    };
    assert!((p(1902.0) - p(1900.0)).abs() > 1e-3);
}

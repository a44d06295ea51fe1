//! The feature encoder as ONNX operators, so an exported student takes raw inputs:
//! one input per feature, named after its column, shaped `[N, 1]`.
//!
//! - numeric feature → `float32`; `NaN` means missing. Graph: `Where(IsNaN(x), 0, (x − mean) · (1/scale))`,
//!   plus `Cast(IsNaN(x))` as the missing indicator when the student has one, plus
//!   `Cast(Equal(x, [v₁ … vₘ]))` when the feature also one-hot encodes exact values, plus
//!   `Clip((x − lower) · 1/width, 0, 1)` per interval of its piecewise-linear bins.
//! - categorical feature → `string`; the empty string means missing. Graph:
//!   `CategoryMapper` (ai.onnx.ml) from level to slot, unseen levels to the "unseen" slot,
//!   then a one-hot row through `Equal` against `[0, 1, …, width−1]`.
//! - text feature → `float32 [N, buckets]`, already hashed: ONNX has no operator for the
//!   FNV-1a n-gram hashing, so the caller computes it as `distillery_runtime::TextHashing`
//!   documents (or ships the runtime crate, which does it). The model card says so.

use distillery_runtime::{Encoder, FeatureEncoder};

use crate::builder::{Attr, FLOAT, Graph, STRING};

/// Adds the encoder's inputs and operators; returns the name of the `[N, width]` float tensor.
pub(crate) fn encode(g: &mut Graph, encoder: &Encoder) -> String {
    let mut parts = Vec::new();
    for feature in &encoder.features {
        match feature {
            FeatureEncoder::Numeric {
                name,
                mean,
                scale,
                missing_indicator,
                levels,
                bins,
            } => {
                g.input(name, FLOAT, 1);
                let nan = g.node("IsNaN", &[name], "", vec![]);
                let mean = g.floats("mean", &[], &[*mean as f32]);
                let inv = g.floats("inv_scale", &[], &[(1.0 / scale) as f32]);
                let centred = g.node("Sub", &[name, &mean], "", vec![]);
                let z = g.node("Mul", &[&centred, &inv], "", vec![]);
                let zero = g.floats("zero", &[], &[0.0]);
                parts.push(g.node("Where", &[&nan, &zero, &z], "", vec![]));
                if *missing_indicator {
                    parts.push(g.node(
                        "Cast",
                        &[&nan],
                        "",
                        vec![("to", Attr::Int(i64::from(FLOAT)))],
                    ));
                }
                if !levels.is_empty() {
                    // One-hot of exact values: NaN equals nothing, as in the runtime.
                    let values: Vec<f32> = levels.iter().map(|&v| v as f32).collect();
                    let table = g.floats("levels", &[1, values.len() as i64], &values);
                    let hot = g.node("Equal", &[name, &table], "", vec![]);
                    parts.push(g.node(
                        "Cast",
                        &[&hot],
                        "",
                        vec![("to", Attr::Int(i64::from(FLOAT)))],
                    ));
                }
                if bins.len() >= 2 {
                    parts.push(piecewise_linear(g, name, &nan, &zero, bins));
                }
            }
            FeatureEncoder::Text { name, .. } => {
                // The hashed n-gram slots, then the word-vector mean when there is one.
                g.input(name, FLOAT, feature.width() as i64);
                parts.push(name.clone());
            }
            FeatureEncoder::Categorical {
                name,
                levels,
                missing_indicator,
            } => {
                g.input(name, STRING, 1);
                let unseen = levels.len() as i64;
                let mut cats: Vec<String> = levels.clone();
                let mut codes: Vec<i64> = (0..unseen).collect();
                if *missing_indicator {
                    cats.push(String::new());
                    codes.push(unseen + 1);
                }
                let slot = g.node_in(
                    "CategoryMapper",
                    "ai.onnx.ml",
                    &[name],
                    "",
                    vec![
                        ("cats_strings", Attr::Strings(cats)),
                        ("cats_int64s", Attr::Ints(codes)),
                        ("default_int64", Attr::Int(unseen)),
                    ],
                );
                let width = feature.width() as i64;
                let range = g.ints("slots", &[1, width], &(0..width).collect::<Vec<_>>());
                let hot = g.node("Equal", &[&slot, &range], "", vec![]);
                parts.push(g.node(
                    "Cast",
                    &[&hot],
                    "",
                    vec![("to", Attr::Int(i64::from(FLOAT)))],
                ));
            }
        }
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    g.node("Concat", &refs, "", vec![("axis", Attr::Int(1))])
}

/// `Where(IsNaN(x), 0, Clip((x − e_{b−1}) · 1/(e_b − e_{b−1}), 0, 1))` for every interval
/// `b`: the runtime's piecewise-linear bins, `[N, B]`.
fn piecewise_linear(g: &mut Graph, x: &str, nan: &str, zero: &str, edges: &[f64]) -> String {
    let b = edges.len() as i64 - 1;
    let lower: Vec<f32> = edges[..edges.len() - 1].iter().map(|&e| e as f32).collect();
    let inv_width: Vec<f32> = edges
        .windows(2)
        .map(|w| (1.0 / (w[1] - w[0])) as f32)
        .collect();
    let lower = g.floats("bin_lower", &[1, b], &lower);
    let inv_width = g.floats("bin_inv_width", &[1, b], &inv_width);
    let one = g.floats("one", &[], &[1.0]);
    let shifted = g.node("Sub", &[x, &lower], "", vec![]);
    let scaled = g.node("Mul", &[&shifted, &inv_width], "", vec![]);
    let clipped = g.node("Clip", &[&scaled, zero, &one], "", vec![]);
    g.node("Where", &[nan, zero, &clipped], "", vec![])
}

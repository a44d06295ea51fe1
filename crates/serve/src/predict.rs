//! Reading an inference request's tensors into rows, predicting them, and writing the
//! protocol's answer (`probabilities` and `label`). Errors are messages for a 400 that name
//! the input and row.

use distillery_runtime::{RawValue, Scratch, Student};
use serde_json::{Value, json};

use crate::Served;

/// Flattens nested `data` arrays (row-major).
pub(crate) fn flatten<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// One cell of an input tensor as a raw value. Numbers are checked against their datatype
/// (integers whole and in range, booleans 0 or 1) and against the range the student
/// computes in (f32): a value beyond it would turn the answer into NaN.
fn cell<'v>(v: &'v Value, datatype: &str, input: &str, row: usize) -> Result<RawValue<'v>, String> {
    match (v, datatype) {
        (Value::Null, _) => Ok(RawValue::Missing),
        (Value::String(s), "BYTES") => Ok(RawValue::Text(s)),
        (Value::Number(n), _) if datatype != "BYTES" => {
            let x = n
                .as_f64()
                .ok_or_else(|| format!("input '{input}' row {row}: {n} is not a number"))?;
            check_number(x, datatype)
                .map_err(|why| format!("input '{input}' row {row}: {n} {why}"))?;
            Ok(RawValue::Number(x))
        }
        (Value::Bool(b), "BOOL") => Ok(RawValue::Number(f64::from(u8::from(*b)))),
        (other, _) => Err(format!(
            "input '{input}' row {row}: {other} does not match datatype {datatype}"
        )),
    }
}

/// Why `x` cannot be a value of `datatype`, if it cannot.
fn check_number(x: f64, datatype: &str) -> Result<(), String> {
    let int_range = match datatype {
        "BOOL" => Some((0.0, 1.0)),
        "UINT8" => Some((0.0, f64::from(u8::MAX))),
        "UINT16" => Some((0.0, f64::from(u16::MAX))),
        "UINT32" => Some((0.0, f64::from(u32::MAX))),
        "UINT64" => Some((0.0, u64::MAX as f64)),
        "INT8" => Some((f64::from(i8::MIN), f64::from(i8::MAX))),
        "INT16" => Some((f64::from(i16::MIN), f64::from(i16::MAX))),
        "INT32" => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
        "INT64" => Some((i64::MIN as f64, i64::MAX as f64)),
        _ => None,
    };
    if let Some((lo, hi)) = int_range {
        if x.fract() != 0.0 || x < lo || x > hi {
            return Err(format!("is not a {datatype} (whole numbers {lo} to {hi})"));
        }
        return Ok(());
    }
    let (limit, shown) = if datatype == "FP16" {
        (65504.0, "65504")
    } else {
        (f64::from(f32::MAX), "3.4e38")
    };
    if !x.is_finite() || x.abs() > limit {
        return Err(format!(
            "is out of range for {datatype} as the model computes (magnitude at most {shown})"
        ));
    }
    Ok(())
}

const NUMERIC: &[&str] = &[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
    "FP32", "FP64",
];

/// An inference request's rows, as raw values in the student's feature order.
pub(crate) struct Rows<'r> {
    /// Number of rows.
    pub n: usize,
    columns: Vec<Option<Vec<RawValue<'r>>>>,
}

impl<'r> Rows<'r> {
    /// Row `r` into `out` (cleared first).
    fn row(&self, r: usize, out: &mut Vec<RawValue<'r>>) {
        out.clear();
        out.extend(
            self.columns
                .iter()
                .map(|c| c.as_ref().map_or(RawValue::Missing, |c| c[r])),
        );
    }
}

/// Runs one inference request row by row; errors are messages for a 400.
pub(crate) fn run(served: &Served, request: &Value) -> Result<Value, String> {
    let rows = decode(&served.student, request)?;
    let probabilities = predict_each(&served.student, &rows)?;
    answer_with(served, request, &probabilities, rows.n)
}

/// Decodes an inference request body as `/v2/models/…/infer` does (JSON, or with
/// `header_length` the binary tensor extension) and answers it with `student`: the
/// probabilities, or the message of the 400 the server would send. It never panics, which
/// the `oip_request` fuzz target checks; tools can use it to validate a request offline.
///
/// # Errors
/// The message the server would put in its 400 answer.
pub fn decode_request(
    student: &Student,
    body: &[u8],
    header_length: Option<usize>,
) -> Result<Vec<f32>, String> {
    let request = crate::binary::parse_body(body, header_length)?;
    let rows = decode(student, &request)?;
    predict_each(student, &rows)
}

/// Reads the request's input tensors into rows; errors are messages for a 400.
pub(crate) fn decode<'r>(student: &Student, request: &'r Value) -> Result<Rows<'r>, String> {
    let features: Vec<&str> = student.encoder().names();
    let inputs = request["inputs"]
        .as_array()
        .ok_or("the request has no \"inputs\" array")?;
    // Rows of raw values, feature order.
    let mut columns: Vec<Option<Vec<RawValue<'_>>>> = vec![None; features.len()];
    let mut n: Option<usize> = None;
    let mut seen = std::collections::HashSet::new();
    let mut set_n = |len: usize, input: &str| -> Result<(), String> {
        match n {
            Some(m) if m != len => Err(format!(
                "input '{input}' has {len} rows but another input has {m}"
            )),
            _ => {
                n = Some(len);
                Ok(())
            }
        }
    };
    for input in inputs {
        let name = input["name"].as_str().ok_or("an input has no \"name\"")?;
        let datatype = input["datatype"]
            .as_str()
            .ok_or_else(|| format!("input '{name}' has no \"datatype\""))?;
        if datatype != "BYTES" && !NUMERIC.contains(&datatype) {
            return Err(format!(
                "input '{name}': datatype {datatype} is not a KServe v2 datatype"
            ));
        }
        if !seen.insert(name) {
            return Err(format!(
                "input '{name}' is given twice; send each input once"
            ));
        }
        let shape: Vec<usize> = input["shape"]
            .as_array()
            .ok_or_else(|| format!("input '{name}' has no \"shape\""))?
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| {
                        format!("input '{name}': shape entries must be non-negative integers")
                    })
            })
            .collect::<Result<_, _>>()?;
        if shape.is_empty() {
            return Err(format!(
                "input '{name}': shape [] is a scalar; give [n] or [n, 1] (one value per row)"
            ));
        }
        let expected = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("input '{name}': shape {shape:?} is too large"))?;
        let mut data = Vec::new();
        flatten(&input["data"], &mut data);
        if data.len() != expected {
            return Err(format!(
                "input '{name}': shape {shape:?} needs {expected} values, data has {}",
                data.len()
            ));
        }
        match features.iter().position(|f| *f == name) {
            Some(f) => {
                if shape.len() > 2 || (shape.len() == 2 && shape[1] != 1) {
                    return Err(format!(
                        "input '{name}': shape {shape:?} must be [n] or [n, 1]"
                    ));
                }
                set_n(shape[0], name)?;
                let values = data
                    .iter()
                    .enumerate()
                    .map(|(r, v)| cell(v, datatype, name, r))
                    .collect::<Result<Vec<_>, _>>()?;
                columns[f] = Some(values);
            }
            None if inputs.len() == 1
                && shape.len() == 2
                && shape[1] == features.len()
                && datatype != "BYTES" =>
            {
                // One [n, d] tensor, features in schema order.
                set_n(shape[0], name)?;
                for (f, column) in columns.iter_mut().enumerate() {
                    let values = (0..shape[0])
                        .map(|r| cell(data[r * features.len() + f], datatype, name, r))
                        .collect::<Result<Vec<_>, _>>()?;
                    *column = Some(values);
                }
            }
            None => {
                return Err(format!(
                    "unknown input '{name}'; the model takes one input per feature ({}) or one [n, {}] tensor in that order",
                    features.join(", "),
                    features.len()
                ));
            }
        }
    }
    let missing: Vec<&str> = features
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(f, _)| *f)
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing input(s): {}", missing.join(", ")));
    }
    Ok(Rows {
        n: n.unwrap_or(0),
        columns,
    })
}

/// Per row, whether it is off the training profile (see [`crate::sweep`]).
pub(crate) fn off_profile(student: &Student, rows: &Rows<'_>, z: f64) -> Vec<bool> {
    let mut row = Vec::with_capacity(rows.columns.len());
    (0..rows.n)
        .map(|r| {
            rows.row(r, &mut row);
            crate::sweep::off_profile(student, &row, z)
        })
        .collect()
}

/// Class probabilities (`n × classes`) row by row, through the fused sparse path.
pub(crate) fn predict_each(student: &Student, rows: &Rows<'_>) -> Result<Vec<f32>, String> {
    let k = student.classes().len();
    let mut probabilities = vec![0.0f32; rows.n * k];
    let mut scratch = Scratch::default();
    let mut row = Vec::with_capacity(rows.columns.len());
    for (r, out) in probabilities.chunks_exact_mut(k.max(1)).enumerate() {
        rows.row(r, &mut row);
        student
            .predict_one_into(&row, &mut scratch, out)
            .map_err(|e| format!("row {r}: {e}"))?;
    }
    Ok(probabilities)
}

/// The rows encoded for the student's first layer (`n × width`), for batched prediction.
pub(crate) fn encode(student: &Student, rows: &Rows<'_>) -> Result<Vec<f32>, String> {
    let width = student.encoder().width();
    let mut x = vec![0.0f32; rows.n * width];
    let mut row = Vec::with_capacity(rows.columns.len());
    for (r, out) in x.chunks_exact_mut(width.max(1)).enumerate() {
        rows.row(r, &mut row);
        student
            .encoder()
            .encode_into(&row, out)
            .map_err(|e| format!("row {r}: {e}"))?;
    }
    Ok(x)
}

/// The protocol's answer for `n` rows of class probabilities, with both outputs whatever
/// the request selected: the log, the monitor, feedback and canary comparison need them;
/// [`crate::binary::respond`] sends only the selected ones. An unknown output is refused.
pub(crate) fn answer_with(
    served: &Served,
    request: &Value,
    probabilities: &[f32],
    n: usize,
) -> Result<Value, String> {
    let classes = served.student.classes();
    let k = classes.len();
    if let Some(r) = probabilities
        .chunks_exact(k.max(1))
        .position(|p| p.iter().any(|x| !x.is_finite()))
    {
        return Err(format!(
            "row {r}: the model's answer is not a number; an input of this row is too far outside the range the model was trained on"
        ));
    }
    let labels: Vec<&String> = probabilities
        .chunks_exact(k.max(1))
        .map(|p| &classes[(0..k).fold(0, |b, j| if p[j] > p[b] { j } else { b })])
        .collect();
    let probabilities: Vec<f64> = probabilities.iter().map(|&p| f64::from(p)).collect();
    let outputs = vec![
        json!({ "name": "probabilities", "shape": [n, k], "datatype": "FP32", "data": probabilities }),
        json!({ "name": "label", "shape": [n], "datatype": "BYTES", "data": labels }),
    ];
    if let Some(wanted) = request["outputs"].as_array() {
        let names: Vec<&str> = wanted.iter().filter_map(|o| o["name"].as_str()).collect();
        if let Some(bad) = names
            .iter()
            .find(|n| !matches!(**n, "probabilities" | "label"))
        {
            return Err(format!(
                "unknown output '{bad}'; the model gives probabilities and label"
            ));
        }
    }
    let mut response = json!({
        "model_name": served.version.name,
        "model_version": served.version.version.to_string(),
        "outputs": outputs,
    });
    if let Some(id) = request.get("id") {
        response["id"] = id.clone();
    }
    Ok(response)
}

//! The binary tensor data extension (Triton's, adopted by KServe): a request may carry
//! tensor bytes after its JSON header, whose length the `Inference-Header-Content-Length`
//! header gives, and may ask for outputs as bytes. Triton's own client sends inputs this
//! way by default. Bytes are little-endian, row-major; a BYTES element is a 4-byte length
//! then the bytes.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The header that splits a binary request or response into JSON and tensor bytes.
pub(crate) const HEADER: &str = "inference-header-content-length";

/// The JSON header's length when the request uses the extension.
pub(crate) fn header_length(headers: &HeaderMap) -> Result<Option<usize>, String> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| format!("the {HEADER} header is not a byte count"))
}

/// The request in a body: JSON, or with `split` (the header's byte count) a JSON header
/// followed by binary tensor data, inlined so the rest of the server sees one shape.
pub(crate) fn parse_body(body: &[u8], split: Option<usize>) -> Result<Value, String> {
    let (head, tail) = match split {
        Some(n) => body.split_at_checked(n).ok_or_else(|| {
            format!(
                "the JSON header is said to be {n} bytes but the body has {}",
                body.len()
            )
        })?,
        None => (body, &[][..]),
    };
    let mut request: Value =
        serde_json::from_slice(head).map_err(|e| format!("the body is not JSON: {e}"))?;
    inline_inputs(&mut request, tail)?;
    Ok(request)
}

/// Replaces every input's `binary_data_size` bytes (taken in order from `tail`) with a
/// JSON `data` array, so the rest of the server sees one request shape.
pub(crate) fn inline_inputs(request: &mut Value, tail: &[u8]) -> Result<(), String> {
    let mut at = 0usize;
    let Some(inputs) = request.get_mut("inputs").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for input in inputs {
        let Some(size) = input["parameters"]["binary_data_size"].as_u64() else {
            continue;
        };
        let name = input["name"].as_str().unwrap_or("?").to_string();
        let size = usize::try_from(size)
            .map_err(|_| format!("input '{name}': binary_data_size is too large"))?;
        let bytes = tail.get(at..at.saturating_add(size)).ok_or_else(|| {
            format!("input '{name}': binary_data_size {size} runs past the end of the body")
        })?;
        at += size;
        let datatype = input["datatype"].as_str().unwrap_or("");
        input["data"] = Value::Array(decode(bytes, datatype, &name)?);
    }
    if at != tail.len() {
        return Err(format!(
            "the body has {} bytes after the JSON header but the inputs' binary_data_size add up to {at}",
            tail.len()
        ));
    }
    Ok(())
}

fn decode(bytes: &[u8], datatype: &str, name: &str) -> Result<Vec<Value>, String> {
    let fixed = |width: usize, f: &dyn Fn(&[u8]) -> Value| -> Result<Vec<Value>, String> {
        if !bytes.len().is_multiple_of(width) {
            return Err(format!(
                "input '{name}': {} bytes is not a whole number of {datatype} elements",
                bytes.len()
            ));
        }
        Ok(bytes.chunks_exact(width).map(f).collect())
    };
    let number = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    match datatype {
        "BOOL" => fixed(1, &|b| json!(b[0] != 0)),
        "UINT8" => fixed(1, &|b| json!(b[0])),
        "INT8" => fixed(1, &|b| json!(b[0] as i8)),
        "UINT16" => fixed(2, &|b| json!(u16::from_le_bytes([b[0], b[1]]))),
        "INT16" => fixed(2, &|b| json!(i16::from_le_bytes([b[0], b[1]]))),
        "UINT32" => fixed(4, &|b| json!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "INT32" => fixed(4, &|b| json!(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "UINT64" => fixed(8, &|b| {
            json!(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        }),
        "INT64" => fixed(8, &|b| {
            json!(i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        }),
        // A NaN cell is a missing value, as `null` is in JSON; an infinity is refused.
        "FP32" | "FP64" => {
            let read = |b: &[u8]| -> f64 {
                match b.try_into() {
                    Ok(four) => f64::from(f32::from_le_bytes(four)),
                    Err(_) => f64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
                }
            };
            let width = if datatype == "FP32" { 4 } else { 8 };
            let values = fixed(width, &|b| {
                let x = read(b);
                if x.is_infinite() {
                    json!("inf")
                } else {
                    number(x)
                }
            })?;
            if let Some(r) = values.iter().position(Value::is_string) {
                return Err(format!(
                    "input '{name}' element {r} is infinite; send a finite number, or NaN for a missing value"
                ));
            }
            Ok(values)
        }
        "BYTES" => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let (len, tail) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| format!("input '{name}': a BYTES element is cut short"))?;
                let len = u32::from_le_bytes(*len) as usize;
                let text = tail
                    .get(..len)
                    .ok_or_else(|| format!("input '{name}': a BYTES element is cut short"))?;
                let text = std::str::from_utf8(text).map_err(|_| {
                    format!("input '{name}': element {} is not UTF-8 text", out.len())
                })?;
                out.push(json!(text));
                rest = &tail[len..];
            }
            Ok(out)
        }
        other => Err(format!(
            "input '{name}': datatype {other} cannot be sent as binary data here"
        )),
    }
}

/// `answer` with only the outputs named in `wanted`.
fn select(answer: &Value, wanted: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for (key, value) in answer.as_object().into_iter().flatten() {
        let value = match (key.as_str(), value.as_array()) {
            ("outputs", Some(outputs)) => Value::Array(
                outputs
                    .iter()
                    .filter(|o| wanted.iter().any(|w| w["name"] == o["name"]))
                    .cloned()
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// The response, with the outputs the request asked for as bytes (`binary_data` on an
/// output, or `binary_data_output` on the request) moved after the JSON header.
pub(crate) fn respond(request: &Value, answer: &Value) -> Response {
    // Only the outputs the request named (both when it named none).
    let selected;
    let answer = match request["outputs"].as_array() {
        Some(wanted) => {
            selected = select(answer, wanted);
            &selected
        }
        None => answer,
    };
    let all = request["parameters"]["binary_data_output"].as_bool() == Some(true);
    let asked = request["outputs"].as_array().is_some_and(|outs| {
        outs.iter()
            .any(|o| o["parameters"]["binary_data"].as_bool() == Some(true))
    });
    if !all && !asked {
        return match serde_json::to_vec(answer) {
            Ok(body) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
    }
    let mut answer = answer.clone();
    let wanted = |name: &str| {
        all || request["outputs"].as_array().is_some_and(|outs| {
            outs.iter().any(|o| {
                o["name"] == name && o["parameters"]["binary_data"].as_bool() == Some(true)
            })
        })
    };
    let mut tail = Vec::new();
    if let Some(outputs) = answer.get_mut("outputs").and_then(Value::as_array_mut) {
        for output in outputs {
            let name = output["name"].as_str().unwrap_or("").to_string();
            if !wanted(&name) {
                continue;
            }
            let start = tail.len();
            let mut cells = Vec::new();
            crate::predict::flatten(&output["data"], &mut cells);
            for cell in cells {
                match cell {
                    Value::String(s) => {
                        tail.extend_from_slice(&(s.len() as u32).to_le_bytes());
                        tail.extend_from_slice(s.as_bytes());
                    }
                    v => tail
                        .extend_from_slice(&(v.as_f64().unwrap_or(f64::NAN) as f32).to_le_bytes()),
                }
            }
            if let Some(o) = output.as_object_mut() {
                o.remove("data");
                o.insert(
                    "parameters".into(),
                    json!({ "binary_data_size": tail.len() - start }),
                );
            }
        }
    }
    if tail.is_empty() {
        return axum::Json(answer).into_response();
    }
    let mut body = answer.to_string().into_bytes();
    let header = body.len();
    body.extend_from_slice(&tail);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(HEADER, HeaderValue::from(header));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_inputs_become_json_data_in_order() {
        let mut tail = Vec::new();
        for x in [1.5f32, f32::NAN] {
            tail.extend_from_slice(&x.to_le_bytes());
        }
        for s in ["Private", ""] {
            tail.extend_from_slice(&(s.len() as u32).to_le_bytes());
            tail.extend_from_slice(s.as_bytes());
        }
        let mut request = json!({"inputs": [
            {"name": "age", "datatype": "FP32", "shape": [2, 1], "parameters": {"binary_data_size": 8}},
            {"name": "workclass", "datatype": "BYTES", "shape": [2, 1], "parameters": {"binary_data_size": 15}},
        ]});
        inline_inputs(&mut request, &tail).unwrap();
        assert_eq!(request["inputs"][0]["data"], json!([1.5, null]));
        assert_eq!(request["inputs"][1]["data"], json!(["Private", ""]));
    }

    #[test]
    fn sizes_that_do_not_add_up_are_refused() {
        let mut request = json!({"inputs": [
            {"name": "age", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 8}},
        ]});
        let e = inline_inputs(&mut request, &[0; 4]).unwrap_err();
        assert!(e.contains("runs past the end"), "{e}");
        let e = inline_inputs(&mut request, &[0; 12]).unwrap_err();
        assert!(e.contains("add up to 8"), "{e}");
        let mut request = json!({"inputs": [
            {"name": "age", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 3}},
        ]});
        let e = inline_inputs(&mut request, &[0; 3]).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
    }

    #[test]
    fn requested_outputs_come_back_as_bytes_after_the_header() {
        let request = json!({"outputs": [
            {"name": "probabilities"},
            {"name": "label", "parameters": {"binary_data": true}},
        ]});
        let answer = json!({"outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]},
            {"name": "label", "datatype": "BYTES", "shape": [1], "data": [">50K"]},
        ]});
        let r = respond(&request, &answer);
        let header: usize = r.headers()[HEADER].to_str().unwrap().parse().unwrap();
        let body = futures_body(r);
        let json: Value = serde_json::from_slice(&body[..header]).unwrap();
        assert_eq!(
            json["outputs"][0]["data"],
            json!([0.25, 0.75]),
            "not asked for: JSON"
        );
        assert_eq!(json["outputs"][1]["parameters"]["binary_data_size"], 8);
        assert_eq!(&body[header..], b"\x04\0\0\0>50K");

        // An output not named is not sent.
        let request = json!({"outputs": [{"name": "label", "parameters": {"binary_data": true}}]});
        let r = respond(&request, &answer);
        let header: usize = r.headers()[HEADER].to_str().unwrap().parse().unwrap();
        let json: Value = serde_json::from_slice(&futures_body(r)[..header]).unwrap();
        assert_eq!(json["outputs"].as_array().unwrap().len(), 1, "{json}");
        assert_eq!(json["outputs"][0]["name"], "label");
    }

    fn futures_body(r: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec()
        })
    }
}

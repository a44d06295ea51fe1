//! A teacher behind an Open Inference Protocol (KServe v2) endpoint, e.g. the big model
//! already served by Triton or MLServer: rows go out as one named tensor per feature.

use std::time::Duration;

use distillery_data::{Column, Kind, Table};
use serde_json::{Value, json};

use crate::error::{Result, TeacherError};
use crate::rows::Teacher;

/// Longest a remote teacher may take to answer one request: a hung teacher costs the
/// caller one failed call (live monitoring: one window's fidelity), not a thread forever.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// A model at `http://host/v2/models/<name>`, asked with `POST …/infer`.
pub struct RemoteTeacher {
    url: String,
    features: Vec<(String, Kind)>,
    classes: Vec<String>,
    agent: ureq::Agent,
}

impl RemoteTeacher {
    /// A teacher at `url` (no trailing `/infer`) that takes `features` as named `[n, 1]`
    /// tensors (numbers as FP64, categories as BYTES) and answers `classes` probabilities
    /// in that order (output `probabilities`, else its first output).
    pub fn new(url: &str, features: Vec<(String, Kind)>, classes: &[String]) -> RemoteTeacher {
        RemoteTeacher {
            url: url.trim_end_matches('/').to_string(),
            features,
            classes: classes.to_vec(),
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(REMOTE_TIMEOUT))
                .build()
                .into(),
        }
    }

    fn error(&self, message: impl ToString) -> TeacherError {
        TeacherError::Remote {
            url: self.url.clone(),
            message: message.to_string(),
        }
    }

    /// The request body: one tensor per feature.
    fn request(&self, table: &Table, rows: &[usize]) -> Result<Value> {
        let n = rows.len();
        let mut inputs = Vec::with_capacity(self.features.len());
        for (name, kind) in &self.features {
            let c = table
                .column(name)
                .map_err(|e| TeacherError::Feed(e.to_string()))?;
            let cells: Vec<Value> = rows
                .iter()
                .map(|&r| match (kind, c) {
                    (Kind::Numeric, _) => c.number(r).map_or(Value::Null, |x| json!(x)),
                    (_, Column::Text { .. }) => c.text(r).map_or(Value::Null, |t| json!(t)),
                    (_, Column::Numeric(_)) => c
                        .number(r)
                        .map_or(Value::Null, |x| json!(distillery_data::format_number(x))),
                })
                .collect();
            let datatype = if *kind == Kind::Numeric {
                "FP64"
            } else {
                "BYTES"
            };
            inputs
                .push(json!({"name": name, "datatype": datatype, "shape": [n, 1], "data": cells}));
        }
        Ok(json!({ "inputs": inputs }))
    }
}

impl Teacher for RemoteTeacher {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let (n, k) = (rows.len(), self.classes.len());
        let answer: Value = self
            .agent
            .post(&format!("{}/infer", self.url))
            .send_json(self.request(table, rows)?)
            .map_err(|e| self.error(e))?
            .body_mut()
            .read_json()
            .map_err(|e| self.error(e))?;
        let out = answer["outputs"]
            .as_array()
            .and_then(|o| {
                o.iter()
                    .find(|t| t["name"] == "probabilities")
                    .or_else(|| o.first())
            })
            .ok_or_else(|| self.error("answered no outputs"))?;
        let mut flat = Vec::with_capacity(n * k);
        flatten(&out["data"], &mut flat);
        if flat.len() != n * k {
            return Err(self.error(format!(
                "answered {} values for {n} rows of {k} classes",
                flat.len()
            )));
        }
        Ok(flat)
    }

    fn describe(&self) -> String {
        format!("Open Inference Protocol teacher at {}", self.url)
    }
}

/// The numbers of a (nested) JSON array, in order; anything else becomes NaN.
fn flatten(v: &Value, out: &mut Vec<f32>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.as_f64().map_or(f32::NAN, |x| x as f32)),
    }
}

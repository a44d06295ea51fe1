//! The teacher as live monitoring consults it: an ONNX model run in-process, or a remote
//! Open Inference Protocol endpoint, answering in the student's class order.

use std::path::PathBuf;

use distillery_data::{Column, ColumnSchema, Kind, Schema, Table};
use distillery_monitor::Profile;
use distillery_monitor::live::TeacherOracle;
use distillery_teacher::{OnnxOptions, OnnxTeacher, Teacher};
use serde_json::{Value, json};

use distillery_pipeline::feed::TeacherFeed;
use distillery_pipeline::teacher::{class_order, reorder};

/// Where live rows get their teacher's answer.
#[derive(Debug, Clone)]
pub(crate) enum TeacherSource {
    /// An ONNX model run in-process (tract or our tree evaluator).
    Onnx(PathBuf),
    /// A remote Open Inference Protocol model (`http://host/v2/models/teacher`).
    Url(String),
}

/// Builds the oracle for one model from its reference profile (features and classes).
pub(crate) fn oracle(
    source: &TeacherSource,
    profile: &Profile,
) -> Result<Box<dyn TeacherOracle>, String> {
    let classes = profile
        .prediction
        .as_ref()
        .map(|p| p.classes.clone())
        .ok_or("the profile has no prediction classes")?;
    let features = profile.features();
    Ok(match source {
        TeacherSource::Onnx(path) => {
            let teacher = OnnxTeacher::load(path, &OnnxOptions::default())
                .map_err(|e| format!("loading teacher {}: {e}", path.display()))?;
            let order = class_order(&teacher, &classes, path).map_err(|e| e.to_string())?;
            let schema = Schema {
                columns: features
                    .iter()
                    .map(|(name, kind)| ColumnSchema {
                        name: name.clone(),
                        kind: *kind,
                        reason: "from the reference profile".into(),
                    })
                    .collect(),
            };
            Box::new(OnnxOracle {
                teacher,
                path: path.clone(),
                schema,
                feed: None,
                order,
                k: classes.len(),
            })
        }
        TeacherSource::Url(url) => Box::new(RemoteOracle {
            url: url.clone(),
            features,
            k: classes.len(),
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(TEACHER_TIMEOUT))
                .build()
                .into(),
        }),
    })
}

struct OnnxOracle {
    teacher: OnnxTeacher,
    path: PathBuf,
    schema: Schema,
    feed: Option<TeacherFeed>,
    order: Vec<usize>,
    k: usize,
}

impl TeacherOracle for OnnxOracle {
    fn probabilities(&mut self, table: &Table) -> Result<Vec<Vec<f64>>, String> {
        if self.feed.is_none() {
            let feed = TeacherFeed::new(&self.teacher, None, &self.schema, table)
                .map_err(|e| format!("feeding teacher {}: {e}", self.path.display()))?;
            self.feed = Some(feed);
        }
        let feed = self.feed.as_ref().ok_or("no feed")?;
        let rows: Vec<usize> = (0..table.n_rows()).collect();
        let x = feed.build(table, &rows).map_err(|e| e.to_string())?;
        let p = self
            .teacher
            .predict_proba(&x, rows.len())
            .map_err(|e| e.to_string())?;
        let p = reorder(&p, &self.order, self.k);
        Ok(p.chunks_exact(self.k.max(1))
            .map(|r| r.iter().map(|&v| f64::from(v)).collect())
            .collect())
    }
}

/// Longest a remote teacher may take to answer one window's rows: a hung teacher costs
/// that window its fidelity (an error in its summary), not the monitor thread forever.
const TEACHER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct RemoteOracle {
    url: String,
    features: Vec<(String, Kind)>,
    k: usize,
    agent: ureq::Agent,
}

impl TeacherOracle for RemoteOracle {
    fn probabilities(&mut self, table: &Table) -> Result<Vec<Vec<f64>>, String> {
        let n = table.n_rows();
        let mut inputs = Vec::with_capacity(self.features.len());
        for (name, kind) in &self.features {
            let c = table.column(name).map_err(|e| e.to_string())?;
            let cells: Vec<Value> = (0..n)
                .map(|r| match (kind, c) {
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
        let answer: Value = self
            .agent
            .post(&format!("{}/infer", self.url))
            .send_json(json!({ "inputs": inputs }))
            .map_err(|e| format!("teacher at {}: {e}", self.url))?
            .body_mut()
            .read_json()
            .map_err(|e| format!("teacher at {}: {e}", self.url))?;
        let out = answer["outputs"]
            .as_array()
            .and_then(|o| {
                o.iter()
                    .find(|t| t["name"] == "probabilities")
                    .or_else(|| o.first())
            })
            .ok_or_else(|| format!("teacher at {} answered no outputs", self.url))?;
        let mut flat = Vec::with_capacity(n * self.k);
        flatten(&out["data"], &mut flat);
        if flat.len() != n * self.k {
            return Err(format!(
                "teacher at {} answered {} values for {n} rows of {} classes",
                self.url,
                flat.len(),
                self.k
            ));
        }
        Ok(flat.chunks_exact(self.k).map(<[f64]>::to_vec).collect())
    }
}

fn flatten(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.as_f64().unwrap_or(f64::NAN)),
    }
}

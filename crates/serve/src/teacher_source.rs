//! The teacher live monitoring and `redistill` consult, built from a model's reference
//! profile (its features and classes): an ONNX model run in-process, a transformer over the
//! model's text column (ONNX graph + `tokenizer.json`), or a remote Open Inference
//! Protocol endpoint. All are `distillery_teacher::Teacher`s.

use std::path::PathBuf;

use distillery_data::{ColumnSchema, Kind, Schema};
use distillery_monitor::Profile;
use distillery_teacher::{
    OnnxModel, OnnxOptions, OnnxTeacher, RemoteTeacher, Teacher, TextTeacher,
};

/// Where live rows get their teacher's answer.
#[derive(Debug, Clone)]
pub enum TeacherSource {
    /// An ONNX model run in-process (tract or our tree evaluator).
    Onnx(PathBuf),
    /// A remote Open Inference Protocol model (`http://host/v2/models/teacher`).
    Url(String),
    /// A transformer over the text column: its ONNX graph and `tokenizer.json`
    /// (`tools/text_teacher.py` builds both).
    Text {
        /// The graph (encoder, pooling, head).
        onnx: PathBuf,
        /// The tokenizer.
        tokenizer: PathBuf,
    },
}

/// The teacher for one model, answering in the classes of its reference profile.
///
/// # Errors
/// The profile has no classes, or the ONNX file cannot be loaded or fed.
pub fn teacher_for(source: &TeacherSource, profile: &Profile) -> Result<Box<dyn Teacher>, String> {
    let classes = profile
        .prediction
        .as_ref()
        .map(|p| p.classes.clone())
        .ok_or("the profile has no prediction classes")?;
    let features = profile.features();
    Ok(match source {
        TeacherSource::Onnx(path) => {
            let model = OnnxModel::load(path, &OnnxOptions::default())
                .map_err(|e| format!("loading teacher {}: {e}", path.display()))?;
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
            let teacher = OnnxTeacher::new(model, &classes, None, &schema, None)
                .map_err(|e| format!("feeding teacher {}: {e}", path.display()))?;
            Box::new(teacher)
        }
        TeacherSource::Url(url) => Box::new(RemoteTeacher::new(url, features, &classes)),
        TeacherSource::Text { onnx, tokenizer } => {
            let text: Vec<&str> = features
                .iter()
                .filter(|(_, k)| *k == Kind::Text)
                .map(|(n, _)| n.as_str())
                .collect();
            let [column] = text[..] else {
                return Err(format!(
                    "a transformer teacher reads one text column; this model has {}",
                    if text.is_empty() {
                        "none".to_string()
                    } else {
                        text.join(", ")
                    }
                ));
            };
            let teacher = TextTeacher::load(onnx, tokenizer, column, &classes)
                .map_err(|e| format!("loading teacher {}: {e}", onnx.display()))?;
            Box::new(teacher)
        }
    })
}

//! The teacher live monitoring and `redistill` consult, built from a model's reference
//! profile (its features and classes): an ONNX model run in-process, or a remote Open
//! Inference Protocol endpoint. Both are `distillery_teacher::Teacher`s.

use std::path::PathBuf;

use distillery_data::{ColumnSchema, Schema};
use distillery_monitor::Profile;
use distillery_teacher::{OnnxModel, OnnxOptions, OnnxTeacher, RemoteTeacher, Teacher};

/// Where live rows get their teacher's answer.
#[derive(Debug, Clone)]
pub enum TeacherSource {
    /// An ONNX model run in-process (tract or our tree evaluator).
    Onnx(PathBuf),
    /// A remote Open Inference Protocol model (`http://host/v2/models/teacher`).
    Url(String),
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
    })
}

//! Students on disk: one safetensors file whose tensors are the layer weights and whose
//! header metadata (key `distillery`) carries the encoder, classes, missing tokens and
//! provenance. Writes go to a temporary file that is synced and renamed, so a crash never
//! leaves a half-written student behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::encoder::Encoder;
use crate::error::{Result, RuntimeError};
use crate::student::{Dense, Header, Student};

/// Identifies the artifact layout; bump when the header changes incompatibly.
pub const FORMAT: &str = "distillery-student/1";
const METADATA_KEY: &str = "distillery";

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Student {
    /// Serialises the student to safetensors bytes (deterministic for equal students).
    ///
    /// # Errors
    /// Only if serialisation itself fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Header {
            format: FORMAT.to_string(),
            encoder: self.encoder.clone(),
            classes: self.classes.clone(),
            layers: self.layers.iter().map(|l| [l.inputs, l.outputs]).collect(),
            activation: "relu".into(),
            missing: self.missing.clone(),
            provenance: self.provenance.clone(),
        };
        let json =
            serde_json::to_string(&header).map_err(|e| RuntimeError::Format(e.to_string()))?;
        let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .layers
            .iter()
            .enumerate()
            .flat_map(|(k, l)| {
                [
                    (
                        format!("layers.{k}.weight"),
                        vec![l.inputs, l.outputs],
                        f32_bytes(&l.weight),
                    ),
                    (
                        format!("layers.{k}.bias"),
                        vec![l.outputs],
                        f32_bytes(&l.bias),
                    ),
                ]
            })
            .collect();
        let mut views = Vec::with_capacity(buffers.len());
        for (name, shape, bytes) in &buffers {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map_err(|e| RuntimeError::Format(e.to_string()))?;
            views.push((name.clone(), view));
        }
        let metadata = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| RuntimeError::Format(e.to_string()))
    }

    /// Parses a student from safetensors bytes.
    ///
    /// # Errors
    /// Not safetensors, no distillery header, wrong tensor types or inconsistent shapes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Student> {
        let bad = |e: String| RuntimeError::Format(e);
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| bad("the safetensors header has no 'distillery' metadata".into()))?;
        let mut header: Header = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if header.format != FORMAT {
            return Err(bad(format!(
                "format '{}', expected '{FORMAT}'",
                header.format
            )));
        }
        header.encoder.index();
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let read = |name: &str, len: usize| -> Result<Vec<f32>> {
            let t = tensors
                .tensor(name)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            if t.dtype() != Dtype::F32 || t.data().len() != len * 4 {
                return Err(bad(format!("{name} is not {len} f32 values")));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let mut layers = Vec::with_capacity(header.layers.len());
        for (k, &[inputs, outputs]) in header.layers.iter().enumerate() {
            layers.push(Dense {
                inputs,
                outputs,
                weight: read(&format!("layers.{k}.weight"), inputs * outputs)?,
                bias: read(&format!("layers.{k}.bias"), outputs)?,
            });
        }
        let encoder: Encoder = header.encoder;
        Student::new(
            encoder,
            header.classes,
            layers,
            header.missing,
            header.provenance,
        )
    }

    /// Loads a student from a `.safetensors` file.
    ///
    /// # Errors
    /// Unreadable file or any [`Student::from_bytes`] error.
    pub fn load(path: &Path) -> Result<Student> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Student::from_bytes(&bytes)
    }

    /// Writes the student atomically (temp file, fsync, rename).
    ///
    /// # Errors
    /// Any I/O failure; the destination is then left untouched.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same directory and a
/// rename, so readers see either the old file or the complete new one.
///
/// # Errors
/// Any I/O failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| RuntimeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use crate::Student;
    use crate::encoder::RawValue;
    use crate::student::tests::tiny;

    #[test]
    fn student_round_trips_through_safetensors_bit_for_bit() {
        let s = tiny();
        let bytes = s.to_bytes().unwrap();
        assert_eq!(
            bytes,
            s.to_bytes().unwrap(),
            "serialisation is deterministic"
        );
        let back = Student::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        let row = [RawValue::Number(0.3), RawValue::Text("zzz")];
        assert_eq!(
            back.predict_one(&row).unwrap(),
            s.predict_one(&row).unwrap()
        );
    }

    #[test]
    fn save_is_atomic_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.safetensors");
        tiny().save(&p).unwrap();
        assert_eq!(Student::load(&p).unwrap(), tiny());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn garbage_is_a_format_error() {
        assert!(Student::from_bytes(b"not a model").is_err());
    }
}

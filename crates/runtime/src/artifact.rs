//! Students on disk: one safetensors file whose tensors are the layer weights and whose
//! header metadata (key `distillery`) carries the encoder, classes, missing tokens and
//! provenance.
//!
//! The format (8-byte little-endian header length, a JSON header, then the raw tensor
//! bytes) is written and read here directly rather than through the `safetensors` crate:
//! it is a page of code, it works without `std`, and tensors are laid out in name order so
//! equal students give equal bytes. The tests check compatibility with the `safetensors`
//! crate. With `std`, writes go to a temporary file that is synced and renamed, so a crash
//! never leaves a half-written student behind.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Value, json};

use crate::encoder::Encoder;
use crate::error::{Result, RuntimeError};
use crate::student::{Dense, Header, Student};

/// Identifies the artifact layout; bump when the header changes incompatibly.
pub const FORMAT: &str = "distillery-student/1";
/// Where files written before the header was compressed keep their header JSON: a string in
/// the safetensors metadata (where JSON-in-JSON escaping made it larger still). Still read.
const METADATA_KEY: &str = "distillery";
/// The tensor holding the header JSON, deflated: the encoder's category levels dominate a
/// small student's file, and text compresses 3–4×.
pub(crate) const HEADER_TENSOR: &str = "distillery.header";
/// Metadata naming the container, so a reader knows where the header is.
const CONTAINER_KEY: &str = "distillery.container";
const CONTAINER: &str = "deflated-header/1";
/// Largest inflated header accepted (guards against a decompression bomb).
const MAX_HEADER: usize = 64 << 20;

/// Writes `tensors` plus the header JSON (deflated, as a `U8` tensor).
pub(crate) fn write_with_header(
    json: &str,
    mut tensors: Vec<(String, &str, Vec<usize>, Vec<u8>)>,
) -> Result<Vec<u8>> {
    let packed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 9);
    tensors.push((
        HEADER_TENSOR.into(),
        "U8",
        alloc::vec![packed.len()],
        packed,
    ));
    let metadata = BTreeMap::from([(CONTAINER_KEY.to_string(), CONTAINER.to_string())]);
    write_safetensors(&tensors, &metadata)
}

/// Writes named f32 / i8 tensors and string metadata in the safetensors layout.
pub(crate) fn write_safetensors(
    tensors: &[(String, &str, Vec<usize>, Vec<u8>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by(|&a, &b| tensors[a].0.cmp(&tensors[b].0));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut offset = 0usize;
    for &i in &order {
        let (name, dtype, shape, bytes) = &tensors[i];
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.len()]}),
        );
        offset += bytes.len();
    }
    let mut json = serde_json::to_vec(&Value::Object(header))
        .map_err(|e| RuntimeError::Format(e.to_string()))?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for &i in &order {
        out.extend_from_slice(&tensors[i].3);
    }
    Ok(out)
}

/// A parsed safetensors file: its metadata and a way to fetch tensors by name.
pub(crate) struct SafeTensorsView<'a> {
    header: serde_json::Map<String, Value>,
    data: &'a [u8],
}

impl<'a> SafeTensorsView<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self> {
        let bad = |m: &str| RuntimeError::Format(m.to_string());
        let len = bytes
            .get(..8)
            .ok_or_else(|| bad("shorter than a safetensors header"))?;
        let len = u64::from_le_bytes([
            len[0], len[1], len[2], len[3], len[4], len[5], len[6], len[7],
        ]) as usize;
        let json = bytes
            .get(8..8usize.saturating_add(len))
            .ok_or_else(|| bad("the safetensors header runs past the end of the file"))?;
        let header: Value = serde_json::from_slice(json)
            .map_err(|e| RuntimeError::Format(format!("bad safetensors header: {e}")))?;
        let Value::Object(header) = header else {
            return Err(bad("the safetensors header is not a JSON object"));
        };
        Ok(SafeTensorsView {
            header,
            data: &bytes[8 + len..],
        })
    }

    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        self.header.get("__metadata__")?.get(key)?.as_str()
    }

    /// The distillery header JSON: inflated from its tensor, or (older files) read from the
    /// metadata.
    pub(crate) fn header_json(&self) -> Result<String> {
        if let Some(json) = self.metadata(METADATA_KEY) {
            return Ok(json.into());
        }
        let t = self.header.get(HEADER_TENSOR).ok_or_else(|| {
            RuntimeError::Format(
                "no distillery header (neither a 'distillery.header' tensor nor 'distillery' metadata): not a distillery student".into(),
            )
        })?;
        let shape = usizes(t, "shape");
        let [len] = shape.as_slice() else {
            return Err(RuntimeError::Format(
                "the distillery header tensor is not one-dimensional".into(),
            ));
        };
        let packed = self.tensor(HEADER_TENSOR, "U8", &[*len])?;
        let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(packed, MAX_HEADER)
            .map_err(|_| RuntimeError::Format("the distillery header does not inflate".into()))?;
        String::from_utf8(raw)
            .map_err(|_| RuntimeError::Format("the distillery header is not UTF-8".into()))
    }

    /// The raw bytes of tensor `name`, checked to be `dtype` with `shape`.
    pub(crate) fn tensor(&self, name: &str, dtype: &str, shape: &[usize]) -> Result<&'a [u8]> {
        let bad = |m: String| RuntimeError::Format(format!("tensor {name}: {m}"));
        let t = self.header.get(name).ok_or_else(|| bad("missing".into()))?;
        if t.get("dtype").and_then(Value::as_str) != Some(dtype) {
            return Err(bad(format!("expected dtype {dtype}")));
        }
        let found = usizes(t, "shape");
        if found != shape {
            return Err(bad(format!("shape {found:?}, expected {shape:?}")));
        }
        let width: usize = match dtype {
            "I8" | "U8" => 1,
            "F16" | "BF16" | "I16" => 2,
            "F32" | "I32" => 4,
            _ => 8,
        };
        // The bytes must be exactly what the shape says: a tensor that is shorter would
        // load and then make the kernels read past it (found by `fuzz/`).
        let bytes = shape
            .iter()
            .try_fold(width, |n, &d| n.checked_mul(d))
            .ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
        let offsets = usizes(t, "data_offsets");
        match offsets.as_slice() {
            [a, b] if a <= b && b - a == bytes => self
                .data
                .get(*a..*b)
                .ok_or_else(|| bad("data out of bounds".into())),
            [a, b] if a <= b => Err(bad(format!(
                "{} bytes for shape {shape:?}, which needs {bytes}",
                b - a
            ))),
            _ => Err(bad("bad data_offsets".into())),
        }
    }
}

/// A header field holding a list of non-negative integers (empty when absent or malformed).
fn usizes(t: &Value, key: &str) -> Vec<usize> {
    t.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|v| v as usize)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Student {
    /// Serialises the student to safetensors bytes (deterministic for equal students).
    ///
    /// # Errors
    /// Only if JSON serialisation itself fails.
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
        let mut tensors = Vec::with_capacity(2 * self.layers.len());
        for (k, l) in self.layers.iter().enumerate() {
            tensors.push((
                format!("layers.{k}.weight"),
                "F32",
                alloc::vec![l.inputs, l.outputs],
                f32_bytes(&l.weight),
            ));
            tensors.push((
                format!("layers.{k}.bias"),
                "F32",
                alloc::vec![l.outputs],
                f32_bytes(&l.bias),
            ));
        }
        write_with_header(&json, tensors)
    }

    /// Parses a student from safetensors bytes.
    ///
    /// # Errors
    /// Not safetensors, no distillery header, wrong tensor types or inconsistent shapes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Student> {
        let view = SafeTensorsView::parse(bytes)?;
        let json = view.header_json()?;
        let mut header: Header =
            serde_json::from_str(&json).map_err(|e| RuntimeError::Format(e.to_string()))?;
        if header.format != FORMAT {
            return Err(RuntimeError::Format(format!(
                "format '{}', expected '{FORMAT}'",
                header.format
            )));
        }
        header.encoder.index();
        let mut layers = Vec::with_capacity(header.layers.len());
        for (k, &[inputs, outputs]) in header.layers.iter().enumerate() {
            layers.push(Dense {
                inputs,
                outputs,
                weight: f32s(view.tensor(
                    &format!("layers.{k}.weight"),
                    "F32",
                    &[inputs, outputs],
                )?)
                .into(),
                bias: f32s(view.tensor(&format!("layers.{k}.bias"), "F32", &[outputs])?),
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
}

#[cfg(feature = "std")]
mod file {
    use std::io::Write;
    use std::path::Path;

    use crate::error::{Result, RuntimeError};
    use crate::student::Student;

    impl Student {
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
        // Unique per process and per call: two writers of one path never share a temp file.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{call}", std::process::id()));
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
}

#[cfg(feature = "std")]
pub use file::write_atomic;

#[cfg(test)]
mod tests {
    use crate::Student;
    use crate::encoder::RawValue;
    use crate::student::tests::tiny;

    #[test]
    fn files_with_the_header_in_the_metadata_still_load() {
        let s = tiny();
        let bytes = s.to_bytes().unwrap();
        let json = super::SafeTensorsView::parse(&bytes)
            .unwrap()
            .header_json()
            .unwrap();
        let tensors: alloc::vec::Vec<_> = s
            .layers
            .iter()
            .enumerate()
            .flat_map(|(k, l)| {
                [
                    (
                        alloc::format!("layers.{k}.weight"),
                        "F32",
                        alloc::vec![l.inputs, l.outputs],
                        super::f32_bytes(&l.weight),
                    ),
                    (
                        alloc::format!("layers.{k}.bias"),
                        "F32",
                        alloc::vec![l.outputs],
                        super::f32_bytes(&l.bias),
                    ),
                ]
            })
            .collect();
        let metadata = super::BTreeMap::from([("distillery".into(), json)]);
        let old = super::write_safetensors(&tensors, &metadata).unwrap();
        assert_eq!(Student::from_bytes(&old).unwrap(), s);
    }

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

    /// Our writer's output is valid for the reference `safetensors` crate, tensor by tensor.
    #[test]
    fn files_are_readable_by_the_safetensors_crate() {
        let s = tiny();
        let bytes = s.to_bytes().unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("layers.0.weight").unwrap();
        assert_eq!(w.shape(), [3, 2]);
        assert_eq!(super::f32s(w.data()), *s.layers[0].weight);
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = meta.metadata().as_ref().unwrap();
        assert_eq!(metadata["distillery.container"], "deflated-header/1");
        let t = st.tensor("distillery.header").unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::U8);
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
    fn garbage_and_truncation_are_format_errors() {
        assert!(Student::from_bytes(b"not a model").is_err());
        let bytes = tiny().to_bytes().unwrap();
        assert!(Student::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(Student::from_bytes(&bytes[..20]).is_err());
    }
}

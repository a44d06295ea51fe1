//! Reading ONNX attributes and initializers into plain Rust values.

use distillery_onnx::{AttributeProto, NodeProto, TensorProto};

/// ONNX `TensorProto.DataType` codes we read.
const FLOAT: i32 = 1;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// An initializer as f32 values plus its shape; `None` for types we do not read.
pub(crate) fn tensor_f32(t: &TensorProto) -> Option<(Vec<usize>, Vec<f32>)> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let raw = t.raw_data.as_deref().unwrap_or_default();
    let values: Vec<f32> = match t.data_type.unwrap_or(0) {
        FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        FLOAT => t.float_data.clone(),
        DOUBLE if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        DOUBLE => t.double_data.iter().map(|&d| d as f32).collect(),
        INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        INT64 => t.int64_data.iter().map(|&d| d as f32).collect(),
        _ => return None,
    };
    Some((dims, values))
}

/// Typed access to a node's attributes by name.
pub(crate) struct Attributes<'a>(pub(crate) &'a NodeProto);

impl<'a> Attributes<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }

    pub(crate) fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name).map(|a| a.ints.clone()).unwrap_or_default()
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|a| a.i)
    }

    pub(crate) fn float(&self, name: &str) -> Option<f32> {
        self.get(name).and_then(|a| a.f)
    }

    /// Floats from `name`, or from `name_as_tensor` (double precision) when that is used.
    pub(crate) fn floats(&self, name: &str) -> Vec<f32> {
        if let Some(a) = self.get(name).filter(|a| !a.floats.is_empty()) {
            return a.floats.clone();
        }
        self.get(&format!("{name}_as_tensor"))
            .and_then(|a| a.t.as_ref())
            .and_then(tensor_f32)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|a| {
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.get(name)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }
}

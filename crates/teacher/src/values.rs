//! Typed tensors for our ONNX interpreter: floats, integers or strings with a shape, and the
//! shape arithmetic the tabular operators need (concatenation, reshape).

use distillery_onnx::TensorProto;

use crate::tensor::tensor_f32;

/// Element storage of a [`Tensor`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

/// A dense tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Data,
}

impl Data {
    pub(crate) fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::Str(v) => v.len(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Data::F32(_) => "float",
            Data::I64(_) => "int64",
            Data::Str(_) => "string",
        }
    }

    /// Elements `range` as a new `Data` of the same type.
    fn slice(&self, range: std::ops::Range<usize>) -> Data {
        match self {
            Data::F32(v) => Data::F32(v[range].to_vec()),
            Data::I64(v) => Data::I64(v[range].to_vec()),
            Data::Str(v) => Data::Str(v[range].to_vec()),
        }
    }

    fn extend(&mut self, other: Data) -> Result<(), String> {
        match (self, other) {
            (Data::F32(a), Data::F32(b)) => a.extend(b),
            (Data::I64(a), Data::I64(b)) => a.extend(b),
            (Data::Str(a), Data::Str(b)) => a.extend(b),
            (a, b) => return Err(format!("cannot join {} and {}", a.kind(), b.kind())),
        }
        Ok(())
    }

    fn empty_like(&self) -> Data {
        match self {
            Data::F32(_) => Data::F32(Vec::new()),
            Data::I64(_) => Data::I64(Vec::new()),
            Data::Str(_) => Data::Str(Vec::new()),
        }
    }
}

impl Tensor {
    /// A float tensor.
    pub(crate) fn f32(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor {
            shape,
            data: Data::F32(data),
        }
    }

    /// The size of the last dimension (1 for a scalar).
    pub(crate) fn last(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }

    /// The values as floats (integers converted; strings parsed, unparsable = NaN).
    pub(crate) fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&i| i as f32).collect(),
            Data::Str(v) => v
                .iter()
                .map(|s| s.trim().parse().unwrap_or(f32::NAN))
                .collect(),
        }
    }

    /// Joins `parts` along `axis` (negative counts from the end), as ONNX Concat does.
    pub(crate) fn concat(parts: &[Tensor], axis: i64) -> Result<Tensor, String> {
        let first = parts.first().ok_or("Concat of nothing")?;
        let rank = first.shape.len();
        let axis = if axis < 0 { axis + rank as i64 } else { axis };
        if !(0..rank as i64).contains(&axis) || parts.iter().any(|p| p.shape.len() != rank) {
            return Err(format!("Concat axis {axis} over ranks {:?}", ranks(parts)));
        }
        let axis = axis as usize;
        let outer: usize = first.shape[..axis].iter().product();
        if parts
            .iter()
            .any(|p| p.shape[..axis].iter().product::<usize>() != outer)
        {
            return Err("Concat of tensors whose leading dimensions differ".into());
        }
        let inner: Vec<usize> = parts
            .iter()
            .map(|p| p.shape[axis..].iter().product())
            .collect();
        let mut data = first.data.empty_like();
        for o in 0..outer {
            for (p, &w) in parts.iter().zip(&inner) {
                data.extend(p.data.slice(o * w..(o + 1) * w))?;
            }
        }
        let mut shape = first.shape.clone();
        shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
        Ok(Tensor { shape, data })
    }

    /// The same elements under a new shape (`0` copies a dimension, `-1` is inferred).
    pub(crate) fn reshape(mut self, target: &[i64]) -> Result<Tensor, String> {
        let total = self.data.len();
        let mut shape: Vec<usize> = target
            .iter()
            .enumerate()
            .map(|(i, &d)| match d {
                0 => self.shape.get(i).copied().unwrap_or(1),
                d if d > 0 => d as usize,
                _ => 1,
            })
            .collect();
        if let Some(at) = target.iter().position(|&d| d == -1) {
            let known: usize = shape
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != at)
                .map(|(_, d)| d)
                .product();
            shape[at] = total / known.max(1);
        }
        if shape.iter().product::<usize>() != total {
            return Err(format!("cannot reshape {:?} to {target:?}", self.shape));
        }
        self.shape = shape;
        Ok(self)
    }
}

fn ranks(parts: &[Tensor]) -> Vec<usize> {
    parts.iter().map(|p| p.shape.len()).collect()
}

/// An initializer as a typed tensor; `None` for element types we do not read.
pub(crate) fn constant(t: &TensorProto) -> Option<Tensor> {
    const INT64: i32 = 7;
    const STRING: i32 = 8;
    let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let raw = t.raw_data.as_deref().unwrap_or_default();
    let data = match t.data_type.unwrap_or(0) {
        INT64 if !raw.is_empty() => Data::I64(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        INT64 => Data::I64(t.int64_data.clone()),
        STRING => Data::Str(
            t.string_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        _ => Data::F32(tensor_f32(t)?.1),
    };
    Some(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_joins_along_any_axis() {
        let a = Tensor::f32(vec![2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::f32(vec![2, 1, 1], vec![5.0, 6.0]);
        let c = Tensor::concat(&[a, b], -1).unwrap();
        assert_eq!(c.shape, vec![2, 1, 3]);
        assert_eq!(c.data, Data::F32(vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]));
        let s = Tensor {
            shape: vec![2, 1],
            data: Data::Str(vec!["a".into(), "b".into()]),
        };
        let t = Tensor::concat(&[s.clone(), s], 1).unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        assert!(Tensor::concat(&[c, t], 0).is_err());
    }

    #[test]
    fn reshape_infers_minus_one_and_copies_zero() {
        let t = Tensor::f32(vec![2, 1, 3], vec![0.0; 6]);
        assert_eq!(t.clone().reshape(&[-1, 3]).unwrap().shape, vec![2, 3]);
        assert_eq!(t.clone().reshape(&[0, -1]).unwrap().shape, vec![2, 3]);
        assert!(t.reshape(&[4, 2]).is_err());
    }
}

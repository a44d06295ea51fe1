//! General ONNX graphs (neural-network teachers) on tract. Plans are compiled for fixed
//! batch sizes (1 for latency, 256 for throughput; short batches are zero-padded), which
//! lets tract optimise fully.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::{Result, TeacherError};

const BATCH: usize = 256;

type Plan = Arc<TypedRunnableModel>;

/// Compiled tract plans for one model.
pub(crate) struct TractPlan {
    single: Plan,
    batch: Plan,
}

impl TractPlan {
    pub(crate) fn new(path: &Path, bytes: &[u8], width: usize, output: &str) -> Result<TractPlan> {
        let build = |n: usize| -> TractResult<Plan> {
            tract_onnx::onnx()
                .model_for_read(&mut &bytes[..])?
                .with_input_fact(0, f32::fact([n, width]).into())?
                .with_outputs_by_name([output])?
                .into_optimized()?
                .into_runnable()
        };
        let fail = |e: TractError| TeacherError::Unsupported {
            path: path.to_path_buf(),
            message: format!("tract cannot run this model: {e:#}"),
        };
        Ok(TractPlan {
            single: build(1).map_err(fail)?,
            batch: build(BATCH).map_err(fail)?,
        })
    }

    pub(crate) fn run(&self, x: &[f32], width: usize, n: usize) -> Result<(Vec<f32>, usize)> {
        let fail = |e: TractError| TeacherError::Runtime(format!("{e:#}"));
        let mut out = Vec::new();
        let mut cols = 0;
        if n == 1 {
            let t = Tensor::from_shape(&[1, width], x).map_err(fail)?;
            let r = self.single.run(tvec!(t.into())).map_err(fail)?;
            let view = r[0].to_plain_array_view::<f32>().map_err(fail)?;
            cols = view.len();
            out.extend(view.iter().copied());
            return Ok((out, cols));
        }
        let mut padded = vec![0.0f32; BATCH * width];
        for start in (0..n).step_by(BATCH) {
            let m = BATCH.min(n - start);
            padded[..m * width].copy_from_slice(&x[start * width..(start + m) * width]);
            padded[m * width..].fill(0.0);
            let t = Tensor::from_shape(&[BATCH, width], &padded).map_err(fail)?;
            let r = self.batch.run(tvec!(t.into())).map_err(fail)?;
            let view = r[0].to_plain_array_view::<f32>().map_err(fail)?;
            cols = view.len() / BATCH;
            out.extend(view.iter().take(m * cols).copied());
        }
        Ok((out, cols))
    }
}

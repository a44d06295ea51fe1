//! `distillery quantize --model student.safetensors --calibration train.csv --output student.int8.safetensors`.

use anyhow::{Context, Result};
use distillery_runtime::{QuantizedStudent, Student};

use crate::cli::QuantizeArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &QuantizeArgs) -> Result<ExitStatus> {
    let student = Student::load(&args.model)
        .with_context(|| format!("loading student {}", args.model.display()))?;
    let calibration = distillery_pipeline::recipe::calibration(&args.method, args.percentile)?;
    let table = crate::student_input::read_for(&student, &args.calibration)?;
    let rows: Vec<usize> = (0..table.n_rows().min(args.rows.max(1))).collect();
    let x = distillery_train::encode_rows(student.encoder(), &table, &rows)
        .with_context(|| format!("encoding {}", args.calibration.display()))?;
    let q = QuantizedStudent::quantize(&student, &x, rows.len(), calibration);
    let bytes = q.to_bytes()?;
    distillery_runtime::write_atomic(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} bytes; fp32 was {} bytes)",
        args.output.display(),
        bytes.len(),
        student.to_bytes()?.len()
    );
    if let Some(path) = &args.onnx {
        let onnx = distillery_export::to_onnx_int8(&q)?;
        distillery_runtime::write_atomic(path, &onnx)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({} bytes)", path.display(), onnx.len());
    }
    Ok(ExitStatus::Ok)
}

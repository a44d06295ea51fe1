//! `distillery export --model student.safetensors --output student.onnx`.

use anyhow::{Context, Result};
use distillery_runtime::Student;

use crate::cli::ExportArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &ExportArgs) -> Result<ExitStatus> {
    let student = Student::load(&args.model)
        .with_context(|| format!("loading student {}", args.model.display()))?;
    let bytes = distillery_export::to_onnx(&student)?;
    distillery_runtime::write_atomic(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("wrote {} ({} bytes)", args.output.display(), bytes.len());
    Ok(ExitStatus::Ok)
}

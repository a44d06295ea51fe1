//! Generates the prost message types for ONNX from `onnx-ml.proto` without protoc.
//! Usage: onnx-gen <dir-with-onnx-ml.proto> <out-dir>
fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(proto_dir), Some(out_dir)) = (args.next(), args.next()) else {
        eprintln!("usage: onnx-gen <dir-with-onnx-ml.proto> <out-dir>");
        std::process::exit(2);
    };
    let files = protox::compile(["onnx-ml.proto"], [proto_dir]).expect("compile onnx-ml.proto");
    prost_build::Config::new()
        .out_dir(out_dir)
        .compile_fds(files)
        .expect("generate rust");
}

"""The plain ONNX graph a PyTorch user exports for an MLP classifier, and onnxruntime on it.

`torch.onnx.export` of `nn.Sequential(Linear(d, h), ReLU(), Linear(h, c), Softmax(-1))`
gives `[N, d]` float input -> Gemm(transB=1) -> Relu -> Gemm(transB=1) -> Softmax. This
script writes that graph with seeded weights (so no torch is needed) and, with --time,
measures onnxruntime's Python API on it: one thread, all graph optimisations, median of
batch calls and of single-row calls. It prints one JSON object.

Usage: python3 bench/plain_graph.py --out plain.onnx [--inputs 54 --hidden 64 --classes 7]
       [--seed 0] [--time] [--batch 1024]
"""
import argparse
import json
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(inputs, hidden, classes, seed):
    rng = np.random.default_rng(seed)
    widths = [inputs, *hidden, classes]
    inits, nodes, last = [], [], "input"
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        w = (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32)
        bias = (0.1 * rng.standard_normal(b)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"l{i}.weight"), numpy_helper.from_array(bias, f"l{i}.bias")]
        out = f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [last, f"l{i}.weight", f"l{i}.bias"], [out], transB=1))
        last = out
        if i < len(widths) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"]))
            last = f"relu{i}"
    nodes.append(helper.make_node("Softmax", [last], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "plain_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def median_seconds(f, reps, inner):
    for _ in range(max(3, reps // 10)):
        f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        times.append((time.perf_counter() - t) / inner)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--inputs", type=int, default=54)
    ap.add_argument("--hidden", default="64", help="comma-separated hidden widths")
    ap.add_argument("--classes", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    hidden = [int(h) for h in args.hidden.split(",") if h]
    model = build(args.inputs, hidden, args.classes, args.seed)
    onnx.save(model, args.out)
    result = {"model": args.out, "inputs": args.inputs, "hidden": hidden, "classes": args.classes}
    if args.time:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(args.out, options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(args.seed + 1).standard_normal((args.batch, args.inputs)).astype(np.float32)
        one = x[:1].copy()
        batch_s = median_seconds(lambda: sess.run(None, {"input": x}), 50, 20)
        single_s = median_seconds(lambda: sess.run(None, {"input": one}), 50, 200)
        result.update(
            onnxruntime=ort.__version__,
            batch=args.batch,
            python_batch_rows_per_s=args.batch / batch_s,
            python_single_row_us=single_s * 1e6,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

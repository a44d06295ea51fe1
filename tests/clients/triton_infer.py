"""Drives `distillery serve` with NVIDIA's Triton HTTP client (tritonclient[http]), the
client KServe v2 users already have: health, metadata, readiness, then one inference of
the first rows of a CSV, one BYTES or FP32 tensor per feature. Prints what it got as JSON.

usage: triton_infer.py HOST:PORT MODEL CSV ROWS
"""

import csv
import json
import sys

import numpy as np
import tritonclient.http as httpclient


def main():
    url, model, path, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = httpclient.InferenceServerClient(url=url)
    meta = client.get_model_metadata(model)
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))[:rows]
    inputs = []
    for spec in meta["inputs"]:
        name = spec["name"]
        column = [row[name] for row in table]
        if spec["datatype"] == "BYTES":
            data = np.array([v.encode() for v in column], dtype=np.object_).reshape(-1, 1)
        else:
            data = np.array([float(v) for v in column], dtype=np.float32).reshape(-1, 1)
        tensor = httpclient.InferInput(name, list(data.shape), spec["datatype"])
        tensor.set_data_from_numpy(data)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput("probabilities"), httpclient.InferRequestedOutput("label")]
    result = client.infer(model, inputs, outputs=outputs, request_id="triton-1")
    answer = result.get_response()
    print(
        json.dumps(
            {
                "live": client.is_server_live(),
                "ready": client.is_server_ready(),
                "model_ready": client.is_model_ready(model),
                "server": client.get_server_metadata()["name"],
                "inputs": len(meta["inputs"]),
                "id": answer.get("id"),
                "probabilities": result.as_numpy("probabilities").tolist(),
                "labels": [v.decode() for v in result.as_numpy("label").ravel()],
            }
        )
    )


if __name__ == "__main__":
    main()
